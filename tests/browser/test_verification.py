"""The register's pages verified in the reader's own browser (issue #17), joined end to
end against the demo's ledger: the page's script loads the verifier, which reads the
ledger's API and writes its sentence (green, ``role=status``); a changed log key is a red
warning; the register offers the standalone ``verify.html``, which works as served and
opened from a ``file://`` URL on an exported bundle, and names a tampered signature.
Tampering with the database itself is ``test_verification_tamper.py`` (its own ledger)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTIFACTS, Tab

pytestmark = [pytest.mark.pg, pytest.mark.browser]

VERIFIED = re.compile(r"^Vérifié dans votre navigateur : (\d+) signatures?, (\d+) preuves? "
                      r"d'inclusion")
GREEN, RED = "rgb(10, 107, 45)", "rgb(164, 0, 15)"
#: The verification has written its answer (not the page's "starting" nor "running").
SETTLED = ("(sel) => { const el = document.querySelector(sel);"
           " return !!el && ['ok', 'failed', 'pending'].includes(el.dataset.verification); }")
STANDALONE = (Path(__file__).resolve().parents[2] / "api" / "web" / "static"
              / "verify.html")


class Console(Tab):
    """A tab that keeps every console error (a 404, a failed import), not only the CSP
    reports."""

    def __init__(self, browser: Any, **options: Any) -> None:
        super().__init__(browser, **options)
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                     if m.type == "error" and "Content Security Policy" not in m.text
                     else None)


def settled(page: Any, selector: str = ".verification") -> Any:
    """The verification's element once it has answered (30 s at most)."""
    page.wait_for_function(SETTLED, arg=selector, timeout=30_000)
    return page.locator(selector)


def assert_verified(box: Any) -> tuple[int, int]:
    text = box.inner_text()
    found = VERIFIED.match(text)
    assert found, text
    assert box.get_attribute("role") == "status"
    assert box.get_attribute("data-verification") == "ok"
    assert box.evaluate("(e) => getComputedStyle(e).color") == GREEN
    return int(found[1]), int(found[2])


def test_agreement_and_organization_pages_verify_in_the_browser(site, browser):
    tab = Console(browser)
    try:
        page = tab.page
        page.goto(f"{site.url}/agreements/{site.demo.agreement_id}")
        signatures, inclusions = assert_verified(settled(page))
        assert signatures >= 10 and inclusions == signatures, (signatures, inclusions)
        assert "empreinte des termes conforme" in page.locator(".verification").inner_text()
        tab.page.screenshot(path=str(ARTIFACTS / "agreement-verified.png"), full_page=True)
        page.locator(".verification").screenshot(
            path=str(ARTIFACTS / "agreement-verified-box.png"))
        page.goto(site.url + "/")
        page.locator("ul.orgs a").first.click()
        page.wait_for_load_state()
        signatures, inclusions = assert_verified(settled(page))
        assert signatures >= 1 and inclusions == signatures
        assert tab.errors == []
    finally:
        tab.close()


def test_the_page_is_held_to_what_it_shows(site, browser):
    """The page tells the verifier the stream's last version and event hash it rendered;
    a page that showed an older version (here its HTML rewritten on the way) is a
    failure, not a success over events the reader did not see."""
    tab = Console(browser)
    try:
        page = tab.page
        url = f"{site.url}/agreements/{site.demo.agreement_id}"
        page.goto(url)
        box = settled(page)
        version = int(box.get_attribute("data-version"))
        assert re.fullmatch(r"[0-9a-f]{64}", box.get_attribute("data-head-hash"))
        assert_verified(box)

        def older(route: Any) -> None:
            html = route.fetch().text().replace(
                f'data-version="{version}"', f'data-version="{version - 1}"')
            route.fulfill(body=html, content_type="text/html; charset=utf-8")

        page.route(url, older)
        page.reload()
        text = settled(page).inner_text()
        assert text.startswith("Échec de la vérification : Le registre a répondu avec "
                               "d'autres événements que ceux que montre la page."), text
        assert f"the page shows version {version - 1}" in text
        assert not VERIFIED.search(text)
    finally:
        tab.close()


def test_the_session_token_reaches_the_verifier(site, browser):
    """With a token typed into the page (an agreement that is not public needs one), the
    verifier's reads of the API carry it, and the page still verifies."""
    token = site.token("auditor", "vérificatrice-navigateur")
    tab = Console(browser)
    try:
        page = tab.page
        sent: list[tuple[str, str | None]] = []
        page.on("request", lambda r: sent.append((r.url, r.headers.get("authorization")))
                if "/v1/" in r.url else None)
        page.goto(f"{site.url}/agreements/{site.demo.agreement_id}")
        settled(page)
        assert sent and all(auth is None for _, auth in sent), sent  # none yet
        before = len(sent)
        page.get_by_label("Jeton (ml_…)").fill(token)
        page.get_by_role("button", name="Utiliser").click()  # the page reloads
        page.wait_for_function("() => document.body.dataset.status === '200'")
        assert_verified(settled(page))
        after = sent[before:]
        assert any("/proofs" in url for url, _ in after), after
        assert all(auth == f"Bearer {token}" for _, auth in after), after
        assert tab.errors == []
    finally:
        tab.close()


def test_a_changed_log_key_is_a_red_warning(site, browser):
    """The first visit pins the ledger's key in localStorage; another key pinned there
    (what a browser that met a different ledger at this address holds) makes the next
    visit a red warning that verifies nothing and shows both fingerprints."""
    tab = Console(browser)
    try:
        page = tab.page
        url = f"{site.url}/agreements/{site.demo.agreement_id}"
        page.goto(url)
        assert "épinglée maintenant" in settled(page).inner_text()
        page.reload()
        assert "Clé du registre :" in settled(page).inner_text()  # the pin matched
        pinned = page.evaluate("""() => Object.keys(localStorage)
            .filter((k) => k.startsWith('mutualisation-ledger.verify.key:'))""")
        assert len(pinned) == 1, pinned
        other = _another_vkey(page.evaluate("(k) => localStorage.getItem(k)", pinned[0]))
        page.evaluate("([k, v]) => localStorage.setItem(k, v)", [pinned[0], other])
        page.reload()
        box = settled(page)
        text = box.inner_text()
        assert text.startswith("Échec de la vérification : La clé du registre a changé"), text
        assert "votre navigateur avait épinglé" in text
        assert box.get_attribute("data-verification") == "failed"
        assert box.evaluate("(e) => getComputedStyle(e).color") == RED
        assert not VERIFIED.search(text)
        tab.page.screenshot(path=str(ARTIFACTS / "agreement-key-changed.png"), full_page=True)
        assert tab.errors == []
    finally:
        tab.close()


def _another_vkey(vkey: str) -> str:
    """A well-formed verifier key of the same name for a fresh key pair."""
    from ledger.checkpoint import make_vkey
    from ledger.keys import generate_private_key

    other = make_vkey(vkey.split("+")[0], generate_private_key().public_key())
    assert other != vkey
    return other


def test_the_register_offers_the_standalone_verifier_and_it_works_as_served(site, browser):
    tab = Console(browser)
    try:
        page = tab.page
        page.goto(site.url + "/")
        link = page.get_by_role("link", name=re.compile("verify.html"))
        assert link.count() == 1
        href = link.get_attribute("href")
        with page.expect_download() as download:
            link.click()  # download="verify.html": the browser saves it
        saved = Path(download.value.path())
        assert saved.read_bytes() == STANDALONE.read_bytes()
        for path in (href, "/static/verify.html"):  # where the docs say it is, too
            page.goto(site.url + path)
            page.locator("#base").fill(site.url)
            page.locator("#subject-id").fill(site.demo.agreement_id)
            page.get_by_role("button", name="Vérifier · Verify").click()
            box = settled(page, "#verify-result")
            assert VERIFIED.match(box.inner_text()), (path, box.inner_text())
        assert tab.errors == []
    finally:
        tab.close()


def test_the_standalone_verifier_checks_a_bundle_from_disk(site, browser, tmp_path):
    bundle = tmp_path / "registre.jsonl"
    made = subprocess.run([sys.executable, "-m", "ledger", "export", "--out", str(bundle),
                           "--json"], env=site.env, text=True, capture_output=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    lines = bundle.read_bytes().splitlines(keepends=True)
    tampered = tmp_path / "registre-modifie.jsonl"
    at, line = _a_signed_line(lines)
    lines[at] = _flip_signature_byte(line)
    tampered.write_bytes(b"".join(lines))
    tab = Console(browser)
    try:
        page = tab.page
        page.goto(STANDALONE.as_uri())
        page.locator("#bundle").set_input_files(str(bundle))
        page.get_by_role("button", name="Vérifier · Verify").click()
        box = settled(page, "#verify-result")
        found = VERIFIED.match(box.inner_text())
        assert found, box.inner_text()
        assert int(found[1]) >= 40
        tab.page.screenshot(path=str(ARTIFACTS / "standalone-bundle-verified.png"))
        page.reload()
        page.locator("#bundle").set_input_files(str(tampered))
        page.get_by_role("button", name="Vérifier · Verify").click()
        box = settled(page, "#verify-result")
        text = box.inner_text()
        assert box.get_attribute("data-verification") == "failed", text
        assert text.startswith("Échec de la vérification : Une signature"), text
        assert not VERIFIED.search(text)
        tab.page.screenshot(path=str(ARTIFACTS / "standalone-bundle-tampered.png"))
        assert tab.errors == []
    finally:
        tab.close()


def _a_signed_line(lines: list[bytes]) -> tuple[int, bytes]:
    """The bundle's last line holding a signed envelope (an agreement's event, late in
    the log)."""
    for at in range(len(lines) - 1, -1, -1):
        if b'\\"sig\\":\\"' in lines[at] or b'"sig":"' in lines[at]:
            return at, lines[at]
    raise AssertionError("no signed entry in the bundle: " + json.dumps(
        [line[:80].decode() for line in lines[:3]]))


def _flip_signature_byte(line: bytes) -> bytes:
    mark = b'\\"sig\\":\\"' if b'\\"sig\\":\\"' in line else b'"sig":"'
    at = line.index(mark) + len(mark) + 10
    out = bytearray(line)
    out[at] = ord("B") if out[at] != ord("B") else ord("C")
    return bytes(out)
