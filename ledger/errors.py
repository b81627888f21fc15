"""Typed errors of the ledger core.

Every refusal the ledger makes is one of these classes. Each class has a stable
``code`` (used as the last segment of the API's problem ``type`` URI) and a short
``title``. The core never knows about HTTP; ``api/problems.py`` maps classes to status
codes. ``index`` names the event of a batch at fault and ``field`` the member of the
statement or envelope that is wrong, when there is one.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadSignature",
    "BatchTooLarge",
    "ClockSkew",
    "ConcurrencyConflict",
    "EventTooLarge",
    "ForeignKey",
    "LedgerError",
    "Malformed",
    "MalformedEnvelope",
    "MalformedStatement",
    "MissingActorSignature",
    "NonCanonicalPayload",
    "NotFound",
    "PrevHashMismatch",
    "Rejected",
    "RevokedKey",
    "TooDeep",
    "Unavailable",
    "UnknownKey",
    "UnknownPayloadType",
    "VerificationFailed",
    "VersionConflict",
    "VersionGap",
    "WrongLedger",
    "error_classes",
]


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose. Anything else is a bug."""

    code: ClassVar[str] = "ledger-error"
    title: ClassVar[str] = "Ledger error"

    def __init__(
        self,
        detail: str,
        *,
        index: int | None = None,
        field: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.index = index
        self.field = field
        self.extra: dict[str, Any] = extra

    def at(self, index: int) -> LedgerError:
        """Return this error tagged with the batch index of the event at fault."""
        self.index = index
        return self

    def diagnostics(self) -> str:
        """One line for a person: what failed, on which event, in which field."""
        where = []
        if self.index is not None:
            where.append(f"event #{self.index}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = f"{', '.join(where)}: " if where else ""
        return f"{self.title}: {prefix}{self.detail}"

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable form, used by the CLI's --json and by the API."""
        out: dict[str, Any] = {"code": self.code, "title": self.title, "detail": self.detail}
        if self.index is not None:
            out["index"] = self.index
        if self.field is not None:
            out["field"] = self.field
        out.update(self.extra)
        return out


# --- malformed input -------------------------------------------------------------


class Malformed(LedgerError):
    """The input cannot be read as what it claims to be."""

    code = "malformed"
    title = "Malformed input"


class MalformedEnvelope(Malformed):
    code = "envelope-malformed"
    title = "Malformed envelope"


class UnknownPayloadType(Malformed):
    code = "payload-type-unknown"
    title = "Unknown payload type"


class NonCanonicalPayload(Malformed):
    code = "payload-not-canonical"
    title = "Payload is not canonical JSON"


class TooDeep(Malformed):
    code = "json-too-deep"
    title = "JSON nested too deep"


class MalformedStatement(Malformed):
    code = "statement-malformed"
    title = "Malformed statement"


class WrongLedger(Malformed):
    code = "statement-wrong-ledger"
    title = "Statement is addressed to another ledger"


class EventTooLarge(Malformed):
    code = "event-too-large"
    title = "Event too large"


class BatchTooLarge(Malformed):
    code = "batch-too-large"
    title = "Too many events in one request"


class ClockSkew(LedgerError):
    code = "clock-skew"
    title = "Issued-at too far from the ledger's clock"


# --- authenticity ----------------------------------------------------------------


class VerificationFailed(LedgerError):
    """A signature, a key, a hash chain or a proof does not hold."""

    code = "verification-failed"
    title = "Verification failed"


class BadSignature(VerificationFailed):
    code = "signature-invalid"
    title = "Signature does not verify"


class MissingActorSignature(VerificationFailed):
    code = "signature-missing"
    title = "No signature by the acting organization's key"


class UnknownKey(VerificationFailed):
    code = "key-unknown"
    title = "Unknown signing key"


class RevokedKey(VerificationFailed):
    code = "key-revoked"
    title = "Signing key revoked"


class ForeignKey(VerificationFailed):
    code = "key-wrong-organization"
    title = "Signing key belongs to another organization"


# --- stream concurrency ----------------------------------------------------------


class ConcurrencyConflict(LedgerError):
    """The stream moved on: the statement was signed against an older head.

    Carries ``current_version`` and ``head_hash`` (hex, or None for an empty stream)
    so a client can re-read and decide whether to re-sign.
    """

    code = "stream-conflict"
    title = "Stream version conflict"

    def __init__(
        self,
        detail: str,
        *,
        stream: str,
        current_version: int,
        head_hash: str | None,
        index: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(
            detail,
            index=index,
            field=field,
            stream=stream,
            current_version=current_version,
            head_hash=head_hash,
        )
        self.stream = stream
        self.current_version = current_version
        self.head_hash = head_hash


class VersionConflict(ConcurrencyConflict):
    code = "stream-version-conflict"
    title = "Stream version already taken"


class VersionGap(ConcurrencyConflict):
    code = "stream-version-gap"
    title = "Stream version skips ahead"


class PrevHashMismatch(ConcurrencyConflict):
    code = "stream-prev-mismatch"
    title = "Previous hash does not match the stream's head"


# --- domain and lookups ----------------------------------------------------------


class Rejected(LedgerError):
    """A business rule refuses the statement. ``rule`` is the stable rule code."""

    code = "rule-violated"
    title = "Refused by the agreement rules"

    def __init__(
        self,
        rule: str,
        detail: str,
        *,
        index: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(detail, index=index, field=field, rule=rule)
        self.rule = rule


class NotFound(LedgerError):
    code = "not-found"
    title = "Not found"


class Unavailable(LedgerError):
    """The database cannot be reached; the request can be retried."""

    code = "unavailable"
    title = "Ledger temporarily unavailable"


def error_classes() -> dict[str, type[LedgerError]]:
    """Every ``LedgerError`` class defined so far (in the modules imported), by code.

    Why: a code is a public, stable string (the last segment of a problem ``type``), so
    it must name one class and one meaning; a duplicate is refused here. Classes defined
    in modules not yet imported are not listed.
    """
    found: dict[str, type[LedgerError]] = {LedgerError.code: LedgerError}
    todo: list[type[LedgerError]] = [LedgerError]
    while todo:
        for cls in todo.pop().__subclasses__():
            other = found.setdefault(cls.code, cls)
            if other is not cls:
                raise ValueError(f"error code {cls.code!r} names both {other.__qualname__} "
                                 f"and {cls.__qualname__}")
            todo.append(cls)
    return found
