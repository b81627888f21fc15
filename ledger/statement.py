"""The statement: what an organization signs.

A statement is a JSON object encoded canonically (see ``canonical``). Its members:

``ledger``     the log's origin string; a statement cannot be replayed into another ledger
``stream``     ``<kind>/<id>``, e.g. ``org/centre-arts`` or ``agreement/2026-compta``
``version``    1 for the first event of the stream, then +1 each time
``prev``       hex SHA-256 event hash of the stream's previous event, ``null`` for version 1
``type``       dotted event type, e.g. ``organization.registered``
``data``       the event's own fields (a JSON object)
``actor``      id of the organization that makes the statement and signs it
``key``        key id (hex SHA-256 of the raw Ed25519 public key) of the actor's signing key
``issued_at``  RFC 3339 UTC time the actor claims, ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from .canonical import (
    NOT_PLAIN,
    canonical_bytes,
    check_depth,
    is_plain,
    parse_canonical,
    plain_decoder,
)
from .errors import MalformedStatement

__all__ = [
    "ORG_ID_PATTERN",
    "Statement",
    "event_hash",
    "format_time",
    "is_hex64",
    "parse_statement",
    "parse_time",
]

HEX64 = r"^[0-9a-f]{64}$"
ORG_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
STREAM_PATTERN = r"^[a-z][a-z0-9-]{0,31}/[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
TYPE_PATTERN = r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$"
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$"

_TIME_RE = re.compile(TIME_PATTERN)


class Statement(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A decoded statement. Construct with ``parse_statement`` to get validation."""

    ledger: str
    stream: str
    version: int
    prev: str | None
    type: str
    data: dict[str, Any]
    actor: str
    key: str
    issued_at: str

    @property
    def stream_kind(self) -> str:
        """The part of the stream id before the slash (``org``, ``agreement``...)."""
        return self.stream.split("/", 1)[0]

    @property
    def stream_key(self) -> str:
        """The part of the stream id after the slash."""
        return self.stream.split("/", 1)[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            "stream": self.stream,
            "version": self.version,
            "prev": self.prev,
            "type": self.type,
            "data": self.data,
            "actor": self.actor,
            "key": self.key,
            "issued_at": self.issued_at,
        }

    def encode(self) -> bytes:
        """Canonical payload bytes of this statement."""
        return canonical_bytes(self.to_json())


_CHECKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("stream", re.compile(STREAM_PATTERN)),
    ("type", re.compile(TYPE_PATTERN)),
    ("actor", re.compile(ORG_ID_PATTERN)),
    ("key", re.compile(HEX64)),
)
_HEX64_RE = re.compile(HEX64)
_HEX_DIGITS = b"0123456789abcdef"


def is_hex64(text: str) -> bool:
    """``HEX64`` matches ``text``, told without the regular expression: every
    statement after a stream's first names a hash, and the expression was a large share
    of the statement's validation (docs/PERFORMANCE.md, *Figures behind the code's
    choices*)."""
    return (len(text) == 64 and text.isascii()
            and not text.encode("ascii").translate(None, _HEX_DIGITS))


# Values already matched, per field: streams, types, actors and keys recur in almost
# every statement, so most checks become one set lookup. Bounded: emptied when full.
_MATCHED: dict[str, set[str]] = {name: set() for name, _ in _CHECKS}
_MATCHED_MAX = 4096


_STREAMS, _TYPES, _ACTORS, _KEYS = (_MATCHED[name] for name, _ in _CHECKS)


def _validate(st: Statement) -> Statement:
    if not (st.stream in _STREAMS and st.type in _TYPES and st.actor in _ACTORS
            and st.key in _KEYS):
        _match_patterns(st)
    if not _TIME_RE.fullmatch(st.issued_at):
        raise MalformedStatement(
            f"issued_at {st.issued_at!r} does not match {_TIME_RE.pattern}", field="issued_at")
    if not st.ledger or len(st.ledger) > 255:
        raise MalformedStatement("ledger must be a non-empty origin string", field="ledger")
    if st.version < 1:
        raise MalformedStatement(f"version {st.version} must be >= 1", field="version")
    if st.version == 1 and st.prev is not None:
        raise MalformedStatement("prev must be null for version 1", field="prev")
    if st.version > 1 and (st.prev is None or not is_hex64(st.prev)):
        raise MalformedStatement(
            "prev must be the hex SHA-256 of the stream's previous event", field="prev"
        )
    try:  # its form was matched above; is it a real date?
        datetime.fromisoformat(st.issued_at[:-1])
    except ValueError as exc:
        raise MalformedStatement(f"time {st.issued_at!r} is not a valid date",
                                 field="issued_at") from exc
    return st


def _match_patterns(st: Statement) -> None:
    """The pattern checks of the members not matched before (then remembered)."""
    for name, pattern in _CHECKS:
        value = getattr(st, name)
        seen = _MATCHED[name]
        if value in seen:
            continue
        if not pattern.fullmatch(value):
            raise MalformedStatement(
                f"{name} {value!r} does not match {pattern.pattern}", field=name
            )
        if len(seen) >= _MATCHED_MAX:
            seen.clear()
        seen.add(value)


# Straight from bytes to a Statement when they are plain and canonical; anything else
# goes through parse_canonical and msgspec.convert, which word the errors.
_plain_statement = plain_decoder(Statement)


def parse_statement(payload: bytes) -> Statement:
    """Decode and validate canonical payload bytes into a ``Statement``.

    Raises ``NonCanonicalPayload``, ``MalformedStatement`` or ``TooDeep``.
    """
    check_depth(payload)
    if is_plain(payload):
        st = _plain_statement(payload)
        if st is not NOT_PLAIN:
            return _validate(st)
    value = parse_canonical(payload)
    if not isinstance(value, dict):
        raise MalformedStatement("statement must be a JSON object")
    try:
        st = msgspec.convert(value, Statement)
    except msgspec.ValidationError as exc:
        field = _field_of(str(exc))
        raise MalformedStatement(f"statement: {exc}", field=field) from exc
    return _validate(st)


def _field_of(message: str) -> str | None:
    match = re.search(r"`\$\.([A-Za-z_]+)", message)
    if match:
        return match.group(1)
    match = re.search(r"field `([A-Za-z_]+)`", message)
    return match.group(1) if match else None


def event_hash(payload: bytes) -> str:
    """The event hash: hex SHA-256 of the exact payload bytes. ``prev`` links these."""
    return hashlib.sha256(payload).hexdigest()


def parse_time(text: str, *, field: str = "time") -> datetime:
    """Parse the ledger's RFC 3339 UTC form; raises MalformedStatement otherwise."""
    if not _TIME_RE.fullmatch(text):
        raise MalformedStatement(f"time {text!r} is not YYYY-MM-DDTHH:MM:SS[.ffffff]Z",
                                 field=field)
    return _valid_date(text, field)


def _valid_date(text: str, field: str) -> datetime:
    """The moment of a time already in the ledger's form; refuses impossible dates."""
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise MalformedStatement(f"time {text!r} is not a valid date", field=field) from exc


def format_time(moment: datetime) -> str:
    """The ledger's RFC 3339 UTC form with microseconds, e.g. 2026-11-26T06:30:00.000000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
