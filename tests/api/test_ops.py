"""Health, readiness, metrics, OpenAPI, and the error contract for everything else:
unknown routes, database outages, and bugs (a bare 500 that leaks nothing)."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

import ledger.api.controllers.health as health
from ledger.api.metrics import Metrics
from ledger.db import Migration, migrations
from ledger.errors import Unavailable
from tests.api.conftest import Agreement, assert_problem, body
from tests.helpers import org

pytestmark = pytest.mark.pg

ROUTES = {
    ("post", "/v1/events"),
    ("get", "/v1/organizations/{org_id}"),
    ("get", "/v1/log/checkpoint"),
    ("get", "/v1/log/key"),
    ("get", "/v1/log/entries"),
    ("get", "/v1/log/proof/inclusion"),
    ("get", "/v1/log/proof/consistency"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
}


async def test_healthz_and_readyz(client):
    r = await client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = await client.get("/readyz")
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "ready" and doc["log_size"] == 0
    assert doc["migrations"] == [m.version for m in migrations()]


async def test_readyz_is_503_when_a_migration_is_missing(client, monkeypatch):
    extra = Migration(9999, "future", "SELECT 1")
    monkeypatch.setattr(health, "migrations", lambda: [*migrations(), extra])
    r = await client.get("/readyz")
    assert_problem(r, 503, "not-ready", missing=[9999])
    assert r.headers["Retry-After"] == "1"


async def test_readyz_is_503_when_the_database_is_down(client, monkeypatch):
    async def down(_ledger):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(health, "_probe", down)
    assert_problem(await client.get("/readyz"), 503, "not-ready")


_SAMPLE = re.compile(r'^[a-z_]+(\{([a-z]+="[^"]*",?)*\})? (\d+(\.\d+)?(e[-+]?\d+)?|\+Inf)$')


async def test_metrics_in_prometheus_text_format(client):
    acme = org("centre-arts")
    await client.post("/v1/events", json=body(acme.registration("C"),
                                              Agreement(acme, "a1").next()))
    await client.get("/healthz")
    await client.get("/v1/log/checkpoint")  # 401
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = r.text.splitlines()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or _SAMPLE.match(line), line
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(r.text) for s in family.samples}
    assert samples[("ledger_http_requests_total", (
        ("method", "POST"), ("route", "/v1/events"), ("status", "201")))] == 1
    assert [value for (name, labels), value in samples.items()
            if name == "ledger_http_requests_total" and ("status", "401") in labels
            and dict(labels)["route"].startswith("/v1/log/c")] == [1]
    assert samples[("ledger_http_request_duration_seconds_bucket", (
        ("le", "+Inf"), ("method", "GET"), ("route", "/healthz")))] == 1
    assert samples[("ledger_events_appended_total", ())] == 2
    assert samples[("ledger_log_size", ())] == 2
    assert "# TYPE ledger_http_request_duration_seconds histogram" in lines
    assert not any(name.endswith("_created") for name, _ in samples)


def test_metrics_count_an_unknown_method_as_other():
    """Whatever method token reaches the metrics, the label sets stay bounded."""
    metrics = Metrics()
    for method in ("BREW", "WHEN", "GET"):
        metrics.observe_request(method, "/healthz", 405, 0.001)
    text = metrics.render(log_size=None, checkpoint_size=None)
    assert 'ledger_http_requests_total{method="OTHER",route="/healthz",status="405"} 2.0' \
        in text.splitlines()
    assert "BREW" not in text and "WHEN" not in text and "ledger_log_size" not in text


async def test_openapi_lists_every_route_with_its_problems(client):
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    found = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert found >= ROUTES
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert "application/problem+json" in response["content"], (method, path)
            if path.startswith("/v1/"):
                assert {"500"} < set(op["responses"]), (method, path)
    events = doc["paths"]["/v1/events"]["post"]
    assert {"400", "401", "403", "409", "413", "422", "429", "503"} <= set(events["responses"])
    schema = events["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["events"]
    page = await client.get("/schema")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


async def test_unknown_route_and_method_are_problems(client):
    assert_problem(await client.get("/v2/nothing"), 404, "not-found")
    assert_problem(await client.delete("/v1/events"), 405, "method-not-allowed")


async def test_unavailable_is_503_with_retry_after(client, auditor):
    store = client.app.state.ledger.store

    async def refused(*_args, **_kwargs):
        raise Unavailable("database unreachable: connection refused")

    store.append = refused
    r = await client.post("/v1/events", json=body(org("centre-arts").registration("C")))
    assert_problem(r, 503, "unavailable")
    assert r.headers["Retry-After"] == "1"

    async def driver_down(*_args, **_kwargs):
        raise ConnectionResetError(104, "Connection reset by peer")

    client.app.state.ledger.router.primary.read_log = driver_down  # the page's reads
    r = await client.get("/v1/log/entries", headers=auditor)
    doc = assert_problem(r, 503, "unavailable")
    assert "reset" not in doc["detail"]


async def test_a_bug_is_a_bare_500(client, auditor):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("secret-internal-state at /srv/ledger/store.py line 42")

    client.app.state.ledger.store.size = broken
    r = await client.get("/v1/log/entries", headers=auditor)
    doc = assert_problem(r, 500, "internal-error")
    assert set(doc) == {"type", "title", "status", "detail"}
    assert "secret" not in r.text and "Traceback" not in r.text
