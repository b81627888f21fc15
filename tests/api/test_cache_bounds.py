"""The app's caches take their bounds from the settings (``LEDGER_CACHE_…`` through
``Settings.caches``), keep to them however many agreements are read or streamed, and
answer right from what they dropped."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from ledger.api.app import create_app
from ledger.config import Caches
from ledger.runtime import Ledger
from tests.api.conftest import TEST_CONFIG, Agreement, body, in_app, settings_for, token_for
from tests.helpers import org

pytestmark = pytest.mark.pg

SMALL = Caches(agreements=2, projection_agreements=1, rules_agreements=1,
               stream_agreements=1, stream_entries=2, key_histories=1, public_keys=1)


async def test_the_settings_bound_every_cache_of_the_app(database: str, tmp_path: Path):
    settings = dataclasses.replace(settings_for(tmp_path, database), caches=SMALL)
    app = create_app(settings, dsn=database, config=TEST_CONFIG, background=False)
    async with AsyncTestClient(app) as client:
        state = client.app.state
        ledger: Ledger = state.ledger
        assert state.current_states.size == 2
        assert state.projections.cache_size == 1
        assert state.key_cache.orgs.max_entries == 1
        assert ledger.store._public_keys.max_entries == 1
        assert ledger.store.validator._cache.max_entries == 1  # type: ignore[union-attr]
        assert state.stream_hub._folded.max_entries == 1
        assert state.stream_hub._encoded.max_entries == 2

        a = org("centre-arts")
        deals = [Agreement(a, f"a{i}") for i in range(4)]
        r = await client.post("/v1/events", json=body(a.registration("A")))
        assert r.status_code == 201, r.text
        for _ in range(2):
            for deal in deals:
                r = await client.post("/v1/events", json=body(deal.next()))
                assert r.status_code == 201, r.text
        headers = token_for(client, "auditor", "cour-des-comptes")
        for deal in deals + deals:
            r = await client.get(f"/v1/agreements/{deal.agreement_id}", headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["version"] == 2
            assert r.json()["state"]["title"] == "Comptabilité partagée v2"
            assert len(state.current_states._items) <= 2

        async def stream_states(ledger: Ledger) -> list[Any]:
            hub = state.stream_hub
            titles = []
            for deal in deals + deals:
                titles.append((await hub.agreement_state(deal.agreement_id, 2)).title)
                assert len(hub._folded) == 1
            for e in await hub.reads.read_log(0, 100):
                assert hub.encoded(e).startswith(b"id: %d\n" % e.position)
                assert len(hub._encoded) <= 2
            return titles

        titles = in_app(client, stream_states)
        assert titles == ["Comptabilité partagée v2"] * 8


async def test_the_read_cache_keeps_to_its_byte_bound(database: str, tmp_path: Path):
    """Long agreements weigh more: with room for many entries but few bytes, the read
    cache drops the least recently read to stay within its byte bound, and still
    answers every agreement right."""
    caches = dataclasses.replace(Caches(), agreements=100, agreements_bytes=12_000)
    settings = dataclasses.replace(settings_for(tmp_path, database), caches=caches)
    app = create_app(settings, dsn=database, config=TEST_CONFIG, background=False)
    async with AsyncTestClient(app) as client:
        cache = client.app.state.current_states
        a = org("centre-arts")
        deals = [Agreement(a, f"b{i}") for i in range(4)]
        assert (await client.post("/v1/events", json=body(a.registration("A")))).status_code == 201
        for deal in deals:
            for _ in range(2):
                r = await client.post("/v1/events", json=body(deal.next()))
                assert r.status_code == 201, r.text
        headers = token_for(client, "auditor", "cour-des-comptes")
        for deal in deals + deals:
            r = await client.get(f"/v1/agreements/{deal.agreement_id}", headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["version"] == 2
            assert cache._items.bytes <= 12_000 or len(cache._items) == 1
        assert 1 <= len(cache._items) < 4  # bytes, not entries, bounded it
