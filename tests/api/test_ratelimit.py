"""Appends are limited per client address and per bearer token: 429 with Retry-After,
nothing written (#14, point 3). The limiter alone runs on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.api.app import ApiConfig
from ledger.api.problems import RateLimited
from ledger.api.ratelimit import Caller, ClientRateLimiter, check_append
from tests.api.conftest import Agreement, assert_problem, body, in_app
from tests.helpers import org


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_address_gets_its_allowance_per_second_then_429():
    clock = Clock(100.25)
    limiter = ClientRateLimiter(per_address=5, per_token=0, clock=clock)
    here, there = Caller("10.0.0.1"), Caller("10.0.0.2")
    limiter.take(here, 3)
    limiter.take(here, 2)
    with pytest.raises(RateLimited) as refused:
        limiter.take(here, 1)
    assert refused.value.extra["retry_after"] == 1
    assert refused.value.extra["scope"] == "address"
    limiter.take(there, 5)  # another address has its own allowance
    clock.now = 101.0  # the next window
    limiter.take(here, 5)


def test_a_token_is_limited_wherever_it_comes_from():
    limiter = ClientRateLimiter(per_address=100, per_token=4, clock=Clock())
    limiter.take(Caller("10.0.0.1", "ml_secret"), 3)
    with pytest.raises(RateLimited) as refused:
        limiter.take(Caller("10.0.0.2", "ml_secret"), 2)
    assert refused.value.extra["scope"] == "token"
    limiter.take(Caller("10.0.0.2", "ml_other"), 4)
    limiter.take(Caller("10.0.0.2"), 10)  # no token: only the address counts


def test_a_refused_request_counts_nothing():
    limiter = ClientRateLimiter(per_address=5, per_token=5, clock=Clock())
    caller = Caller("10.0.0.1", "ml_t")
    with pytest.raises(RateLimited):
        limiter.take(caller, 6)
    limiter.take(caller, 5)


def test_zero_turns_a_limit_off_and_no_caller_is_not_limited():
    limiter = ClientRateLimiter(per_address=0, per_token=0, clock=Clock())
    limiter.take(Caller("10.0.0.1", "ml_t"), 10**9)
    check_append(None, Caller("x"), 10**9)
    check_append(ClientRateLimiter(1, 1), None, 10**9)


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(1, 4)), max_size=40))
def test_never_more_than_the_allowance_in_one_window(requests):
    limiter = ClientRateLimiter(per_address=7, per_token=0, clock=Clock())
    taken = {"a": 0, "b": 0}
    for address, n in requests:
        try:
            limiter.take(Caller(address), n)
        except RateLimited:
            assert taken[address] + n > 7
            continue
        taken[address] += n
    assert max(taken.values()) <= 7


def test_caller_from_an_asgi_scope():
    scope = {"client": ("192.0.2.7", 5000), "headers": [(b"authorization", b"Bearer ml_x ")]}
    assert Caller.from_scope(scope) == Caller("192.0.2.7", "ml_x")
    assert Caller.from_scope({"headers": []}) == Caller("unknown", None)
    scope = {"client": ("192.0.2.7", 1), "headers": [(b"authorization", b"Basic abc")]}
    assert Caller.from_scope(scope).token is None


# --- over HTTP ------------------------------------------------------------------------

LIMITED = ApiConfig(max_body_bytes=256 * 1024, max_events=20, writes_per_key_per_second=1000,
                    appends_per_address_per_second=4, appends_per_token_per_second=2,
                    open_registration=True)


async def _size(ledger) -> int:  # type: ignore[no-untyped-def]
    return int(await ledger.store.size())


def freeze(client) -> None:  # type: ignore[no-untyped-def]
    """One window for the whole test (a second boundary between two requests would
    otherwise reset the counts)."""
    client.app.state.write_policy.clients.clock = Clock()


@pytest.mark.pg
@pytest.mark.parametrize("api_config", [LIMITED])
async def test_an_address_over_its_limit_gets_429_and_nothing_is_written(client):
    freeze(client)
    a = org("centre-arts")
    agreement = Agreement(a)
    r = await client.post("/v1/events", json=body(a.registration("A"), agreement.next(),
                                                  agreement.next()))
    assert r.status_code == 201, r.text
    before = in_app(client, _size)
    r = await client.post("/v1/events", json=body(agreement.next(), agreement.next()))
    doc = assert_problem(r, 429, "rate-limited", scope="address", limit=4)
    assert int(r.headers["retry-after"]) >= 1
    assert doc["detail"]
    assert in_app(client, _size) == before


@pytest.mark.pg
@pytest.mark.parametrize("api_config", [LIMITED])
async def test_a_token_over_its_limit_gets_429(client):
    freeze(client)
    a = org("centre-arts")
    agreement = Agreement(a)
    headers = {"Authorization": "Bearer ml_" + "B" * 43}
    r = await client.post("/v1/events", json=body(a.registration("A"), agreement.next()),
                          headers=headers)
    assert r.status_code == 201, r.text
    r = await client.post("/v1/events", json=body(agreement.next()), headers=headers)
    assert_problem(r, 429, "rate-limited", scope="token", limit=2)
