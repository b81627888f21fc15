"""A column derived from the signed envelope, changed behind the ledger's back; a
protection of history left off.

The ``events`` table keeps the payload (and the statement's fields) next to the
envelope that signs them, because reads and projections use those columns. A
superuser who disables the triggers for a moment can change only the ``payload``
column of one entry, envelope untouched: the Merkle tree and the checkpoints (over
the envelope) still agree, and reads would serve the forged words after a restart.
For an entry no checkpoint covers yet the start-up check must refuse, naming the
entry; ``ledger serve`` must refuse with one line. Before the last checkpoint the
background history check catches it (tests/fault/test_history_check.py). A trigger
left disabled (or a grant widened) must be refused at start-up, and make ``/readyz``
fail on a running server.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from ledger.api.app import create_app
from ledger.integrity import HistoryUnprotected
from ledger.log import HistoryMismatch
from ledger.runtime import open_ledger
from tests.fault.test_tamper import (
    TAIL,
    TAIL_TARGET,
    TARGET,
    Superuser,
    build_history,
    checkpoint_sizes,
    serve_refuses,
    settings_for,
)

pytestmark = [pytest.mark.pg, pytest.mark.fault]


async def forge_payload(dsn: str, position: int) -> None:
    """Change the profile in the entry's payload (and its statement column), not its
    envelope, as a superuser with the triggers disabled for a moment."""
    conn = await asyncpg.connect(dsn)
    try:
        async with Superuser(conn):
            payload = bytes(await conn.fetchval(
                "SELECT payload FROM events WHERE position = $1", position))
            forged = payload.replace(b'"profile":{"description":"',
                                     b'"profile":{"description":"forged ', 1)
            assert forged != payload
            await conn.execute(
                "UPDATE events SET payload = $1, statement = convert_from($1, 'UTF8')::jsonb "
                "WHERE position = $2", forged, position)
    finally:
        await conn.close()


async def test_forged_payload_column_is_refused_at_start_up(database: str, tmp_path: Path):
    home = tmp_path / "home"
    settings = settings_for(home, database)
    await build_history(settings, database, tail=TAIL)
    await forge_payload(database, TAIL_TARGET)
    signed_before = await checkpoint_sizes(database)

    with pytest.raises(HistoryMismatch) as caught:
        async with open_ledger(settings, database, background=False):
            pass
    assert caught.value.to_dict().get("index") == TAIL_TARGET, caught.value.to_dict()
    assert f"entry {TAIL_TARGET}" in caught.value.detail

    status, output, _ = await serve_refuses(database, home, tmp_path / "serve.log")
    assert status not in (None, 0), output
    lines = [ln for ln in output.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and f"entry {TAIL_TARGET}" in lines[0], output
    assert "Traceback" not in output
    assert await checkpoint_sizes(database) == signed_before  # nothing signed over it


async def test_a_forged_statement_column_alone_is_refused(database: str, tmp_path: Path):
    settings = settings_for(tmp_path / "home", database)
    await build_history(settings, database, tail=TAIL)
    conn = await asyncpg.connect(database)
    try:
        async with Superuser(conn):
            await conn.execute("UPDATE events SET actor = 'someone-else' WHERE position = $1",
                               TAIL_TARGET)
    finally:
        await conn.close()
    with pytest.raises(HistoryMismatch) as caught:
        async with open_ledger(settings, database, background=False):
            pass
    assert caught.value.to_dict().get("index") == TAIL_TARGET


@pytest.mark.parametrize("change", [
    "ALTER TABLE events DISABLE TRIGGER events_no_rewrite",
    "ALTER TABLE merkle_nodes ENABLE TRIGGER merkle_nodes_no_truncate",  # not ALWAYS
    "DROP TRIGGER checkpoints_no_rewrite ON checkpoints",
    "GRANT UPDATE ON events TO ledger_writer",
], ids=["disabled", "not-always", "dropped", "granted"])
async def test_start_up_refuses_when_a_protection_is_off(database: str, tmp_path: Path,
                                                         change: str):
    home = tmp_path / "home"
    settings = settings_for(home, database)
    await build_history(settings, database)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(change)
    finally:
        await conn.close()
    with pytest.raises(HistoryUnprotected):
        async with open_ledger(settings, database, background=False):
            pass
    status, output, _ = await serve_refuses(database, home, tmp_path / "serve.log")
    assert status not in (None, 0), output
    assert len([ln for ln in output.splitlines() if ln.startswith("error")]) == 1, output
    assert "Traceback" not in output


async def test_readyz_fails_while_a_trigger_is_disabled(database: str, tmp_path: Path):
    settings = settings_for(tmp_path / "home", database)
    app = create_app(settings, dsn=database, background=False, projections=False)
    async with AsyncTestClient(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        conn = await asyncpg.connect(database)
        try:
            await conn.execute("ALTER TABLE keys DISABLE TRIGGER keys_no_rewrite")
            r = await client.get("/readyz")
            assert r.status_code == 503, r.text
            assert "keys_no_rewrite" in r.json()["detail"]
            await conn.execute("ALTER TABLE keys ENABLE ALWAYS TRIGGER keys_no_rewrite")
            assert (await client.get("/readyz")).status_code == 200
        finally:
            await conn.close()


async def test_a_payload_column_forged_while_running_is_never_served(database: str,
                                                                     tmp_path: Path):
    """Forged after the start-up check passed (triggers off for a moment, then on
    again): every read serves the statement the envelope signs, never the column."""
    settings = settings_for(tmp_path / "home", database)
    await build_history(settings, database)
    conn = await asyncpg.connect(database)
    try:
        stream = await conn.fetchval("SELECT stream FROM events WHERE position = $1", TARGET)
        last = await conn.fetchval("SELECT max(position) FROM events WHERE stream = $1",
                                   stream)  # its last profile is the one shown
    finally:
        await conn.close()
    org_id = stream.removeprefix("org/")
    app = create_app(settings, dsn=database, background=False, projections=False)
    async with AsyncTestClient(app) as client:
        await forge_payload(database, last)
        organization = (await client.get(f"/v1/organizations/{org_id}")).json()
        assert "forged" not in str(organization["profile"]), organization
        assert organization["profile"]["description"].isdigit(), organization


@pytest.mark.parametrize("forgery", [
    "UPDATE events SET version = version + 100 WHERE position = $1",  # out of its place
    "UPDATE events SET stream = 'org/tamper-c', version = version + 100 WHERE position = $1",
], ids=["version", "stream"])
async def test_a_search_column_forged_while_running_is_refused_on_read(
        database: str, tmp_path: Path, forgery: str):
    """The columns reads search by are copies too: a read that meets one changed (the
    entry out of its stream, or moved into another) refuses loudly, never serves."""
    settings = settings_for(tmp_path / "home", database)
    await build_history(settings, database)
    conn = await asyncpg.connect(database)
    try:
        stream = await conn.fetchval("SELECT stream FROM events WHERE position = $1", TARGET)
    finally:
        await conn.close()
    app = create_app(settings, dsn=database, background=False, projections=False)
    async with AsyncTestClient(app) as client:
        conn = await asyncpg.connect(database)
        try:
            async with Superuser(conn):
                await conn.execute(forgery, TARGET)
        finally:
            await conn.close()
        r = await client.get(f"/v1/organizations/{stream.removeprefix('org/')}")
        assert r.status_code == 500, r.text
        assert r.json()["type"].endswith("/history-column-forged"), r.text
        r = await client.get(f"/v1/streams/{stream}/events")
        assert r.status_code == 500, r.text
