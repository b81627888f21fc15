"""Response Structs for agreements and streams (kept apart from the core event types)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

__all__ = [
    "AgreementList",
    "AgreementSummary",
    "AgreementView",
    "HistoryEntry",
    "HistoryPage",
    "StreamEvent",
    "StreamEvents",
    "StreamHead",
]

Hex64 = Annotated[str, Meta(pattern="^[0-9a-f]{64}$")]


class AgreementSummary(msgspec.Struct):
    id: str
    title: str
    status: str
    public: bool
    terms_version: int
    version: Annotated[int, Meta(description="version of the agreement's stream")]


class AgreementList(msgspec.Struct):
    agreements: list[AgreementSummary]
    next: Annotated[str | None, Meta(description="cursor of the next page, if any")]


class AgreementView(msgspec.Struct):
    id: str
    version: Annotated[int, Meta(description="stream version this state is at")]
    status: str
    in_force: bool
    terms_version: int
    terms_pending: bool
    state_hash: Annotated[Hex64, Meta(description="hash of the current terms (PROTOCOL.md IV)")]
    in_force_version: int | None
    in_force_hash: str | None
    state: dict[str, Any]


class HistoryEntry(msgspec.Struct):
    version: int
    position: int
    recorded_at: str
    issued_at: str
    type: str
    actor: str
    key_id: Hex64
    event_hash: Hex64
    data: dict[str, Any]


class HistoryPage(msgspec.Struct):
    entries: list[HistoryEntry]
    next: int | None


class StreamHead(msgspec.Struct):
    stream: str
    version: int
    head_hash: str | None


class StreamEvent(msgspec.Struct):
    position: int
    version: int
    recorded_at: str
    event_hash: Hex64
    envelope: dict[str, Any]


class StreamEvents(msgspec.Struct):
    stream: str
    version: int
    head_hash: str | None
    events: list[StreamEvent]
