"""The register's pages over HTTP (no browser): who sees what is the API's answer,
refusals and absences are pages, the language follows the switch and the browser,
every page keeps a strict CSP, and the API's reads are open to other origins (GET
only, no credentials)."""

from __future__ import annotations

import asyncio

import pytest

from ledger.api.security_headers import WEB_CSP
from ledger.api.web.i18n import STRINGS, choose_lang, words
from tests.api.conftest import Agreement, body, token_for
from tests.helpers import org

pytestmark = pytest.mark.pg


async def _two_agreements(client, auditor) -> None:
    a, b = org("centre-arts"), org("lieu-b")
    await client.post("/v1/events", json=body(a.registration("A"), b.registration("B")))
    public = {"agreement_id": "public-1", "title": "Locaux partagés", "purpose": "Partager",
              "binding": False, "public": True}
    r = await client.post("/v1/events", json=body(
        Agreement(a, "prive").next(), Agreement(b, "public-1").next("agreement.drafted",
                                                                    public)))
    assert r.status_code == 201, r.text
    for _ in range(100):  # the list reads the projections, which follow in the background
        if len((await client.get("/v1/agreements", headers=auditor)).json()["agreements"]) == 2:
            return
        await asyncio.sleep(0.05)


async def test_pages_show_what_the_api_answers_the_same_token(client, auditor):
    await _two_agreements(client, auditor)
    anonymous = await client.get("/")
    assert anonymous.status_code == 200
    assert anonymous.headers["content-security-policy"] == WEB_CSP
    assert "'unsafe-inline'" not in WEB_CSP and "form-action 'self'" in WEB_CSP
    assert "Locaux partagés" in anonymous.text and "/agreements/prive" not in anonymous.text
    mine = await client.get("/", headers=token_for(client, "org", "centre-arts"))
    assert "/agreements/prive" in mine.text
    # a private agreement: the API's refusal, as a page
    refused = await client.get("/agreements/prive")
    assert refused.status_code == 401 and refused.headers["content-type"].startswith(
        "text/html")
    assert "Jeton nécessaire ou refusé" in refused.text
    other = await client.get("/agreements/prive", headers=token_for(client, "org", "lieu-b"))
    assert other.status_code == 403 and "Accès refusé" in other.text
    assert (await client.get("/agreements/prive", headers=auditor)).status_code == 200
    bad = await client.get("/", headers={"Authorization": "Bearer ml_nope"})
    assert bad.status_code == 401 and "unknown token" in bad.text
    found = await client.get("/", params={"q": "LOCAUX", "status": "draft"})
    assert "/agreements/public-1" in found.text
    assert "/agreements/public-1" not in (await client.get("/", params={"q": "zzz"})).text
    assert "/agreements/public-1" in (await client.get("/", params={"org": "lieu-b"})).text
    assert "/agreements/public-1" not in (await client.get(
        "/", params={"org": "centre-arts"})).text
    shown = await client.get("/agreements/public-1")
    assert shown.status_code == 200 and "Locaux partagés" in shown.text
    assert 'data-agreement="public-1"' in shown.text
    printed = await client.get("/agreements/public-1/print")
    assert printed.status_code == 200 and "Entente de mutualisation" in printed.text
    assert "<svg" in printed.text and "qrline" in printed.text  # the page's address as QR
    org_page = await client.get("/organizations/centre-arts")
    assert org_page.status_code == 200 and "/agreements/prive" not in org_page.text
    log = await client.get("/log")
    assert log.status_code == 200 and "auditeur" in log.text
    audited = await client.get("/log", params={"position": "0"}, headers=auditor)
    assert audited.status_code == 200 and "Preuve d&#39;inclusion" in audited.text


async def test_unknown_things_are_404_pages_and_bad_input_is_a_page(client):
    for path in ("/agreements/nope", "/organizations/nope", "/agreements/nope/print"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert "Introuvable" in r.text and "<h1>" in r.text
    r = await client.get("/", params={"limit": "abc"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    r = await client.get("/", params={"q": "a\x00b"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    # an address that is no page: the 404 page for a browser, a problem for the API
    page = await client.get("/nowhere/at/all", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "Introuvable" in page.text
    api = await client.get("/v1/nowhere", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"].startswith(
        "application/problem+json")


async def test_language_by_switch_cookie_and_accept_language(client):
    fr = await client.get("/")
    assert 'lang="fr-CA"' in fr.text and fr.headers["content-language"] == "fr"
    en = await client.get("/", headers={"Accept-Language": "en-CA,en;q=0.9,fr;q=0.5"})
    assert 'lang="en-CA"' in en.text
    switched = await client.get("/", params={"lang": "en"})
    assert 'lang="en-CA"' in switched.text and "lang=en" in switched.headers["set-cookie"]
    assert 'lang="en-CA"' in (await client.get("/log")).text  # the cookie keeps it


def test_words_and_formats():
    assert STRINGS["fr"].keys() == STRINGS["en"].keys()
    assert choose_lang(None, None, "de-DE,en;q=0.8,fr;q=0.9") == "fr"
    assert choose_lang(None, None, "en-US") == "en"
    assert choose_lang("en", "fr", "fr") == "en" and choose_lang(None, "en", "fr") == "en"
    assert choose_lang(None, None, None) == "fr"
    fr, en = words("fr"), words("en")
    assert fr.date("2026-03-05") == "5 mars 2026" and en.date("2026-03-05") == "March 5, 2026"
    assert fr.date("2026-03-01T10:00:00Z") == "1er mars 2026"
    assert fr.amount("1500.5", "CAD") == "1\u00a0500,5\u00a0$"
    assert en.amount("1500.5", "CAD") == "$1,500.5"
    assert fr.amount("1", "hour") == "1\u00a0heure" and en.amount("2", "hour") == "2\u00a0hours"


async def test_reads_are_open_to_other_origins_writes_are_not(client):
    r = await client.get("/v1/log/key", headers={"Origin": "null"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    pre = await client.options("/v1/agreements/x", headers={
        "Origin": "null", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code in (200, 204)
    assert "GET" in pre.headers["access-control-allow-methods"]
    post = await client.options("/v1/events", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
    assert post.status_code >= 400 or "POST" not in post.headers.get(
        "access-control-allow-methods", "")


async def test_static_files_are_served_and_the_docs_stay_at_schema(client):
    js = await client.get("/static/js/page.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert (await client.get("/static/css/site.css")).status_code == 200
    assert (await client.get("/schema")).status_code == 200


async def test_the_workspace_is_a_page_of_forms_and_one_module(client):
    """/espace (and /workspace) is served in both languages under the pages' CSP: forms,
    no inline script or style, the module that signs, and a link from every page."""
    import re

    fr = await client.get("/espace")
    assert fr.status_code == 200 and fr.headers["content-security-policy"] == WEB_CSP
    assert "Espace de l&#39;organisme" in fr.text and "Signer et envoyer" in fr.text
    assert '<script type="module" src="/static/js/workspace.js"></script>' in fr.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", fr.text) is None  # nothing inline
    assert "style=" not in fr.text
    en = await client.get("/workspace", params={"lang": "en"})
    assert en.status_code == 200 and "Sign and send" in en.text
    assert "Forget this key" in en.text
    assert 'href="/espace"' in (await client.get("/")).text
    js = await client.get("/static/js/workspace.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


def test_charts_are_plain_svg_with_their_words_escaped():
    from decimal import Decimal

    from ledger.api.web.charts import Bar, Point, bars, line, to_decimal

    svg = line("<script>", [Point(f"p{i}", Decimal(i)) for i in range(16)], Decimal(20))
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'role="img"' in svg and "stroke-dasharray" in svg  # the target, dashed
    assert sum(f">p{i}<" in svg for i in range(16)) <= 5  # labels that do not overlap
    assert "style=" not in svg  # the pages' CSP allows no inline style
    b = bars("Valeurs", [Bar("heures", Decimal(120), Decimal(0))], "Donne", "Reçoit")
    assert b.count("<rect") == 4 and "style=" not in b
    assert to_decimal("1 500,5".replace(" ", "\u00a0")) == Decimal("1500.5")
    assert to_decimal("n/a") is None and to_decimal(None) is None
