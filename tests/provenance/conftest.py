"""Fixtures: the scenario's world, and the same world recorded through the HTTP API.

The API fixtures (an app on the per-test database, tokens) come from tests/api.
``served`` posts phase one, signs a checkpoint, then posts phase two, so phase-two
events are "not yet checkpointed".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ledger import b64
from ledger.checkpoint import Checkpoint, open_checkpoint, parse_vkey
from ledger.runtime import Ledger
from tests.api.conftest import api_config, app, auditor, client, in_app, token_for  # noqa: F401
from tests.provenance.scenario import OTHER_TRUST, TRUST, World


@dataclass
class Served:
    client: AsyncTestClient[Litestar]
    world: World
    vkey: str
    checkpoint_size: int
    auditor: dict[str, str]
    trust: dict[str, str]
    other_trust: dict[str, str]

    async def get(self, path: str, headers: dict[str, str] | None = None,
                  **params: Any) -> Any:
        return await self.client.get(path, headers=self.auditor if headers is None
                                     else headers, params=params or None)

    def checkpoint(self, note: str) -> Checkpoint:
        return open_checkpoint(note, parse_vkey(self.vkey))


async def post_all(to: AsyncTestClient[Litestar], envelopes: list[Any]) -> None:
    for i in range(0, len(envelopes), 20):
        r = await to.post("/v1/events",
                          json={"events": [e.to_json() for e in envelopes[i:i + 20]]})
        assert r.status_code == 201, r.text


async def _checkpoint(ledger: Ledger) -> int:
    return (await ledger.log.checkpoint()).size


@pytest.fixture
def world() -> World:
    w = World()
    w.phase_one()
    w.phase_two()
    return w


@pytest_asyncio.fixture
async def served(client: AsyncTestClient[Litestar]) -> Served:  # noqa: F811
    w = World()
    w.phase_one()
    await post_all(client, w.take())
    size = in_app(client, _checkpoint)
    w.phase_two()
    await post_all(client, w.take())
    auditor_headers = token_for(client, "auditor", "verificatrice")
    vkey = (await client.get("/v1/log/key", headers=auditor_headers)).text.strip()
    return Served(client, w, vkey, size, auditor_headers, token_for(client, "trust", TRUST),
                  token_for(client, "trust", OTHER_TRUST))


def leaf_hash(record: dict[str, Any]) -> bytes:
    return b64.decode(record["inclusion"]["leaf_hash"])
