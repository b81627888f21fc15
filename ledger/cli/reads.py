"""Reads for organizations: ``agreement list``, ``agreement diff``, ``org show``.

Like ``agreement show``, they read the server's API with the token in ``LEDGER_TOKEN``
when what they read is not public; ``diff`` compares an agreement's state at two
versions of its stream (what changed between what was signed and what is now).
"""

from __future__ import annotations

import argparse
from typing import Any

from . import inputs
from .lang import say
from .output import print_json, table
from .session import add_common, client_of

__all__ = ["diff_states", "register_agreement_reads", "register_org_reads"]


def register_agreement_reads(asub: Any) -> None:
    p = asub.add_parser("list", help="agreements you may read (filters: party, status, "
                        "category)", epilog="exemple / example:\n  ledger agreement list "
                        "--party centre-arts --status active",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p, signing=False)
    p.add_argument("--party", type=inputs.org_id, help="only those with this party")
    p.add_argument("--status", help="only those in this status (e.g. draft, active)")
    p.add_argument("--category", help="only those with a commitment of this category")
    p.set_defaults(handler=run_list)

    p = asub.add_parser("diff", help="what changed in an agreement between two versions",
                        epilog="exemple / example:\n  ledger agreement diff compta-2027 3 7",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p, signing=False)
    p.add_argument("agreement", type=inputs.ident)
    p.add_argument("v1", type=int, metavar="V1", help="the earlier stream version")
    p.add_argument("v2", type=int, metavar="V2", help="the later stream version")
    p.set_defaults(handler=run_diff)


def register_org_reads(osub: Any) -> None:
    p = osub.add_parser("show", help="an organization's name, profile and keys",
                        epilog="exemple / example:\n  ledger org show centre-arts",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p, signing=False)
    p.add_argument("org_id", type=inputs.org_id, metavar="ORG")
    p.set_defaults(handler=run_org_show)


def run_list(args: argparse.Namespace) -> int:
    client = client_of(args)
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client._json("GET", "/v1/agreements", query={
            "party": args.party, "status": args.status, "category": args.category,
            "cursor": cursor, "limit": 200})
        items.extend(page["agreements"])
        cursor = page["next"]
        if cursor is None:
            break
    if args.json:
        print_json({"agreements": items})
    else:
        table(("agreement", "title", "status", "public", "terms", "version"),
              [(a["id"], a["title"], a["status"], "yes" if a["public"] else "no",
                a["terms_version"], a["version"]) for a in items])
    return 0


def diff_states(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, before, after) for each leaf that differs; None stands for absent."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out.extend(diff_states(before.get(key), after.get(key), sub))
        return out
    return [] if before == after else [(path, before, after)]


def run_diff(args: argparse.Namespace) -> int:
    client = client_of(args)
    first = client.agreement(args.agreement, version=args.v1)
    second = client.agreement(args.agreement, version=args.v2)
    changes = diff_states(first["state"], second["state"])
    if args.json:
        print_json({"agreement": args.agreement, "from": args.v1, "to": args.v2,
                    "changes": [{"path": p, "before": b, "after": a} for p, b, a in changes]})
        return 0
    if not changes:
        print(say(f"aucun changement entre les versions {args.v1} et {args.v2}",
                  f"no change between versions {args.v1} and {args.v2}"))
        return 0
    table(("", "path", "before", "after"),
          [("+" if b is None else "-" if a is None else "~", p, _short(b), _short(a))
           for p, b, a in changes])
    return 0


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def run_org_show(args: argparse.Namespace) -> int:
    org = client_of(args).organization(args.org_id)
    if args.json:
        print_json(org)
        return 0
    table(("", ""), [("organization", org["id"]), ("name", org["name"]),
                     ("registered at position", org["registered_at"]),
                     ("stream version", org["version"])])
    print()
    table(("key id", "added at", "revoked at"),
          [(k["key_id"], k["added_at"], "-" if k["revoked_at"] is None else k["revoked_at"])
           for k in org["keys"]])
    return 0
