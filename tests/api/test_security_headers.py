"""Every answer carries the security headers: JSON, problem+json (routed refusals,
the append route's own refusals and 404s), the append route's 201, the metrics text
and Server-Sent Events. Only the documentation page has a policy of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ledger.api.security_headers import API_CSP
from tests.api.conftest import Agreement, body, in_app
from tests.helpers import org

pytestmark = pytest.mark.pg

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}


def assert_secured(headers: Any, csp: str = API_CSP) -> None:
    for name, value in EXPECTED.items():
        assert headers.get_list(name) == [value], (name, headers)
    assert headers.get_list("content-security-policy") == [csp], headers


async def test_json_answers(client):
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert_secured(r.headers)


async def test_problem_answers(client):
    r = await client.get("/v1/no-such-route")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert_secured(r.headers)
    r = await client.get("/v1/log/entries")  # no token
    assert r.status_code == 401
    assert_secured(r.headers)


async def test_the_append_route(client):
    acme = org("centre-arts")
    chain = Agreement(acme, "a1")
    r = await client.post("/v1/events", json=body(acme.registration("A"), chain.next()))
    assert r.status_code == 201
    assert_secured(r.headers)
    r = await client.post("/v1/events", json=body(Agreement(acme, "a1").next()))
    assert r.status_code == 409  # answered by the route's middleware itself
    assert_secured(r.headers)
    r = await client.post("/v1/events", content=b"x" * 300_000)
    assert r.status_code == 413  # answered by Litestar behind it
    assert_secured(r.headers)


async def test_metrics_text(client):
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert_secured(r.headers)


async def test_server_sent_events(client):
    """The stream's response start, read at the ASGI level (the test client would wait
    for the stream's end); the client then goes away."""
    sent: list[dict[str, Any]] = []
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        started.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/v1/stream", "raw_path":
             b"/v1/stream", "root_path": "", "query_string": b"", "client": ("t", 1),
             "server": ("t", 80), "headers": [(b"accept", b"text/event-stream")]}

    async def call(_ledger: Any) -> None:
        async with asyncio.timeout(10):
            await client.app(scope, receive, send)

    in_app(client, call)
    start = sent[0]
    assert start["type"] == "http.response.start" and start["status"] == 200, sent
    headers = [(k.decode().lower(), v.decode()) for k, v in start["headers"]]
    assert any(k == "content-type" and v.startswith("text/event-stream") for k, v in headers)
    for name, value in EXPECTED.items():
        assert [v for k, v in headers if k == name] == [value], (name, headers)
    assert [v for k, v in headers if k == "content-security-policy"] == [API_CSP]
