"""Projection cost per event as agreements grow: does an event of a long-lived agreement
cost the runner more than one of a young agreement?

For each length (default 10, 100 and 2,000 events), ``--agreements`` agreements are
given that many events, each decided by the domain's own rules (drafted, joined,
commitments to the collective and to one party, an indicator, then months of
fulfilments, confirmations and measures), signed and appended; a rebuild brings the read
models to the end of that log. Then every agreement gets the same kind of monthly
events, one per agreement per round, and a warm ``ProjectionRunner`` applies them a
round per step (one event of each agreement per transaction, as under a stream of
single-event commits). The figure is the runner's wall time per event over those steps
(and this process's CPU time per event), in ``--windows`` windows of ``--rounds``
rounds each; the median window is printed. A short measurement first warms the
process and is not printed. The agreements grow by those rounds during
the measurement, a little compared with the longer lengths.

The runner is keyed as in ``ledger serve`` (it stores images and snapshots), and its
cache is ``--cache-mib`` (256 by default: every agreement stays folded, the path this
measures); with the server's default of 32 MiB, 40 agreements of 2,000 events do not
fit, and each step reloads them from their images (``--cache-mib 32`` measures that).

Run: BENCH_DATABASE_URL=postgresql://... python bench/projection_growth.py
     [--lengths 10 100 2000] [--agreements 40] [--rounds 6] [--windows 3] [--cache-mib M]
"""

from __future__ import annotations

import os
import sys

# bench/projections.py would shadow the ``projections`` package: put the repository
# first (after PYTHONPATH, so that another checkout's package can be measured) and this
# folder (for _setup.py) last on the search path.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
_FIRST = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
sys.path[:] = _FIRST + [_ROOT] + [p for p in sys.path if p not in _FIRST and os.path.abspath(
    p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from _setup import LEDGER_ID, admin_dsn, fresh_database, machine, signers
from _workload import Decided, Life

import ledger.domain as d
from ledger.admission import Limits
from ledger.db import connect_pool
from ledger.domain.state import receiving_orgs
from ledger.domain.values import Period, Quantity
from ledger.envelope import Envelope
from ledger.projections import ProjectionRunner, rebuild
from ledger.projections import runner as runner_module
from ledger.projections.images import image_key
from ledger.snapshot import seal_key
from ledger.statement import event_hash
from ledger.store import PostgresStore

ORGS = 6
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _do(life: Life, command: Any, **fields: Any) -> None:
    """Decide ``command(**fields)`` at the life's next time."""
    life.do(lambda at: command(**fields, at=at))


def _founding(life: Life) -> None:
    """Five events: drafted with one invitee, joined, two commitments, an indicator."""
    first, other = life.parties
    _do(life, d.DraftAgreement, agreement_id=life.id, title=f"Mutualisation {life.id}",
        binding=False, purpose="Partager nos locaux.", invited=[other], actor=first)
    _do(life, d.JoinAgreement, actor=other)
    for cid, org, receiver, unit in (("c-salle", first, "collective", "hour"),
                                     ("c-materiel", other, first, "month")):
        _do(life, d.OfferCommitment, commitment_id=cid, category="premises",
            description="Salle et matériel", quantity=Quantity("400", unit),
            period=Period("2026-01-01", "2099-12-31"), receiver=receiver,
            value=Quantity("1200", "CAD"), actor=org)
    _do(life, d.DefineIndicator, indicator_id="heures", name="Heures", unit="hour",
        method="Somme mensuelle", target="100", actor=first)


def _month(life: Life, month: int) -> None:
    """Five events: a fulfilment of each commitment, each confirmed (now and then
    contested), and a measure."""
    year, m = 2026 + (month - 1) // 12, (month - 1) % 12 + 1
    period = Period(f"{year}-{m:02d}-01", f"{year}-{m:02d}-28")
    for cid, cm in sorted(life.state.commitments.items()):
        fid = f"f-{cid}-{month}"
        _do(life, d.RecordFulfilment, fulfilment_id=fid, commitment_id=cm.id,
            quantity=Quantity("3", cm.quantity.unit), period=period, actor=cm.provider)
        for org in receiving_orgs(life.state, cm):
            if life.rng.random() < 0.08:
                _do(life, d.ContestFulfilment, fulfilment_id=fid,
                    reason="Salle non disponible", actor=org)
            else:
                _do(life, d.ConfirmFulfilment, fulfilment_id=fid, actor=org)
    _do(life, d.RecordMeasurement, measurement_id=f"m-{month}", indicator_id="heures",
        period=period, value=str(life.rng.randint(1, 90)), evidence_sha256=f"{m:02x}" * 32,
        actor=life.parties[0])


def histories(agreements: int, length: int) -> list[list[Decided]]:
    """``agreements`` lives of at least ``length`` events each."""
    rng = random.Random(16)
    names = [s.org_id for s in signers(ORGS)]
    out = []
    for a in range(agreements):
        life = Life(f"ent-{a:05d}", rng.sample(names, 2), rng, START)
        _founding(life)
        month = 0
        while len(life.events) < length:
            month += 1
            _month(life, month)
        out.append(life.events)
    return out


class Signed:
    """Signs agreement events in a chosen order, each stream chained to its head."""

    def __init__(self, count: int) -> None:
        self.by_org = {s.org_id: s for s in signers(ORGS)}
        self.heads: list[str | None] = [None] * count
        self.versions = [0] * count

    def sign(self, a: int, event: Decided) -> Envelope:
        actor, type_, data, at = event
        self.versions[a] += 1
        env = self.by_org[actor].event(f"agreement/ent-{a:05d}", self.versions[a],
                                       self.heads[a], type_, data, issued_at=at)
        self.heads[a] = event_hash(env.payload_bytes())
        return env


async def append(store: PostgresStore, envelopes: list[Envelope]) -> None:
    for i in range(0, len(envelopes), 5000):
        await store.append(envelopes[i:i + 5000])


_SECRET = b"bench projection growth"  # stands for the log key's bytes


async def measure(dsn: str, lives: list[list[Decided]], length: int, rounds: int,
                  windows: int, cache_mib: int) -> list[tuple[float, float]]:
    """(wall µs, CPU µs) per event of each window, agreements ``length`` events long."""
    k = len(lives)
    signed = Signed(k)
    prefix = [signed.sign(a, life[i]) for a, life in enumerate(lives) for i in range(length)]
    later = 1 + rounds * windows  # one warm-up round, then the windows
    rest = [signed.sign(a, lives[a][length + r]) for r in range(later) for a in range(k)]
    pool = await connect_pool(dsn, min_size=2, max_size=4)
    store = PostgresStore(pool, ledger_id=LEDGER_ID, max_batch=5000,
                          limits=Limits(max_skew_us=10**17))
    try:
        await store.append([s.registration(s.org_id) for s in signers(ORGS)])
        await append(store, prefix)
        await rebuild(pool)
        await append(store, rest)
        async with pool.acquire() as conn:
            await conn.execute("VACUUM (ANALYZE)")
        # keyed as in ``ledger serve``: it stores images and snapshots as it passes
        # every 200 events of an agreement
        runner = ProjectionRunner(pool, page_size=k, rebuild_from=None,
                                  cache_bytes=cache_mib << 20, image_key=image_key(_SECRET),
                                  snapshot_key=seal_key(_SECRET))
        assert await runner.step() == k  # warm-up: folds every agreement into the cache
        out = []
        for _ in range(windows):
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(rounds):
                assert await runner.step() == k
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            out.append((wall / (rounds * k) * 1e6, cpu / (rounds * k) * 1e6))
        return out
    finally:
        await store.close()
        await pool.close()


async def main(lengths: list[int], agreements: int, rounds: int, windows: int,
               cache_mib: int) -> None:
    t0 = time.perf_counter()
    lives = histories(agreements, max(lengths) + 1 + rounds * windows)
    made = time.perf_counter() - t0
    with admin_dsn() as (admin, label):
        load1, _, _ = os.getloadavg()
        print(f"code: {runner_module.__file__}")
        print(f"setup: {machine()}; {label}; {agreements} agreements per length; "
              f"{rounds} rounds x {windows} windows; the runner's cache {cache_mib} MiB; "
              f"load average {load1:.2f} at start; "
              f"histories decided in {made:.1f} s")
        print(f"{'events per agreement':>22} {'µs/event (wall)':>16} {'µs/event (CPU)':>15}"
              "   windows (wall)")
        # The first measurement of a process also pays for warming it (imports, caches,
        # the server's catalog lookups): one short one first, not printed.
        async with fresh_database(admin) as dsn:
            await measure(dsn, lives, min(lengths), 2, 1, cache_mib)
        first = None
        for length in lengths:
            async with fresh_database(admin) as dsn:
                got = await measure(dsn, lives, length, rounds, windows, cache_mib)
            wall = statistics.median(w for w, _ in got)
            cpu = statistics.median(c for _, c in got)
            first = first or wall
            print(f"{length:>22,} {wall:>16.0f} {cpu:>15.0f}   "
                  f"{' '.join(f'{w:.0f}' for w, _ in got)}  ({wall / first:.2f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 100, 2000])
    parser.add_argument("--agreements", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--cache-mib", type=int, default=256,
                        help="the runner's cache bound (LEDGER_CACHE_PROJECTION_MIB); below "
                             "what the agreements take (40 of 2,000 events: about 40 MiB) "
                             "every step reloads them from their images")
    args = parser.parse_args()
    asyncio.run(main(args.lengths, args.agreements, args.rounds, args.windows,
                     args.cache_mib))
