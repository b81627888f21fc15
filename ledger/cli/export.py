"""``ledger export --out FILE``: write the audit bundle (JSON Lines), streaming."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from ..bundle_export import export_bundle
from ..config import Settings
from ..runtime import open_ledger, resolve_database
from .output import Progress, print_json
from .remote import export_remote


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="write the audit bundle of the whole log")
    p.add_argument("--out", required=True, type=Path, help="bundle file to write (JSON Lines)")
    p.add_argument("--url", help="export from a running server instead of the database "
                   "(token in LEDGER_TOKEN)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.url:
        return export_remote(args.url, os.environ.get("LEDGER_TOKEN", ""), args.out, args.json)
    settings = Settings.from_env()
    bar = Progress("export", None, enabled=not args.json)

    async def go(dsn: str) -> int:
        async with open_ledger(settings, dsn, background=False) as led:
            latest = await led.log.latest()
            tree_size = await led.store.size()
            if latest is None or latest.size < tree_size:
                await led.log.checkpoint()
            tmp = args.out.with_name(args.out.name + ".partial")
            with tmp.open("wb") as fh:
                n = await export_bundle(led.store, led.log.vkey, fh, bar.update)
            tmp.replace(args.out)
            return n

    with resolve_database(settings) as dsn:
        entries = asyncio.run(go(dsn))
    bar.close()
    if args.json:
        print_json({"ok": True, "out": str(args.out), "entries": entries})
    else:
        print(f"wrote {entries} entries to {args.out}")
    return 0
