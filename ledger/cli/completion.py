"""``ledger completion bash|zsh``: shell completion of every command and option.

Generated from the very parser the CLI runs (``build_parser``) by ``shtab``, so a new
command or option completes without anyone editing a script; files are completed
where a command takes a path (``--key``, ``--evidence``, ``--out``, bundles).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "script"]

INSTALL = """exemple / example:
  ledger completion bash > ~/.local/share/bash-completion/completions/ledger
  ledger completion zsh > "${fpath[1]}/_ledger"     # then: compinit
  eval "$(ledger completion bash)"                  # this shell only"""


def register(sub: Any) -> None:
    p = sub.add_parser("completion", help="print the shell completion script (bash, zsh)",
                       epilog=INSTALL, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shell", choices=("bash", "zsh"))
    p.set_defaults(handler=run)


def _mark_files(parser: argparse.ArgumentParser, file: Any) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _mark_files(child, file)
        elif action.type is Path:
            action.complete = file  # type: ignore[attr-defined]


def script(shell: str) -> str:
    """The completion script of ``ledger`` for ``shell``."""
    import shtab

    from . import build_parser

    parser = build_parser()
    _mark_files(parser, shtab.FILE)
    return str(shtab.complete(parser, shell=shell))


def run(args: argparse.Namespace) -> int:
    text = script(args.shell)
    print(text, end="" if text.endswith("\n") else "\n")
    return 0
