"""The log key belongs to its ledger: a missing or different key file is refused.

A server started with ``LEDGER_LOG_KEY`` naming a missing file, on an existing ledger,
used to make a new key silently and sign checkpoints with it: auditors pinning the
published vkey would then see checkpoints they cannot verify, or trust a key nobody
announced. The ledger records its log key (vkey) at first start and refuses any other
with one line; a new key only through ``ledger log rotate-key``.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from ledger.checkpoint import make_vkey
from ledger.keys import generate_private_key, load_private_key, raw_public_key, save_private_key
from ledger.log import LogKeyMismatch
from ledger.runtime import open_ledger
from tests.fault.support import child_env, cli
from tests.fault.test_tamper import Superuser, build_history, settings_for
from tests.helpers import LEDGER_ID

pytestmark = [pytest.mark.pg, pytest.mark.fault]


async def _start(settings, database: str) -> None:  # type: ignore[no-untyped-def]
    async with open_ledger(settings, database, background=False):
        pass


async def test_missing_key_file_on_an_existing_ledger_is_refused(database: str, tmp_path: Path):
    home = tmp_path / "home"
    settings = settings_for(home, database)
    await build_history(settings, database)
    settings.log_key_path.unlink()

    with pytest.raises(LogKeyMismatch) as caught:
        await _start(settings, database)
    assert "missing" in caught.value.detail
    assert not settings.log_key_path.exists()  # no new key made

    done = cli(child_env(database, home), "log", "checkpoint")
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "rotate-key" in done.stderr and "Traceback" not in done.stderr
    assert not settings.log_key_path.exists()
    done = cli(child_env(database, home), "log", "key")
    assert done.returncode != 0 and not settings.log_key_path.exists(), done.stderr


async def test_another_key_file_is_refused(database: str, tmp_path: Path):
    settings = settings_for(tmp_path / "home", database)
    await build_history(settings, database)
    save_private_key(generate_private_key(), tmp_path / "other.pem")
    other = settings_for(tmp_path / "home", database)
    object.__setattr__(other, "log_key_path", tmp_path / "other.pem")
    with pytest.raises(LogKeyMismatch) as caught:
        await _start(other, database)
    assert "not this ledger's" in caught.value.detail


async def test_a_ledger_from_before_keys_were_recorded_checks_its_checkpoints(
        database: str, tmp_path: Path):
    """No key recorded (a ledger made before this check): the key file must be the one
    that signed its checkpoints, and is then recorded."""
    settings = settings_for(tmp_path / "home", database)
    await build_history(settings, database)
    conn = await asyncpg.connect(database)
    try:
        async with Superuser(conn):
            await conn.execute("ALTER TABLE ledger_meta DISABLE TRIGGER USER")
            await conn.execute("DELETE FROM ledger_meta WHERE name LIKE 'log_key/%'")
            for trigger in ("ledger_meta_no_rewrite", "ledger_meta_no_truncate"):
                await conn.execute(f"ALTER TABLE ledger_meta ENABLE ALWAYS TRIGGER {trigger}")
    finally:
        await conn.close()
    save_private_key(generate_private_key(), tmp_path / "other.pem")
    other = settings_for(tmp_path / "home", database)
    object.__setattr__(other, "log_key_path", tmp_path / "other.pem")
    with pytest.raises(LogKeyMismatch):
        await _start(other, database)
    await _start(settings, database)  # the right key: accepted, and recorded again
    with pytest.raises(LogKeyMismatch):
        await _start(other, database)


async def test_rotate_key_is_the_one_way_to_a_new_key(database: str, tmp_path: Path):
    home = tmp_path / "home"
    settings = settings_for(home, database)
    await build_history(settings, database)
    old_vkey = make_vkey(LEDGER_ID, raw_public_key(load_private_key(settings.log_key_path)))
    settings.log_key_path.unlink()  # the key is lost: rotate explicitly

    env = child_env(database, home)
    done = cli(env, "log", "rotate-key")
    assert done.returncode == 0, done.stderr
    new_key = load_private_key(settings.log_key_path)
    new_vkey = make_vkey(LEDGER_ID, raw_public_key(new_key))
    assert new_vkey != old_vkey and new_vkey in done.stdout

    async with open_ledger(settings, database, background=False) as led:
        assert led.log.vkey == new_vkey  # the next checkpoints are signed with it

    done = cli(env, "log", "key")
    assert done.returncode == 0 and done.stdout.strip() == new_vkey, done.stderr
    # the old key is refused from now on
    save_private_key(generate_private_key(), tmp_path / "stray.pem")
    stray = settings_for(home, database)
    object.__setattr__(stray, "log_key_path", tmp_path / "stray.pem")
    with pytest.raises(LogKeyMismatch):
        await _start(stray, database)
    # a second rotation keeps the previous key file aside, never deletes it
    done = cli(env, "log", "rotate-key")
    assert done.returncode == 0, done.stderr
    kept = sorted(p.name for p in settings.log_key_path.parent.iterdir()
                  if p.name.startswith("log-key.pem.retired-"))
    assert len(kept) == 1
    assert make_vkey(LEDGER_ID, raw_public_key(load_private_key(
        settings.log_key_path.parent / kept[0]))) == new_vkey
