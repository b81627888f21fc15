"""The organization's workspace (``/espace``) in a real chromium, against a real
``ledger serve``: two organizations, each in its own browser context, sign every step in
the page with their own key — A with a key made in the page (and downloaded), B with a
key file written by ``ledger keygen`` — under registration tokens made by the operator's
command. A drafts a public agreement inviting B, B joins, A states an expectation, B
acknowledges it, both ratify: the register's page of the agreement then shows it in
force. A refusal is shown in the page, in French, with the field at fault marked; a bad
key file is refused with its own message; no request of either page carries a private
key, in any spelling; the page passes axe-core's checks."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_js_workspace import _public_of, _secrets_of

from .conftest import ARTIFACTS, Site, Tab, axe_violations

pytestmark = [pytest.mark.pg, pytest.mark.browser, pytest.mark.timeout(300)]

AGREEMENT = "salle-ws-2026"
SIGNED = 20_000  # ms a signing step may take (inclusion waits for a signed checkpoint)


class Workspace:
    """One organization's tab on /espace, recording every request it sends."""

    def __init__(self, site: Site, browser: Any, org: str) -> None:
        self.tab = Tab(browser, accept_downloads=True)
        self.page = self.tab.page
        self.org = org
        self.shown: dict[str, Any] = {}
        self.requests: list[str] = []
        self.page.on("request", self._record)
        self.page.goto(site.url + "/espace")
        self.page.fill("#ws-org", org)
        self.page.dispatch_event("#ws-org", "change")
        self.page.fill("#ws-token", site.token("org", org))
        self.page.dispatch_event("#ws-token", "change")

    def _record(self, request: Any) -> None:
        body = request.post_data or ""
        self.requests.append(json.dumps({"url": request.url, "headers": request.headers,
                                         "body": body}))
        if body.startswith("{") and '"events"' in body:  # the signed statements, decoded
            for env in json.loads(body)["events"]:
                self.requests.append(base64.b64decode(env["payload"]).decode())

    def step(self, form: str, **fields: str | bool | Path) -> str:
        """Fill the step's form, review it, sign and send; answer the result's text.
        The JSON shown before signing is, byte for byte, the statement the page sent."""
        f = self.page.locator(f"#ws-{form}")
        for name, value in fields.items():
            el = f.locator(f"[name={name}]")
            if isinstance(value, bool):
                el.set_checked(value)
            elif isinstance(value, Path):
                el.set_input_files(str(value))
            elif el.evaluate("(e) => e.tagName") == "SELECT":
                el.select_option(value)
            else:
                el.fill(value)
        f.get_by_role("button", name="Relire avant de signer").click()
        preview = f.locator(".ws-preview")
        preview.wait_for(state="visible", timeout=SIGNED)
        shown = preview.locator("pre.ws-json").inner_text()  # the exact JSON
        self.shown = json.loads(shown)
        doc = preview.locator(".ws-doc")  # a ratification's written agreement
        self.document = doc.locator("pre").inner_text() if doc.is_visible() else None
        assert json.loads(shown)["actor"] == self.org
        assert preview.locator(".ws-words").inner_text().startswith(self.org)
        f.get_by_role("button", name="Signer et envoyer").click()
        result = f.locator(".ws-result")
        self.page.wait_for_function(
            "(id) => { const t = document.querySelector(`#${id} .ws-result`).innerText;"
            " return t && !t.includes('En cours'); }", arg=f"ws-{form}", timeout=SIGNED)
        text = str(result.inner_text())
        if "Inscrit au journal" in text:
            assert shown in self.requests  # the payloads sent, decoded
        return text

    def set_agreement(self, agreement_id: str) -> None:
        self.page.fill("#ws-agreement", agreement_id)
        self.page.dispatch_event("#ws-agreement", "change")


def _keygen(site: Site, path: Path) -> str:
    made = subprocess.run([sys.executable, "-m", "ledger", "keygen", "--out", str(path)],
                          env=site.env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return path.read_text()


def test_two_organizations_sign_an_agreement_in_the_browser(site, browser, tmp_path):
    a = Workspace(site, browser, "atelier-a")
    b = Workspace(site, browser, "atelier-b")
    try:
        # A: a key made in the page, downloaded as the PEM `ledger keygen` writes.
        with a.page.expect_download() as dl:
            a.page.get_by_role("button", name="Créer une nouvelle clé").click()
            a.page.locator("#ws-key-download").click()
        pem_a = Path(dl.value.path()).read_text()
        assert pem_a.startswith("-----BEGIN PRIVATE KEY-----")
        assert "Clé chargée" in a.page.locator("#ws-key-status").inner_text()

        # B: first a file that is no key, refused in words; then `ledger keygen`'s file.
        bad = tmp_path / "not-a-key.pem"
        bad.write_text("bonjour\n")
        b.page.set_input_files("#ws-key-file", str(bad))
        error = b.page.locator("#ws-key-error")
        error.wait_for(state="visible")
        assert "n'est pas une clé au format PEM" in error.inner_text()
        assert b.page.get_attribute("#ws-key-file", "aria-invalid") == "true"
        pem_b = _keygen(site, tmp_path / "atelier-b.pem")
        b.page.set_input_files("#ws-key-file", str(tmp_path / "atelier-b.pem"))
        b.page.wait_for_function(
            "() => document.getElementById('ws-key-status').innerText.includes('Clé chargée')")
        assert error.inner_text() == ""

        for ws, name in ((a, "Atelier A"), (b, "Atelier B")):
            token = site.token("registration", f"inscription {ws.org}")
            done = ws.step("register", regtoken=token, name=name, region="Capitale-Nationale")
            assert "Inscrit au journal à la position" in done, done
            assert "inclusion vérifiée" in done
            # The page sent the operator's registration token with the registration (this
            # server also admits registrations without one: LEDGER_OPEN_REGISTRATION).
            assert any(f"Bearer {token}" in r and "/v1/events" in r for r in ws.requests)

        for ws in (a, b):
            ws.set_agreement(AGREEMENT)
        done = a.step("draft", title="Salle partagée",
                      purpose="Partager une salle de répétition, « ensemble ».",
                      invited="atelier-b", public=True, binding=False)
        assert "Inscrit au journal" in done, done
        b.page.get_by_role("button", name="Actualiser").click()
        b.page.wait_for_function(
            "() => document.getElementById('ws-attention').innerText.includes('invité')")
        assert "Inscrit au journal" in b.step("join")

        # A refusal of the server, in the page's words: B joins a second time.
        refused = b.step("join")
        assert "Refusé" in refused and "déjà partie" in refused, refused
        assert b.page.locator("#ws-join .ws-result [role=alert]").count() == 1
        b.page.screenshot(path=str(ARTIFACTS / "workspace-refusal-fr.png"), full_page=True)
        assert axe_violations(b.page) == []  # with a statement shown and a field marked

        done = a.step("expect", expectation_id="e1",
                      text="Chaque partie réserve la salle une semaine à l'avance.")
        assert "Inscrit au journal" in done, done
        b.page.get_by_role("button", name="Actualiser").click()
        b.page.wait_for_function(
            "() => document.getElementById('ws-attention').innerText.includes('« e1 »')")
        # A refusal before signing: A is not an addressee of its own expectation; the
        # organization's field is marked.
        a.page.fill("#ws-ack-id", "e1")
        a.page.locator("#ws-ack").get_by_role("button", name="Relire avant de signer").click()
        a.page.locator("#ws-ack .ws-result [role=alert]").wait_for(timeout=SIGNED)
        assert "destinataire" in a.page.locator("#ws-ack .ws-result").inner_text()
        assert a.page.get_attribute("#ws-org", "aria-invalid") == "true"
        # "Ce qui demande mon attention" fills the acknowledgement in.
        b.page.get_by_role("listitem").filter(has_text="« e1 »").get_by_role(
            "button", name="Remplir le formulaire").click()
        assert b.page.input_value("#ws-ack-id") == "e1"
        assert "Inscrit au journal" in b.step("ack")

        view = httpx.get(f"{site.url}/v1/agreements/{AGREEMENT}", timeout=10).json()
        for ws in (a, b):
            ws.page.get_by_role("button", name="Actualiser").click()
            wanted = f"Version {view['terms_version']} des termes à ratifier."
            ws.page.get_by_role("listitem").filter(has_text=wanted).get_by_role(
                "button", name="Remplir le formulaire").click()
            done = ws.step("ratify")
            assert "Inscrit au journal" in done, (ws.org, done)
            # what was signed was shown: the written agreement of exactly that version,
            # carrying the terms' hash the browser recomputed and signs
            assert ws.document is not None and ws.shown["data"]["state_hash"] in ws.document
            assert f"{view['terms_version']}" in ws.document
        view = httpx.get(f"{site.url}/v1/agreements/{AGREEMENT}", timeout=10).json()
        assert view["in_force"] is True
        assert view["in_force_version"] == view["terms_version"]

        # The register's page of the agreement shows it in force.
        a.page.goto(f"{site.url}/agreements/{AGREEMENT}")
        assert "En vigueur" in a.page.locator("main").inner_text()

        # No request of either page carried a private key, in any spelling.
        secrets = _secrets_of(pem_a) + _secrets_of(pem_b)
        for ws, pem in ((a, pem_a), (b, pem_b)):
            assert len(ws.requests) > 10
            for seen in ws.requests:
                for secret in secrets:
                    assert secret not in seen, seen[:200]
            # The scan reads what is signed: the registration's public key is found in
            # it, so a private key sent the same way would have been too.
            assert any(_public_of(pem) in seen for seen in ws.requests)
        assert a.tab.errors == [] and b.tab.errors == []
    finally:
        a.tab.close()
        b.tab.close()


def test_workspace_is_accessible_in_both_languages(site, browser, tmp_path):
    tab = Tab(browser)
    try:
        page = tab.page
        page.goto(site.url + "/")
        page.get_by_role("link", name="Espace de l'organisme").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == "Espace de l'organisme"
        page.wait_for_function(
            "() => document.getElementById('ws-key-status').innerText.includes('Aucune clé')")
        assert axe_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / "workspace-fr.png"), full_page=True)
        # the agreement's forms are grouped as the workshop goes, each group reachable
        # from the list at the top of the section
        jump = page.get_by_role("navigation", name="Les étapes de l'entente")
        targets = [link.get_attribute("href") for link in jump.get_by_role("link").all()]
        assert len(targets) == 9
        for target in targets:
            assert page.locator(f"{target} form[data-step]").count() >= 1, target
        grouped = page.locator(".ws-group form[data-step]").count()
        assert grouped == page.locator(
            "section[aria-labelledby=h-agreement] form[data-step]").count() >= 29
        jump.get_by_role("link", name="Ratification des termes").click()
        assert page.evaluate("location.hash") == "#g-ratify"
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == "Organization's workspace"
        signs = page.locator(".ws-sign").all_inner_texts()
        assert len(signs) == page.locator("form[data-step]").count() >= 17
        assert set(signs) == {"Sign and send"}
        rsa = tmp_path / "rsa.pem"
        rsa.write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n")
        page.set_input_files("#ws-key-file", str(rsa))
        page.locator("#ws-key-error").wait_for(state="visible")
        assert page.locator("#ws-key-error").inner_text() == (
            "This file holds an RSA key; the register accepts Ed25519 keys only "
            "(\"ledger keygen\").")
        assert axe_violations(page) == []
        assert tab.errors == []
    finally:
        tab.close()


def test_the_key_stays_in_the_browser_until_it_is_forgotten(site, browser):
    tab = Tab(browser)
    try:
        page = tab.page
        page.goto(site.url + "/espace")
        page.fill("#ws-org", "atelier-oubli")
        page.dispatch_event("#ws-org", "change")
        page.get_by_role("button", name="Créer une nouvelle clé").click()
        status = page.locator("#ws-key-status")
        page.wait_for_function(
            "() => document.getElementById('ws-key-status').innerText.includes('Clé chargée')")
        key_id = status.inner_text().rsplit(" ", 1)[-1]
        assert len(key_id) == 64
        # Kept (not extractable) in IndexedDB, and the id in the tab's session: a reload
        # finds the same key.
        page.reload()
        page.wait_for_function(
            "() => document.getElementById('ws-key-status').innerText.includes('Clé chargée')")
        assert status.inner_text().endswith(key_id)
        assert page.input_value("#ws-org") == "atelier-oubli"
        page.get_by_role("button", name="Oublier cette clé").click()
        page.wait_for_function(
            "() => document.getElementById('ws-key-status').innerText.includes('Aucune clé')")
        page.reload()
        page.locator("#workspace[data-ready]").wait_for(state="attached")
        assert status.inner_text() == "Aucune clé n'est chargée."
        # Without a key nothing is signed; the page says so.
        page.locator("#ws-join").get_by_role("button", name="Relire avant de signer").click()
        assert "Chargez ou créez" in page.locator("#ws-join .ws-result").inner_text()
        assert tab.errors == []
    finally:
        tab.close()


def test_the_workspace_fits_a_phone(site, browser):
    # 375 px: the forms, the key's file input and a statement shown before signing fit.
    tab = Tab(browser, viewport={"width": 375, "height": 740})
    try:
        page = tab.page
        page.goto(site.url + "/espace")
        page.fill("#ws-org", "atelier-telephone")
        page.get_by_role("button", name="Créer une nouvelle clé").click()
        page.locator("#ws-key-download").wait_for(state="visible")
        page.fill("#ws-name", "Atelier du téléphone, un nom assez long pour passer à la ligne")
        page.locator("#ws-register").get_by_role("button", name="Relire avant de signer").click()
        page.locator("#ws-register .ws-preview").wait_for(state="visible")
        wide = page.evaluate("""() => {
            const out = [];
            for (const el of document.querySelectorAll('body *')) {
                const r = el.getBoundingClientRect();
                if (r.width && r.right > window.innerWidth + 1)
                    out.push(el.tagName + '#' + el.id + ' ' + Math.round(r.right));
            }
            return out.slice(0, 10);
        }""")
        assert wide == []
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
        page.screenshot(path=str(ARTIFACTS / "workspace-phone.png"), full_page=True)
        assert tab.errors == []
    finally:
        tab.close()


def test_a_profile_out_of_bounds_is_refused_with_its_field(site, browser):
    tab = Tab(browser)
    try:
        page = tab.page
        page.goto(site.url + "/espace")
        page.fill("#ws-org", "atelier-profil")
        page.get_by_role("button", name="Créer une nouvelle clé").click()
        page.locator("#ws-key-download").wait_for(state="visible")
        page.fill("#ws-name", "Atelier du profil")
        page.fill("#ws-website", "ftp://atelier.example")
        page.fill("#ws-sector", "culture")
        form = page.locator("#ws-register")
        form.get_by_role("button", name="Relire avant de signer").click()
        shown = form.locator("pre.ws-json")
        shown.wait_for(state="visible")
        assert json.loads(shown.inner_text())["data"]["profile"] == {
            "website": "ftp://atelier.example", "sector": "culture"}
        form.get_by_role("button", name="Signer et envoyer").click()
        form.locator(".ws-result [role=alert]").wait_for(timeout=SIGNED)
        assert form.locator(".ws-result").inner_text() == (
            "Refusé : Le nom ou le profil de l'organisme sort du schéma permis.")
        marked = page.locator("[aria-invalid=true]")
        assert marked.count() == 1
        assert marked.get_attribute("id") == "ws-website"
        assert tab.errors == []
    finally:
        tab.close()


def _refused_before_signing(ws: Workspace, form: str, **fields: str) -> str:
    """Fill the form and review it: the page refuses before anything is signed."""
    f = ws.page.locator(f"#ws-{form}")
    for name, value in fields.items():
        f.locator(f"[name={name}]").fill(value)
    f.get_by_role("button", name="Relire avant de signer").click()
    f.locator(".ws-result [role=alert]").wait_for(timeout=SIGNED)
    assert f.locator(".ws-preview").is_hidden()
    return str(f.locator(".ws-result").inner_text())


def test_every_other_step_and_a_key_rotation_in_the_browser(site, browser):
    """Revise, withdraw and acknowledge expectations addressed to some parties; decline and
    relinquish roles; amend and withdraw a commitment; contest a fulfilment; give and
    withdraw a consent; suspend, resume, withdraw with notice, terminate; add a key, sign
    with it, revoke the old one — each signed in the page and recorded."""
    c = Workspace(site, browser, "atelier-c")
    d = Workspace(site, browser, "atelier-d")
    agreement = "formes-ws-2026"
    try:
        for ws, name in ((c, "Atelier C"), (d, "Atelier D")):
            ws.page.get_by_role("button", name="Créer une nouvelle clé").click()
            ws.page.wait_for_function(
                "() => document.getElementById('ws-key-status').innerText.includes('Clé chargée')")
            assert "Inscrit au journal" in ws.step("register", name=name)
            ws.set_agreement(agreement)
        ok = "Inscrit au journal"
        assert ok in c.step("draft", title="Formes", purpose="Tout essayer.", invited="atelier-d")
        assert ok in d.step("join")

        # Expectations addressed to some parties; acknowledging is not agreeing.
        assert ok in c.step("expect", expectation_id="e1", text="Première version.",
                            addressed_to="atelier-d")
        assert c.shown["data"]["addressed_to"] == ["atelier-d"]
        assert ok in c.step("revise", expectation_id="e1", text="Deuxième version.",
                            addressed_to="atelier-d")
        assert "n'est pas y adhérer" in d.page.locator("#ws-ack").inner_text()
        assert ok in d.step("ack", expectation_id="e1")
        assert ok in c.step("unexpect", expectation_id="e1", reason="Réglé autrement.")

        # Roles: declined, then another accepted and relinquished.
        role = {"description": "Tenir le calendrier.", "assignee": "atelier-d"}
        assert ok in c.step("role", role_id="r1", name="Calendrier", **role)
        assert ok in d.step("decline", role_id="r1", reason="Pas cette année.")
        assert ok in c.step("role", role_id="r2", name="Calendrier bis", **role)
        assert ok in d.step("roleaccept", role_id="r2")
        assert ok in d.step("relinquish", role_id="r2")

        # A commitment amended then withdrawn; another fulfilled and contested.
        offer = {"category": "equipment", "description": "Projecteur.", "quantity_amount": "1",
                 "quantity_unit": "projector", "period_start": "2027-01-01",
                 "period_end": "2027-06-30", "receiver": "atelier-d"}
        # Amounts are decimal strings with a point; a period does not end before it starts.
        bad = dict(offer, commitment_id="k1", quantity_amount="1,5")
        del bad["category"]
        said = _refused_before_signing(c, "offer", **bad)
        assert "point" in said, said
        assert c.page.get_attribute("#ws-offer-quantity-amount", "aria-invalid") == "true"
        said = _refused_before_signing(c, "offer", quantity_amount="1", period_end="2026-12-31")
        assert "finit avant de commencer" in said, said
        assert c.page.get_attribute("#ws-offer-end", "aria-invalid") == "true"
        assert ok in c.step("offer", commitment_id="k1", **offer)
        assert ok in c.step("amend", commitment_id="k1", **dict(offer, quantity_amount="2"))
        assert c.shown["type"] == "commitment.amended"
        assert c.shown["data"]["quantity"] == {"amount": "2", "unit": "projector"}
        assert ok in c.step("unoffer", commitment_id="k1", reason="Projecteurs vendus.")
        assert ok in c.step("offer", commitment_id="k2", **offer)
        assert ok in c.step("fulfil", fulfilment_id="f1", commitment_id="k2",
                            quantity_amount="1", quantity_unit="projector",
                            period_start="2027-01-01", period_end="2027-01-31")
        assert ok in d.step("contest", fulfilment_id="f1", reason="Jamais reçu.")

        # A consent with a date that does not exist is refused before signing.
        c.page.locator("#ws-consent-scope-commitment").check()
        c.page.locator("#ws-consent-scope-agreement").check()
        said = _refused_before_signing(c, "consent", consent_id="s1", trust_id="culturepedia",
                                       purpose="Statistiques.", licence="CC BY 4.0",
                                       expires_on="2030-02-30")
        assert "un jour qui existe" in said, said
        assert c.page.get_attribute("#ws-consent-expires_on", "aria-invalid") == "true"
        assert ok in c.step("consent", expires_on="2030-02-28")
        assert c.shown["data"]["scope"] == ["agreement", "commitment"]
        assert ok in c.step("unconsent", consent_id="s1")

        # A key rotation: the new key is added (signed by the old), signs from then on,
        # and the old one is revoked; the last valid key cannot be.
        old = c.page.locator("#ws-key-status").inner_text().rsplit(" ", 1)[-1]
        c.page.get_by_role("button", name="Créer la nouvelle clé").click()
        c.page.wait_for_function(
            "() => document.getElementById('ws-keyadd-status').innerText.includes('prête')")
        new = c.page.locator("#ws-keyadd-status").inner_text().rsplit(" ", 1)[-1]
        assert ok in c.step("keyadd", label="poste 2")
        assert c.shown["key"] == old
        assert c.page.locator("#ws-key-status").inner_text().endswith(new)
        assert ok in c.step("keyrevoke", key_id=old)
        assert c.shown["key"] == new
        said = _refused_before_signing(c, "keyrevoke", key_id=new)
        assert "dernière clé" in said, said

        # Suspend, resume, withdraw with notice, terminate.
        assert ok in c.step("suspend", reason="Pause estivale.")
        assert c.shown["key"] == new
        assert ok in d.step("resume")
        today = datetime.now(UTC).date().isoformat()
        assert ok in d.step("withdraw", effective_on=today, reason="Fin de nos activités.")
        assert ok in c.step("terminate", reason="Plus qu'un seul organisme.")
        view = httpx.get(f"{site.url}/v1/agreements/{agreement}",
                         headers={"Authorization": f"Bearer {site.token('auditor', 'x')}"},
                         timeout=10).json()
        assert view["state"]["status"] == "terminated"
        assert c.tab.errors == [] and d.tab.errors == []
    finally:
        c.tab.close()
        d.tab.close()


def _waits_for(ws: Workspace, text: str, present: bool = True) -> None:
    """The attention list shows (or no longer shows) `text`, without "Actualiser"."""
    ws.page.wait_for_function(
        "([t, present]) => document.getElementById('ws-attention').innerText.includes(t)"
        " === present", arg=[text, present], timeout=SIGNED)


def test_what_needs_my_attention_is_live(site, browser):
    """The other organization's list follows the log's stream: an invitation, a role
    proposed, a stage to acknowledge, a fulfilment to confirm, a measure due appear as the
    other side signs, and leave once answered; hiding the page closes the stream."""
    e = Workspace(site, browser, "atelier-e")
    f = Workspace(site, browser, "atelier-f")
    agreement = "attention-ws-2026"
    try:
        for ws, name in ((e, "Atelier E"), (f, "Atelier F")):
            ws.page.get_by_role("button", name="Créer une nouvelle clé").click()
            ws.page.wait_for_function(
                "() => document.getElementById('ws-key-status').innerText.includes('Clé chargée')")
            assert "Inscrit au journal" in ws.step("register", name=name)
            ws.set_agreement(agreement)
        ok = "Inscrit au journal"
        assert ok in e.step("draft", title="Attention", purpose="Voir venir.",
                            invited="atelier-f")
        _waits_for(f, "invité à se joindre")
        f.page.wait_for_function("() => document.getElementById('workspace').dataset.live"
                                 " === 'open'", timeout=SIGNED)
        # A non-party acting: the server's refusal, in the page's words.
        said = f.step("porteur", person_id="p-atelier-f")
        assert "Refusé" in said and "n'est pas partie" in said, said
        assert ok in f.step("join")
        _waits_for(f, "invité à se joindre", present=False)

        assert ok in e.step("role", role_id="r1", name="Calendrier",
                            description="Tenir le calendrier.", assignee="atelier-f")
        _waits_for(f, "Rôle « r1 » (Calendrier) proposé à votre organisme par atelier-e.")
        f.page.get_by_role("listitem").filter(has_text="« r1 »").get_by_role(
            "button", name="Remplir le formulaire").click()
        assert f.page.input_value("#ws-roleaccept-role_id") == "r1"
        assert ok in f.step("roleaccept")
        _waits_for(f, "« r1 »", present=False)
        # A stale ratification: version 1 is no longer the terms' version; refused before
        # signing, from the history the page verified.
        said = _refused_before_signing(e, "ratify", version="1")
        assert "pas la version actuelle des termes" in said, said

        assert ok in e.step("stage", stage="get_acquainted")
        _waits_for(f, "Étape « 2.")
        f.page.get_by_role("listitem").filter(has_text="Étape").get_by_role(
            "button", name="Remplir le formulaire").click()
        assert f.page.input_value("#ws-stageack-stage") == "get_acquainted"
        assert ok in f.step("stageack")
        _waits_for(f, "Étape « 2.", present=False)

        today = datetime.now(UTC).date().isoformat()
        assert ok in e.step("offer", commitment_id="k1", category="services",
                            description="Graphisme.", quantity_amount="10",
                            quantity_unit="hour", period_start="2026-01-01",
                            period_end="2030-12-31", receiver="atelier-f")
        assert ok in e.step("fulfil", fulfilment_id="f1", commitment_id="k1",
                            quantity_amount="2", quantity_unit="hour",
                            period_start=today, period_end=today)
        _waits_for(f, "Contribution « f1 » de atelier-e à confirmer ou contester.")
        assert ok in f.step("confirm", fulfilment_id="f1")
        _waits_for(f, "« f1 »", present=False)

        assert ok in f.step("indicator", indicator_id="i1", name="Heures", unit="hour",
                            method="Somme.")
        _waits_for(f, "Indicateur « i1 » (Heures) : aucune mesure pour la période en cours.")
        evidence = Path(__file__).with_name("conftest.py")
        assert ok in f.step("measure", measurement_id="m1", indicator_id="i1",
                            period_start=today, period_end=today, value="2",
                            evidence=evidence)
        _waits_for(f, "« i1 »", present=False)
        # E's own list: its stage to acknowledge and the terms to ratify, not F's items.
        _waits_for(e, "Version")
        mine = e.page.locator("#ws-attention").inner_text()
        assert "Étape « 2." in mine and not any(x in mine for x in ("r1", "f1", "i1")), mine

        # Hiding the page ends its stream (the request is aborted).
        failed: list[str] = []
        f.page.on("requestfailed", lambda r: failed.append(r.url))
        f.page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide'))")
        f.page.wait_for_function("() => document.getElementById('workspace').dataset.live"
                                 " === 'closed'")
        f.page.wait_for_timeout(200)
        assert any("/v1/stream" in u for u in failed), failed
        assert e.tab.errors == [] and f.tab.errors == []
    finally:
        e.tab.close()
        f.tab.close()
