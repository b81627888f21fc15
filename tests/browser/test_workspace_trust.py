"""The workspace signs only on a head it verified, and shows every refusal in the page,
in a real chromium against a real ``ledger serve``. Three organizations registered with
the Python client (their keys written as the PEM files the pages load): A drafts a public
agreement inviting B, B joins, A states an expectation; C is no party.

- A hostile server: the stream's head rewritten on its way to the page (a forged head
  hash) makes the page refuse to sign, in its words, and no statement is posted; the same
  step on the honest answer is signed and recorded (so the refusal is the forgery's).
- A non-party acting, a stale ratification (an older terms version) and a bad date (the
  computer's clock two days ahead: the statement's ``issued_at``) are refused with their
  message in the page, marked as an alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from ledger.client import LedgerClient
from ledger.domain import commands as d
from ledger.keys import generate_private_key
from ledger.signer import Signer
from ledger.statement import format_time

from .conftest import Site, Tab
from .test_workspace import SIGNED, Workspace

pytestmark = [pytest.mark.pg, pytest.mark.browser, pytest.mark.timeout(300)]

AGREEMENT = "salle-confiance-2026"
A, B, C = "confiance-a", "confiance-b", "confiance-c"


@pytest.fixture(scope="module")
def keys(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three organizations registered, the agreement drafted, joined and given an
    expectation (terms version 2 or more); each key as a PKCS#8 PEM file."""
    folder = tmp_path_factory.mktemp("trust-keys")
    clients, files = {}, {}
    for org in (A, B, C):
        key = generate_private_key()
        files[org] = folder / f"{org}.pem"
        files[org].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
        clients[org] = LedgerClient(site.url, signer=Signer(org, key, ""))
        clients[org].register(org.replace("-", " ").title())
    now = lambda: format_time(datetime.now(UTC))  # noqa: E731
    clients[A].act(AGREEMENT, d.DraftAgreement(
        agreement_id=AGREEMENT, title="Salle de confiance", purpose="Partager une salle.",
        binding=False, invited=[B], public=True, actor=A, at=now()))
    clients[B].act(AGREEMENT, d.JoinAgreement(actor=B, at=now()))
    clients[A].act(AGREEMENT, d.StateExpectation(
        expectation_id="cles", text="Rendre les clés le soir même.", actor=A, at=now()))
    assert clients[A].agreement(AGREEMENT)["terms_version"] >= 2
    return files


class Trusting(Workspace):
    """A workspace with its key file loaded and the agreement chosen, recording the
    method of every request."""

    def __init__(self, site: Site, browser: Any, org: str, key: Path) -> None:
        super().__init__(site, browser, org)
        self.posts: list[str] = []
        self.page.on("request", lambda r: self.posts.append(r.url) if r.method == "POST" else None)
        self.page.set_input_files("#ws-key-file", str(key))
        self.page.wait_for_function(
            "() => document.getElementById('ws-key-status').innerText.includes('Clé chargée')")
        self.set_agreement(AGREEMENT)

    def refusal(self, form: str, **fields: str) -> str:
        """Fill the form, ask to review it; the alert the page shows (no preview)."""
        f = self.page.locator(f"#ws-{form}")
        for name, value in fields.items():
            f.locator(f"[name={name}]").fill(value)
        f.get_by_role("button", name="Relire avant de signer").click()
        alert = f.locator(".ws-result [role=alert]")
        alert.wait_for(timeout=SIGNED)
        assert f.locator(".ws-preview").is_hidden()
        return str(alert.inner_text())


def test_a_forged_head_hash_makes_the_page_refuse_to_sign(site, browser, keys):
    a = Trusting(site, browser, A, keys[A])
    forged: list[str] = []

    def forge(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        body["head_hash"] = "0" * 64 if body["head_hash"] != "0" * 64 else "1" * 64
        forged.append(body["head_hash"])
        route.fulfill(response=answer, body=json.dumps(body))

    try:
        a.page.route(f"**/v1/streams/agreement/{AGREEMENT}", forge)
        said = a.refusal("expect", expectation_id="horaire", text="Afficher l'horaire.")
        assert "rien n'est signé" in said and "historique vérifié" in said, said
        assert forged, "the page never asked for the head"
        assert a.posts == []  # nothing was signed, nothing was sent
        assert a.page.locator("#ws-expect .ws-sign").is_hidden()

        # The honest answer: the same step is signed and recorded.
        a.page.unroute(f"**/v1/streams/agreement/{AGREEMENT}")
        done = a.step("expect", expectation_id="horaire", text="Afficher l'horaire.")
        assert "Inscrit au journal" in done, done
        assert any(url.endswith("/v1/events") for url in a.posts)
        assert a.tab.errors == []
    finally:
        a.tab.close()


def test_refusals_show_their_message_in_the_page(site, browser, keys):
    c = Trusting(site, browser, C, keys[C])
    a = Trusting(site, browser, A, keys[A])
    b = None
    try:
        # A non-party acting: the server's refusal, in the page's words.
        done = c.step("expect", expectation_id="intrus", text="Entrer sans être partie.")
        assert "Refusé" in done and "n'est pas partie" in done, done
        assert c.page.locator("#ws-expect .ws-result [role=alert]").count() == 1

        # A stale ratification: version 1 when the terms are further on.
        said = a.refusal("ratify", version="1")
        assert "n'est pas la version actuelle" in said, said
        assert a.posts == []

        # A bad date: the computer's clock two days ahead, so the statement's issued_at.
        b = Trusting.__new__(Trusting)
        tab = Tab(browser)
        tab.page.clock.install(time=datetime.now(UTC) + timedelta(days=2))
        b.tab, b.page, b.org, b.requests, b.posts = tab, tab.page, B, [], []
        b.page.on("request", lambda r: b.posts.append(r.url) if r.method == "POST" else None)
        b.page.goto(site.url + "/espace")
        for field, value in (("#ws-org", B), ("#ws-token", site.token("org", B))):
            b.page.fill(field, value)
            b.page.dispatch_event(field, "change")
        b.page.set_input_files("#ws-key-file", str(keys[B]))
        b.page.wait_for_function(
            "() => document.getElementById('ws-key-status').innerText.includes('Clé chargée')")
        b.set_agreement(AGREEMENT)
        done = b.step("expect", expectation_id="retard", text="Prévenir d'un retard.")
        assert "Refusé" in done and "L'heure de votre ordinateur" in done, done
        assert b.page.locator("#ws-expect .ws-result [role=alert]").count() == 1
        assert c.tab.errors == [] and a.tab.errors == []
    finally:
        for ws in (c, a, b):
            if ws is not None:
                ws.tab.close()
