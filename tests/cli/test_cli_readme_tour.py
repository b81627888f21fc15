"""The README's five-minute tour, run as written (bash, the real ``ledger`` on the PATH)
against a real server, so that the tour stays true to the code: expectations, roles,
ratification, the written agreement, the audit."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import LEDGER, Cli

pytestmark = pytest.mark.pg

README = Path(__file__).resolve().parents[2] / "README.md"


def tour() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## A five-minute tour", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_tour_runs_as_written(cli: Cli, tmp_path: Path) -> None:
    script = tour().replace("http://127.0.0.1:8000", cli.url)
    env = dict(cli.env, LEDGER_URL=cli.url, LC_ALL="C.UTF-8",
               PATH=f"{Path(LEDGER).parent}{os.pathsep}{os.environ['PATH']}")
    out = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=tmp_path,
                         env=env, text=True, capture_output=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Les pièces comptables arrivent avant le 5 de chaque mois" in out.stdout
    assert "Aucune attente n'a encore été énoncée" not in out.stdout
    assert "Tenue de livres" in out.stdout
    assert re.search(r"in force +yes", out.stdout)
    assert "Traceback" not in out.stderr
