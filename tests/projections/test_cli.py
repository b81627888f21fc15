"""``ledger projections rebuild|status`` on a real database."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest

from ledger.cli import projections as cli
from tests.helpers import LEDGER_ID
from tests.projections.builders import World, busy, open_store

pytestmark = pytest.mark.pg


def main(argv: list[str]) -> int:
    """``ledger <argv>`` with only this command registered (other commands' modules may
    be mid-edit; ``ledger.cli.main`` builds the same parser from all of them)."""
    parser = argparse.ArgumentParser(prog="ledger")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


async def _populate(dsn: str) -> int:
    async for _, store in open_store(dsn):
        w = World(["centre-arts", "theatre-nord"])
        await store.append(w.registrations())
        busy(w, ["a1", "a2"])
        return await w.flush(store)
    raise AssertionError("unreachable")


def test_rebuild_then_status(database: str, tmp_path: Path, monkeypatch, capsys) -> None:
    size = asyncio.run(_populate(database))
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("LEDGER_HOME", str(tmp_path))
    monkeypatch.setenv("LEDGER_ORIGIN", LEDGER_ID)

    assert main(["projections", "status", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert (before["position"], before["log_size"], before["lag"]) == (0, size, size)

    assert main(["projections", "rebuild", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["position"] == size and report["agreements"] == 2
    assert report["events"] == 2 * 10

    assert main(["projections", "status"]) == 0
    out = capsys.readouterr().out
    assert f"{size} of {size} log entries applied (lag 0)" in out
    assert "agreement_event_summaries" in out and "agreements " in out
