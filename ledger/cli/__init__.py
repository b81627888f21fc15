"""The ``ledger`` command line.

Each sub-command lives in its own module of this package and registers itself through
``register(subparsers)``. Errors exit non-zero with one line in the user's words
(``failures``), never a traceback; every command takes ``--json`` for machines, before
or after the sub-command (``ledger --json agreement list`` or ``… list --json``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..errors import LedgerError
from .failures import Refusal, explain
from .lang import say
from .output import fail, print_json

__all__ = ["build_parser", "main"]

COMMAND_MODULES = ("keys", "db", "log", "logread", "export", "audit", "serve", "token",
                   "projections", "orgs", "workshop", "completion")


class Parser(argparse.ArgumentParser):
    """argparse, with a refused argument reported in one line and where to get help
    (instead of the whole usage block, which buries the reason); as JSON on stdout when
    the command line asks for ``--json``."""

    json_errors = False  # set by main() from the raw command line, before parsing

    def error(self, message: str) -> NoReturn:
        hint = say(f"voir « {self.prog} --help »", f"see `{self.prog} --help`")
        if Parser.json_errors:
            print_json({"ok": False, "error": {"code": "usage", "detail": message,
                                               "help": f"{self.prog} --help"}})
            self.exit(2)
        self.exit(2, f"error: {message} ({hint})\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ledger",
        description="A signed, verifiable ledger of pooling agreements between organizations.",
    )
    parser.add_argument("--json", action="store_true", dest="json_first",
                        help="print JSON (also accepted after the sub-command)")
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
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (``ledger … | head -1``): what it read is all it wanted.
        _silence_stdout()
        return 0


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    Parser.json_errors = "--json" in (sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False) or args.json_first)
    args.json = as_json
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except KeyboardInterrupt:
        return fail(say("interrompu", "interrupted"), as_json, {"code": "interrupted"})
    except (LedgerError, Refusal, OSError, ValueError) as exc:
        message, detail = explain(exc, args)
        return fail(message, as_json, detail)
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
