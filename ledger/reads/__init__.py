"""The read layer: every query the server answers from (``Reads``, over one pool), which
pool answers each read (``ReadRouter``: the primary or a streaming replica), the
process's one follower of the log (``LogFollower``) and the key-history cache.

Writes are ``ledger.store``'s; HTTP is ``api``'s. Nothing under ``api/`` holds SQL or
talks to the driver: it calls these.
"""

from __future__ import annotations

from .errors import DATABASE_DOWN, READ_ERRORS, TEXT_NOT_STORABLE
from .events import StoredEvent
from .follower import LISTENER_NAME, NOTIFY_CHANNEL, TRANSIENT, LogFollower
from .keycache import KeyCache
from .reads import AgreementRow, CheckpointRow, ProvenanceContext, Reads, RegisterRow
from .routing import (
    PositionBeyondHead,
    ReadRouter,
    Replica,
    ReplicaRefused,
    ReplicaSettings,
    Route,
)
from .states import AgreementStates

__all__ = [
    "DATABASE_DOWN",
    "LISTENER_NAME",
    "NOTIFY_CHANNEL",
    "READ_ERRORS",
    "TEXT_NOT_STORABLE",
    "TRANSIENT",
    "AgreementRow",
    "AgreementStates",
    "CheckpointRow",
    "KeyCache",
    "LogFollower",
    "PositionBeyondHead",
    "ProvenanceContext",
    "ReadRouter",
    "Reads",
    "RegisterRow",
    "Replica",
    "ReplicaRefused",
    "ReplicaSettings",
    "Route",
    "StoredEvent",
]
