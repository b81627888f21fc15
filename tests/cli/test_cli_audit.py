"""The command line end to end: keygen, log key, export, audit verify (text and JSON),
and a tampered bundle failing with a non-zero exit and the index named."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ledger.db import connect_pool
from ledger.domain import DraftAgreement, JoinAgreement
from ledger.runtime import stored_origin
from ledger.store import PostgresStore
from ledger.validation import AgreementRules
from tests.helpers import LEDGER_ID, AgreementDriver, org

pytestmark = pytest.mark.pg


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ledger", *args], env=env, text=True,
                          capture_output=True, timeout=120)


@pytest.fixture
def cli_env(database, tmp_path):
    env = dict(os.environ)
    env.update(DATABASE_URL=database, LEDGER_HOME=str(tmp_path / "home"),
               LEDGER_ORIGIN=LEDGER_ID)
    return env


async def test_keygen_export_verify(database, cli_env, tmp_path):
    out = _cli(cli_env, "keygen", "--out", str(tmp_path / "org.pem"), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert len(info["key_id"]) == 64 and (tmp_path / "org.pem").stat().st_mode & 0o777 == 0o600
    again = _cli(cli_env, "keygen", "--out", str(tmp_path / "org.pem"))
    assert again.returncode == 1 and "Traceback" not in again.stderr

    await stored_origin(database, LEDGER_ID)
    pool = await connect_pool(database, min_size=1, max_size=4)
    store = PostgresStore(pool, ledger_id=LEDGER_ID)
    store.validator = AgreementRules(store)
    try:
        a, b = org("centre-arts"), org("theatre-nord")
        await store.append([a.registration("A"), b.registration("B")])
        ag = AgreementDriver(store, "compta")
        await ag.do(a, DraftAgreement(agreement_id="compta", title="Compta", purpose="P",
                                      binding=False, invited=["theatre-nord"],
                                      actor=a.org_id, at=a.now()))
        await ag.do(b, JoinAgreement(actor=b.org_id, at=b.now()))
    finally:
        await store.close()
        await pool.close()

    vkey = _cli(cli_env, "log", "key").stdout.strip()
    assert vkey.startswith(LEDGER_ID + "+")
    bundle = tmp_path / "bundle.jsonl"
    out = _cli(cli_env, "export", "--out", str(bundle), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["entries"] == 4

    text = _cli(cli_env, "audit", "verify", str(bundle), "--log-key", vkey)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "OK: the bundle verifies" in text.stdout and "compta" in text.stdout
    report = json.loads(_cli(cli_env, "audit", "verify", str(bundle), "--log-key", vkey,
                             "--json").stdout)
    assert report["ok"] and report["size"] == 4 and set(report["agreements"]) == {"compta"}
    quick = json.loads(_cli(cli_env, "audit", "verify", str(bundle), "--log-key", vkey,
                            "--skip-rules", "--json").stdout)
    assert quick["ok"] and quick["root_hash"] == report["root_hash"]
    assert quick["agreements"] == {} and any("--skip-rules" in w for w in quick["warnings"])

    lines = bundle.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"sig":"', b'"sig":"A', 1)  # entry 2: a broken signature
    bundle.write_bytes(b"".join(lines))
    bad = _cli(cli_env, "audit", "verify", str(bundle), "--log-key", vkey, "--json")
    assert bad.returncode == 1
    failure = json.loads(bad.stdout)["failure"]
    assert failure["index"] == 2
    # the report counts the entries before the failure, out of the bundle's four
    assert (json.loads(bad.stdout)["entries_verified"], json.loads(bad.stdout)["size"]) == (2, 4)
    text = _cli(cli_env, "audit", "verify", str(bundle), "--log-key", vkey)
    assert text.returncode == 1 and "FAIL: entry 2: " in text.stdout
    assert any(line.split() == ["entries", "verified", "2", "of", "4"]
               for line in text.stdout.splitlines())

    missing = _cli(cli_env, "audit", "verify", str(tmp_path / "nope.jsonl"), "--log-key", vkey)
    assert missing.returncode == 1 and missing.stderr.startswith("error:")
