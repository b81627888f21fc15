"""Where facts come from: the ledger's statements, and the stream an agreement lives in.

Why here: the shell reads signed statements from the store and hands the domain
``Fact``s; this is the one place that maps one to the other, so the domain never needs
the store's types.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import Rejected
from ..statement import Statement
from .catalogue import Fact

__all__ = ["STREAM_KINDS", "StoredLike", "agreement_stream", "check_stream",
           "fact_from_statement", "fact_from_stored"]

STREAM_KINDS = frozenset({"org", "agreement"})
"""The kinds of stream the ledger keeps: organizations' own, and agreements."""

AGREEMENT_PREFIX = "agreement/"


def agreement_stream(agreement_id: str) -> str:
    """The stream holding every event of one agreement: ``agreement/<agreement_id>``.

    The server should also check that an ``agreement.drafted`` event's ``agreement_id``
    is the key of the stream it is appended to (``check_event`` does not see streams).
    """
    return f"agreement/{agreement_id}"


def check_stream(statement: Statement) -> bool:
    """The rules on where a statement goes, before any rule of its own; True when it
    belongs to an agreement stream (``check_event`` must then admit it).

    Raises ``Rejected``: ``stream.unknown-kind`` for a kind not in ``STREAM_KINDS``,
    ``agreement.wrong-stream`` for an ``agreement.drafted`` whose ``agreement_id`` is
    not its stream's key. The server applies them at the door, the audit on replay.
    """
    stream = statement.stream
    if stream.startswith(AGREEMENT_PREFIX):
        if statement.type == "agreement.drafted" and statement.data.get(
                "agreement_id") != stream[len(AGREEMENT_PREFIX):]:
            raise Rejected("agreement.wrong-stream",
                           f"agreement_id must be {stream[len(AGREEMENT_PREFIX):]!r}, the "
                           f"key of stream {stream}", field="data.agreement_id")
        return True
    if statement.stream_kind not in STREAM_KINDS:
        raise Rejected("stream.unknown-kind",
                       f"stream kind {statement.stream_kind!r} is not one of "
                       f"{sorted(STREAM_KINDS)}", field="stream")
    return False


def fact_from_statement(
    statement: Statement,
    *,
    position: int | None = None,
    recorded_at: str | None = None,
    event_hash: str | None = None,
) -> Fact:
    """The domain's view of a stored statement and what the log knows about it."""
    return Fact(
        type=statement.type,
        data=statement.data,
        actor=statement.actor,
        issued_at=statement.issued_at,
        stream_version=statement.version,
        key=statement.key,
        position=position,
        recorded_at=recorded_at,
        event_hash=event_hash,
    )


class StoredLike(Protocol):
    """What the domain needs of a stored event (``ledger.store.StoredEvent`` is one)."""

    @property
    def position(self) -> int: ...

    @property
    def recorded_at(self) -> str: ...

    @property
    def event_hash(self) -> str: ...

    def statement(self) -> Statement: ...


def fact_from_stored(event: StoredLike) -> Fact:
    """The domain's view of an event read back from the store, with its log facts."""
    return fact_from_statement(event.statement(), position=event.position,
                               recorded_at=event.recorded_at, event_hash=event.event_hash)
