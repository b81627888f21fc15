"""``ledger db upgrade``: apply pending schema migrations."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..config import Settings
from ..db import upgrade
from ..runtime import resolve_database
from .lang import say
from .output import print_json


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="database administration")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="apply pending migrations (safe to run twice)")
    up.add_argument("--json", action="store_true", help="print JSON")
    up.set_defaults(handler=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with resolve_database(settings) as dsn:
        applied = asyncio.run(upgrade(dsn))
    if args.json:
        print_json({"ok": True, "applied": applied})
    elif applied:
        print(say("appliquées : ", "applied: ") + ", ".join(applied))
    else:
        print(say("la base de données est à jour", "database is up to date"))
    return 0
