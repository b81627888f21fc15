"""``ledger log checkpoint --url`` and ``ledger log proof``: the log, read from a server
and verified here.

``log checkpoint`` without ``--url`` stays the local command (``cli/log.py``); with
``--url`` it fetches the server's latest signed checkpoint and checks its signature
against the log's key, pinned with ``--vkey`` (or ``LEDGER_VKEY``) — without a pin the
key is the one the server gives, and the output says so. ``log proof --index N``
fetches entry N and its inclusion proof and checks both against that checkpoint: the
entry is in the log the key signed, whatever the server says. Both need an auditor or
trust token (``LEDGER_TOKEN``), like every read of the log.

Why a module apart from ``cli/log.py``: that module holds the local commands (they
open the database); these talk to a server. They join the same ``ledger log`` group,
and guard the local ``log key`` and ``log checkpoint`` so that they refuse a
``LEDGER_HOME`` holding no ledger instead of making a new database and log key there.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .. import b64
from ..checkpoint import Checkpoint, CheckpointError, open_checkpoint, parse_vkey
from ..client import LedgerClient
from ..config import Settings
from ..merkle import ProofError, hash_leaf, verify_inclusion
from . import inputs
from .failures import Refusal
from .lang import say
from .local import require_ledger
from .output import print_json, table
from .session import DEFAULT_URL

__all__ = ["register"]


def _log_actions(sub: Any) -> Any:
    """The sub-commands of ``ledger log``, made here if ``cli/log.py`` did not."""
    log = sub.choices.get("log")
    if log is None:
        log = sub.add_parser("log", help="the transparency log's key and checkpoints")
        return log.add_subparsers(dest="log_command", metavar="ACTION", required=True)
    # argparse keeps a parser's sub-commands as its one _SubParsersAction.
    return next(a for a in log._actions if isinstance(a, argparse._SubParsersAction))


def _remote(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--url", type=inputs.server_url, required=required,
                   help="the ledger server (e.g. http://127.0.0.1:8000); "
                   "needs an auditor or trust token in LEDGER_TOKEN")
    p.add_argument("--vkey", default=os.environ.get("LEDGER_VKEY"),
                   help="the log's key, pinned (default LEDGER_VKEY; else the server's)")


def register(sub: Any) -> None:
    actions = _log_actions(sub)
    checkpoint = actions.choices.get("checkpoint")
    if checkpoint is None:
        checkpoint = actions.add_parser("checkpoint", help="the latest signed checkpoint")
        checkpoint.add_argument("--json", action="store_true")
        local = None
    else:
        local = checkpoint.get_default("handler")
    _remote(checkpoint, required=local is None)
    checkpoint.epilog = ("exemple / example:\n  ledger log checkpoint --url "
                         f"{DEFAULT_URL} --vkey \"$(cat log.vkey)\"")
    checkpoint.formatter_class = argparse.RawDescriptionHelpFormatter
    checkpoint.set_defaults(handler=lambda args: run_checkpoint(args, local))

    key = actions.choices.get("key")
    if key is not None:
        local_key = key.get_default("handler")
        key.set_defaults(handler=lambda args: run_key(args, local_key))

    proof = actions.add_parser(
        "proof", help="prove that a log entry is in the signed log (checked here)",
        epilog=f"exemple / example:\n  ledger log proof --index 42 --url {DEFAULT_URL} "
        "--vkey \"$(cat log.vkey)\"", formatter_class=argparse.RawDescriptionHelpFormatter)
    proof.add_argument("--index", type=int, required=True, help="the entry's log position")
    _remote(proof, required=False)
    proof.add_argument("--json", action="store_true", help="print JSON")
    proof.set_defaults(handler=run_proof)


def _client(args: argparse.Namespace) -> LedgerClient:
    if args.url is None:
        args.url = os.environ.get("LEDGER_URL", DEFAULT_URL)
    return LedgerClient(args.url, token=os.environ.get("LEDGER_TOKEN") or None)


def _verified_checkpoint(client: LedgerClient, vkey: str | None) -> tuple[Checkpoint, str,
                                                                          bool]:
    """The server's latest checkpoint, its note, and whether the key was pinned."""
    note = client.text("/v1/log/checkpoint")
    pinned = bool(vkey)
    key = vkey.strip() if vkey else client.text("/v1/log/key").strip()
    try:
        return open_checkpoint(note, parse_vkey(key)), note, pinned
    except CheckpointError as exc:
        raise Refusal("checkpoint-invalid", say(
            f"le point de contrôle du serveur ne se vérifie pas avec cette clé : {exc}",
            f"the server's checkpoint does not verify with this key: {exc}")) from exc


def _unpinned_warning(pinned: bool) -> None:
    if not pinned:
        print(say("attention : clé du journal non épinglée (--vkey) ; celle du serveur a "
                  "servi", "note: log key not pinned (--vkey); the server's own was used"))


def run_checkpoint(args: argparse.Namespace, local: Any) -> int:
    if args.url is None and local is not None:
        settings = Settings.from_env()
        require_ledger(settings)  # the local command would create one
        return int(local(args))
    cp, note, pinned = _verified_checkpoint(_client(args), args.vkey)
    if args.json:
        print_json({"size": cp.size, "root_hash": cp.root_hash.hex(), "origin": cp.origin,
                    "note": note, "key_pinned": pinned, "verified": True})
        return 0
    print(note, end="")
    _unpinned_warning(pinned)
    return 0


def run_key(args: argparse.Namespace, local: Any) -> int:
    """The local ``log key``, refused where there is no ledger (it would make a key
    for a ledger nobody serves)."""
    require_ledger(Settings.from_env())
    return int(local(args))


def run_proof(args: argparse.Namespace) -> int:
    client = _client(args)
    cp, _, pinned = _verified_checkpoint(client, args.vkey)
    if not 0 <= args.index < cp.size:
        raise Refusal("out-of-range", say(
            f"l'entrée {args.index} n'est pas dans le journal signé ({cp.size} entrées)",
            f"entry {args.index} is not in the signed log ({cp.size} entries)"))
    page = client._json("GET", "/v1/log/entries", query={"start": args.index, "limit": 1})
    [entry] = page["entries"][:1]
    leaf_hash = hash_leaf(b64.decode(entry["leaf"]))
    proof = client._json("GET", "/v1/log/proof/inclusion",
                         query={"index": args.index, "size": cp.size})
    try:
        if b64.decode(proof["leaf_hash"]) != leaf_hash:
            raise ProofError("the proof is about another leaf")
        verify_inclusion(args.index, cp.size, leaf_hash,
                         [b64.decode(h) for h in proof["proof"]], cp.root_hash)
    except (ProofError, ValueError) as exc:
        raise Refusal("proof-invalid", say(
            f"la preuve d'inclusion de l'entrée {args.index} est fausse : {exc}",
            f"the inclusion proof of entry {args.index} is wrong: {exc}")) from exc
    if args.json:
        print_json({"index": args.index, "size": cp.size, "root_hash": cp.root_hash.hex(),
                    "leaf_hash": leaf_hash.hex(), "proof_length": len(proof["proof"]),
                    "key_pinned": pinned, "verified": True})
        return 0
    table(("", ""), [("entry", args.index), ("log size", cp.size),
                     ("root hash", cp.root_hash.hex()), ("leaf hash", leaf_hash.hex()),
                     ("proof", f"{len(proof['proof'])} hashes, verified")])
    _unpinned_warning(pinned)
    return 0
