"""``ledger token create|revoke|list``: bearer tokens for reading the API, and the
single-use registration tokens that admit an organization's registration.

A token is printed once, at creation; the database keeps only its SHA-256. Revoke a
token by its id, by the token itself or by a unique prefix of it (``ml_...``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from ..config import Settings
from ..db import APP_ROLE, upgrade
from .lang import say
from .local import existing_database
from .output import fail, print_json, table

T = TypeVar("T")


def register(sub: Any) -> None:
    p = sub.add_parser("token", help="API bearer tokens (create, revoke, list)")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = tsub.add_parser("create", help="create a token and print it (once)")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--org", metavar="ID", help="reads what concerns this organization")
    who.add_argument("--auditor", metavar="NAME", help="reads everything")
    who.add_argument("--trust", metavar="NAME", help="reads everything")
    who.add_argument("--registration", metavar="NOTE",
                     help="admits one organization's registration, once (NOTE: for whom)")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(handler=run_create)

    revoke = tsub.add_parser("revoke", help="revoke a token")
    revoke.add_argument("ref", metavar="TOKEN_PREFIX_OR_ID",
                        help="token id, the token, or a unique prefix of it")
    revoke.add_argument("--json", action="store_true", help="print JSON")
    revoke.set_defaults(handler=run_revoke)

    listing = tsub.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)


def _with_connection(action: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    settings = Settings.from_env()

    async def go(dsn: str) -> T:
        await upgrade(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"SET ROLE {APP_ROLE}")
            return await action(conn)
        finally:
            await conn.close()

    with existing_database(settings) as dsn:
        return asyncio.run(go(dsn))


def run_create(args: argparse.Namespace) -> int:
    from ..tokens import TokenError, create_token

    if args.org is not None:
        kind, subject = "org", args.org
    elif args.auditor is not None:
        kind, subject = "auditor", args.auditor
    elif args.registration is not None:
        kind, subject = "registration", args.registration
    else:
        kind, subject = "trust", args.trust
    try:
        token, record = _with_connection(lambda conn: create_token(conn, kind, subject))
    except TokenError as exc:
        return fail(str(exc), args.json, {"code": "token-error", "detail": str(exc)})
    if args.json:
        print_json({"token": token, **record.to_json()})
    else:
        print(token)
        print(say(f"id {record.id}, {record.kind} {record.subject} : ce jeton n'est montré "
                  "qu'une fois ; gardez-le maintenant",
                  f"id {record.id}, {record.kind} {record.subject}: this token is shown only "
                  "once; store it now"))
        if kind == "registration":
            print(say("remettez-le à l'organisme : ledger org register --registration-token "
                      "JETON … (ou LEDGER_REGISTRATION_TOKEN) ; il admet une seule inscription",
                      "give it to the organization: ledger org register --registration-token "
                      "TOKEN ... (or LEDGER_REGISTRATION_TOKEN); it admits one registration"))
    return 0


def create_registration_tokens(notes: list[str]) -> list[str]:
    """One registration token per note, on this machine's ledger database (as ``ledger
    token create --registration``); used by ``ledger demo`` when it runs locally."""
    from ..tokens import create_token

    async def create(conn: asyncpg.Connection) -> list[str]:
        return [(await create_token(conn, "registration", note))[0] for note in notes]

    return _with_connection(create)


def run_revoke(args: argparse.Namespace) -> int:
    from ..tokens import TokenError, revoke_token

    try:
        record, now = _with_connection(lambda conn: revoke_token(conn, args.ref))
    except TokenError as exc:
        return fail(str(exc), args.json, {"code": "token-error", "detail": str(exc)})
    if args.json:
        print_json({"revoked_now": now, **record.to_json()})
    elif now:
        print(say(f"révoqué : {record.id} ({record.kind} {record.subject})",
                  f"revoked {record.id} ({record.kind} {record.subject})"))
    else:
        print(say(f"{record.id} ({record.kind} {record.subject}) était déjà révoqué "
                  f"le {record.revoked_at}",
                  f"{record.id} ({record.kind} {record.subject}) was already revoked "
                  f"at {record.revoked_at}"))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from ..tokens import list_tokens

    records = _with_connection(list_tokens)
    if args.json:
        print_json({"tokens": [r.to_json() for r in records]})
        return 0
    table(["id", "prefix", "kind", "subject", "created", "revoked", "used"],
          [[r.id, r.prefix + "...", r.kind, r.subject, r.created_at.isoformat(timespec="seconds"),
            r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "-",
            r.used_at.isoformat(timespec="seconds") if r.used_at else "-"]
           for r in records], out=sys.stdout)
    return 0
