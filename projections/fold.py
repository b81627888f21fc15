"""Folding one agreement for the read models: the domain's state plus what the state
forgets, fed one stored event at a time.

Why a wrapper around ``evolve``: the domain state keeps each party's *latest* signature
and forgets who invited a party once it joined, but the read model lists every
ratification per party and terms version and each party's inviter, and it needs the
stream's last version and log position. ``Tracked`` holds the domain state with
those, and ``apply_fact`` is the only way anything reaches it, so the runner (page by
page) and the rebuild (whole log) fold identically.

It also indexes fulfilments by commitment and measures by indicator, and keeps each
commitment's running tally of fulfilled and confirmed amounts, so that a commitment's
or an indicator's row costs the same in its first month and in its tenth year, and not
a scan of the agreement's whole record (which grows every month).

``evolve`` mutates the state it is given: a ``Tracked`` owns its state, and whoever
abandons a half-applied page must drop it (the runner reloads it from the events).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

import msgspec

from ledger.domain import AgreementState, Fact, evolve, initial_state
from ledger.domain.state import Fulfilment, Ratification
from ledger.domain.values import AMOUNT_PATTERN

from .history import describe

__all__ = ["AGREEMENT_PREFIX", "Tally", "Tracked", "amount", "apply_fact", "decode_fact",
           "fold_event", "fold_fact", "is_confirmed", "owner_before"]

#: Streams the projection reads; every other stream (``org/...``) is skipped.
AGREEMENT_PREFIX = "agreement/"


class _Payload(msgspec.Struct, gc=False):
    """The members of a stored statement the fold needs (the rest is ignored)."""

    version: int
    type: str
    data: Any
    actor: str
    key: str
    issued_at: str


_decode = msgspec.json.Decoder(_Payload).decode


def decode_fact(payload: bytes, position: int) -> Fact:
    """The domain fact of a stored agreement event (payload bytes as stored).

    ``recorded_at`` and ``event_hash`` are left out: nothing the domain folds uses them,
    and the history view reads them from ``events``.
    """
    p = _decode(payload)
    return Fact(p.type, p.data, p.actor, p.issued_at, p.version, p.key, position)


class Tally:
    """A commitment's fulfilments in one unit: how many, their total, the confirmed part."""

    __slots__ = ("confirmed", "count", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = _ZERO
        self.confirmed = _ZERO


# Amounts repeat (usual quantities): their conversions are cached. The values are
# immutable; the cache is emptied when it grows past _CACHE_MAX.
_AMOUNT: Final = re.compile(AMOUNT_PATTERN)
_CACHE_MAX: Final = 4096
_ZERO: Final = Decimal(0)
_amounts: dict[Any, Decimal | None] = {}


def amount(text: Any) -> Decimal | None:
    """A well-formed amount as a ``Decimal``; ``None`` for anything else (possible only
    in a history the rules never admitted)."""
    if not isinstance(text, str):
        return None
    try:
        return _amounts[text]
    except KeyError:
        pass
    value = Decimal(text) if _AMOUNT.match(text) else None
    if len(_amounts) >= _CACHE_MAX:
        _amounts.clear()
    _amounts[text] = value
    return value


class Tracked:
    """One agreement as the read models see it: the domain state and its extras."""

    __slots__ = ("fulfilments_of", "inviters", "last_position", "last_recorded_us",
                 "last_version", "measures_of", "ratifications", "stage", "state", "tallies")

    def __init__(self) -> None:
        self.state: AgreementState = initial_state()
        self.ratifications: dict[tuple[str, int], Ratification] = {}
        self.inviters: dict[str, str] = {}  # org -> who invited it last (kept after joining)
        self.stage: str | None = None  # started last (the timeline grows with every event)
        # commitment id -> its fulfilment ids; indicator id -> its measurement ids (in
        # the order first recorded; an id recorded again under another owner moves)
        self.fulfilments_of: dict[str, dict[str, None]] = {}
        self.measures_of: dict[str, dict[str, None]] = {}
        # commitment id -> unit -> its fulfilments in that unit (those with an amount)
        self.tallies: dict[str, dict[str, Tally]] = {}
        self.last_version = 0  # of the last event seen in the stream, applied or not
        self.last_position = -1
        self.last_recorded_us = 0


def _ratified(t: Tracked, fact: Fact) -> None:
    sig = t.state.signatures.get(fact.actor)
    if sig is not None:
        t.ratifications[(sig.org, sig.terms_version)] = sig


def _invited(t: Tracked, fact: Fact) -> None:
    t.inviters[fact.data["org"]] = fact.actor


def _stage_started(t: Tracked, fact: Fact) -> None:
    t.stage = fact.data["stage"]


def _drafted(t: Tracked, fact: Fact) -> None:
    for org in fact.data.get("invited", ()):
        t.inviters[org] = fact.actor


def _index(index: dict[str, dict[str, None]], item: str, owner: str,
           before: str | None) -> None:
    if before is not None and before != owner:
        index.get(before, {}).pop(item, None)
    index.setdefault(owner, {})[item] = None


def _fulfilment(s: AgreementState, fact: Fact) -> Fulfilment | None:
    try:
        return s.fulfilments.get(fact.data["fulfilment_id"])
    except (TypeError, KeyError, IndexError):  # data as signed: not necessarily an object
        return None


def is_confirmed(f: Fulfilment) -> bool:
    """Confirmed by a receiver and contested by none."""
    return bool(f.positions) and "contested" not in {p.kind for p in f.positions.values()}


def _count(t: Tracked, f: Fulfilment, confirmed: bool) -> None:
    """Add ``f`` to its commitment's tally in its unit (its confirmed amount too)."""
    value = amount(f.quantity.amount)
    if value is None:
        return
    tally = t.tallies.setdefault(f.commitment_id, {}).get(f.quantity.unit)
    if tally is None:
        tally = t.tallies[f.commitment_id][f.quantity.unit] = Tally()
    if confirmed:
        tally.confirmed += value
    else:
        tally.count += 1
        tally.total += value


def _recount(t: Tracked, commitment_id: str) -> None:
    """Tally ``commitment_id``'s fulfilments afresh (when one leaves it or is no longer
    confirmed: rare, and subtracting would change the sums' scale)."""
    t.tallies.pop(commitment_id, None)
    for fid in t.fulfilments_of.get(commitment_id, ()):
        f = t.state.fulfilments[fid]
        _count(t, f, False)
        if is_confirmed(f):
            _count(t, f, True)


def _fulfilled(t: Tracked, fact: Fact, before: Any) -> None:
    f = t.state.fulfilments[fact.data["fulfilment_id"]]
    old: Fulfilment | None = before
    _index(t.fulfilments_of, f.id, f.commitment_id, None if old is None else old.commitment_id)
    if old is None:
        _count(t, f, False)
    else:  # recorded again under its id: both commitments are tallied afresh
        _recount(t, old.commitment_id)
        _recount(t, f.commitment_id)


def _positioned(t: Tracked, fact: Fact, before: Any) -> None:
    f, was = before  # the same object: a position changes it in place
    if f is None:
        return
    now = is_confirmed(f)
    if now and not was:
        _count(t, f, True)
    elif was and not now:
        _recount(t, f.commitment_id)


def _measured(t: Tracked, fact: Fact, before: Any) -> None:
    mid = fact.data["measurement_id"]
    _index(t.measures_of, mid, t.state.measures[mid].indicator_id, before)


def owner_before(s: AgreementState, fact: Fact) -> str | None:
    """For a fulfilment or measure recorded again under its id (which the rules refuse,
    but the log may hold): the commitment or indicator it belonged to before ``fact``."""
    data: Any = fact.data  # as signed: not necessarily an object
    if not isinstance(data, dict):
        return None
    if fact.type == "fulfilment.recorded":
        f = _fulfilment(s, fact)
        return None if f is None else f.commitment_id
    if fact.type == "indicator.measured":
        mid = data.get("measurement_id")
        m = s.measures.get(mid) if isinstance(mid, str) else None
        return None if m is None else m.indicator_id
    return None


def _confirmed_before(s: AgreementState, fact: Fact) -> tuple[Fulfilment | None, bool]:
    f = _fulfilment(s, fact)
    return f, f is not None and is_confirmed(f)


#: The indexes and tallies kept per event type: what to note of the state before the
#: event, and how to update them after it (given that note).
_INDEXES: Final[dict[str, tuple[Callable[[AgreementState, Fact], Any],
                                Callable[[Tracked, Fact, Any], None]]]] = {
    "fulfilment.recorded": (_fulfilment, _fulfilled),
    "fulfilment.confirmed": (_confirmed_before, _positioned),
    "fulfilment.contested": (_confirmed_before, _positioned),
    "indicator.measured": (owner_before, _measured),
}

#: What the read models keep that the domain state forgets, per event type.
_EXTRAS: Final[dict[str, Callable[[Tracked, Fact], None]]] = {
    "agreement.ratified": _ratified,
    "party.invited": _invited,
    "agreement.drafted": _drafted,
    "stage.started": _stage_started,
}


def apply_fact(t: Tracked, fact: Fact, recorded_us: int) -> tuple[bool, int, int | None]:
    """Apply one stored event of ``t``'s stream (in stream order). Never raises.

    Returns whether the domain could read it (if not, nothing changed) and the terms
    version and version in force before it, for its summary.
    """
    s = t.state
    terms_before, force_before, version_before = (s.terms_version, s.in_force_version,
                                                  s.version)
    index = _INDEXES.get(fact.type)
    before = None if index is None else index[0](s, fact)
    s = t.state = evolve(s, fact)
    version = fact.stream_version
    applied = s.version == version and version_before != version
    if applied:
        extra = _EXTRAS.get(fact.type)
        if extra is not None:
            extra(t, fact)
        if index is not None:
            index[1](t, fact, before)
    t.last_version = version
    t.last_position = -1 if fact.position is None else fact.position
    t.last_recorded_us = recorded_us
    return applied, terms_before, force_before


def fold_event(t: Tracked, agreement_id: str, payload: bytes, position: int,
               recorded_us: int) -> tuple[Any, ...]:
    """Decode and apply one stored event of the agreement; its history row (the
    columns of ``sql.HISTORY``). The one path every event takes, in the runner and in
    a rebuild alike."""
    p = _decode(payload)
    fact = Fact(p.type, p.data, p.actor, p.issued_at, p.version, p.key, position)
    return fold_fact(t, agreement_id, fact, recorded_us)


def fold_fact(t: Tracked, agreement_id: str, fact: Fact, recorded_us: int) -> tuple[Any, ...]:
    """``fold_event`` of an event already decoded (``decode_fact``)."""
    applied, terms_before, force_before = apply_fact(t, fact, recorded_us)
    s = t.state
    position = -1 if fact.position is None else fact.position
    return (agreement_id, fact.stream_version, position, applied, s.terms_version,
            describe(fact, s, applied, terms_before, force_before))
