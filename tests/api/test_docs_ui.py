"""The API documentation works offline: its page names no other host, holds no inline
script, and every file it loads is served by the ledger, pinned; ``/`` leads to it."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from ledger.api.docs_ui import ASSETS, ASSETS_PATH
from ledger.api.security_headers import PAGE_CSP

pytestmark = pytest.mark.pg


class _Page(HTMLParser):
    """Every URL the page refers to, and its scripts' contents."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href", "data-schema-url", "action", "srcset", "poster"):
            if found.get(name):
                self.urls.append(str(found[name]))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


async def _page(client, path: str = "/schema") -> _Page:
    r = await client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == PAGE_CSP
    page = _Page()
    page.feed(r.text)
    assert "//" not in r.text.replace("<!DOCTYPE html>", "")  # no scheme-relative URL
    return page


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_the_page_names_no_other_host_and_has_no_inline_script(client, path):
    page = await _page(client, path)
    assert page.urls, "the page refers to its files"
    for url in page.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), url
    assert page.inline == []  # the CSP lets only files of the ledger run


async def test_every_file_of_the_page_is_served_as_committed(client):
    page = await _page(client)
    assets = [u for u in page.urls if u.startswith(ASSETS_PATH + "/")]
    assert {u.rsplit("/", 1)[1] for u in assets} >= {
        "swagger-ui-bundle.js", "swagger-ui.css", "docs-init.js", "favicon-32x32.png"}
    for url in assets:
        r = await client.get(url)
        assert r.status_code == 200, url
        assert r.content == (ASSETS / url.rsplit("/", 1)[1]).read_bytes(), url
        assert r.headers["x-content-type-options"] == "nosniff"
    js = await client.get(f"{ASSETS_PATH}/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"] and b"SwaggerUIBundle" in js.content
    css = await client.get(f"{ASSETS_PATH}/swagger-ui.css")
    assert css.headers["content-type"].startswith("text/css")
    schema = next(u for u in page.urls if u.endswith("openapi.json"))
    assert (await client.get(schema)).json()["openapi"].startswith("3.1")


def test_the_viewer_ships_with_its_licence():
    assert "Apache License" in (ASSETS / "LICENSE").read_text()
    assert (ASSETS / "NOTICE").read_text().startswith("swagger-ui")
    init = (ASSETS / "docs-init.js").read_text()
    assert "validatorUrl: null" in init and "http" not in init


async def test_the_register_links_to_the_docs(client):
    r = await client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert 'href="/schema"' in r.text
