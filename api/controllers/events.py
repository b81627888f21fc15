"""``POST /v1/events``: append a batch of signed events, all or nothing.

No token: every event is authenticated by its own signatures, checked by the store.
The body is read here rather than by Litestar so that each envelope reaches the store
as its exact JSON bytes and every envelope error names its index in the batch.

This is the hot write path, so the handler does little besides the store's work: the
body is split into raw envelopes by one msgspec decode (the store decodes each
envelope once more, which it must do anyway), the write policy is read from the app's
state rather than injected (two injected dependencies make Litestar resolve them in a
task group, a measurable cost per request), and the receipts are encoded straight to
bytes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody
from litestar.types import Scope

from ledger.admission import RegistrationGate
from ledger.canonical import MAX_DEPTH
from ledger.errors import BatchTooLarge, TooDeep
from ledger.runtime import Ledger

from ..positions import note_position
from ..problems import RateLimited, RequestMalformed, problem_responses
from ..ratelimit import Caller, ClientRateLimiter, check_append
from ..schemas import EventsRequest, EventsRequestRaw, EventsResponse, ReceiptOut, inline_schema

__all__ = ["EventsController", "KeyRateLimiter", "WritePolicy", "append_events"]


class KeyRateLimiter:
    """At most ``per_second`` accepted writes per signing key in each one-second window.

    Only writes the store accepted are counted (their signatures verified), so nobody
    can use up another organization's allowance by sending junk under its key id.
    A request is refused when a key's count plus the request's events would exceed the
    limit. Per process: with several server processes the limit is per process.
    """

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.clock = clock
        self._window = -1
        self._used: Counter[str] = Counter()

    def _roll(self) -> None:
        window = int(self.clock())
        if window != self._window:
            self._window = window
            self._used.clear()

    def check(self, wanted: Mapping[str, int]) -> None:
        """Raise RateLimited if any key would go over its allowance."""
        self._roll()
        for kid, n in wanted.items():
            if self._used[kid] + n > self.per_second:
                raise RateLimited(
                    f"key {kid} is limited to {self.per_second} writes per second",
                    field="signatures", key_id=kid, limit=self.per_second, retry_after=1)

    def record(self, used: Mapping[str, int]) -> None:
        self._roll()
        self._used.update(used)


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """Bounds on one write request, set by the app from its configuration."""

    max_events: int
    limiter: KeyRateLimiter
    clients: ClientRateLimiter | None = None  # per address and per token (api.ratelimit)
    registration_required: bool = True  # a registration needs a registration token


class _KeyIdPeek(msgspec.Struct):
    keyid: str = ""


class _EnvelopePeek(msgspec.Struct):
    signatures: list[_KeyIdPeek] = []


_request_decoder = msgspec.json.Decoder(EventsRequestRaw)
_peek_decoder = msgspec.json.Decoder(_EnvelopePeek)
_response_encoder = msgspec.json.Encoder()


def _decode_request(body: bytes) -> list[msgspec.Raw]:
    if not body:
        raise RequestMalformed("empty body; send {\"events\": [envelope, ...]}")
    try:
        raws = _request_decoder.decode(body).events
    except msgspec.ValidationError as exc:
        raise RequestMalformed(f"request: {exc}", field="events") from exc
    except msgspec.DecodeError as exc:
        raise RequestMalformed(f"invalid JSON: {exc}") from exc
    except RecursionError as exc:  # an event nested too deep is refused by its decoder
        raise TooDeep(f"request nests arrays and objects more than {MAX_DEPTH} levels "
                      "deep (the limit, docs/PROTOCOL.md)") from exc
    if not raws:
        raise RequestMalformed("events must hold at least one envelope", field="events")
    return raws


def _signing_keys(raws: list[msgspec.Raw]) -> Counter[str]:
    """How many events each key id signs, read loosely (the store checks properly)."""
    counts: Counter[str] = Counter()
    for raw in raws:
        try:
            env = _peek_decoder.decode(raw)
        except msgspec.MsgspecError:
            continue
        counts.update({s.keyid for s in env.signatures if s.keyid})
    return counts


@dataclass
class _AppendOperation(Operation):
    """Documents the request body, which the handler reads itself."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"application/json": OpenAPIMediaType(
                schema=inline_schema(EventsRequest))},  # type: ignore[arg-type]
            description="DSSE envelopes, appended all or nothing, in order",
            required=True,
        )


class EventsController(Controller):
    path = "/v1/events"
    tags = ("events",)

    @post(
        "/",
        status_code=201,
        operation_id="AppendEvents",
        operation_class=_AppendOperation,
        summary="Append signed events",
        description=(
            "Appends a batch of DSSE envelopes all or nothing; answers one receipt per "
            "event, in order. Re-sending events already stored returns their original "
            "receipts (201 again). The signatures authenticate each event; registering "
            "an organization also needs a single-use registration token from the "
            "ledger's operator, as 'Authorization: Bearer <token>'. Appends are rate "
            "limited per client address and per token (429 with Retry-After)."
        ),
        responses=problem_responses(400, 401, 403, 409, 413, 422, 429, 503),
    )
    async def append(self, request: Request[Any, Any, Any],
                     ledger: NamedDependency[Ledger]) -> Response[EventsResponse]:
        body = await append_events(ledger, request.app.state.write_policy,
                                   await request.body(), Caller.from_scope(request.scope),
                                   scope=request.scope)
        return Response(body, status_code=201,  # type: ignore[arg-type]
                        media_type="application/json")


async def append_events(ledger: Ledger, write_policy: WritePolicy, body: bytes,
                        caller: Caller | None = None, *, scope: Scope | None = None) -> bytes:
    """The work of ``POST /v1/events``: the request body in, the 201 body out; raises
    the LedgerError that the problem handlers turn into the answer. Shared by the
    handler above and the route's middleware (``api.append_route``), which both pass
    the ``caller`` (``Caller.from_scope``): its address and token are rate limited,
    and its bearer token is the registration token of a registration."""
    raws = _decode_request(body)
    if len(raws) > write_policy.max_events:
        raise BatchTooLarge(
            f"{len(raws)} events in one request, limit {write_policy.max_events}",
            field="events")
    check_append(write_policy.clients, caller, len(raws))
    keys = _signing_keys(raws)
    write_policy.limiter.check(keys)
    gate = RegistrationGate(write_policy.registration_required,
                            caller.token if caller is not None else None)
    receipts = await ledger.store.append([bytes(r) for r in raws], registration=gate)
    write_policy.limiter.record(keys)
    if scope is not None and receipts:  # Ledger-Position: read your writes (positions.py)
        note_position(scope, receipts[-1].position)
    return _response_encoder.encode(EventsResponse([
        ReceiptOut(r.position, r.stream, r.version, r.event_hash, r.recorded_at,
                   r.recorded_at_us)
        for r in receipts]))
