"""Cold reads and time travel fold from snapshots: only the events after the newest
snapshot are folded (counted, not timed); a snapshot changed in the database is
discarded, logged and never served; snapshots of another format are ignored; the write
rules fold a cold agreement from its snapshot too; and a
long fold leaves the event loop free."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import asyncpg
import msgspec
import pytest

import ledger.reads.states
import ledger.snapshot
from ledger.api.controllers.agreements import CurrentStates, view_of
from ledger.domain import state_hash
from ledger.reads import AgreementStates, Reads, StoredEvent
from ledger.reads.states import fold_events
from ledger.runtime import Ledger
from tests.api.conftest import Agreement, body, in_app
from tests.helpers import org

pytestmark = pytest.mark.pg


async def _long(client: Any, events: int, batch: int = 10) -> Agreement:
    """Agreement a1 with ``events`` events (a draft, then revisions), appended
    ``batch`` at a time (the events of one append share their log time).

    The server's projection runner is told to leave no snapshots of its own: these
    tests count the ones reads make, and the runner's would land at its own pace
    (tests/projections/test_images.py covers those)."""
    client.app.state.projections.snapshot_key = None
    ca = org("centre-arts")
    deal = Agreement(ca)
    r = await client.post("/v1/events", json=body(ca.registration("A"), deal.next()))
    assert r.status_code == 201, r.text
    envelopes = [deal.next().to_json() for _ in range(events - 1)]

    async def append(led: Ledger) -> None:
        for i in range(0, len(envelopes), batch):
            await led.store.append(envelopes[i:i + batch])

    in_app(client, append)
    return deal


def _states(client: Any) -> AgreementStates:
    states: AgreementStates = client.app.state.current_states.states
    return states


def _cold(client: Any) -> None:
    """Forget every kept current state (as when the agreement fell out of the cache)."""
    client.app.state.current_states = CurrentStates(states=_states(client))


def _events(client: Any) -> list[StoredEvent]:
    async def read(led: Ledger) -> list[StoredEvent]:
        return await Reads(led.pool).read_whole_stream("agreement/a1")
    return in_app(client, read)


def _snapshots(client: Any) -> list[tuple[int, int]]:
    async def read(led: Ledger) -> list[tuple[int, int]]:
        rows = await led.pool.fetch("SELECT format, version FROM agreement_snapshots "
                                    "WHERE stream = 'agreement/a1' ORDER BY format, version")
        return [(r["format"], r["version"]) for r in rows]
    return in_app(client, read)


def _full_fold(events: list[StoredEvent], version: int) -> bytes:
    return msgspec.json.encode(view_of(fold_events(events[:version]), version))


async def _get(client: Any, headers: dict[str, str], query: str = "") -> tuple[bytes, int]:
    """The answer's bytes and the number of events folded to give it."""
    before = _states(client).folded
    r = await client.get(f"/v1/agreements/a1{query}", headers=headers)
    assert r.status_code == 200, r.text
    return r.content, _states(client).folded - before


async def test_a_cold_read_folds_only_the_events_after_the_newest_snapshot(client, auditor):
    await _long(client, 450)
    events = _events(client)
    answer, folded = await _get(client, auditor)
    assert answer == _full_fold(events, 450) and folded == 450  # no snapshot yet
    assert _snapshots(client) == [(ledger.snapshot.FORMAT, 400)]
    _cold(client)
    answer, folded = await _get(client, auditor)
    assert answer == _full_fold(events, 450)
    assert folded == 50  # from the snapshot at 400


async def test_time_travel_folds_from_the_nearest_snapshot(client, auditor):
    await _long(client, 450)
    events = _events(client)
    await _get(client, auditor)  # a snapshot at 400
    answer, folded = await _get(client, auditor, "?version=250")
    assert answer == _full_fold(events, 250) and folded == 250  # and one at 200
    assert [v for _, v in _snapshots(client)] == [200, 400]
    answer, folded = await _get(client, auditor, "?version=330")
    assert answer == _full_fold(events, 330) and folded == 130
    at = events[329].recorded_at  # a batch's events share their log time: all count
    then = len([e for e in events if e.recorded_at <= at])
    assert 330 <= then < 340
    answer, folded = await _get(client, auditor, f"?at={at}")
    assert answer == _full_fold(events, then) and folded == then - 200
    answer, folded = await _get(client, auditor, "?version=420")
    assert answer == _full_fold(events, 420) and folded == 20
    r = await client.get("/v1/agreements/a1/document?version=420&lang=en", headers=auditor)
    assert r.status_code == 200 and "v420" in r.text
    assert _states(client).folded - folded  # (the document read folded too)


def _forged_state(row: asyncpg.Record) -> tuple[bytes, str]:
    """The snapshot's state with another title, and that state's (right) hash."""
    state = msgspec.msgpack.decode(bytes(row["state"]), type=ledger.domain.AgreementState)
    state.title = "Falsifié"
    return msgspec.msgpack.encode(state), state_hash(state)


@pytest.mark.parametrize("forgery", ["state", "state_hash", "event_hash", "seal"])
async def test_a_snapshot_changed_in_the_database_is_discarded_never_served(
        client, auditor, database: str, caplog: pytest.LogCaptureFixture, forgery: str):
    await _long(client, 450)
    events = _events(client)
    await _get(client, auditor)
    admin = await asyncpg.connect(database)  # a superuser, behind the ledger's back
    try:
        row = await admin.fetchrow("SELECT * FROM agreement_snapshots")
        if forgery == "state":  # coherent: the forged state has its own state hash
            state, hashed = _forged_state(row)
            await admin.execute("UPDATE agreement_snapshots SET state = $1, state_hash = $2",
                                state, hashed)
        elif forgery == "state_hash":
            await admin.execute("UPDATE agreement_snapshots SET state_hash = repeat('0', 64)")
        elif forgery == "event_hash":
            await admin.execute("UPDATE agreement_snapshots SET event_hash = $1",
                                bytes.fromhex(events[398].event_hash))
        else:
            await admin.execute("UPDATE agreement_snapshots SET seal = $1", b"\0" * 32)
    finally:
        await admin.close()
    _cold(client)
    with caplog.at_level(logging.WARNING, logger="ledger.reads.states"):
        answer, folded = await _get(client, auditor)
    assert answer == _full_fold(events, 450)
    assert b"Falsifi" not in answer
    assert folded == 450 and _states(client).discarded == 1
    assert any("discarded" in r.getMessage() for r in caplog.records)
    assert _snapshots(client) == [(ledger.snapshot.FORMAT, 400)]  # made again
    _cold(client)
    assert await _get(client, auditor) == (answer, 50)  # the new one is good


async def test_snapshots_of_another_format_are_ignored(client, auditor,
                                                       monkeypatch: pytest.MonkeyPatch):
    await _long(client, 450)
    events = _events(client)
    await _get(client, auditor)
    old = ledger.snapshot.FORMAT
    monkeypatch.setattr(ledger.snapshot, "FORMAT", old + 1)
    monkeypatch.setattr(ledger.reads.states, "FORMAT", old + 1)
    _cold(client)
    answer, folded = await _get(client, auditor)
    assert answer == _full_fold(events, 450)
    assert folded == 450 and _states(client).discarded == 0
    assert _snapshots(client) == [(old, 400), (old + 1, 400)]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("off_loop", [100, 10**9])
async def test_a_long_fold_leaves_the_event_loop_free(client, off_loop: int):
    """While 5,000 events fold in a worker thread, a query completes on the loop. The
    fold is held at its start until the loop has answered that query (at most 5 s): in
    a thread it is released; on the loop (the second case, which shows the test would
    see it) it holds the loop itself, and the query can only come after it. Counted,
    not timed: no race between the fold's and the query's speed."""
    await _long(client, 5000, batch=500)

    async def scenario(led: Ledger) -> bool:
        reads = Reads(led.pool)
        events = await reads.read_whole_stream("agreement/a1")
        states = AgreementStates(None, off_loop=off_loop)
        answered = threading.Event()
        seen: dict[str, bool] = {}
        fold_now = states._fold

        def held(*args: Any) -> Any:
            seen["released"] = answered.wait(timeout=5)
            return fold_now(*args)

        states._fold = held  # type: ignore[method-assign]
        fold = asyncio.create_task(states.fold(reads, ledger.domain.initial_state(),
                                               events, "agreement/a1", 0))
        await asyncio.sleep(0)
        await reads.head("agreement/a1")  # a trivial request
        answered.set()
        state = await fold
        assert state.version == 5000
        return seen["released"]

    assert in_app(client, scenario) is (off_loop == 100)


async def test_a_database_that_refuses_snapshots_still_answers(
        client, auditor, database: str, caplog: pytest.LogCaptureFixture):
    """A login without the grant (or a read-only replica): the read folds the whole
    stream and answers; one warning, then no more attempts."""
    await _long(client, 450)
    events = _events(client)
    admin = await asyncpg.connect(database)
    try:
        await admin.execute("REVOKE INSERT ON agreement_snapshots FROM ledger_writer")
    finally:
        await admin.close()
    with caplog.at_level(logging.WARNING, logger="ledger.reads.states"):
        answer, folded = await _get(client, auditor)
        assert answer == _full_fold(events, 450) and folded == 450
        answer, folded = await _get(client, auditor, "?version=420")
        assert answer == _full_fold(events, 420) and folded == 420
    assert _snapshots(client) == []
    assert len([r for r in caplog.records if "not stored" in r.getMessage()]) == 1


async def test_the_write_rules_fold_a_cold_agreement_from_its_snapshot(client, auditor):
    """An append to an agreement whose state the write rules no longer keep folds from
    the newest snapshot (off the event loop when long), not the whole stream."""
    deal = await _long(client, 450)
    await _get(client, auditor)  # leaves the snapshot at 400
    rules = client.app.state.ledger.store.validator
    rules._cache.clear()  # as when the agreement fell out of the rules' cache
    before = _states(client).folded
    r = await client.post("/v1/events", json=body(deal.next()))
    assert r.status_code == 201, r.text
    assert _states(client).folded - before == 50  # from the snapshot at 400
    intruder = org("intrus")  # and the rules decide on that state: a non-party acts
    r = await client.post("/v1/events", json=body(intruder.registration("I")))
    assert r.status_code == 201, r.text
    rules._cache.clear()
    r = await client.post("/v1/events", json=body(deal.next(
        "expectation.stated", {"expectation_id": "x", "text": "t"}, signer=intruder)))
    assert r.status_code == 422, r.text
    assert "party" in r.json()["detail"]
