"""Provenance queries on a ledger of >= 100,000 events: median and p99, warm.

Builds, in a fresh database, ``--agreements`` agreements (default 1,600) of ~64 signed
events each: three organizations draft, join, name porteurs, state and acknowledge an
expectation, commit staff hours, premises and a campaign with the value each side
declares, define an indicator, ratify, then record two years of monthly staff-hour
fulfilments the receiver confirms. Events are decided by the domain, signed before
timing, and appended with ``PostgresStore.append`` in batches of 1,000 (no rules at the
door: they were decided by the same rules); a checkpoint is then signed over the whole
log.

Then the HTTP app (in process, an auditor token) answers, for random agreements:

* ``GET /v1/provenance/agreements/{a}/commitments/{c}`` for the staff commitment (its
  chain, both declared values and 24 fulfilments with their confirmations: ~51 events,
  each with its inclusion proof against the latest checkpoint) — the target: median
  under 50 ms;
* the same with ``?year=`` (a reported total), ``GET /v1/provenance/agreements/{a}``
  (the whole agreement, with state hashes per terms version) and its PROV-JSON export.

Run: python bench/provenance.py [--agreements N] [--samples K]
"""

from __future__ import annotations

import os
import sys

# Scripts here are named after what they measure (http.py, projections.py), which would
# shadow the standard library's ``http`` and the ``projections`` package: put the
# repository first and this folder (for _setup.py) last on the module search path.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path
                         if os.path.abspath(p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from _setup import LEDGER_ID, admin_dsn, fresh_database, machine, signers
from litestar.testing import AsyncTestClient

import ledger.domain as d
from ledger.admission import Limits
from ledger.api.app import ApiConfig, create_app
from ledger.config import Settings
from ledger.db import connect_pool
from ledger.domain import Fact, decide, evolve, initial_state, state_hash
from ledger.domain.state_hash import expectation_hash
from ledger.domain.values import FairValue, Period, Quantity
from ledger.envelope import Envelope
from ledger.log import TransparencyLog, load_or_create_log_key
from ledger.signer import Signer
from ledger.statement import event_hash, format_time
from ledger.store import PostgresStore
from ledger.tokens import create_token

ORGS = 30
MONTHS = 24
BATCH = 1000


def _now() -> str:
    return format_time(datetime.now(UTC))


def agreement(n: int, trio: list[Signer]) -> list[Envelope]:
    """One agreement's signed events (see the module docstring)."""
    aid = f"a-{n:05d}"
    stream = f"agreement/{aid}"
    a, b, c = trio
    state = initial_state()
    out: list[Envelope] = []
    prev: str | None = None

    def do(signer: Signer, command: type, **fields: Any) -> None:
        nonlocal state, prev
        at = _now()
        for event in decide(command(**fields, actor=signer.org_id, at=at), state):
            version = len(out) + 1
            env = signer.event(stream, version, prev, event.type, event.data, issued_at=at)
            prev = event_hash(env.payload_bytes())
            state = evolve(state, Fact(event.type, event.data, signer.org_id, at, version))
            out.append(env)

    do(a, d.DraftAgreement, agreement_id=aid, title=f"Mutualisation {n}",
       purpose="Partager une ressource humaine, des locaux et une campagne.", binding=False,
       invited=[b.org_id, c.org_id])
    do(b, d.JoinAgreement)
    do(c, d.JoinAgreement)
    for i, s in enumerate(trio):
        do(s, d.NamePorteur, person_id=f"p-{n}-{i}")
    do(b, d.StateExpectation, expectation_id="rapports", text="Un rapport mensuel.")
    for s in (a, c):
        do(s, d.AcknowledgeExpectation, expectation_id="rapports",
           content_hash=expectation_hash(state.expectations["rapports"]))
    years = Period("2026-01-01", "2027-12-31")
    do(a, d.OfferCommitment, commitment_id="personnel", category="human_resources",
       description="Une coordonnatrice partagée, deux jours par mois.",
       quantity=Quantity("384", "hour"), period=years, receiver=b.org_id,
       value=Quantity("14000", "CAD"), fair_value=FairValue("16000", "CAD", "market"))
    do(b, d.DeclareReceivedValue, commitment_id="personnel", value=Quantity("20000", "CAD"))
    do(b, d.OfferCommitment, commitment_id="salle", category="premises",
       description="Salle polyvalente.", quantity=Quantity("48", "evening"), period=years,
       receiver=c.org_id, value=Quantity("4800", "CAD"))
    do(c, d.OfferCommitment, commitment_id="campagne", category="fundraising",
       description="Campagne commune.", quantity=Quantity("2", "campaign"), period=years,
       receiver="collective", value=Quantity("200", "hour"))
    do(b, d.DefineIndicator, indicator_id="heures", name="Heures reçues", unit="hour",
       method="Somme des heures confirmées.", target="384")
    for s in trio:
        do(s, d.RatifyAgreement, terms_version=state.terms_version,
           state_hash=state_hash(state))
    for m in range(MONTHS):
        year, month = 2026 + m // 12, m % 12 + 1
        fid = f"personnel-{year}-{month:02d}"
        do(a, d.RecordFulfilment, fulfilment_id=fid, commitment_id="personnel",
           quantity=Quantity("16", "hour"),
           period=Period(f"{year}-{month:02d}-01", f"{year}-{month:02d}-28"))
        do(b, d.ConfirmFulfilment, fulfilment_id=fid)
    return out


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


async def build(dsn: str, n: int, key_path: Path) -> int:
    orgs = signers(ORGS)
    t = time.perf_counter()
    events: list[Envelope] = [o.registration(o.org_id) for o in orgs]
    for i in range(n):
        trio = [orgs[(3 * i + k) % ORGS] for k in range(3)]
        events.extend(agreement(i, trio))
    print(f"decided and signed {len(events):,} events in {time.perf_counter() - t:.1f} s")
    pool = await connect_pool(dsn, min_size=1, max_size=8)
    store = PostgresStore(pool, ledger_id=LEDGER_ID, max_batch=BATCH)
    try:
        t = time.perf_counter()
        for i in range(0, len(events), BATCH):
            await store.append(events[i:i + BATCH])
        print(f"appended them in {time.perf_counter() - t:.1f} s "
              f"(batches of {BATCH}, every signature verified)")
        log = TransparencyLog(store, load_or_create_log_key(key_path))
        checkpoint = await log.checkpoint()
        async with pool.acquire() as conn:
            await conn.execute("VACUUM ANALYZE")  # so autovacuum does not run mid-measure
        return checkpoint.size
    finally:
        await store.close()
        await pool.close()


async def measure(client: AsyncTestClient[Any], headers: dict[str, str], paths: list[str],
                  **params: str) -> list[float]:
    times = []
    for path in paths:
        t = time.perf_counter()
        r = await client.get(path, headers=headers, params=params or None)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    return times


async def main(n: int, samples: int) -> None:
    with admin_dsn() as (admin, label):
        print(f"setup: {machine()}; {label}; {n:,} agreements of ~64 events")
        async with fresh_database(admin) as dsn:
            home = Path(tempfile.mkdtemp(prefix="ledger-bench-prov-"))
            size = await build(dsn, n, home / "log-key.pem")
            print(f"log size {size:,}, checkpoint signed at that size")
            conn = await asyncpg.connect(dsn)
            try:
                token, _ = await create_token(conn, "auditor", "bench")
            finally:
                await conn.close()
            headers = {"Authorization": f"Bearer {token}"}
            settings = Settings(database_url=dsn, home=home, origin=LEDGER_ID,
                                log_key_path=home / "log-key.pem", limits=Limits())
            app = create_app(settings, dsn=dsn, config=ApiConfig(open_registration=True),
                             background=False)
            t = time.perf_counter()
            async with AsyncTestClient(app) as client:
                print(f"app started (history verified) in {time.perf_counter() - t:.1f} s")
                picks = [f"a-{random.randrange(n):05d}" for _ in range(samples)]
                commitment = [f"/v1/provenance/agreements/{a}/commitments/personnel"
                              for a in picks]
                first = await client.get(commitment[0], headers=headers)
                events = len(first.json()["chain"]) + sum(
                    1 + len(f["history"]) for f in first.json()["fulfilments"])
                agreements = [f"/v1/provenance/agreements/{a}"
                              for a in picks[:max(20, samples // 4)]]
                await measure(client, headers, commitment)  # warm: every sample once
                await measure(client, headers, agreements)
                for label_, paths, params in (
                        ("commitment provenance", commitment, {}),
                        ("commitment + reported total (year)", commitment, {"year": "2026"}),
                        ("agreement provenance", agreements, {}),
                        ("agreement PROV-JSON export", agreements, {"format": "prov-json"}),
                ):
                    times = await measure(client, headers, paths, **params)
                    print(f"{label_:>36}: median {statistics.median(times):6.2f} ms, "
                          f"p99 {pct(times, 0.99):6.2f} ms ({len(times)} requests)")
                print(f"(the commitment answer lists {events} events, each with its "
                      f"inclusion proof at size {size:,}; through HTTP in process)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agreements", type=int, default=1600)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    # The in-process client logs every request at INFO: keep the figures readable.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(main(args.agreements, args.samples))
