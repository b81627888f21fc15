"""``ledger keygen``: a new Ed25519 key for an organization (or the log operator)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import b64
from ..keys import generate_private_key, key_id, raw_public_key, save_private_key
from .lang import say
from .output import print_json


def register(sub: Any) -> None:
    p = sub.add_parser("keygen", help="generate an Ed25519 private key file (mode 0600)")
    p.add_argument("--out", required=True, type=Path, help="where to write the PEM key")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path: Path = args.out
    if path.exists():
        raise FileExistsError(say(f"{path} existe déjà ; une clé n'est jamais écrasée",
                                  f"{path} exists; refusing to overwrite a key"))
    key = generate_private_key()
    save_private_key(key, path)
    info = {"path": str(path), "key_id": key_id(key),
            "public_key": b64.encode(raw_public_key(key))}
    if args.json:
        print_json(info)
    else:
        print(say(f"clé écrite dans {path} (mode 0600)", f"wrote {path} (mode 0600)"))
        print(say("identifiant de clé : ", "key id:     ") + info["key_id"])
        print(say("clé publique :       ", "public key: ") + info["public_key"])
    return 0
