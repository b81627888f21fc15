"""Concurrent writers and a live follower: nothing lost, duplicated or forked.

8 writers append 500 events each, either on one shared stream (they race for every
version and retry on conflicts) or on a stream each, while a follower tails the global
log by position. Afterwards: versions are contiguous, positions gapless, each
acknowledged event stored exactly once, and the follower saw every event once, in order.
"""

from __future__ import annotations

import asyncio

import pytest

from ledger import errors
from ledger.db import connect_pool
from ledger.statement import event_hash
from ledger.store import PostgresStore
from tests.helpers import org

pytestmark = pytest.mark.pg

WRITERS = 8
PER_WRITER = 500


async def _writer(store, signer, stream: str, n: int, acked: list[str]) -> None:
    done = 0
    head = await store.head(stream)
    version, prev = head.version, head.hash
    while done < n:
        env = signer.event(stream, version + 1, prev, "test.noted",
                           {"writer": signer.org_id, "n": done})
        try:
            [receipt] = await store.append([env])
        except errors.ConcurrencyConflict as conflict:
            # The conflict carries the new head: re-sign on top of it.
            version, prev = conflict.current_version, conflict.head_hash
            continue
        version, prev = receipt.version, receipt.event_hash
        assert receipt.event_hash == event_hash(env.payload_bytes())
        acked.append(receipt.event_hash)
        done += 1


async def _follower(store, stop: asyncio.Event, seen: list[int]) -> None:
    nxt = 0
    while True:
        # Read the flag before the read: a read that began before the last writer's
        # commit may come back empty after the flag is set, and must not end the tail.
        stopping = stop.is_set()
        batch = await store.read_log(nxt, 500)
        for entry in batch:
            seen.append(entry.position)
        if batch:
            nxt = batch[-1].position + 1
        elif stopping:
            return
        else:
            await asyncio.sleep(0.005)


@pytest.mark.stress
@pytest.mark.timeout(360)  # ~50 s on a loaded two-core host
@pytest.mark.parametrize("shared", [True, False], ids=["one-stream", "own-streams"])
async def test_concurrent_writers_and_follower(store, database, shared: bool) -> None:
    # Half the writers go through a second store with its own pool and sequencer, as a
    # second server process would: only the database's lock orders them.
    pool2 = await connect_pool(database, min_size=1, max_size=10)
    store2 = PostgresStore(pool2, ledger_id=store.ledger_id)
    try:
        await _run(store, store2, shared)
    finally:
        await store2.close()
        await pool2.close()


async def _run(store, store2, shared: bool) -> None:
    signers = [org(f"writer-{i}") for i in range(WRITERS)]
    await store.append([s.registration(f"Writer {i}") for i, s in enumerate(signers)])
    base = await store.size()
    acked: list[str] = []
    seen: list[int] = []
    stop = asyncio.Event()
    follower = asyncio.create_task(_follower(store, stop, seen))
    await asyncio.gather(*[
        _writer(store if i % 2 else store2, s,
                "agreement/shared" if shared else f"agreement/{s.org_id}", PER_WRITER, acked)
        for i, s in enumerate(signers)
    ])
    stop.set()
    await asyncio.wait_for(follower, 30)

    total = WRITERS * PER_WRITER
    assert len(acked) == total and len(set(acked)) == total
    assert await store.size() == base + total
    log = []
    while len(log) < base + total:
        log.extend(await store.read_log(len(log), 1000))
    assert [e.position for e in log] == list(range(base + total))
    assert {e.event_hash for e in log[base:]} == set(acked)
    assert seen == list(range(base + total))
    streams = ["agreement/shared"] if shared else [f"agreement/{s.org_id}" for s in signers]
    for stream in streams:
        events = await store.read_stream(stream)
        assert [e.version for e in events] == list(range(1, len(events) + 1))
        prev = None
        for e in events:
            assert e.statement().prev == prev
            prev = e.event_hash
