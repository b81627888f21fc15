"""GET /v1/agreements/{id} answers from kept compressed views (``CurrentStates.answer``).

What must hold: an agreement whose folded state was let go is answered without a fold
while its kept answer is at the stream's head; never past a new event; the reading
policy decides exactly as from the folded state (a kept answer is not a way around a
refusal, nor around a trust's consents); and the bytes are the same JSON whether the
client takes gzip or not."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from ledger.api.controllers.agreements import CurrentStates, accepts_gzip
from ledger.runtime import Ledger
from tests.api.conftest import Agreement, assert_problem, body, in_app, token_for
from tests.helpers import org

pytestmark = pytest.mark.pg


async def _two_agreements(client: Any) -> tuple[Agreement, Agreement]:
    ca = org("centre-arts")
    a1, a2 = Agreement(ca, "a1"), Agreement(ca, "a2")
    r = await client.post("/v1/events", json=body(ca.registration("A"), a1.next(), a2.next()))
    assert r.status_code == 201, r.text
    return a1, a2


async def test_an_answer_outlives_its_state_and_is_served_without_a_fold(client):
    a1, _ = await _two_agreements(client)

    async def scenario(ledger: Ledger) -> list[Any]:
        cache = CurrentStates(size=1, answers=16)  # one state kept, many answers
        first = await cache.get(ledger, "a1")
        await cache.get(ledger, "a2")  # a1's state goes
        folded = cache.states.folded
        again = await cache.answer(ledger, "a1")
        seen: list[Any] = [again.gz == first.answer.gz, again.version,
                           cache.states.folded - folded]
        await ledger.store.append([a1.next().to_json()])
        newer = await cache.answer(ledger, "a1")  # the head moved: folded again
        seen += [newer.version, cache.states.folded > folded]
        return seen

    assert in_app(client, scenario) == [True, 1, 0, 2, True]


async def test_answers_are_bounded_by_their_setting(client):
    await _two_agreements(client)

    async def scenario(ledger: Ledger) -> int:
        cache = CurrentStates(size=1, answers=1)
        await cache.get(ledger, "a1")
        await cache.get(ledger, "a2")  # a1's state and answer both go
        folded = cache.states.folded
        await cache.answer(ledger, "a1")
        return cache.states.folded - folded

    assert in_app(client, scenario) == 1  # a1 folded again: nothing of it was kept


async def test_gzip_only_for_clients_that_take_it_and_the_same_json(client, auditor):
    await _two_agreements(client)
    took = await client.get("/v1/agreements/a1", headers=auditor | {"Accept-Encoding": "gzip"})
    assert took.status_code == 200, took.text
    assert took.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in took.headers["vary"].lower()
    plain = await client.get("/v1/agreements/a1",
                             headers=auditor | {"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == took.content  # the test client decodes gzip itself
    assert json.loads(plain.content)["version"] == 1
    raw = await client.get("/v1/agreements/a1",
                           headers=auditor | {"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in raw.headers and raw.content == plain.content
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


@pytest.mark.parametrize(("header", "takes"), [
    ("gzip", True), ("GZIP", True), ("deflate, gzip;q=0.5", True), ("*", True),
    ("gzip;q=0", False), ("gzip;q=0.0", False), ("br", False), ("", False), (None, False),
    ("gzip;q=x", False), ("x-gzip", True), ("identity", False),
])
def test_accept_encoding(header: str | None, takes: bool) -> None:
    assert accepts_gzip(header) is takes


async def test_a_kept_answer_does_not_open_what_the_policy_refuses(client, auditor, trust):
    """An auditor's read leaves a1's answer kept; the same agreement is then asked by
    no token, another organization and a trust without consent: each gets the refusal
    the policy gives from the folded state, and nothing of the agreement."""
    await _two_agreements(client)
    assert (await client.get("/v1/agreements/a1", headers=auditor)).status_code == 200
    assert_problem(await client.get("/v1/agreements/a1"), 401, "token-missing")
    other = token_for(client, "org", "theatre-fleuve")
    assert_problem(await client.get("/v1/agreements/a1", headers=other), 403, "forbidden")
    r = await client.get("/v1/agreements/a1", headers=trust)
    assert r.status_code == 403, r.text
    assert "Comptabilité" not in r.text
    mine = token_for(client, "org", "centre-arts")
    assert (await client.get("/v1/agreements/a1", headers=mine)).status_code == 200
