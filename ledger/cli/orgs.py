"""Commands for organizations, on the Python client: register, draft, join, commit,
ratify, and read agreements; plus ``ledger demo``.

The server is ``--url`` (default ``LEDGER_URL`` or http://127.0.0.1:8000); reads use the
token in ``LEDGER_TOKEN`` when the agreement is not public. Signing commands take the
organization's key file (``ledger keygen``) and id: the key never leaves this machine.
"""

from __future__ import annotations

import argparse
import os
import secrets
import urllib.parse
from typing import Any

from .. import domain as d
from ..client import Conflict
from ..domain.values import Period, Quantity
from . import inputs
from .failures import Refusal
from .lang import say
from .output import fail, print_json, table
from .reads import register_agreement_reads, register_org_reads
from .session import add_common as _common
from .session import client_of as _client
from .session import example, print_receipts
from .workshop import register_agreement_actions

ME = "--org centre-arts --key centre.pem"  # the examples' organization


def register(sub: Any) -> None:
    org = sub.add_parser("org", help="organizations: register, show")
    osub = org.add_subparsers(dest="org_command", metavar="ACTION", required=True)
    p = osub.add_parser("register", help="register your organization with its first key",
                        **example(f"ledger org register {ME} --name \"Centre d'arts\""))
    _common(p, signing=True)
    p.add_argument("--name", required=True, help="the organization's name")
    p.add_argument("--registration-token", metavar="TOKEN",
                   default=os.environ.get("LEDGER_REGISTRATION_TOKEN") or None,
                   help="the single-use token the ledger's operator gave you (default: "
                        "LEDGER_REGISTRATION_TOKEN)")
    p.set_defaults(handler=run_register)
    register_org_reads(osub)

    ag = sub.add_parser("agreement", help="agreements: draft, join, list, show, diff, "
                        "history, document, and the agreement-wide actions")
    asub = ag.add_subparsers(dest="agreement_command", metavar="ACTION", required=True)
    p = asub.add_parser("draft", help="draft a new agreement (you become its first party)",
                        **example(f"ledger agreement draft {ME} --id compta-2027 "
                                  '--title "Comptabilité partagée" --purpose "Partager une '
                                  'comptable" --invite theatre-nord --public'))
    _common(p, signing=True)
    p.add_argument("--id", required=True, dest="agreement", type=inputs.ident,
                   help="agreement id")
    p.add_argument("--title", required=True)
    p.add_argument("--purpose", required=True, help="the shared vision / purpose")
    p.add_argument("--invite", action="append", default=[], type=inputs.org_id,
                   help="an organization to invite")
    p.add_argument("--binding", action="store_true", help="a binding convention")
    p.add_argument("--public", action="store_true", help="readable without a token")
    p.set_defaults(handler=run_draft)
    p = asub.add_parser("join", help="join an agreement you were invited to",
                        **example("ledger agreement join compta-2027 --org theatre-nord "
                                  "--key theatre.pem"))
    _common(p, signing=True)
    p.add_argument("agreement", type=inputs.ident)
    p.set_defaults(handler=run_join)
    p = asub.add_parser("show", help="an agreement's current state (or as of a version)",
                        **example("ledger agreement show compta-2027",
                                  "ledger agreement show compta-2027 --version 3",
                                  "ledger agreement show compta-2027 --at 2027-02-01T12:00:00Z"))
    _common(p, signing=False)
    p.add_argument("agreement", type=inputs.ident)
    p.add_argument("--version", type=int)
    p.add_argument("--at", type=inputs.instant,
                   help="time travel: the state as of this UTC time, e.g. 2027-02-01T12:00:00Z")
    p.set_defaults(handler=run_show)
    p = asub.add_parser("history", help="an agreement's audit history",
                        **example("ledger agreement history compta-2027 | head"))
    _common(p, signing=False)
    p.add_argument("agreement", type=inputs.ident)
    p.set_defaults(handler=run_history)
    p = asub.add_parser("document", help="the written agreement (Markdown)",
                        **example("ledger agreement document compta-2027 --lang en > entente.md"))
    _common(p, signing=False)
    p.add_argument("agreement", type=inputs.ident)
    p.add_argument("--lang", choices=("fr", "en"), default="fr")
    p.set_defaults(handler=run_document)
    register_agreement_reads(asub)
    register_agreement_actions(asub)

    p = sub.add_parser("commit", help="commit a resource to an agreement",
                       **example(f"ledger commit {ME} --agreement compta-2027 --id comptable "
                                 '--category function_accounting --description "Une journée par '
                                 'semaine" --quantity 384 --unit hour --start 2027-01-01 '
                                 '--end 2027-12-31 --receiver theatre-nord --value 18000'))
    _common(p, signing=True)
    p.add_argument("--agreement", required=True, type=inputs.ident)
    p.add_argument("--id", required=True, dest="commitment", type=inputs.ident,
                   help="commitment id")
    p.add_argument("--category", required=True, choices=sorted(d.values.CATEGORIES))
    p.add_argument("--description", required=True)
    p.add_argument("--quantity", required=True, type=inputs.amount,
                   help="decimal amount, e.g. 384")
    p.add_argument("--unit", required=True, help="e.g. hour, m2, seat, CAD")
    p.add_argument("--start", required=True, type=inputs.date, help="YYYY-MM-DD")
    p.add_argument("--end", required=True, type=inputs.date, help="YYYY-MM-DD")
    p.add_argument("--receiver", required=True, type=inputs.org_id,
                   help="receiving organization, or collective")
    p.add_argument("--value", type=inputs.amount, help="the value you give it, e.g. 18000")
    p.add_argument("--value-unit", default="CAD")
    p.add_argument("--conditions", default="")
    p.set_defaults(handler=run_commit)

    p = sub.add_parser("ratify", help="ratify the agreement's current terms (the state "
                       "hash is computed here from the verified history)",
                       **example(f"ledger ratify compta-2027 {ME}"))
    _common(p, signing=True)
    p.add_argument("agreement", type=inputs.ident)
    p.set_defaults(handler=run_ratify)

    p = sub.add_parser("demo", help="record the workshop's scenario on a running server",
                       **example("ledger demo --url http://127.0.0.1:8000"))
    _common(p, signing=False)
    p.add_argument("--registration-token", action="append", default=[], metavar="TOKEN",
                   help="a registration token for each of the three organizations (give it "
                        "three times); default: made here, on this machine's ledger, when "
                        "the server runs on this machine")
    p.set_defaults(handler=run_demo_command)


def run_register(args: argparse.Namespace) -> int:
    try:
        receipt = _client(args).register(args.name,
                                         registration_token=args.registration_token)
    except Conflict as exc:
        if exc.head.version >= 1:
            raise Refusal("already-registered", say(
                f"l'organisation {args.org} est déjà inscrite à ce registre",
                f"organization {args.org} is already registered on this ledger"),
                status=exc.status) from exc
        raise
    return print_receipts(args, [receipt])


def run_draft(args: argparse.Namespace) -> int:
    client = _client(args)
    command = d.DraftAgreement(agreement_id=args.agreement, title=args.title,
                               purpose=args.purpose, binding=args.binding,
                               invited=args.invite, public=args.public, actor=args.org,
                               at=client._require_signer().now())
    return print_receipts(args, client.act(args.agreement, command))


def run_join(args: argparse.Namespace) -> int:
    client = _client(args)
    command = d.JoinAgreement(actor=args.org, at=client._require_signer().now())
    return print_receipts(args, client.act(args.agreement, command))


def run_commit(args: argparse.Namespace) -> int:
    client = _client(args)
    value = Quantity(amount=args.value, unit=args.value_unit) if args.value else None
    command = d.OfferCommitment(
        commitment_id=args.commitment, category=args.category,
        description=args.description, quantity=Quantity(amount=args.quantity,
                                                        unit=args.unit),
        period=Period(start=args.start, end=args.end), receiver=args.receiver,
        conditions=args.conditions, value=value, actor=args.org,
        at=client._require_signer().now())
    return print_receipts(args, client.act(args.agreement, command))


def run_ratify(args: argparse.Namespace) -> int:
    return print_receipts(args, _client(args).ratify(args.agreement))


def run_show(args: argparse.Namespace) -> int:
    query: dict[str, Any] = {}
    if args.version:
        query["version"] = args.version
    if args.at:
        query["at"] = args.at
    view = _client(args).agreement(args.agreement, **query)
    if args.json:
        print_json(view)
        return 0
    state = view["state"]
    table(("", ""), [
        ("agreement", view["id"]), ("title", state["title"]), ("status", view["status"]),
        ("in force", "yes" if view["in_force"] else "no"),
        ("terms version", view["terms_version"]),
        ("state hash", view["state_hash"]), ("stream version", view["version"]),
    ])
    print()
    table(("party", "porteur"), [(org, p.get("porteur") or "-")
                                 for org, p in sorted(state["parties"].items())])
    if state["commitments"]:
        print()
        table(("commitment", "provider", "receiver", "category", "quantity", "status"),
              [(cid, c["provider"], c["receiver"], c["category"],
                f"{c['quantity']['amount']} {c['quantity']['unit']}",
                "withdrawn" if c["withdrawn"] else "live")
               for cid, c in sorted(state["commitments"].items())])
    return 0


def run_history(args: argparse.Namespace) -> int:
    client = _client(args)
    entries, after = [], 0
    while True:
        page = client._json("GET", f"/v1/agreements/{args.agreement}/history",
                            query={"after": after, "limit": 1000})
        entries.extend(page["entries"])
        if page["next"] is None:
            break
        after = page["next"]
    if args.json:
        print_json(entries)
    else:
        table(("version", "position", "recorded at", "actor", "type", "key"),
              [(e["version"], e["position"], e["recorded_at"], e["actor"], e["type"],
                e["key_id"][:12] + "…") for e in entries])
    return 0


def run_document(args: argparse.Namespace) -> int:
    text = _client(args).document(args.agreement, args.lang)
    if args.json:
        print_json({"agreement": args.agreement, "lang": args.lang, "markdown": text})
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _is_local(url: str) -> bool:
    """True when ``url`` names this machine (its ledger database is the server's)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


def run_demo_command(args: argparse.Namespace) -> int:
    from ..demo import ORGS, run_demo

    suffix = "-" + secrets.token_hex(3)
    tokens = list(args.registration_token)
    if not tokens and _is_local(args.url):
        from .token import create_registration_tokens

        tokens = create_registration_tokens([f"ledger demo {org}{suffix}" for org in ORGS])
        if not args.json:
            print(f"  the operator makes {len(tokens)} registration tokens (ledger token "
                  "create --registration), one per organization")
    if tokens and len(tokens) != len(ORGS):
        return fail(f"give --registration-token {len(ORGS)} times, one per organization "
                    f"(got {len(tokens)})", args.json)
    result = run_demo(args.url, suffix=suffix,
                      progress=None if args.json else (lambda m: print(f"  {m}")),
                      registration_tokens=dict(zip(ORGS, tokens, strict=False)))
    if args.json:
        print_json({"ok": True, "agreement": result.agreement_id, "status": result.status,
                    "state_hash": result.state_hash, "events": len(result.steps),
                    "in_force_version": result.in_force_version})
        return 0
    print()
    table(("", ""), [("agreement", result.agreement_id), ("status", result.status),
                     ("in force since terms version", result.in_force_version),
                     ("state hash", result.state_hash),
                     ("events recorded", len(result.steps))])
    print(say("\nl'entente écrite : ", "\nthe written agreement: ")
          + f"ledger agreement document {result.agreement_id} "
          f"--url {args.url}")
    return 0
