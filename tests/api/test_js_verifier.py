"""The JavaScript verifier of the register's pages against a real ``ledger serve``: the
agreement of ``tests/vectors/state_hash/02-porteurs-ratified.json``, signed and admitted
by the Python ledger, verified by the browser's code (run by Node) over HTTP and from
the bundle ``ledger export`` writes. Where the two implementations disagree on a byte,
this fails."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import body
from tests.api.test_serve import _auditor_token, _stop, _wait_until_healthy, serve_on
from tests.helpers import hash_of, org

pytestmark = [pytest.mark.pg,
              pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")]

ROOT = Path(__file__).resolve().parents[2]
VECTOR = ROOT / "tests" / "vectors" / "state_hash" / "02-porteurs-ratified.json"


def run_node(*args: str) -> dict:
    done = subprocess.run(["node", str(ROOT / "tests" / "js" / "run_verify.mjs"), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout)
    return result


@pytest.mark.timeout(180)
async def test_javascript_verifies_what_python_admitted(database: str, tmp_path: Path):
    log = tmp_path / "serve.log"
    proc, port = serve_on(database, tmp_path / "home", log, LEDGER_OPEN_REGISTRATION="1")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            await _wait_until_healthy(http, proc, log)
            facts = json.loads(VECTOR.read_text())["facts"]
            signers = {name: org(name) for name in ("centre-a", "centre-b", "centre-c")}
            regs = [s.registration(name) for name, s in signers.items()]
            assert (await http.post("/v1/events", json=body(*regs))).status_code == 201
            stream, prev = "agreement/ent-2026", None
            for n, fact in enumerate(facts, start=1):
                env_ = signers[fact["actor"]].event(stream, n, prev, fact["type"], fact["data"])
                r = await http.post("/v1/events", json=body(env_))
                assert r.status_code == 201, r.text
                prev = hash_of(env_)
            size = len(regs) + len(facts)
            token = await _auditor_token(database)
            auditor = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + 10
            while (await http.get("/v1/log/checkpoint", headers=auditor)).text.split("\n")[1] \
                    != str(size):
                assert time.monotonic() < deadline, "no checkpoint of the whole log"
                await asyncio.sleep(0.05)
            vkey = (await http.get("/v1/log/key")).text.strip()

        r = await asyncio.to_thread(run_node, "agreement", base, "ent-2026", token)
        assert r["ok"], r
        # 6 agreement events and the registrations of their 2 signers.
        assert r["counts"] == {"signatures": 8, "inclusions": 8,
                               "ratifications_matching": 2, "events": 6}
        assert r["logKey"]["status"] == "pinned-now"
        assert r["logKey"]["vkey"] == vkey

        r = await asyncio.to_thread(run_node, "organization", base, "centre-c")  # public
        assert r["ok"], r
        assert r["counts"]["signatures"] == 1

        bundle = tmp_path / "bundle.jsonl"
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "ledger", "export", "--out", str(bundle),
                             "--url", base],
            env={**os.environ, "LEDGER_TOKEN": token}, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        r = await asyncio.to_thread(run_node, "bundle", str(bundle), vkey)
        assert r["ok"], r
        assert r["counts"]["inclusions"] == size
        assert r["counts"]["ratifications_matching"] == 2
    finally:
        await asyncio.to_thread(_stop, proc)
    assert "Traceback" not in log.read_text()
