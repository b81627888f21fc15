"""A real ``ledger serve`` for the CLI tests, and the real ``ledger`` command to run.

One server per test module (starting one takes seconds); each test uses fresh ids so
tests stay independent. Commands run as subprocesses of the installed ``ledger``
script, with the locale each test chooses, exactly as a person would run them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.api.test_serve import _free_port, _stop
from tests.conftest import database_from_template
from tests.e2e.test_demo_end_to_end import _wait
from tests.helpers import LEDGER_ID

LEDGER = str(Path(sys.executable).parent / "ledger")


@dataclass
class Cli:
    """The ``ledger`` command against one server, with a home of its own."""

    url: str
    env: dict[str, str]
    tmp: Path

    def run(self, *args: str, lang: str = "C.UTF-8", input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full = {**self.env, "LC_ALL": lang, "LANG": lang, "LEDGER_URL": self.url,
                **(env or {})}
        return subprocess.run([LEDGER, *args], env=full, text=True, capture_output=True,
                              timeout=120, input=input)

    def ok(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        out = self.run(*args, **kw)
        assert out.returncode == 0, f"{args}: {out.stdout}\n{out.stderr}"
        return out

    def org(self, name: str) -> tuple[str, str]:
        """A fresh organization id, registered with a new key; (org id, key path)."""
        org = f"{name}-{uuid.uuid4().hex[:6]}"
        key = self.tmp / f"{org}.pem"
        self.ok("keygen", "--out", str(key))
        self.ok("org", "register", "--org", org, "--key", str(key), "--name", name.title(),
                "--registration-token", self.registration_token(org))
        return org, str(key)

    def registration_token(self, note: str) -> str:
        """A single-use registration token, made as the operator makes one."""
        made = self.ok("--json", "token", "create", "--registration", note)
        token: str = json.loads(made.stdout)["token"]
        return token


@pytest_asyncio.fixture(scope="module")
async def cli_database(pg_admin_dsn: str, template_database: str) -> AsyncIterator[str]:
    async with database_from_template(pg_admin_dsn, template_database, "ledger_cli") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def cli(cli_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    tmp = tmp_path_factory.mktemp("cli")
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LEDGER_", "LC_", "LANG"))}
    env.update(DATABASE_URL=cli_database, LEDGER_HOME=str(tmp / "home"),
               LEDGER_ORIGIN=LEDGER_ID, LEDGER_CHECKPOINT_INTERVAL="0.2")
    log = tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([LEDGER, "serve", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc, log)
        yield Cli(url, env, tmp)
    finally:
        _stop(proc)
