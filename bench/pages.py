"""Server-side time of the register's pages with 1,000 public agreements.

20 organizations register and draft 1,000 public agreements (each inviting two others)
through ``POST /v1/events``; once the projections hold them all, each page is asked
``--rounds`` times in-process (Litestar's ASGI test client: no network, no socket, so
the time is the server's: reading, access, templates). The register is asked with all
1,000 agreements on one page (``?limit=1000``) and with its default page (100).
Nothing is asserted: the figures are printed as measured (target: the register with
1,000 agreements under 300 ms).

Run: python bench/pages.py [--agreements N] [--rounds R]
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path
                         if os.path.abspath(p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

from _setup import LEDGER_ID, admin_dsn, fresh_database, machine, signers
from litestar.testing import AsyncTestClient

from ledger.admission import Limits
from ledger.api.app import ApiConfig, create_app
from ledger.config import Settings

ORGS = 20


async def _fill(client: AsyncTestClient, n: int) -> None:  # type: ignore[type-arg]
    orgs = signers(ORGS)
    regs = [s.registration(f"Organisme {i}").to_json() for i, s in enumerate(orgs)]
    r = await client.post("/v1/events", json={"events": regs})
    assert r.status_code == 201, r.text
    batch = []
    for i in range(n):
        s = orgs[i % ORGS]
        invited = [orgs[(i + 1) % ORGS].org_id, orgs[(i + 2) % ORGS].org_id]
        batch.append(s.event(f"agreement/bench-{i:05d}", 1, None, "agreement.drafted", {
            "agreement_id": f"bench-{i:05d}", "title": f"Entente de mutualisation {i}",
            "purpose": "Partager des ressources", "binding": False, "public": True,
            "invited": invited}).to_json())
        if len(batch) == 200:
            r = await client.post("/v1/events", json={"events": batch})
            assert r.status_code == 201, r.text
            batch = []
    if batch:
        r = await client.post("/v1/events", json={"events": batch})
        assert r.status_code == 201, r.text
    last = f"bench-{n - 1:05d}"
    for _ in range(600):  # the projections follow in the background
        if last in (await client.get("/", params={"limit": "1000"})).text:
            return
        await asyncio.sleep(0.1)
    raise SystemExit("the projections did not catch up")


async def _time(client: AsyncTestClient, path: str, rounds: int) -> list[float]:  # type: ignore[type-arg]
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = await client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return times


async def main(n: int, rounds: int) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    with admin_dsn() as (admin, where):
        async with fresh_database(admin) as dsn:
            home = Path(tempfile.mkdtemp(prefix="ledger-bench-pages-"))
            settings = Settings(database_url=dsn, home=home, origin=LEDGER_ID,
                                log_key_path=home / "log-key.pem", limits=Limits())
            app = create_app(settings, dsn=dsn, config=ApiConfig(
                max_events=500, writes_per_key_per_second=100_000,
                appends_per_address_per_second=100_000, open_registration=True))
            async with AsyncTestClient(app) as client:
                await _fill(client, n)
                print(f"{machine()}; {where}")
                print(f"{n} public agreements, {ORGS} organizations; {rounds} rounds each")
                for path in ("/?limit=1000", "/", "/?status=draft&q=entente",
                             "/organizations/org-001", "/agreements/bench-00042"):
                    await _time(client, path, 2)  # warm-up (templates, caches)
                    t = sorted(await _time(client, path, rounds))
                    p95 = t[max(int(len(t) * 0.95) - 1, 0)]
                    print(f"GET {path:28} median {statistics.median(t):7.1f} ms   "
                          f"p95 {p95:7.1f} ms   max {t[-1]:7.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.agreements, args.rounds))
