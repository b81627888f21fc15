"""The start-up check reads only what the last checkpoint does not cover; the whole
history is checked in the background once the server serves (``ledger.history_check``).

* a forgery before the last checkpoint (an envelope's bytes, the payload column, a
  derived column, a leaf node of the tree): the server starts, then its background
  check fails naming the entry: ``/readyz`` 503, one ERROR line, no more checkpoints;
* a forged frontier node of the last checkpoint's size: start-up refuses;
* start-up decodes only the entries after the last checkpoint (counted, not timed);
* an untouched history: the background check passes, ``/readyz`` and ``/metrics`` say so;
* a stop while the check runs: it ends within a bounded time, its connection given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from ledger import history_check, integrity, merkle
from ledger import log as log_module
from ledger.api.app import create_app
from ledger.log import HistoryMismatch
from ledger.runtime import Ledger, open_ledger
from tests.fault.support import ServerProcess, stopping
from tests.fault.test_tamper import (
    TARGET,
    Superuser,
    build_history,
    checkpoint_sizes,
    flip_envelope_byte,
    history_check_failure,
    settings_for,
)
from tests.fault.test_tamper_columns import forge_payload
from tests.helpers import Chain, hash_of, org

pytestmark = [pytest.mark.pg, pytest.mark.fault]

CHECK_TIMEOUT = 30.0


async def as_superuser(dsn: str, sql: str, *args: Any) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with Superuser(conn):
            await conn.execute(sql, *args)
    finally:
        await conn.close()


async def forge(dsn: str, what: str) -> None:
    if what == "envelope-bytes":
        conn = await asyncpg.connect(dsn)
        try:
            async with Superuser(conn):
                await flip_envelope_byte(conn, TARGET)
        finally:
            await conn.close()
    elif what == "payload-column":
        await forge_payload(dsn, TARGET)
    elif what == "derived-column":
        await as_superuser(dsn, "UPDATE events SET actor = 'someone-else' WHERE position = $1",
                           TARGET)
    else:  # the leaf's node in the tree, as its hash of another leaf
        await as_superuser(dsn, "UPDATE merkle_nodes SET hash = sha256(hash) "
                                "WHERE level = 0 AND idx = $1", TARGET)


async def until(condition: Callable[[], Any], timeout: float = CHECK_TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("what", ["envelope-bytes", "payload-column", "derived-column",
                                  "tree-node"])
async def test_a_forgery_before_the_last_checkpoint_fails_the_background_check(
        database: str, tmp_path: Path, what: str):
    settings = settings_for(tmp_path / "home", database)
    await build_history(settings, database)
    await forge(database, what)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("ledger.history").addHandler(handler)
    try:
        await serves_then_fails(settings, database, records, what)
    finally:
        logging.getLogger("ledger.history").removeHandler(handler)


async def serves_then_fails(settings: Any, database: str, records: list[logging.LogRecord],
                            what: str) -> None:
    app = create_app(settings, dsn=database, projections=False)
    started = time.monotonic()
    async with AsyncTestClient(app) as client:  # start-up goes on: it serves
        assert (await client.get("/healthz")).status_code == 200

        async def refused() -> bool:
            return (await client.get("/readyz")).status_code == 503

        await until(refused)
        seconds = time.monotonic() - started
        problem = (await client.get("/readyz")).json()
        assert problem["type"].endswith("/not-ready"), problem
        assert f"entry {TARGET}" in problem["detail"], problem
        errors = [r.getMessage() for r in records]
        assert len(errors) == 1 and f"entry {TARGET}" in errors[0], errors

        led: Ledger = app.state.ledger  # (its pool is the app's loop's: not used here)
        assert led.log.suspect is not None and f"entry {TARGET}" in led.log.suspect
    # Opened in this loop: after new appends, no checkpoint is signed.
    error, _ = await history_check_failure(settings, database)
    assert f"entry {TARGET}" in error
    print(f"\n[history-check] {what} at {TARGET}: served, readyz 503 after {seconds:.2f} s: "
          f"{problem['detail']}")


async def test_a_forged_frontier_node_is_refused_at_start_up(database: str, tmp_path: Path):
    settings = settings_for(tmp_path / "home", database)
    _, signed = await build_history(settings, database)
    node = merkle.frontier_nodes(signed[-1])[-1]
    await as_superuser(database, "UPDATE merkle_nodes SET hash = sha256(hash) "
                                 "WHERE level = $1 AND idx = $2", node.level, node.index)
    with pytest.raises(HistoryMismatch) as refused:
        async with open_ledger(settings, database, background=False):
            pass
    assert "do not hash to the last signed checkpoint" in refused.value.detail
    assert refused.value.index == signed[-1] - 1
    assert await checkpoint_sizes(database) == signed


@pytest.mark.timeout(300)
async def test_start_up_decodes_only_the_entries_after_the_last_checkpoint(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = settings_for(tmp_path / "home", database)
    signer = org("many")
    async with open_ledger(settings, database, background=False) as led:
        reg = signer.registration("M")
        await led.store.append([reg])
        chain = Chain(signer, signer.stream, 1, hash_of(reg))
        while (size := await led.store.size()) < 1990:
            await led.store.append([
                chain.next("organization.profile_updated",
                           {"profile": {"description": str(chain.version + 1)}})
                for _ in range(min(100, 1990 - size))])
        assert (await led.log.checkpoint()).size == 1990
        await led.store.append([
            chain.next("organization.profile_updated",
                       {"profile": {"description": str(chain.version + 1)}})
            for _ in range(10)])
        assert await led.store.size() == 2000

    counts = {"leaves": 0, "tail": 0, "columns": 0}

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            counts[name] += 1
            return real(*args)
        return call

    monkeypatch.setattr(log_module, "encode_leaf", counting("leaves", log_module.encode_leaf))
    monkeypatch.setattr(log_module, "decode_envelope",
                        counting("tail", log_module.decode_envelope))
    monkeypatch.setattr(integrity, "decode_envelope",
                        counting("columns", integrity.decode_envelope))
    started = time.monotonic()
    async with open_ledger(settings, database, background=False):
        opened = time.monotonic() - started
    at_start_up = dict(counts)
    assert at_start_up == {"leaves": 10, "tail": 10, "columns": 10}

    async with open_ledger(settings, database, background=False) as led:
        counts.update(leaves=0)
        started = time.monotonic()
        assert await led.log.verify_history() == 2000  # the full check: every leaf
        full = time.monotonic() - started
    assert counts["leaves"] == 2000
    print(f"\n[history-check] start-up over 2,000 entries, checkpoint at 1,990: {at_start_up}, "
          f"open_ledger {opened:.2f} s; the full verify_history alone {full:.2f} s")


async def test_an_untouched_history_passes_the_background_check(database: str, tmp_path: Path):
    settings = settings_for(tmp_path / "home", database)
    size, _ = await build_history(settings, database)
    app = create_app(settings, dsn=database, projections=False)
    async with AsyncTestClient(app) as client:
        async def passed() -> bool:
            r = await client.get("/readyz")
            assert r.status_code == 200, r.text
            return bool(r.json()["history_check"]["status"] == "passed")

        await until(passed)
        body = (await client.get("/readyz")).json()["history_check"]
        assert body["checked"] == body["size"] == size and body["error"] is None, body
        text = (await client.get("/metrics")).text
        assert f"ledger_history_check_entries {float(size)}" in text, text
        assert 'ledger_history_check_status{status="passed"} 1.0' in text, text
        assert 'ledger_history_check_status{status="failed"} 0.0' in text, text


async def test_a_stop_during_the_background_check_ends_it(database: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    """The derived columns' phase made to hang in the database (a real query on a pool
    connection, in its transaction): closing the ledger ends it within a bounded time,
    and no query of it is left running."""
    settings = settings_for(tmp_path / "home", database)
    await build_history(settings, database)

    async def hangs(conn: asyncpg.Connection, **_: Any) -> None:
        await conn.execute("SELECT pg_sleep(60) /* history-check-test */")

    monkeypatch.setattr(history_check, "verify_derived_columns", hangs)

    async def sleeping() -> int:
        conn = await asyncpg.connect(database)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                "'%history-check-test%' AND pid <> pg_backend_pid()"))
        finally:
            await conn.close()

    app = create_app(settings, dsn=database, projections=False)
    async with AsyncTestClient(app) as client:
        led: Ledger = app.state.ledger

        async def hanging() -> bool:
            return led.history.phase == "columns" and await sleeping() == 1

        await until(hanging)
        r = await client.get("/readyz")  # serving while the check runs
        assert r.status_code == 200 and r.json()["history_check"]["status"] == "running", r.text
        stopping = time.monotonic()
    seconds = time.monotonic() - stopping
    print(f"\n[history-check] stopped during the check in {seconds:.2f} s")
    assert seconds < 10, seconds
    assert led.history.status == "stopped", led.history

    async def gone() -> bool:
        return await sleeping() == 0

    await until(gone, 5)


async def test_ledger_serve_serves_then_reports_a_forgery_before_the_checkpoint(
        database: str, tmp_path: Path):
    """The real process: ``ledger serve`` starts (its start-up check reads only the
    tail), then its background check names the entry in one ERROR line and ``/readyz``
    answers 503 with it."""
    home = tmp_path / "home"
    settings = settings_for(home, database)
    _, signed = await build_history(settings, database)
    await forge(database, "payload-column")
    server = ServerProcess(database, home, tmp_path / "serve.log")
    with stopping(server):
        server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=2) as http:
            async def refused() -> bool:
                assert server.proc is not None and server.proc.poll() is None, server.tail()
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/readyz")).status_code == 503
                return False

            await until(refused, 60)
            problem = (await http.get("/readyz")).json()
            assert f"entry {TARGET}" in problem["detail"], problem
            assert (await http.get("/healthz")).status_code == 200  # still serving
    output = server.output()
    lines = [ln for ln in output.splitlines() if "history check failed" in ln]
    print(f"\n[history-check] ledger serve: readyz 503 ({problem['detail']}); log: {lines}")
    assert len(lines) == 1 and f"entry {TARGET}" in lines[0], output
    assert "history check: 20 / 20 entries" in output, output  # its progress, logged
    assert "Traceback" not in output
    assert await checkpoint_sizes(database) == signed
