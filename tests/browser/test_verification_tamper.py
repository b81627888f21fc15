"""A stored event edited behind the ledger's back, while it serves: the agreement's page
says the verification failed and names the event, in red, rather than a blank or a
count. Its own database and server (the demo's shared one stays untouched)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from ledger.demo import run_demo
from tests.conftest import database_from_template

from .conftest import ARTIFACTS, serving
from .test_verification import RED, VERIFIED, Console, assert_verified, settled

pytestmark = [pytest.mark.pg, pytest.mark.browser, pytest.mark.timeout(240)]

HISTORY_TABLES = ("events", "merkle_nodes")


class Ledger:
    def __init__(self, url: str, dsn: str, agreement_id: str) -> None:
        self.url, self.dsn, self.agreement_id = url, dsn, agreement_id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ledger(pg_admin_dsn: str, template_database: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Ledger]:
    home = tmp_path_factory.mktemp("browser-tamper-home")
    async with database_from_template(pg_admin_dsn, template_database,
                                      prefix="ledger_browser_tamper") as dsn:
        with serving(dsn, home) as (url, _env):
            demo = await asyncio.to_thread(run_demo, url)
            await asyncio.sleep(1)  # a checkpoint over the demo (every 0.2 s)
            yield Ledger(url, dsn, demo.agreement_id)


async def flip_signature_byte(dsn: str, stream: str, version: int) -> int:
    """As a superuser with the history triggers disabled (then ENABLE ALWAYS again):
    one character of the event's stored signature. Returns its log position."""
    conn = await asyncpg.connect(dsn)
    try:
        for t in HISTORY_TABLES:
            await conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        try:
            row = await conn.fetchrow(
                "SELECT position, envelope FROM events WHERE stream = $1 AND version = $2",
                stream, version)
            env = bytearray(row["envelope"])
            at = env.index(b'"sig":"') + len(b'"sig":"') + 10
            env[at] = ord("B") if env[at] != ord("B") else ord("C")
            await conn.execute("UPDATE events SET envelope = $1 WHERE position = $2",
                               bytes(env), row["position"])
            position: int = row["position"]
            return position
        finally:
            for t in HISTORY_TABLES:
                for trigger in (f"{t}_no_rewrite", f"{t}_no_truncate"):
                    await conn.execute(f"ALTER TABLE {t} ENABLE ALWAYS TRIGGER {trigger}")
    finally:
        await conn.close()


def test_a_tampered_event_is_named_on_the_page(ledger: Ledger, browser: Any):
    url = f"{ledger.url}/agreements/{ledger.agreement_id}"
    stream, version = f"agreement/{ledger.agreement_id}", 3

    def visit(tamper_done: bool) -> tuple[str, str | None, str]:
        tab = Console(browser)
        try:
            page = tab.page
            page.goto(url)
            box = settled(page)
            if not tamper_done:
                assert_verified(box)
            else:
                page.screenshot(path=str(ARTIFACTS / "agreement-tampered.png"),
                                full_page=True)
                box.screenshot(path=str(ARTIFACTS / "agreement-tampered-box.png"))
            assert tab.errors == [], tab.errors
            return (box.inner_text(), box.get_attribute("data-verification"),
                    box.evaluate("(e) => getComputedStyle(e).color"))
        finally:
            tab.close()

    visit(False)  # verified before: what follows is the tampering's doing
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        position = pool.submit(asyncio.run, flip_signature_byte(
            ledger.dsn, stream, version)).result(timeout=60)
    text, state, color = visit(True)
    assert state == "failed", text
    assert color == RED
    assert not VERIFIED.search(text)
    assert text.startswith("Échec de la vérification : "), text
    assert f"{stream} version {version}" in text and f"position {position}" in text, text
