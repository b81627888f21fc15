"""A real key rotation, verified in the reader's browser on the agreement's page: an
organization adds a second key and revokes its first through the API (the Python
client), then signs with the new key. The page verifies every signature against the key
the organization's verified history holds at that event's position (the first key
before the revocation, the second after). The server refuses an event signed with the
revoked key; one forged into the database as a superuser (the history triggers disabled
for the change, then enabled ALWAYS again) is named by the page as the failure: a key
already revoked, with its event and log position. Its own database and server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from ledger.client import ClientError, LedgerClient
from ledger.domain import commands as d
from ledger.envelope import Envelope
from ledger.keys import generate_private_key, key_id
from ledger.signer import Signer
from ledger.statement import event_hash, format_time
from tests.conftest import database_from_template

from .conftest import ARTIFACTS, serving
from .test_verification import RED, VERIFIED, Console, assert_verified, settled
from .test_verification_tamper import HISTORY_TABLES

pytestmark = [pytest.mark.pg, pytest.mark.browser]

ID = "rotation-2026"
A, B = "rotation-a", "rotation-b"


class Rotated:
    def __init__(self, url: str, dsn: str, origin: str, old: Signer, new: Signer) -> None:
        self.url, self.dsn, self.origin, self.old, self.new = url, dsn, origin, old, new


def _now() -> str:
    return format_time(datetime.now(UTC))


def _rotate(url: str) -> tuple[str, Signer, Signer]:
    """A and B registered; A drafts and states an expectation with its first key, adds a
    second key and revokes the first (each through the API), then states another
    expectation with the second (the agreement's last event); B joins and ratifies in
    between. The first key, once revoked, is
    refused by the server."""
    old = Signer(A, generate_private_key(), "")
    first = LedgerClient(url, signer=old)
    first.register("Rotation A")
    b = LedgerClient(url, signer=Signer(B, generate_private_key(), ""))
    b.register("Rotation B")
    first.act(ID, d.DraftAgreement(agreement_id=ID, title="Rotation", purpose="Tourner la clé.",
                                   binding=False, invited=[B], public=True, actor=A, at=_now()))
    b.act(ID, d.JoinAgreement(actor=B, at=_now()))
    first.act(ID, d.StateExpectation(expectation_id="avant", text="Signée par la première clé.",
                                     actor=A, at=_now()))
    origin = first.origin()
    new = Signer(A, generate_private_key(), origin)
    head = first.head(f"org/{A}")
    first.submit([old.key_addition(head.version + 1, head.hash, new.key, label="nouvelle")])
    head = first.head(f"org/{A}")
    first.submit([new.key_revocation(head.version + 1, head.hash, old.key_id)])
    b.ratify(ID)
    second = LedgerClient(url, signer=new)
    second.act(ID, d.StateExpectation(expectation_id="apres", text="Signée par la seconde clé.",
                                      actor=A, at=_now()))
    with pytest.raises(ClientError) as refused:
        first.act(ID, d.StateExpectation(expectation_id="revoquee",
                                         text="Signée par la clé révoquée.", actor=A, at=_now()))
    assert refused.value.status == 403, refused.value
    assert refused.value.problem["type"].endswith("/key-revoked"), refused.value.problem
    return origin, old, new


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rotated(pg_admin_dsn: str, template_database: str,
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rotated]:
    home = tmp_path_factory.mktemp("browser-rotation-home")
    async with database_from_template(pg_admin_dsn, template_database,
                                      prefix="ledger_browser_rotation") as dsn:
        with serving(dsn, home) as (url, _env):
            origin, old, new = await asyncio.to_thread(_rotate, url)
            await asyncio.sleep(1)  # a checkpoint over everything (every 0.2 s)
            yield Rotated(url, dsn, origin, old, new)


async def forge_with_revoked_key(r: Rotated) -> tuple[int, int]:
    """As a superuser with the history triggers disabled (then ENABLE ALWAYS again): the
    agreement's last event of A (signed with the second key) replaced by the same
    statement signed with the revoked first key, every column derived from it along.
    Returns its version and log position."""
    conn = await asyncpg.connect(r.dsn)
    try:
        row = await conn.fetchrow(
            "SELECT position, version, prev_hash, type, statement::text AS st FROM events "
            "WHERE stream = $1 AND actor = $2 ORDER BY version DESC LIMIT 1",
            f"agreement/{ID}", A)
        st = json.loads(row["st"])
        forged = Signer(A, r.old.key, r.origin).event(
            f"agreement/{ID}", row["version"], st["prev"], st["type"], st["data"],
            issued_at=st["issued_at"])
        assert isinstance(forged, Envelope)
        payload = forged.payload_bytes()
        for t in HISTORY_TABLES:
            await conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        try:
            await conn.execute(
                "UPDATE events SET envelope = $1, payload = $2, key_id = $3, event_hash = $4, "
                "statement = convert_from($2, 'UTF8')::jsonb WHERE position = $5",
                forged.canonical(), payload, key_id(r.old.key),
                bytes.fromhex(event_hash(payload)), row["position"])
        finally:
            for t in HISTORY_TABLES:
                for trigger in (f"{t}_no_rewrite", f"{t}_no_truncate"):
                    await conn.execute(f"ALTER TABLE {t} ENABLE ALWAYS TRIGGER {trigger}")
        return row["version"], row["position"]
    finally:
        await conn.close()


def test_a_rotated_key_verifies_and_a_revoked_one_is_named(rotated: Rotated, browser: Any):
    url = f"{rotated.url}/agreements/{ID}"
    tab = Console(browser)
    try:
        page = tab.page
        page.goto(url)
        signatures, inclusions = assert_verified(settled(page))
        # Every event: the agreement's 5 (draft, join, B's ratification, two
        # expectations), A's 3 (registered, key added, key revoked) and B's registration,
        # each signature checked against the key of its time.
        assert (signatures, inclusions) == (9, 9)
        timeline = page.locator("table.timeline").inner_text()
        assert rotated.old.key_id[:12] in timeline and rotated.new.key_id[:12] in timeline
        assert tab.errors == [], tab.errors
    finally:
        tab.close()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this loop
        version, position = pool.submit(asyncio.run, forge_with_revoked_key(rotated)).result(
            timeout=60)
    deadline = time.monotonic() + 20
    tab = Console(browser)
    try:
        page = tab.page
        while True:  # the page shows the stored event (its own reads may lag a moment)
            page.goto(url)
            box = settled(page)
            text = box.inner_text()
            if "clé déjà révoquée" in text or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        box.screenshot(path=str(ARTIFACTS / "agreement-revoked-key-box.png"))
        assert box.get_attribute("data-verification") == "failed", text
        assert box.evaluate("(e) => getComputedStyle(e).color") == RED
        assert not VERIFIED.search(text)
        assert text.startswith("Échec de la vérification : Un événement est signé par une "
                               "clé déjà révoquée."), text
        assert f"agreement/{ID} version {version}" in text and f"position {position}" in text
        assert rotated.old.key_id[:16] in text, text
    finally:
        tab.close()
