"""How one event is described in a provenance answer: who, with which key, when, where
in the log, and the inclusion proof of its leaf against the latest signed checkpoint.

Why one function for every query: a data trust checks each answer the same way —
verify the checkpoint note with the log's key, then each event's proof against the
note's root — so every event record carries the same members whatever the question.
The shell fetches the proofs (all their tree nodes in one query) for the positions
``proof_positions`` names; entries at or beyond the checkpoint's size are "not yet
checkpointed" and get no proof.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import b64
from .records import CheckpointInfo, Entry, OrgKeys, key_verdict

__all__ = ["NOT_CHECKPOINTED", "Evidence", "checkpoint_json", "event_record", "proof_positions"]

NOT_CHECKPOINTED = "not yet checkpointed"


@dataclass(frozen=True)
class Evidence:
    """What the log knows beside the events: key histories by organization, the latest
    signed checkpoint (None if none yet) and inclusion proofs by position."""

    keys: Mapping[str, OrgKeys] = field(default_factory=dict)
    checkpoint: CheckpointInfo | None = None
    proofs: Mapping[int, Sequence[bytes]] = field(default_factory=dict)


def proof_positions(entries: Iterable[Entry], checkpoint: CheckpointInfo | None) -> list[int]:
    """Positions whose inclusion proof against ``checkpoint`` an answer needs (sorted)."""
    if checkpoint is None:
        return []
    return sorted({e.position for e in entries if e.position < checkpoint.size})


def checkpoint_json(checkpoint: CheckpointInfo | None) -> dict[str, Any] | None:
    """The checkpoint every proof of an answer is against, with its signed note."""
    if checkpoint is None:
        return None
    return {"size": checkpoint.size, "root_hash": b64.encode(checkpoint.root_hash),
            "note": checkpoint.note}


def _inclusion(entry: Entry, evidence: Evidence) -> dict[str, Any]:
    cp = evidence.checkpoint
    if cp is None or entry.position >= cp.size:
        return {"status": NOT_CHECKPOINTED}
    proof = evidence.proofs.get(entry.position)
    if proof is None:
        return {"status": "proof unavailable"}
    return {"status": "checkpointed", "leaf_index": entry.position, "tree_size": cp.size,
            "leaf_hash": b64.encode(entry.leaf_hash) if entry.leaf_hash else None,
            "proof": [b64.encode(h) for h in proof]}


def event_record(entry: Entry, evidence: Evidence, *, role: str | None = None,
                 data: bool = True) -> dict[str, Any]:
    """One event: type, acting organization, key id and its validity at the event's
    position, claimed and recorded times, log position, event hash and inclusion proof."""
    record: dict[str, Any] = {
        "position": entry.position,
        "stream": entry.stream,
        "stream_version": entry.version,
        "type": entry.type,
    }
    if role is not None:
        record["role"] = role
    record.update({
        "actor": entry.actor,
        "key_id": entry.key,
        "key": key_verdict(evidence.keys, entry.actor, entry.key, entry.position),
        "issued_at": entry.issued_at,
        "recorded_at": entry.recorded_at,
        "event_hash": entry.event_hash,
        "inclusion": _inclusion(entry, evidence),
    })
    if data:
        record["data"] = entry.data
    return record
