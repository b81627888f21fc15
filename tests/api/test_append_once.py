"""POST /v1/events runs each append once, accepted or refused.

The store's work (decoding, key look-ups, signature checks, the rules, the database
round trips) is counted per request: a refused append must not be run a second time
to produce its answer (a transient error would become a silent retry, and every
refusal would cost twice)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ledger.db import DATABASE_DOWN
from tests.api.conftest import Agreement, assert_problem, body, in_app
from tests.helpers import org

pytestmark = pytest.mark.pg


class Counted:
    """Calls of the app's store ``append`` and of its signature checks."""

    def __init__(self) -> None:
        self.appends = 0
        self.signature_checks = 0


@pytest.fixture
def counted(client: Any, monkeypatch: pytest.MonkeyPatch) -> Counted:
    store = client.app.state.ledger.store
    seen = Counted()
    append, check = store.append, store._check_signatures

    async def counting_append(*args: Any, **kwargs: Any) -> Any:
        seen.appends += 1
        return await append(*args, **kwargs)

    async def counting_check(*args: Any, **kwargs: Any) -> Any:
        seen.signature_checks += 1
        return await check(*args, **kwargs)

    monkeypatch.setattr(store, "append", counting_append)
    monkeypatch.setattr(store, "_check_signatures", counting_check)
    return seen


def _counts(client: Any) -> dict[str, int]:
    """This process's request counts for POST /v1/events, by status."""
    registry = client.app.state.metrics.registry
    return {s.labels["status"]: int(s.value) for family in registry.collect()
            if family.name == "ledger_http_requests" for s in family.samples
            if s.name == "ledger_http_requests_total" and s.labels["method"] == "POST"
            and s.labels["route"] == "/v1/events"}


async def test_an_accepted_append_runs_once(client, counted):
    acme = org("centre-arts")
    r = await client.post("/v1/events", json=body(acme.registration("A"),
                                                  Agreement(acme, "a1").next()))
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    assert [x["version"] for x in r.json()["receipts"]] == [1, 1]
    assert (counted.appends, counted.signature_checks) == (1, 1)
    assert _counts(client) == {"201": 1}


async def test_a_refused_append_runs_once(client, counted):
    """A version conflict is found after the signatures are checked: answered from
    that one run."""
    acme = org("centre-arts")
    chain = Agreement(acme, "a1")
    assert (await client.post("/v1/events", json=body(acme.registration("A"),
                                                      chain.next()))).status_code == 201
    stale = Agreement(acme, "a1")  # version 1 again
    r = await client.post("/v1/events", json=body(stale.next()))
    assert_problem(r, 409, "stream-version-conflict", field="version")
    assert (counted.appends, counted.signature_checks) == (2, 2)  # one per request
    assert _counts(client) == {"201": 1, "409": 1}


async def test_a_bad_signature_is_checked_once(client, counted):
    acme = org("centre-arts")
    doc = body(acme.registration("A"))
    doc["events"][0]["signatures"][0]["sig"] = "A" * 86 + "=="
    r = await client.post("/v1/events", json=doc)
    assert_problem(r, 401, "signature-invalid", index=0)
    assert (counted.appends, counted.signature_checks) == (1, 1)
    assert _counts(client) == {"401": 1}


async def test_a_refusal_before_the_store_does_not_reach_it(client, counted):
    r = await client.post("/v1/events", content=b'{"events": []}',
                          headers={"content-type": "application/json"})
    assert_problem(r, 400, "request-malformed", field="events")
    assert (counted.appends, counted.signature_checks) == (0, 0)
    assert _counts(client) == {"400": 1}


async def test_a_chunked_append_runs_once(client, counted):
    """Without Content-Length the body is read by Litestar (with its size limit); the
    append still runs once. (Called at the ASGI level: the test client cannot stream.)"""
    acme = org("centre-arts")
    payload = msgspec.json.encode(body(acme.registration("A")))
    parts = [{"type": "http.request", "body": payload[:10], "more_body": True},
             {"type": "http.request", "body": payload[10:], "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return parts.pop(0) if parts else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/events", "raw_path":
             b"/v1/events", "root_path": "", "query_string": b"", "client": ("t", 1),
             "server": ("t", 80), "headers": [(b"content-type", b"application/json")]}

    async def call(_ledger: Any) -> None:
        await client.app(scope, receive, send)

    in_app(client, call)  # on the app's event loop
    assert sent[0]["status"] == 201, sent
    answer = b"".join(m.get("body", b"") for m in sent[1:])
    assert msgspec.json.decode(answer)["receipts"][0]["stream"] == "org/centre-arts"
    assert (counted.appends, counted.signature_checks) == (1, 1)
    assert _counts(client) == {"201": 1}


@pytest.mark.parametrize("error", list(DATABASE_DOWN),
                         ids=lambda cls: cls.__name__)
async def test_a_database_down_error_is_503_once(client, monkeypatch, error):
    """Every error of the one "database unavailable" list is answered 503 with
    Retry-After by the append route, from one run (nothing retried behind the client)."""
    calls: list[int] = []

    async def down(*_args: Any, **_kwargs: Any) -> Any:
        calls.append(1)
        raise error("the database went away")

    monkeypatch.setattr(client.app.state.ledger.store, "append", down)
    r = await client.post("/v1/events", json=body(org("centre-arts").registration("A")))
    doc = assert_problem(r, 503, "unavailable")
    assert "went away" not in doc["detail"]  # the driver's words stay in the server's log
    assert r.headers["Retry-After"] == "1"
    assert calls == [1]
