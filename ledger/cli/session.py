"""An organization's session with a server: the URL, the read token, the signing key.

Shared by every command that talks to a server (``orgs``, ``workshop``, ``reads``): the
same options, the same client, the same words when the key file is not a key.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..client import LedgerClient
from ..keys import load_private_key
from ..signer import Signer
from . import inputs
from .failures import Refusal
from .lang import say
from .output import print_json, table

__all__ = ["DEFAULT_URL", "add_common", "client_of", "example", "load_key", "print_receipts"]

DEFAULT_URL = "http://127.0.0.1:8000"


def add_common(p: argparse.ArgumentParser, *, signing: bool) -> None:
    """``--url``, ``--json`` and, for signing commands, ``--org`` and ``--key``."""
    p.add_argument("--url", type=inputs.server_url,
                   default=os.environ.get("LEDGER_URL", DEFAULT_URL),
                   help="the ledger server (default: LEDGER_URL or %(default)s)")
    if signing:
        p.add_argument("--org", required=True, type=inputs.org_id,
                       help="your organization's id")
        p.add_argument("--key", required=True, type=Path,
                       help="your private key file (ledger keygen)")
    p.add_argument("--json", action="store_true", help="print JSON")


def load_key(path: Path) -> Ed25519PrivateKey:
    """The private key in ``path``, or a refusal saying what the file is not."""
    if not path.is_file():
        raise Refusal("key-not-found", say(f"aucun fichier de clé {path}",
                                           f"no key file {path}"))
    try:
        return load_private_key(path)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise Refusal("key-invalid", say(
            f"{path} n'est pas une clé privée Ed25519 faite par « ledger keygen »",
            f"{path} is not an Ed25519 private key made by `ledger keygen`")) from exc


def client_of(args: argparse.Namespace) -> LedgerClient:
    """The client for ``args``: signing as ``--org`` when a ``--key`` is given, reading
    with the token in ``LEDGER_TOKEN`` if any."""
    signer = None
    if getattr(args, "key", None) is not None:
        signer = Signer(args.org, load_key(args.key), "")
    return LedgerClient(args.url, token=os.environ.get("LEDGER_TOKEN") or None,
                        signer=signer)


def print_receipts(args: argparse.Namespace, receipts: list[Any]) -> int:
    """The receipts of what was recorded, as a table or JSON."""
    if args.json:
        print_json({"ok": True, "receipts": [r.to_json() for r in receipts]})
    elif receipts:
        table(("position", "stream", "version", "event hash"),
              [(r.position, r.stream, r.version, r.event_hash[:16] + "…") for r in receipts])
    else:
        print(say("rien à consigner : le registre le dit déjà",
                  "nothing to record: the ledger already says so"))
    return 0


def example(*lines: str) -> dict[str, Any]:
    """``add_parser`` keywords for a ``--help`` that ends with examples."""
    return {"epilog": "exemple / example:\n" + "\n".join(f"  {line}" for line in lines),
            "formatter_class": argparse.RawDescriptionHelpFormatter}
