"""A real ``ledger serve`` process on a free port: it answers, accepts an event, signs
checkpoints in the background, and stops cleanly on SIGTERM (always, even on failure)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from ledger.db import APP_ROLE
from ledger.tokens import create_token
from tests.api.conftest import body
from tests.helpers import LEDGER_ID, org

pytestmark = pytest.mark.pg

START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _auditor_token(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"SET ROLE {APP_ROLE}")
        token, _ = await create_token(conn, "auditor", "serve-test")
        return token
    finally:
        await conn.close()


async def _wait_until_healthy(http: httpx.AsyncClient, proc: subprocess.Popen[bytes],
                              log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ledger serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    pytest.fail(f"ledger serve did not answer within {START_TIMEOUT} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def test_ledger_serve_answers_accepts_and_stops(database: str, tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(DATABASE_URL=database, LEDGER_HOME=str(tmp_path / "home"),
               LEDGER_OPEN_REGISTRATION="1",
               LEDGER_ORIGIN=LEDGER_ID, LEDGER_CHECKPOINT_INTERVAL="0.05")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "serve", "--port", str(port),
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await _wait_until_healthy(http, proc, log)
            assert (await http.get("/readyz")).status_code == 200
            reg = org("centre-arts").registration("Centre d'arts")
            r = await http.post("/v1/events", json=body(reg))
            assert r.status_code == 201, r.text
            assert r.json()["receipts"][0]["position"] == 0
            auditor = {"Authorization": f"Bearer {await _auditor_token(database)}"}
            deadline = time.monotonic() + 10
            while True:  # the background checkpointer catches up with the append
                note = (await http.get("/v1/log/checkpoint", headers=auditor)).text
                if note.split("\n")[1] == "1" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert note.split("\n")[:2] == [LEDGER_ID, "1"]
    finally:
        await asyncio.to_thread(_stop, proc)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()


async def test_ledger_serve_with_two_workers_answers_and_stops(database: str, tmp_path: Path):
    """``--workers 2``: two processes on one port, one database; SIGTERM stops all."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(DATABASE_URL=database, LEDGER_HOME=str(tmp_path / "home"),
               LEDGER_ORIGIN=LEDGER_ID, LEDGER_OPEN_REGISTRATION="1")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "serve", "--port", str(port), "--workers", "2",
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await _wait_until_healthy(http, proc, log)
            ca, tf = org("centre-arts"), org("theatre")
            for i, signer in enumerate((ca, tf)):  # fresh connections: either process
                async with httpx.AsyncClient(base_url=http.base_url, timeout=10) as one:
                    r = await one.post("/v1/events", json=body(signer.registration("X")))
                    assert r.status_code == 201, r.text
                    assert r.json()["receipts"][0]["position"] == i
            for _ in range(4):
                async with httpx.AsyncClient(base_url=http.base_url, timeout=10) as one:
                    r = await one.get("/v1/organizations/theatre")
                    assert r.status_code == 200, r.text
    finally:
        await asyncio.to_thread(_stop, proc)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_ledger_serve_refuses_zero_workers():
    done = subprocess.run([sys.executable, "-m", "ledger", "serve", "--workers", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--workers: must be at least 1" in done.stderr
