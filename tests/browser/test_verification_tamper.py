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

pytestmark = [pytest.mark.pg, pytest.mark.browser]

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
    one character of the event's stored signature (flipped back by a second call).
    Returns its log position."""
    conn = await asyncpg.connect(dsn)
    try:
        for t in HISTORY_TABLES:
            await conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        try:
            row = await conn.fetchrow(
                "SELECT position, envelope FROM events WHERE stream = $1 AND version = $2",
                stream, version)
            env = bytearray(row["envelope"])
            start = env.index(b'"sig":"') + len(b'"sig":"') + 10
            at = next(i for i in range(start, len(env)) if chr(env[i]).isalpha())
            env[at] = ord(chr(env[at]).swapcase())  # the same call swaps it back
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

    def tamper() -> int:
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this loop
            return pool.submit(asyncio.run, flip_signature_byte(
                ledger.dsn, stream, version)).result(timeout=60)

    visit(False)  # verified before: what follows is the tampering's doing
    position = tamper()
    try:
        text, state, color = visit(True)
    finally:
        assert tamper() == position  # flipped back: the next test starts from a sound log
    assert state == "failed", text
    assert color == RED
    assert not VERIFIED.search(text)
    assert text.startswith("Échec de la vérification : Une signature ne correspond pas"), text
    assert f"{stream} version {version}" in text and f"position {position}" in text, text
    visit(False)  # the same page verifies again once the byte is back

async def forge_version_column(dsn: str, agreement_id: str) -> tuple[str, int]:
    """As a superuser, the stored version of a signer's registration (its envelope
    untouched), which the server's read path refuses (500 ``history-column-forged``).
    Returns the signer and the entry's log position."""
    conn = await asyncpg.connect(dsn)
    try:
        signer: str = await conn.fetchval(
            "SELECT actor FROM events WHERE stream = $1 ORDER BY version LIMIT 1",
            f"agreement/{agreement_id}")
        await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        try:
            position: int = await conn.fetchval(
                "UPDATE events SET version = version + 1000 WHERE stream = $1 "
                "AND version = 1 RETURNING position", f"org/{signer}")
            return signer, position
        finally:
            for trigger in ("events_no_rewrite", "events_no_truncate"):
                await conn.execute(f"ALTER TABLE events ENABLE ALWAYS TRIGGER {trigger}")
    finally:
        await conn.close()

def test_a_read_the_server_refuses_is_a_failure_naming_the_position(ledger: Ledger,
                                                                     browser: Any):
    """A signer's registration whose stored version was changed (envelope untouched):
    the server refuses to serve that row (500 ``history-column-forged``). The
    server's own pages that read the row refuse, naming the entry; an agreement's page
    rendered just before (the row changed while its verifier loads) says in its
    verification box that the ledger refused, naming the log position, rather than a
    blank or a count."""
    tab = Console(browser)
    try:
        page = tab.page
        url = f"{ledger.url}/agreements/{ledger.agreement_id}"
        page.goto(url)
        assert_verified(settled(page))
        forged: list[tuple[str, int]] = []

        def forge_then_load(route: Any) -> None:
            with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this loop
                forged.append(pool.submit(asyncio.run, forge_version_column(
                    ledger.dsn, ledger.agreement_id)).result(timeout=60))
            route.continue_()

        # The page is rendered first; the row is changed before its verifier starts
        # (held at its import), as it would be between a reader's two requests.
        tab.context.route("**/static/js/verify/verify.js", forge_then_load)
        tab.errors.clear()
        assert page.reload().status == 200
        box = settled(page)
        [(signer, position)] = forged
        box.screenshot(path=str(ARTIFACTS / "agreement-refused-box.png"))
        text = box.inner_text()
        assert box.get_attribute("data-verification") == "failed", text
        assert box.evaluate("(e) => getComputedStyle(e).color") == RED
        assert not VERIFIED.search(text)
        assert text.startswith("Échec de la vérification : Le registre refuse"), text
        assert f"Position {position} du journal" in text, text
        assert "history-column-forged" in text, text
        # the browser logs the refused request itself; nothing else may go wrong
        assert tab.errors and all("status of 500" in e for e in tab.errors), tab.errors
        # the server's own pages that read the row refuse too, naming it
        for path in (f"/organizations/{signer}", f"/agreements/{ledger.agreement_id}"):
            response = page.goto(ledger.url + path)
            assert response.status == 500, path
            assert f"entry {position}:" in page.locator("main").inner_text(), path
    finally:
        tab.close()
