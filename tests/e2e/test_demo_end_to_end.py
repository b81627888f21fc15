"""The whole path a person takes, against a real ``ledger serve`` process: the demo
records the workshop's scenario through the API with three organizations' own keys;
the CLI shows and writes the agreement; an auditor exports through the API and verifies
offline, getting the same state hash the parties ratified."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.client import ClientError, LedgerClient
from ledger.demo import ORGS, run_demo
from tests.api.test_serve import _auditor_token, _free_port, _stop
from tests.helpers import LEDGER_ID

pytestmark = pytest.mark.pg


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ledger serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"ledger serve did not get ready:\n{log.read_text()}")


@pytest.fixture
def server(database: str, tmp_path: Path):
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=database, LEDGER_HOME=str(tmp_path / "home"),
               LEDGER_ORIGIN=LEDGER_ID, LEDGER_CHECKPOINT_INTERVAL="0.2")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ledger", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc, log)
        yield url, env
    finally:
        _stop(proc)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ledger", *args], env=env, text=True,
                          capture_output=True, timeout=120)


async def test_demo_then_audit(server, database, tmp_path):
    url, env = server
    # The admission step: the operator makes one registration token per organization.
    tokens = {}
    for name in ORGS:
        made = _cli(env, "token", "create", "--registration", f"démo {name}", "--json")
        assert made.returncode == 0, made.stderr
        tokens[name] = json.loads(made.stdout)["token"]
    result = run_demo(url, suffix="-t", registration_tokens=tokens)
    assert result.status == "active"
    assert result.in_force_version is not None  # every party ratified the same terms

    client = LedgerClient(url)
    view = client.agreement(result.agreement_id)  # public: no token needed
    assert view["in_force"] and view["state_hash"] == result.state_hash
    doc = client.document(result.agreement_id, "fr")
    assert "Comptable partagée" in doc and "centre-arts-rives-t" in doc
    assert "Shared" in client.document(result.agreement_id, "en") or \
        "agreement" in client.document(result.agreement_id, "en").lower()

    shown = _cli(env, "agreement", "show", result.agreement_id, "--url", url)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"in force +yes", shown.stdout) and result.state_hash in shown.stdout
    history = json.loads(_cli(env, "agreement", "history", result.agreement_id,
                              "--url", url, "--json").stdout)
    assert history[0]["type"] == "agreement.drafted"
    assert {e["type"] for e in history} >= {"agreement.ratified", "fulfilment.confirmed",
                                             "indicator.measured"}
    old = client.agreement(result.agreement_id, version=1)
    assert old["version"] == 1 and not old["in_force"]

    with pytest.raises(ClientError) as info:
        LedgerClient(url).agreement("no-such-agreement")
    assert info.value.status == 404

    env_token = dict(env, LEDGER_TOKEN=await _auditor_token(database))
    vkey = LedgerClient(url).text("/v1/log/key").strip()
    bundle = tmp_path / "bundle.jsonl"
    exported = _cli(env_token, "export", "--url", url, "--out", str(bundle), "--json")
    assert exported.returncode == 0, exported.stderr
    report = json.loads(_cli(env, "audit", "verify", str(bundle), "--log-key", vkey,
                             "--json").stdout)
    assert report["ok"], report["failure"]
    assert report["agreements"][result.agreement_id] == result.state_hash


def test_ledger_demo_makes_its_own_registration_tokens(server):
    """``ledger demo`` against a server on this machine makes the tokens it needs."""
    url, env = server
    shown = _cli(env, "demo", "--url", url, "--json")
    assert shown.returncode == 0, shown.stderr + shown.stdout
    assert json.loads(shown.stdout)["status"] == "active"
