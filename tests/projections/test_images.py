"""A runner that does not hold an agreement reloads it from its sealed image and folds
only the events after it (counted, not timed), and the rows are those of a rebuild;
an image a database superuser changed, sealed under another key, or moved to another
agreement is discarded and the agreement refolded from its signed events; an older
genuine image is merely more folding. Without the key no image is read or written."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest

from ledger.domain import ConfirmFulfilment, RecordFulfilment
from ledger.domain.values import Period, Quantity
from ledger.projections import ProjectionRunner, rebuild
from ledger.projections.agreements import rows_of
from ledger.projections.fold import Tracked, fold_event
from ledger.projections.images import (
    ImageRejected,
    SealedImage,
    image_key,
    open_image,
    seal_image,
)
from ledger.reads import AgreementStates, Reads
from ledger.reads.states import fold_events
from ledger.snapshot import seal_key
from tests.projections.builders import World, busy, snapshot

pytestmark = pytest.mark.pg

ORGS = ["centre-arts", "theatre-nord", "atelier-sud"]
KEY = image_key(b"k" * 32)
SNAPSHOT_KEY = seal_key(b"k" * 32)
EVERY = 50


def _months(w: World, aid: str, n: int, start: int = 0) -> None:
    """``n`` fulfilments of c1, each confirmed (amounts with a scale, so the tallies'
    Decimals must keep it)."""
    a, b, *_ = list(w.signers)
    for i in range(start, start + n):
        period = Period(f"2026-{1 + i % 12:02d}-01", f"2026-{1 + i % 12:02d}-28")
        w.do(aid, RecordFulfilment(fulfilment_id=f"m{i}", commitment_id="c1",
                                   quantity=Quantity(f"{i % 4}.50", "hour"), period=period,
                                   actor=a, at=w.at()))
        w.do(aid, ConfirmFulfilment(fulfilment_id=f"m{i}", actor=b, at=w.at()))


async def _long_life(ledger: Any) -> tuple[World, int]:
    """Two agreements of ~130 events each, interleaved with organization events."""
    _, store = ledger
    w = World(ORGS, seed=70)
    await store.append(w.registrations())
    busy(w, ["a1", "a2"])
    _months(w, "a1", 60)
    _months(w, "a2", 60)
    return w, await w.flush(store)


async def _one_more(ledger: Any, w: World, aid: str = "a1") -> None:
    """One more month of ``aid``: two events."""
    _, store = ledger
    _months(w, aid, 1, start=100)
    await w.flush(store)


def _keyed(pool: Any, **options: Any) -> ProjectionRunner:
    """A runner that reads and writes images every ``EVERY`` events (``image_key`` may
    be given another key)."""
    return ProjectionRunner(pool, rebuild_from=None, **{"image_key": KEY,
                                                        "image_every": EVERY, **options})


async def _rows_are_a_rebuilds(pool: Any) -> None:
    """The read models the runners left are exactly what a rebuild writes."""
    incremental = await snapshot(pool)
    await rebuild(pool)
    assert await snapshot(pool) == incremental


async def test_a_cold_runner_reloads_from_the_image_and_folds_only_what_follows(ledger):
    pool, _ = ledger
    w, _ = await _long_life(ledger)
    warm = _keyed(pool, page_size=40)
    await warm.catch_up()
    images = {r["agreement_id"]: r["version"] for r in await pool.fetch(
        "SELECT agreement_id, version FROM projection_images")}
    assert set(images) == {"a1", "a2"} and all(v >= EVERY for v in images.values())
    await _one_more(ledger, w)

    cold = _keyed(pool)
    await cold.catch_up()
    stream_length = w.heads["agreement/a1"][0]
    # the image stands at most one page of events behind the head before the new ones
    assert 0 < cold.reloaded < stream_length - images["a1"] + 40
    assert cold.discarded == 0
    await _rows_are_a_rebuilds(pool)

    # without the key: the whole stream is folded again
    await _one_more(ledger, w, "a2")
    keyless = ProjectionRunner(pool, rebuild_from=None)
    await keyless.catch_up()
    assert keyless.reloaded == w.heads["agreement/a2"][0] - 2


FORGERIES = {
    "a byte of the image changed": "UPDATE projection_images SET image = "
    "overlay(image placing '\\xff'::bytea from 20 for 1) WHERE agreement_id = 'a1'",
    "the position moved": "UPDATE projection_images SET position = position - 1 "
    "WHERE agreement_id = 'a1'",
    "another agreement's image": "UPDATE projection_images AS p SET image = o.image, "
    "seal = o.seal, version = o.version, position = o.position FROM projection_images o "
    "WHERE p.agreement_id = 'a1' AND o.agreement_id = 'a2'",
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_a_forged_image_is_discarded_and_the_agreement_refolded(ledger, forgery, caplog):
    pool, _ = ledger
    w, _ = await _long_life(ledger)
    await _keyed(pool).catch_up()
    await pool.execute(FORGERIES[forgery])
    await _one_more(ledger, w)
    cold = _keyed(pool)
    with caplog.at_level(logging.WARNING, logger="ledger.projections.runner"):
        await cold.catch_up()
    assert cold.discarded == 1
    assert cold.reloaded == w.heads["agreement/a1"][0] - 2  # all but the two new events
    assert "image of agreement a1" in caplog.text and "discarded" in caplog.text
    # the refold left a good image behind in place of the forged one
    row = await pool.fetchrow("SELECT * FROM projection_images WHERE agreement_id = 'a1'")
    assert row is not None
    assert open_image(KEY, SealedImage(*(row[c] for c in (
        "agreement_id", "version", "position", "format", "image", "seal")))).last_version
    await _rows_are_a_rebuilds(pool)


async def test_an_image_sealed_with_another_key_is_refused(ledger):
    pool, _ = ledger
    w, _ = await _long_life(ledger)
    await _keyed(pool, image_key=image_key(b"other" * 7)).catch_up()
    await _one_more(ledger, w)
    cold = _keyed(pool)
    await cold.catch_up()
    assert cold.discarded == 1
    assert cold.reloaded == w.heads["agreement/a1"][0] - 2


async def test_an_older_genuine_image_only_costs_more_folding(ledger):
    pool, _ = ledger
    w, _ = await _long_life(ledger)
    runner = _keyed(pool, page_size=40)
    await runner.catch_up()
    old = await pool.fetchrow("SELECT * FROM projection_images WHERE agreement_id = 'a1'")
    await _one_more(ledger, w)
    _months(w, "a1", 30, start=200)
    await w.flush(ledger[1])
    await runner.catch_up()  # a newer image of a1
    newer = await pool.fetchval(
        "SELECT version FROM projection_images WHERE agreement_id = 'a1'")
    assert newer > old["version"]
    await pool.execute("UPDATE projection_images SET version = $2, position = $3, "
                       "image = $4, seal = $5 WHERE agreement_id = $1", "a1",
                       old["version"], old["position"], old["image"], old["seal"])
    await _one_more(ledger, w, "a2")
    _months(w, "a1", 1, start=300)
    await w.flush(ledger[1])
    cold = _keyed(pool)
    await cold.catch_up()
    assert cold.discarded == 0
    assert cold.reloaded > w.heads["agreement/a1"][0] - old["version"] - 3
    await _rows_are_a_rebuilds(pool)


async def test_no_key_no_images(ledger):
    pool, _ = ledger
    await _long_life(ledger)
    await ProjectionRunner(pool, rebuild_from=None).catch_up()
    assert await pool.fetchval("SELECT count(*) FROM projection_images") == 0


async def test_a_rebuild_empties_the_images(ledger):
    pool, _ = ledger
    await _long_life(ledger)
    await _keyed(pool).catch_up()
    assert await pool.fetchval("SELECT count(*) FROM projection_images") == 2
    await rebuild(pool)
    assert await pool.fetchval("SELECT count(*) FROM projection_images") == 0


async def test_an_image_opens_to_the_same_rows(ledger):
    """Sealed then opened, a folded agreement writes the same rows (tallies' scales,
    every ratification, inviters, the order of fulfilments included), and a changed
    seal or format is refused."""
    pool, _ = ledger
    await _long_life(ledger)
    t = Tracked()
    for r in await pool.fetch("SELECT position, recorded_at_us, payload FROM events "
                              "WHERE stream = 'agreement/a1' ORDER BY position"):
        fold_event(t, "a1", bytes(r["payload"]), r["position"], r["recorded_at_us"])
    sealed = seal_image(KEY, "a1", t)
    opened = open_image(KEY, sealed)
    assert rows_of("a1", opened) == rows_of("a1", t)
    assert (opened.last_version, opened.last_position, opened.last_recorded_us) == (
        t.last_version, t.last_position, t.last_recorded_us)
    assert seal_image(KEY, "a1", opened) == sealed
    from dataclasses import replace
    with pytest.raises(ImageRejected, match="seal"):
        open_image(KEY, replace(sealed, seal=bytes(32)))
    with pytest.raises(ImageRejected, match="format"):
        open_image(KEY, replace(sealed, format=sealed.format + 1))
    with pytest.raises(ImageRejected, match="seal"):
        open_image(KEY, replace(sealed, agreement_id="a2"))


async def test_the_runner_leaves_snapshots_the_reads_fold_from(ledger):
    """With the snapshots' key, the runner stores a snapshot of each agreement's state
    beside its image: a read that folds an agreement it does not keep then folds only
    what follows it, and gets exactly the full fold of the signed events."""
    pool, _ = ledger
    w, _ = await _long_life(ledger)
    await _keyed(pool, page_size=40, snapshot_key=SNAPSHOT_KEY).catch_up()
    assert await pool.fetchval("SELECT count(DISTINCT stream) FROM agreement_snapshots") == 2
    reads = Reads(pool)
    for aid in ("a1", "a2"):
        stream = f"agreement/{aid}"
        states = AgreementStates(SNAPSHOT_KEY, every=EVERY)
        state, reached = await states.state_at(reads, stream)
        events = await reads.read_whole_stream(stream)
        assert reached == len(events) == w.heads[stream][0]
        assert msgspec.json.encode(state) == msgspec.json.encode(fold_events(events))
        assert states.folded < 40 and states.discarded == 0


async def test_a_long_reload_folds_in_a_worker_thread(ledger, monkeypatch):
    """A reload of more than ``_OFF_LOOP`` events folds off the event loop, and gives the
    rows a rebuild gives."""
    import threading

    from ledger.projections import runner as runner_module

    pool, _ = ledger
    w, _ = await _long_life(ledger)
    await ProjectionRunner(pool, rebuild_from=None).catch_up()
    await _one_more(ledger, w)
    threads: list[int] = []
    fold = runner_module._fold_rows

    def spy(states: Any, rows: Any) -> None:
        threads.append(threading.get_ident())
        fold(states, rows)

    monkeypatch.setattr(runner_module, "_fold_rows", spy)
    monkeypatch.setattr(runner_module, "_OFF_LOOP", 10)
    cold = ProjectionRunner(pool, rebuild_from=None)  # no images: the whole stream
    await cold.catch_up()
    assert cold.reloaded > 10
    assert threads and threading.get_ident() not in threads
    await _rows_are_a_rebuilds(pool)
