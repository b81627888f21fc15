"""Tampering with a live database behind the ledger's back, and catching it.

A history is appended through the store and checkpointed by the transparency log.
Then, as a superuser, the append-only triggers are disabled (``ALTER TABLE ... DISABLE
TRIGGER USER``: the documented limit; ``session_replication_role`` does not bypass
ENABLE ALWAYS triggers) and history is rewritten: one byte of an envelope changed, a
row deleted, two rows' positions swapped, a forged row appended (with or without the
Merkle nodes a careful forger would add). The triggers are then restored to ENABLE
ALWAYS.

Each tampering must be caught three ways. After the last checkpoint (what no
signature covers yet):

* ``open_ledger`` (the start-up check, ``TransparencyLog.verify_recent``) raises
  ``HistoryMismatch`` naming the entry at fault, and signs nothing;
* ``ledger serve`` refuses to start: non-zero exit, one clear error line, no traceback,
  and no new checkpoint signed over the tampered tree.

Before the last checkpoint (the start-up check no longer reads it, so that its time
does not grow with the log):

* the server starts, and its background history check (``ledger.history_check``)
  fails naming the entry: the log signs no more checkpoints, ``/readyz`` answers 503;

And in both cases ``ledger export`` + ``ledger audit verify --json``: non-zero exit
naming the index.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import asyncpg
import pytest

from ledger import merkle
from ledger.admission import Limits
from ledger.config import Settings
from ledger.envelope import Envelope, Signature, seal
from ledger.keys import generate_private_key
from ledger.leaf import encode_leaf
from ledger.log import HistoryMismatch
from ledger.runtime import open_ledger
from ledger.statement import event_hash
from tests.api.conftest import Agreement
from tests.fault.support import ServerProcess, child_env, cli, stopping
from tests.helpers import LEDGER_ID, Chain, hash_of, org

pytestmark = [pytest.mark.pg, pytest.mark.fault]

TARGET = 4  # the entry tampered with; entries 4 and 5 are consecutive in one stream
TAIL = 3  # entries after the last checkpoint (20), in the cases that tamper with one
TAIL_TARGET = 21  # one of them
HISTORY_TABLES = ("events", "merkle_nodes")

BUG_FORGED_WITH_NODES = (
    "ledger/log.py TransparencyLog.verify_history checks only that the stored entries, "
    "Merkle nodes and last checkpoint agree; a row appended past the last checkpoint "
    "together with its Merkle nodes agrees with all three, so open_ledger starts and the "
    "server (or 'ledger export', ledger/cli/export.py, which checkpoints without any "
    "check) signs a checkpoint over an entry whose signature does not verify; only the "
    "offline audit catches it")
BUG_SERVE_TRACEBACK = (
    "ledger/cli/serve.py run: when the app's lifespan fails (here open_ledger raising "
    "HistoryMismatch), uvicorn.Server.startup calls sys.exit(3), so serve.py's "
    "'if not server.started' one-line error is never reached; the output is Litestar's "
    "~50-line ExceptionGroup traceback logged by uvicorn, then 'Application startup "
    "failed. Exiting.', exit status 3")


def settings_for(home: Path, dsn: str) -> Settings:
    return Settings(database_url=dsn, home=home, origin=LEDGER_ID,
                    log_key_path=home / "log-key.pem", limits=Limits(),
                    checkpoint_interval=0.1)


async def build_history(settings: Settings, dsn: str, *,
                        tail: int = 0) -> tuple[int, list[int]]:
    """20 entries in 5 batches, checkpointed at 11 and 20, then ``tail`` entries no
    checkpoint covers (tamper-b's profiles, 20..); returns (size, sizes signed)."""
    a, b, c = org("tamper-a"), org("tamper-b"), org("tamper-c")
    async with open_ledger(settings, dsn, background=False) as led:
        regs = [a.registration("A"), b.registration("B"), c.registration("C")]
        await led.store.append(regs)
        chains = {s.org_id: Chain(s, s.stream, 1, hash_of(r)) for s, r in
                  zip((a, b, c), regs, strict=True)}

        def profiles(s, n):  # type: ignore[no-untyped-def]
            ch = chains[s.org_id]
            return [ch.next("organization.profile_updated",
                            {"profile": {"description": str(ch.version + 1)}})
                    for _ in range(n)]

        await led.store.append(profiles(a, 4))                           # 3..6
        agreement = Agreement(a, "tamper")
        await led.store.append([agreement.next() for _ in range(4)])     # 7..10
        first = await led.log.checkpoint()
        await led.store.append(profiles(b, 3) + profiles(c, 3))          # 11..16
        await led.store.append(profiles(a, 3))                           # 17..19
        second = await led.log.checkpoint()
        if tail:
            await led.store.append(profiles(b, tail))                    # 20..
        return await led.store.size(), [first.size, second.size]


class Superuser:
    """A superuser session that disables the history triggers, and restores them."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def __aenter__(self) -> asyncpg.Connection:
        for t in HISTORY_TABLES:
            await self.conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        for t in HISTORY_TABLES:
            for trigger in (f"{t}_no_rewrite", f"{t}_no_truncate"):
                await self.conn.execute(f"ALTER TABLE {t} ENABLE ALWAYS TRIGGER {trigger}")
        modes = await self.conn.fetch(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgrelid = ANY($1::regclass[])", list(HISTORY_TABLES))
        assert {m["tgenabled"] for m in modes} == {b"A"}, modes  # ENABLE ALWAYS again


async def flip_envelope_byte(conn: asyncpg.Connection, position: int) -> str:
    """One byte of the entry's stored envelope: a character of its signature."""
    env = bytearray(await conn.fetchval("SELECT envelope FROM events WHERE position = $1",
                                        position))
    at = env.index(b'"sig":"') + len(b'"sig":"') + 10
    env[at] = ord("B") if env[at] != ord("B") else ord("C")
    await conn.execute("UPDATE events SET envelope = $1 WHERE position = $2", bytes(env),
                       position)
    return f"byte {at} of entry {position}'s envelope"


async def forge_row(conn: asyncpg.Connection, *, with_nodes: bool) -> int:
    """Append an event in tamper-a's stream 'signed' with a key that is not its own,
    labelled with its key id (nobody but tamper-a can sign for it). Returns its index."""
    last = await conn.fetchrow(
        "SELECT position, recorded_at_us FROM events ORDER BY position DESC LIMIT 1")
    head = await conn.fetchrow(
        "SELECT version, event_hash, key_id FROM events WHERE stream = 'org/tamper-a' "
        "ORDER BY version DESC LIMIT 1")
    index, recorded_us = last["position"] + 1, last["recorded_at_us"] + 1
    victim = org("tamper-a")
    st = victim.statement("org/tamper-a", head["version"] + 1, bytes(head["event_hash"]).hex(),
                          "organization.profile_updated", {"profile": {"description": "forged"}})
    st = type(st)(**{**st.to_json(), "key": head["key_id"]})
    sealed = seal(st, generate_private_key())
    env = Envelope(sealed.payloadType, sealed.payload,
                   [Signature(head["key_id"], sealed.signatures[0].sig)])
    payload, envelope = st.encode(), env.canonical()
    leaf_hash = merkle.hash_leaf(encode_leaf(index, recorded_us, envelope))
    await conn.execute(
        "INSERT INTO events (position, recorded_at_us, recorded_at, stream, version, "
        "event_hash, prev_hash, type, actor, key_id, issued_at, payload, envelope, "
        "statement, leaf_hash) VALUES ($1, $2::bigint, to_timestamp($2::bigint / 1e6), "
        "$3, $4, $5, $6, $7, $8, $9, $10::text::timestamptz, $11, $12, $13::jsonb, $14)",
        index, recorded_us, st.stream, st.version, bytes.fromhex(event_hash(payload)),
        bytes.fromhex(st.prev), st.type, st.actor, st.key, st.issued_at, payload, envelope,
        payload.decode(), leaf_hash)
    if with_nodes:  # what the store would have written: the subtrees this leaf completes
        leaves = [bytes(r["hash"]) for r in await conn.fetch(
            "SELECT hash FROM merkle_nodes WHERE level = 0 ORDER BY idx")]
        tree = merkle.CompactRange()
        tree.extend(leaves)
        for node in tree.extend([leaf_hash]):
            await conn.execute("INSERT INTO merkle_nodes (level, idx, hash) VALUES ($1, $2, $3)",
                               node.level, node.index, node.hash)
    return index


async def tamper(dsn: str, case: str) -> tuple[str, int]:
    """Apply ``case`` as a superuser; returns (what was done, index expected named)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with Superuser(conn):
            if case == "envelope-byte":
                return await flip_envelope_byte(conn, TARGET), TARGET
            if case == "envelope-byte-tail":
                return await flip_envelope_byte(conn, TAIL_TARGET), TAIL_TARGET
            if case == "row-deleted":
                await conn.execute("DELETE FROM events WHERE position = $1", TARGET)
                return f"entry {TARGET} deleted", TARGET
            if case == "rows-swapped":
                async with conn.transaction():
                    await conn.execute("UPDATE events SET position = 999999 WHERE position = $1",
                                       TARGET)
                    await conn.execute("UPDATE events SET position = $1 WHERE position = $2",
                                       TARGET, TARGET + 1)
                    await conn.execute("UPDATE events SET position = $1 WHERE position = 999999",
                                       TARGET + 1)
                return f"entries {TARGET} and {TARGET + 1} swapped", TARGET
            with_nodes = case == "forged-row-with-nodes"
            index = await forge_row(conn, with_nodes=with_nodes)
            return f"forged entry {index} appended{' with its Merkle nodes' * with_nodes}", index
    finally:
        await conn.close()


async def checkpoint_sizes(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["size"] for r in await conn.fetch("SELECT size FROM checkpoints ORDER BY size")]
    finally:
        await conn.close()


async def serve_refuses(database: str, home: Path, log: Path) -> tuple[int | None, str, float]:
    """Start ``ledger serve`` on the tampered database; (exit status, output, seconds)."""
    server = ServerProcess(database, home, log)
    started = time.monotonic()
    with stopping(server):
        server.start()
        assert server.proc is not None
        while server.proc.poll() is None and time.monotonic() - started < 30:
            await asyncio.sleep(0.1)
    return server.proc.returncode, server.output(), time.monotonic() - started


#: Tamperings the start-up check catches: they touch what no checkpoint covers yet.
TAIL_CASES = ["envelope-byte-tail", "forged-row", "forged-row-with-nodes"]
#: Tamperings before the last checkpoint: the background history check catches them.
EARLY_CASES = ["envelope-byte", "row-deleted", "rows-swapped"]
CHECK_TIMEOUT = 30.0  # seconds for the background check of this small history


async def history_check_failure(settings: Settings, dsn: str) -> tuple[str, list[str]]:
    """Open the ledger as the server does; wait (bounded) for its background history
    check to fail; check that no checkpoint is signed after new appends. Returns the
    check's error and what was seen."""
    async with open_ledger(settings, dsn) as led:
        async with asyncio.timeout(CHECK_TIMEOUT):
            while led.history.status in ("pending", "running"):
                await asyncio.sleep(0.02)
        assert led.history.status == "failed", led.history
        assert led.history.error is not None and led.log.suspect is not None
        # (the entries after the last checkpoint, checked at start-up, may have been
        # signed before the check failed: nothing is signed after it)
        signed = await checkpoint_sizes(dsn)
        await led.store.append([org("tamper-late").registration("L")])
        with pytest.raises(HistoryMismatch, match="refusing to sign"):
            await led.log.checkpoint()
        await asyncio.sleep(settings.checkpoint_interval * 3)  # the checkpointer's turn
        assert await checkpoint_sizes(dsn) == signed
        return led.history.error, [f"background check: {led.history.error}; "
                                   f"checkpoints {signed}, none after"]


@pytest.mark.parametrize("case", TAIL_CASES + EARLY_CASES)
async def test_tampering_is_detected(database: str, tmp_path: Path, case: str):
    home = tmp_path / "home"
    settings = settings_for(home, database)
    size, signed = await build_history(settings, database, tail=TAIL)
    done, want = await tamper(database, case)
    figures = [f"[tamper] {case}: {done} (log of {size}, checkpoints {signed})"]

    if case in TAIL_CASES:
        # 1. The server's start-up check refuses, naming the entry, and signs nothing.
        started = time.monotonic()
        with pytest.raises(HistoryMismatch) as refused:
            async with open_ledger(settings, database):
                pass
        figures.append(f"open_ledger: HistoryMismatch index={refused.value.index} "
                       f"({refused.value.detail}) in {time.monotonic() - started:.2f} s")
        assert await checkpoint_sizes(database) == signed
        if case != "forged-row-with-nodes" or refused.value.index is not None:
            assert refused.value.index == want, refused.value.detail

        # 2. ledger serve exits non-zero and signs nothing (its output: see below).
        status, output, seconds = await serve_refuses(database, home, tmp_path / "serve.log")
        figures.append(f"ledger serve: exit {status} in {seconds:.1f} s, "
                       f"{len(output.splitlines())} lines of output, traceback: "
                       f"{'Traceback' in output}")
        assert status not in (0, None), f"ledger serve started on a tampered history:\n{output}"
        assert await checkpoint_sizes(database) == signed, "a checkpoint was signed at start-up"
    else:
        # 1'. Start-up goes on; the background check fails naming the entry, and the
        # log signs nothing more.
        error, seen = await history_check_failure(settings, database)
        figures += seen
        assert f"entry {want}" in error, error

    # 3. export + offline audit: non-zero, naming the index.
    env = child_env(database, home)
    vkey = cli(env, "log", "key").stdout.strip()
    bundle = tmp_path / "bundle.jsonl"
    export = cli(env, "export", "--out", str(bundle), "--json")
    failure = None
    if export.returncode == 0:
        verify = cli(env, "audit", "verify", str(bundle), "--log-key", vkey, "--json")
        failure = json.loads(verify.stdout)["failure"]
        figures.append(f"audit verify: exit {verify.returncode}, failure {failure}")
        detected = verify.returncode != 0 and failure is not None and failure["index"] == want
    else:  # export refuses to sign a checkpoint over a tree it cannot rebuild
        error = json.loads(export.stdout)["error"]
        figures.append(f"ledger export: exit {export.returncode}: {error}")
        detected = error.get("code") == "history-mismatch"
        assert "Traceback" not in export.stderr
    print("\n" + "\n  ".join(figures))
    assert detected, figures[-1]


async def test_serve_refuses_with_one_clear_line(database: str, tmp_path: Path):
    home = tmp_path / "home"
    _, signed = await build_history(settings_for(home, database), database)
    await tamper(database, "forged-row")
    status, output, _ = await serve_refuses(database, home, tmp_path / "serve.log")
    errors = [line for line in output.splitlines() if line.startswith("error")]
    print(f"\n[tamper] ledger serve on a tampered history: exit {status}, "
          f"{len(output.splitlines())} lines, traceback: {'Traceback' in output}, "
          f"error lines: {errors}")
    assert status not in (0, None)
    assert await checkpoint_sizes(database) == signed
    assert "Traceback" not in output, output
    assert len(errors) == 1 and "history" in errors[0].lower(), output


async def test_untampered_history_passes(database: str, tmp_path: Path):
    """The control: the same history, untouched, verifies everywhere."""
    home = tmp_path / "home"
    settings = settings_for(home, database)
    size, signed = await build_history(settings, database)
    async with open_ledger(settings, database, background=False) as led:
        assert await led.log.verify_history() == size
    env = child_env(database, home)
    vkey = cli(env, "log", "key").stdout.strip()
    bundle = tmp_path / "bundle.jsonl"
    assert cli(env, "export", "--out", str(bundle)).returncode == 0
    verify = cli(env, "audit", "verify", str(bundle), "--log-key", vkey, "--json")
    report = json.loads(verify.stdout)
    print(f"\n[tamper] control: {size} entries, checkpoints {signed}: audit ok={report['ok']}")
    assert verify.returncode == 0 and report["ok"] and report["size"] == size
