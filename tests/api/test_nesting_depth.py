"""POST /v1/events with JSON nested very deep, under the size limits: a typed 400
naming the depth limit (docs/PROTOCOL.md), never a 500, and nothing written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar

from ledger import b64
from ledger.admission import Limits
from ledger.api.app import create_app
from ledger.envelope import PAYLOAD_TYPE, pae
from tests.api.conftest import TEST_CONFIG, assert_problem, in_app, settings_for
from tests.helpers import org

pytestmark = pytest.mark.pg

MAX_DEPTH = 32  # docs/PROTOCOL.md
DEPTHS = [MAX_DEPTH + 1, 1000, 5000]


@pytest.fixture
def app(database: str, tmp_path: Path) -> Litestar:
    """The app with an event size limit that 5,000 levels of nesting fit under."""
    settings = replace(settings_for(tmp_path, database), limits=Limits(max_event_bytes=60_000))
    return create_app(settings, dsn=database, config=TEST_CONFIG, background=False)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_event(depth: int) -> dict[str, Any]:
    """A correctly signed envelope whose statement's data nests ``depth`` + 2 levels."""
    acme = org("centre-arts")
    st = acme.statement("org/centre-arts", 1, None, "organization.registered", {"name": "C"})
    payload = st.encode().replace(b'"data":{"name":"C"}',
                                  b'"data":{"name":' + nested(depth) + b"}")
    assert payload != st.encode()
    sig = acme.key.sign(pae(PAYLOAD_TYPE, payload))
    return {"payloadType": PAYLOAD_TYPE, "payload": b64.encode(payload),
            "signatures": [{"keyid": acme.key_id, "sig": b64.encode(sig)}]}


async def _size(ledger: Any) -> int:
    return int(await ledger.store.size())


@pytest.mark.parametrize("depth", DEPTHS)
async def test_a_deeply_nested_payload_is_a_typed_400(client, depth):
    r = await client.post("/v1/events", json={"events": [deep_event(depth)]})
    problem = assert_problem(r, 400, "json-too-deep", index=0)
    assert str(MAX_DEPTH) in problem["detail"]
    assert in_app(client, _size) == 0


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("where", ["events", "envelope", "signatures", "extra"])
async def test_a_deeply_nested_request_is_a_typed_400(client, depth, where):
    deep = nested(depth)
    event = b'{"payloadType":"x","payload":"","signatures":[]}'
    content = {
        "events": b'{"events":[' + deep + b"]}",
        "envelope": b'{"events":[{"payloadType":' + deep + b"}]}",
        "signatures": b'{"events":[{"payloadType":"x","payload":"","signatures":' + deep
                      + b"}]}",
        "extra": b'{"events":[' + event + b'],"more":' + deep + b"}",
    }[where]
    r = await client.post("/v1/events", content=content,
                          headers={"content-type": "application/json"})
    code = "request-malformed" if where == "extra" else "json-too-deep"  # unknown member
    problem = assert_problem(r, 400, code)
    assert where == "extra" or str(MAX_DEPTH) in problem["detail"]
    assert in_app(client, _size) == 0
