"""Wire types of the HTTP API: msgspec Structs for requests and responses.

These are the API's own types, separate from the core's: the core may change how it
stores things without changing what clients see. Names follow the JSON members.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

__all__ = [
    "ConsistencyProof",
    "EnvelopeDoc",
    "EventsRequest",
    "EventsRequestRaw",
    "EventsResponse",
    "Health",
    "InclusionProof",
    "KeyInfo",
    "LogEntries",
    "LogEntry",
    "Organization",
    "Problem",
    "ProofBatch",
    "Readiness",
    "ReceiptOut",
    "SignatureDoc",
    "inline_schema",
]

Base64 = Annotated[str, Meta(description="standard, padded base64")]
Hex64 = Annotated[str, Meta(pattern="^[0-9a-f]{64}$", description="lower-case hex SHA-256")]
Position = Annotated[int, Meta(ge=0, description="position (index) in the global log")]


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document. Other members (``current_version``, ``head_hash``,
    ``stream``, ``rule``, ``errors``...) are added by some problem types."""

    type: Annotated[str, Meta(description="https://mutualisation-ledger.org/problems/<code>")]
    title: str
    status: int
    detail: str
    index: Annotated[int | None, Meta(description="index of the event at fault")] = None
    field: Annotated[str | None, Meta(description="member at fault")] = None


# --- POST /v1/events ------------------------------------------------------------------


class SignatureDoc(msgspec.Struct, forbid_unknown_fields=True):
    keyid: Annotated[str, Meta(pattern="^[0-9a-f]{64}$",
                               description="hex SHA-256 of the raw Ed25519 public key")]
    sig: Annotated[str, Meta(description="base64 Ed25519 signature of PAE(payloadType, payload)")]


class EnvelopeDoc(msgspec.Struct, forbid_unknown_fields=True):
    """A DSSE v1 envelope whose payload is a canonical JSON statement."""

    payloadType: Annotated[str, Meta(
        description="application/vnd.mutualisation-ledger.statement.v1+json")]
    payload: Annotated[str, Meta(description="base64 of the canonical statement bytes")]
    signatures: Annotated[list[SignatureDoc], Meta(min_length=1, max_length=8)]


class EventsRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A batch of signed events, appended all or nothing."""

    events: Annotated[list[EnvelopeDoc], Meta(min_length=1)]


class EventsRequestRaw(msgspec.Struct, forbid_unknown_fields=True):
    """How the server reads the batch: each envelope kept as its exact JSON bytes."""

    events: list[msgspec.Raw]


class ReceiptOut(msgspec.Struct):
    """Where the ledger put an event (docs/API.md, "The receipt")."""

    position: Position
    stream: str
    version: int
    event_hash: Hex64
    recorded_at: Annotated[str, Meta(description="RFC 3339 UTC, microseconds")]
    recorded_at_us: Annotated[int, Meta(ge=0, description=(
        "the same time in microseconds since 1970-01-01T00:00:00Z, as in the leaf: "
        "u64be(position) || u64be(recorded_at_us) || canonical envelope"))]


class EventsResponse(msgspec.Struct):
    receipts: list[ReceiptOut]


# --- organizations --------------------------------------------------------------------


class KeyInfo(msgspec.Struct):
    key_id: Hex64
    public_key: Base64
    added_at: Annotated[Position, Meta(description="first log position the key may sign")]
    revoked_at: Annotated[int | None, Meta(
        description="last log position the key may sign (its revocation), or null")]
    label: str | None = None
    revocation_reason: str | None = None


class Organization(msgspec.Struct):
    id: str
    name: str
    profile: dict[str, Any]
    registered_at: Annotated[Position, Meta(description="position of the registration")]
    version: Annotated[int, Meta(description="version of the org/<id> stream")]
    head_hash: Hex64
    keys: list[KeyInfo]


# --- the transparency log -------------------------------------------------------------


class LogEntry(msgspec.Struct):
    index: Position
    leaf: Annotated[str | None, Meta(
        description="base64 of the Merkle leaf bytes; null when the token may not read "
                    "this entry's content (a trust token without a consent covering it)")]
    envelope: Annotated[dict[str, Any] | None, Meta(
        description="the exact signed envelope; null exactly when leaf is")]
    leaf_hash: Annotated[str, Meta(
        description="base64 of the RFC 9162 leaf hash SHA-256(0x00 || leaf): enough to "
                    "rebuild the tree and check inclusion and consistency proofs")]


class LogEntries(msgspec.Struct):
    entries: list[LogEntry]
    next: Annotated[int | None, Meta(
        description="start of the next page; null when the log ended at this page")]


class InclusionProof(msgspec.Struct):
    index: Position
    size: int
    leaf_hash: Base64
    proof: list[Base64]


class ConsistencyProof(msgspec.Struct):
    from_: int = msgspec.field(name="from")
    to: int
    proof: list[Base64]


class EntryProof(msgspec.Struct):
    position: Position
    leaf_hash: Base64
    proof: Annotated[list[Base64], Meta(description="RFC 9162 PATH(position, D[0:size])")]


class ProofBatch(msgspec.Struct):
    """What a browser needs to verify a page: the latest checkpoint, the inclusion proof
    of each event shown and of its signers' organization events, and the consistency
    proof from the size the browser saw before."""

    checkpoint: Annotated[str, Meta(description="the latest signed checkpoint (signed note)")]
    size: Annotated[int, Meta(ge=0, description="the checkpoint's tree size")]
    proofs: Annotated[list[EntryProof], Meta(
        description="one per event below size, in position order")]
    consistency: Annotated[ConsistencyProof | None, Meta(
        description="between `seen` and `size` (smaller first); null without `seen`")] = None


# --- health ---------------------------------------------------------------------------


class Health(msgspec.Struct):
    status: str


class ReplicaState(msgspec.Struct):
    """One streaming replica as the read router last measured it (``/readyz``)."""

    name: str
    in_rotation: bool
    up: bool
    replayed_size: int
    lag_positions: int | None
    lag_seconds: float | None
    reason: str


class HistoryCheckState(msgspec.Struct):
    """The background check of the whole stored history (``/readyz``): ``pending``
    (not run by this process), ``running`` (``checked`` of ``size`` entries so far,
    ``phase`` ``tree`` then ``columns``), ``passed``, ``failed`` (``error`` names the
    entry), or ``stopped`` (the database went away; it runs again at the next start)."""

    status: str
    phase: str
    checked: int
    size: int
    error: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class Readiness(msgspec.Struct):
    status: str
    migrations: list[int]
    log_size: int
    replicas: list[ReplicaState] = []
    history_check: HistoryCheckState | None = None


def inline_schema(struct: type[Any]) -> dict[str, Any]:
    """The JSON Schema of ``struct`` with every ``$ref`` inlined (for hand-made OpenAPI
    operations, whose schemas cannot point into msgspec's ``$defs``)."""
    root = msgspec.json.schema(struct)
    defs: dict[str, Any] = root.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                return walk(defs[ref.rsplit("/", 1)[1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(root)
    return result
