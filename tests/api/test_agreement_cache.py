"""GET /v1/agreements/{id} skips the head query while the log has not grown: what that
promises. A write acknowledged by the same process is always seen; a write of another
process once its notification arrives, or at once with ``Cache-Control: no-cache``; and a
lost listener connection (notifications missed) never leaves a stale answer behind."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from ledger.api.controllers.agreements import CurrentStates
from ledger.api.controllers.stream import LISTENER_NAME
from ledger.runtime import Ledger
from ledger.store import PostgresStore
from tests.api.conftest import Agreement, body, in_app
from tests.helpers import org

pytestmark = pytest.mark.pg

WAIT = 10.0


async def _live(client: Any, other_than: int | None = None) -> tuple[int, int]:
    """The hub's watermark once it listens (in a session other than ``other_than``)."""
    deadline = time.monotonic() + WAIT
    while True:
        mark = client.app.state.stream_hub.watermark()
        if mark is not None and mark[0] != other_than:
            return mark  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "the stream hub does not listen"
        await asyncio.sleep(0.05)


async def _version(client: Any, headers: dict[str, str]) -> int:
    r = await client.get("/v1/agreements/a1", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    return int(r.json()["version"])


async def _setup(client: Any) -> Agreement:
    ca = org("centre-arts")
    deal = Agreement(ca)
    r = await client.post("/v1/events", json=body(ca.registration("A"), deal.next()))
    assert r.status_code == 201, r.text
    return deal


async def test_the_cache_answers_only_while_the_watermark_stands(client):
    """The query is skipped exactly when the caller's watermark is the one of the last
    check: here a write the watermark does not show is not seen, which is why every
    commit must move it (see the next tests)."""
    deal = await _setup(client)

    async def scenario(ledger: Ledger) -> list[int]:
        cache = CurrentStates()
        seen = [(await cache.get(ledger, "a1", (1, 10))).version]
        await ledger.store.append([deal.next().to_json()])
        seen.append((await cache.get(ledger, "a1", (1, 10))).version)  # not re-read
        seen.append((await cache.get(ledger, "a1", (1, 11))).version)  # the log grew
        await ledger.store.append([deal.next().to_json()])
        seen.append((await cache.get(ledger, "a1", (2, 11))).version)  # new session
        seen.append((await cache.get(ledger, "a1", None)).version)  # no watermark
        return seen

    assert in_app(client, scenario) == [1, 1, 2, 3, 3]


async def test_writes_through_the_same_process_are_seen_at_once(client, auditor):
    deal = await _setup(client)
    await _live(client)
    for version in range(2, 7):
        assert await _version(client, auditor) == version - 1
        r = await client.post("/v1/events", json=body(deal.next()))
        assert r.status_code == 201, r.text
        assert await _version(client, auditor) == version


async def test_writes_of_another_process_are_seen_once_notified_or_with_no_cache(
        client, auditor, store: PostgresStore):
    """``store`` is another writer on the same database (another server process)."""
    deal = await _setup(client)
    await _live(client)
    assert await _version(client, auditor) == 1
    await store.append([deal.next()])
    assert await _version(client, {**auditor, "Cache-Control": "no-cache"}) == 2
    await store.append([deal.next()])
    assert await _version(client, {**auditor, "Cache-Control": "max-age=0"}) == 3
    await store.append([deal.next()])
    deadline = time.monotonic() + WAIT
    while await _version(client, auditor) != 4:  # the notification arrives
        assert time.monotonic() < deadline, "the other process's write was never seen"
        await asyncio.sleep(0.02)


async def test_a_lost_listener_never_leaves_a_stale_answer(client, auditor, database: str,
                                                           store: PostgresStore):
    deal = await _setup(client)
    session, _ = await _live(client)
    assert await _version(client, auditor) == 1
    admin = await asyncpg.connect(database)
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = $1", LISTENER_NAME)
        await store.append([deal.next()])  # its notification is lost
    finally:
        await admin.close()
    await _live(client, other_than=session)
    assert await _version(client, auditor) == 2
