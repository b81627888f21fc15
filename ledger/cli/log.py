"""``ledger log key`` / ``ledger log checkpoint``: the log's public facts, for auditors;
``ledger log rotate-key``: the one way to give a ledger a new log key.

Publish the vkey out of band (web site, annual report); auditors pin it. The ledger
records its log key at first start and refuses any other; after a rotation, publish
the new vkey (docs/DEPLOYMENT.md, docs/AUDIT.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import asyncpg

from ..checkpoint import make_vkey
from ..config import Settings
from ..db import upgrade
from ..keys import raw_public_key
from ..log import ledger_log_key, rotate_log_key
from ..runtime import open_ledger, resolve_database, stored_origin
from .output import print_json


def register(sub: Any) -> None:
    p = sub.add_parser("log", help="the transparency log's key and checkpoints")
    lsub = p.add_subparsers(dest="log_command", metavar="ACTION", required=True)
    k = lsub.add_parser("key", help="print the log's verifier key (vkey)")
    k.add_argument("--json", action="store_true")
    k.set_defaults(handler=run_key)
    c = lsub.add_parser("checkpoint", help="sign (if the tree grew) and print the latest "
                        "checkpoint")
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=run_checkpoint)
    r = lsub.add_parser(
        "rotate-key", help="make a new log key and record it as this ledger's (stop the "
        "server first; publish the new vkey)",
        description="Make a new log key at LEDGER_LOG_KEY and record it as this ledger's: "
        "checkpoints signed from now on use it. The previous key file, if any, is kept "
        "beside it (.retired-<time>). Stop `ledger serve` first, then publish the new "
        "vkey to auditors. Example: ledger log rotate-key")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=run_rotate_key)


def run_key(args: argparse.Namespace) -> int:
    settings = Settings.from_env()

    async def go(dsn: str) -> str:
        await upgrade(dsn)
        await stored_origin(dsn, settings.origin)
        conn = await asyncpg.connect(dsn)
        try:
            key = await ledger_log_key(conn, settings.log_key_path, settings.origin)
        finally:
            await conn.close()
        return make_vkey(settings.origin, raw_public_key(key))

    with resolve_database(settings) as dsn:
        vkey = asyncio.run(go(dsn))
    if args.json:
        print_json({"vkey": vkey, "origin": settings.origin})
    else:
        print(vkey)
    return 0


def run_rotate_key(args: argparse.Namespace) -> int:
    settings = Settings.from_env()

    async def go(dsn: str) -> tuple[str, Path | None]:
        await upgrade(dsn)
        await stored_origin(dsn, settings.origin)
        conn = await asyncpg.connect(dsn)
        try:
            return await rotate_log_key(conn, settings.log_key_path, settings.origin)
        finally:
            await conn.close()

    with resolve_database(settings) as dsn:
        vkey, kept = asyncio.run(go(dsn))
    if args.json:
        print_json({"vkey": vkey, "key_file": str(settings.log_key_path),
                    "previous_key_file": None if kept is None else str(kept)})
        return 0
    print(vkey)
    print(f"new log key in {settings.log_key_path}"
          + ("" if kept is None else f"; the previous key file is kept as {kept}"),
          file=sys.stderr)
    print("publish the new vkey to auditors: checkpoints signed from now on use it",
          file=sys.stderr)
    return 0


def run_checkpoint(args: argparse.Namespace) -> int:
    settings = Settings.from_env()

    async def go(dsn: str) -> tuple[int, str, str]:
        async with open_ledger(settings, dsn, background=False) as led:
            cp = await led.log.checkpoint()
            return cp.size, cp.root_hash.hex(), cp.note

    with resolve_database(settings) as dsn:
        size, root, note = asyncio.run(go(dsn))
    if args.json:
        print_json({"size": size, "root_hash": root, "note": note})
    else:
        print(note, end="")
    return 0
