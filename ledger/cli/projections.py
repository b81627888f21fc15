"""``ledger projections rebuild|status``: the read models derived from the log.

``rebuild`` empties every read model and replays the whole log in one transaction (a
running server's projection waits, then carries on from the rebuilt position);
``status`` shows the saved position against the log and the rows of each table.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..config import Settings
from ..runtime import open_ledger
from .local import existing_database
from .output import Progress, print_json, table


def register(sub: Any) -> None:
    p = sub.add_parser("projections", help="read models: rebuild them, or show where they stand")
    psub = p.add_subparsers(dest="projections_command", metavar="ACTION", required=True)
    rebuild = psub.add_parser("rebuild", help="empty the read models and replay the whole log")
    rebuild.add_argument("--json", action="store_true", help="print a JSON summary")
    rebuild.set_defaults(handler=run_rebuild)
    status = psub.add_parser("status", help="position of the read models against the log")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=run_status)


def run_rebuild(args: argparse.Namespace) -> int:
    from ledger.projections import rebuild

    settings = Settings.from_env()
    bar = Progress("rebuild", None, enabled=not args.json)

    async def go(dsn: str) -> Any:
        async with open_ledger(settings, dsn, background=False, verify_history=False,
                               pool_size=3) as led:
            return await rebuild(led.pool, progress=bar.update)

    with existing_database(settings) as dsn:
        report = asyncio.run(go(dsn))
    bar.close()
    rate = report.events / report.seconds if report.seconds > 0 else 0.0
    if args.json:
        print_json({"ok": True, "position": report.position, "events": report.events,
                    "agreements": report.agreements, "seconds": round(report.seconds, 3),
                    "events_per_second": round(rate)})
    else:
        print(f"rebuilt from {report.position} log entries: {report.events} agreement events, "
              f"{report.agreements} agreements in {report.seconds:.2f} s ({rate:,.0f} events/s)")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from ledger.projections import status

    settings = Settings.from_env()

    async def go(dsn: str) -> Any:
        async with open_ledger(settings, dsn, background=False, verify_history=False,
                               pool_size=2) as led:
            return await status(led.pool)

    with existing_database(settings) as dsn:
        st = asyncio.run(go(dsn))
    if args.json:
        print_json({"ok": True, "name": st.name, "position": st.position,
                    "log_size": st.log_size, "lag": st.lag, "rows": st.rows})
        return 0
    print(f"projection {st.name}: {st.position} of {st.log_size} log entries applied "
          f"(lag {st.lag})")
    table(["table", "rows"], sorted(st.rows.items()))
    return 0
