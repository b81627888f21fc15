"""The register in a real browser (Debian's chromium through Playwright), against a
real ``ledger serve`` on PostgreSQL filled by the demo: the register lists the demo's
agreement, its page shows its terms, the written agreement prints, the pages pass
axe-core's WCAG 2 AA checks, read on a phone's width and keep their CSP. Screenshots
of the main pages are kept in ``tests/browser/artifacts/``."""

from __future__ import annotations

import pytest

from .conftest import ARTIFACTS, Tab, axe_violations

pytestmark = [pytest.mark.pg, pytest.mark.browser, pytest.mark.timeout(240)]


def _shot(tab: Tab, name: str) -> None:
    tab.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_register_lists_the_demo_and_reads_in_both_languages(site, browser):
    tab = Tab(browser, locale="fr-CA")
    try:
        page = tab.page
        response = page.goto(site.url + "/")
        assert response.status == 200
        assert page.locator("html").get_attribute("lang") == "fr-CA"
        assert page.get_by_role("heading", level=1).inner_text().startswith("Registre")
        link = page.get_by_role("link", name="Mutualisation des Rives 2027")
        assert link.count() == 1
        assert axe_violations(page) == []
        _shot(tab, "register-fr")
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en-CA"
        assert page.get_by_role("heading", level=1).inner_text().startswith("Register")
        # the filter form: by status, kept in English
        page.get_by_label("Status").select_option("in_force")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_load_state()
        assert "status=in_force" in page.url
        assert page.get_by_role("link", name="Mutualisation des Rives 2027").count() == 1
        assert tab.errors == []
    finally:
        tab.close()


def test_agreement_page_shows_its_terms_and_is_accessible(site, browser):
    tab = Tab(browser)
    try:
        page = tab.page
        page.goto(f"{site.url}/agreements/{site.demo.agreement_id}")
        assert page.get_by_role("heading", level=1).inner_text().startswith(
            "Mutualisation des Rives 2027")
        text = page.locator("main").inner_text()
        assert "Comptable partagée" in text  # a commitment of the demo, in the terms
        assert "En vigueur" in text
        assert page.locator(".document h3").count() >= 1  # the written agreement, under h2
        # the verification never leaves a blank: a result, or a message saying why not
        status = page.locator(".verification")
        status.wait_for()
        page.wait_for_function(
            "() => !document.querySelector('.verification').innerText.includes('démarre')",
            timeout=30_000)
        assert status.inner_text().strip()
        assert axe_violations(page) == []
        _shot(tab, "agreement-fr")
        assert tab.errors == []
    finally:
        tab.close()


def test_pages_fit_a_phone(site, browser):
    # a fixed 375 px layout viewport (a phone that would not zoom out): nothing may
    # stick out of it but what scrolls inside its own box (wide tables)
    tab = Tab(browser, viewport={"width": 375, "height": 740})
    try:
        page = tab.page
        for path, name in (("/", "register-phone"),
                           (f"/agreements/{site.demo.agreement_id}", "agreement-phone"),
                           (f"/agreements/{site.demo.agreement_id}/print", "print-phone")):
            page.goto(site.url + path)
            wide = page.evaluate("""() => {
                const out = [];
                for (const el of document.querySelectorAll('body *')) {
                    if (el.closest('.scroll')) continue;
                    const r = el.getBoundingClientRect();
                    if (r.width && r.right > window.innerWidth + 1)
                        out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
                }
                return out.slice(0, 10);
            }""")
            assert wide == [], (path, wide)
            assert page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth") <= 1
            assert axe_violations(page) == [], path
            _shot(tab, name)
    finally:
        tab.close()


def test_the_written_agreement_prints(site, browser):
    tab = Tab(browser)
    try:
        page = tab.page
        page.goto(f"{site.url}/agreements/{site.demo.agreement_id}/print?lang=en")
        assert "Mutualisation" in page.locator(".document").inner_text()
        summary = page.locator(".verification-summary").inner_text()
        assert site.demo.state_hash in summary
        assert f"/agreements/{site.demo.agreement_id}" in summary
        page.emulate_media(media="print")
        assert page.locator("header.site").is_hidden()
        assert page.locator("button[data-print]").is_hidden()
        for fmt in ("A4", "Letter"):
            pdf = page.pdf(format=fmt, print_background=False)
            assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
            (ARTIFACTS / f"agreement-{fmt}.pdf").write_bytes(pdf)
        _shot(tab, "print-en")  # as printed
        assert page.locator("figure.qr svg").is_visible()  # the page's address as QR
    finally:
        tab.close()


def test_an_organization_and_the_log(site, browser):
    tab = Tab(browser)
    try:
        page = tab.page
        page.goto(site.url + "/")
        page.locator("ul.orgs a").first.click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=2, name="Clés de signature").count() == 1
        assert page.locator("svg.chart").count() == 1  # its portfolio, from public terms
        assert axe_violations(page) == []
        _shot(tab, "organization-fr")
        page.goto(site.url + "/log")
        assert page.get_by_role("heading", level=1).inner_text() == "Journal de transparence"
        assert axe_violations(page) == []
        _shot(tab, "log-fr")
    finally:
        tab.close()


def test_unknown_agreement_and_refused_token_are_pages(site, browser):
    tab = Tab(browser)
    try:
        page = tab.page
        response = page.goto(site.url + "/agreements/nope-nope")
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Introuvable"
        assert axe_violations(page) == []
        _shot(tab, "not-found-fr")
        # a token the ledger does not know: the page says so, it is not blank
        page.goto(site.url + "/")
        page.get_by_label("Jeton (ml_…)").fill("ml_not-a-token")
        page.get_by_role("button", name="Utiliser").click()
        page.wait_for_function("() => document.body.dataset.status === '401'")
        assert page.get_by_role("heading", level=1).inner_text() == \
            "Jeton nécessaire ou refusé"
        assert "unknown token" in page.locator("main").inner_text()
        page.get_by_role("button", name="Oublier le jeton").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text().startswith("Registre")
    finally:
        tab.close()


def test_an_auditor_token_opens_the_log_and_provenance(site, browser):
    """The token typed into a page stays in the tab and opens what the API opens."""
    token = site.token("auditor", "vérificatrice")
    tab = Tab(browser)
    try:
        page = tab.page
        page.goto(site.url + "/provenance")
        page.get_by_label("Jeton (ml_…)").fill(token)
        page.get_by_role("button", name="Utiliser").click()
        page.wait_for_function("() => document.body.dataset.status === '200'")
        assert page.evaluate("() => sessionStorage.getItem('ledger.token')") == token
        page.get_by_label("Identifiant de l'entente").fill(site.demo.agreement_id)
        page.get_by_role("button", name="Demander").click()
        answer = page.locator("#provenance-answer")
        answer.locator("pre").wait_for()
        assert answer.inner_text().startswith("200 /v1/provenance/agreements/")
        assert site.demo.agreement_id in answer.locator("pre").inner_text()
        assert axe_violations(page) == []
        _shot(tab, "provenance-auditor")
        page.goto(site.url + "/log?position=0")  # the same tab: the token is still there
        page.wait_for_function("() => document.body.dataset.status === '200'")
        page.get_by_text("Preuve d'inclusion").wait_for()
        assert page.locator("details").count() >= 1  # the signed checkpoints
        assert axe_violations(page) == []
        _shot(tab, "log-auditor")
        assert tab.errors == []
    finally:
        tab.close()


def test_the_accessibility_check_can_fail(browser):
    """The checker itself: a page with a skipped heading level, an unlabelled field and
    grey-on-grey text is reported."""
    tab = Tab(browser)
    try:
        tab.page.set_content(
            "<!DOCTYPE html><html lang='fr'><head><title>x</title></head><body><main>"
            "<h1>Titre</h1><h4>Trop bas</h4><input type='text'>"
            "<p><font color='#aaaaaa'>pâle</font></p></main></body></html>")
        found = {v["id"] for v in axe_violations(tab.page)}
        assert {"heading-order", "label", "color-contrast"} <= found, found
    finally:
        tab.close()
