"""Each host keeps its own record of the newest signed checkpoint (ledger.signed_head):
a server that appends nothing still records, within seconds, the checkpoints the
others signed — so after a promotion that lost them, it too refuses to sign over the
loss (tests/replicas/test_failover.py has the promotion itself)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from ledger.runtime import open_ledger
from ledger.signed_head import read_signed_head
from tests.api.conftest import settings_for
from tests.helpers import LEDGER_ID, org

pytestmark = pytest.mark.pg


async def test_an_idle_server_records_what_another_signed(database: str, tmp_path: Path):
    busy = settings_for(tmp_path / "a", database)
    idle = dataclasses.replace(busy, last_checkpoint_path=tmp_path / "b" / "record")
    (tmp_path / "b").mkdir()
    async with open_ledger(busy, database, background=False) as a:
        await a.store.append([org("first").registration("F")])
        async with open_ledger(idle, database, background=False) as b:
            b.log.record_every = 0.1
            b.log.start()  # appends nothing itself
            for n in range(5):
                await a.store.append([org(f"more-{n}").registration("M")])
            signed = await a.log.checkpoint()
            assert signed.size == 6
            for _ in range(100):
                head = read_signed_head(idle.signed_head, LEDGER_ID)
                if head is not None and head.size == 6:
                    break
                await asyncio.sleep(0.05)
            await b.log.stop()
    assert head is not None and (head.size, head.root_hash) == (6, signed.root_hash)
    assert read_signed_head(busy.signed_head, LEDGER_ID) == head
