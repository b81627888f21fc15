"""The ``ledger`` command line.

Each sub-command lives in its own module of this package and registers itself through
``register(subparsers)``. Errors exit non-zero with one clear line, never a traceback;
every command takes ``--json`` for machines.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import LedgerError
from .output import fail

__all__ = ["main"]

COMMAND_MODULES = ("keys", "db", "log", "export", "audit", "serve", "token", "projections",
                   "orgs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="A signed, verifiable ledger of pooling agreements between organizations.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"ledger.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ledger.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    try:
        code: int = args.handler(args)
    except LedgerError as exc:
        return fail(exc.diagnostics(), as_json, exc.to_dict())
    except KeyboardInterrupt:
        return fail("interrupted", as_json)
    except (OSError, ValueError) as exc:
        return fail(f"{type(exc).__name__}: {exc}", as_json)
    return code


if __name__ == "__main__":
    sys.exit(main())
