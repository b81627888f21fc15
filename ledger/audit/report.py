"""The audit's verdict: what was verified, and the first failure if any.

A failure names the first failing log index (None: the bundle as a whole) and a code an
auditor looks up in docs/AUDIT.md. Inside the audit, ``Stop`` carries a failure up from
wherever it is found; ``verify_bundle`` turns it into the report's ``failure``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import LedgerError, Rejected

__all__ = ["AuditReport", "Failure", "Stop", "earlier", "refused"]


@dataclass(frozen=True, slots=True)
class Failure:
    index: int | None
    code: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "detail": self.detail}


@dataclass(slots=True)
class AuditReport:
    """What an audit verified. On a failure the counts are those of the entries before
    the failing index (they passed every check), ``size`` what the header announces."""

    origin: str = ""
    size: int = 0
    entries_verified: int = 0
    signatures_verified: int = 0
    checkpoints_verified: int = 0
    streams: int = 0
    organizations: int = 0
    root_hash: str = ""
    trusted_checkpoint: dict[str, Any] | None = None
    failure: Failure | None = None
    warnings: list[str] = field(default_factory=list)
    agreements: dict[str, str] = field(default_factory=dict)  # by key, from a Replay
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "size": self.size,
            "entries_verified": self.entries_verified,
            "signatures_verified": self.signatures_verified,
            "checkpoints_verified": self.checkpoints_verified,
            "streams": self.streams,
            "organizations": self.organizations,
            "root_hash": self.root_hash,
            "trusted_checkpoint": self.trusted_checkpoint,
            "failure": None if self.failure is None else self.failure.to_json(),
            "warnings": self.warnings,
            "agreements": self.agreements,
            "elapsed_seconds": round(self.elapsed, 3),
            "events_per_second": round(self.entries_verified / self.elapsed)
            if self.elapsed > 0 else None,
        }


class Stop(Exception):
    """The audit stops at ``failure``."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


def refused(index: int, exc: LedgerError) -> Failure:
    """A refusal by the rules as a failure: a rule's own code is what an auditor
    looks up."""
    return Failure(index, exc.rule if isinstance(exc, Rejected) else exc.code,
                   exc.diagnostics())


def earlier(a: Failure | None, b: Failure | None) -> Failure | None:
    """The failure at the lower index (refusals always have one)."""
    if a is None or b is None:
        return a or b
    return b if (b.index or 0) < (a.index or 0) else a
