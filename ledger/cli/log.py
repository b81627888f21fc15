"""``ledger log key`` / ``ledger log checkpoint``: the log's public facts, for auditors.

Publish the vkey out of band (web site, annual report); auditors pin it.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..checkpoint import make_vkey
from ..config import Settings
from ..keys import raw_public_key
from ..log import load_or_create_log_key
from ..runtime import open_ledger, resolve_database
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


def run_key(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    key = load_or_create_log_key(settings.log_key_path)
    vkey = make_vkey(settings.origin, raw_public_key(key))
    if args.json:
        print_json({"vkey": vkey, "origin": settings.origin})
    else:
        print(vkey)
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
