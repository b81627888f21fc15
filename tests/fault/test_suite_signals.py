"""The suite's own PostgreSQL is stopped when the run is interrupted.

A test run in a child process (the tiny test below, using the suite's
``pg_admin_dsn`` fixture) is sent SIGTERM (what a CI time limit sends) or SIGINT
(Ctrl-C) while its test runs: it must end, and the embedded PostgreSQL it started
must be gone, its data directory deleted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from tests.api.test_serve import _postgres_of

pytestmark = [pytest.mark.fault]

REPO = Path(__file__).resolve().parents[2]
TINY = '''
import os, time
from pathlib import Path

def test_waits(pg_admin_dsn):
    Path(os.environ["TINY_DSN_FILE"]).write_text(pg_admin_dsn)
    time.sleep(100)
'''


def _run_tiny(tmp_path: Path, source: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """A child pytest running ``source`` with the suite's fixtures; once its test has
    started: the child, the data directory of its embedded PostgreSQL, its log."""
    (tmp_path / "test_tiny.py").write_text(source)
    dsn_file = tmp_path / "dsn"
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_TEST_DATABASE_URL"}
    env.update(TINY_DSN_FILE=str(dsn_file), PYTHONPATH=str(REPO))
    log = tmp_path / "pytest.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-p", "tests.conftest", "--rootdir", str(tmp_path), "-c", os.devnull,
             str(tmp_path / "test_tiny.py")],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not dsn_file.exists() or not dsn_file.read_text():
            assert child.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the tiny test never started"
            time.sleep(0.1)
        data_dir = Path(asyncio.run(_data_directory(dsn_file.read_text())))
    except BaseException:
        child.kill()
        child.wait()
        raise
    return child, data_dir, log


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupted_run_stops_its_postgres(tmp_path: Path, sig: signal.Signals):
    child, data_dir, log = _run_tiny(tmp_path, TINY)
    try:
        assert _postgres_of(data_dir), "the suite's PostgreSQL should be running"
        child.send_signal(sig)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert _postgres_of(data_dir) == [], f"PostgreSQL left running:\n{log.read_text()}"
    assert not data_dir.exists()


async def _data_directory(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SHOW data_directory"))
    finally:
        await conn.close()


# A signal that lands while a gc callback runs has its exception ignored ("Exception
# ignored in: gc_callback"): hypothesis installs such a callback, and a SIGTERM sent
# to the whole suite was once lost that way, the run going on and on.
SWALLOWING = '''
import gc, os, time
from pathlib import Path

def test_swallows_interrupts(pg_admin_dsn):
    Path(os.environ["TINY_DSN_FILE"]).write_text(pg_admin_dsn)
    gc.callbacks.append(lambda phase, info: time.sleep(0.05))
    while True:
        gc.collect()
'''


@pytest.mark.timeout(180)
def test_a_lost_interrupt_still_stops_postgres_and_a_second_sigterm_ends_the_run(
        tmp_path: Path):
    child, data_dir, log = _run_tiny(tmp_path, SWALLOWING)
    try:
        time.sleep(0.5)  # inside the loop of collections
        child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _postgres_of(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _postgres_of(data_dir) == [], f"PostgreSQL left running:\n{log.read_text()}"
        if child.poll() is None:  # the interrupt was lost: a second SIGTERM ends it
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
