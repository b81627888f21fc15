"""Proofs for a page, in one answer: what a reader's browser needs to verify an agreement
or an organization without an auditor's token (docs/API.md §5, *Proofs for a page*).

Why a route of its own: the log's routes answer one proof per request and only to an
auditor or a trust, while a register page shows hundreds of events to anyone allowed to
read them. Here one request answers the latest checkpoint, the inclusion proof of each
event of the stream (and of the organization events of everyone who signed in it, whose
keys the browser replays), and the consistency proof from the tree size the browser saw
on its last visit. Access is the stream's: an agreement by the agreement rule (a trust
gets the proofs of the events it may read), an organization publicly. Proofs and
checkpoints are hashes: they disclose no event's content.

The latest checkpoint is read on the primary (it signs them); its proofs, and the
consistency proof, from a server holding that tree (a replica that has replayed it, or
the primary: ``log.reads_holding``), so that the checkpoint and the proofs are of one tree.
The agreement's state, which the access rule reads, is the kept or snapshot-folded one
(``CurrentStates``), never a fold of the whole stream on the request path.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, PathParameter, QueryParameter

from ledger import b64, merkle
from ledger.errors import NotFound
from ledger.reads import Reads, StoredEvent
from ledger.runtime import Ledger
from ledger.statement import ORG_ID_PATTERN

from ..problems import problem_responses
from ..schemas import ConsistencyProof, EntryProof, ProofBatch
from .agreements import (
    current_states,
    load_agreement,
    require_agreement_reader,
    watermark,
    whole_stream,
)
from .log import reads_holding

__all__ = ["ProofsController"]

Seen = Annotated[int | None, QueryParameter(
    ge=1, description="the tree size of the last checkpoint this reader verified")]


async def _batch(request: Request[Any, Any, Any], ledger: Ledger, reads: Reads,
                 events: list[StoredEvent], seen: int | None) -> ProofBatch:
    signers = sorted({e.statement().actor for e in events})
    shown = {e.position: e for e in events}
    for org in signers:
        for e in await whole_stream(reads, f"org/{org}"):
            shown.setdefault(e.position, e)
    latest = await ledger.log.latest()
    if latest is None:  # nothing signed yet (before the checkpointer's first run)
        latest = await ledger.log.checkpoint()
    size = latest.size
    held = await reads_holding(request, ledger, size)
    below = sorted(p for p in shown if p < size)
    found = await held.inclusion_proofs(below, size) if below else {}
    proofs = [EntryProof(p, b64.encode(merkle.hash_leaf(shown[p].leaf)),
                         [b64.encode(h) for h in found[p]]) for p in below if p in found]
    consistency = None
    if seen is not None:
        log_size = await ledger.store.size()
        if seen > log_size:
            raise NotFound(f"seen {seen} is beyond the log, which has {log_size} entries",
                           field="seen", log_size=log_size)
        small, big = min(seen, size), max(seen, size)
        if big > size:
            held = await reads_holding(request, ledger, big)
        proof = await held.consistency_proof(small, big) if small else []
        consistency = ConsistencyProof(small, big, [b64.encode(h) for h in proof])
    return ProofBatch(latest.note, size, proofs, consistency)


class ProofsController(Controller):
    tags = ("proofs",)

    @get("/v1/agreements/{agreement_id:str}/proofs", operation_id="GetAgreementProofs",
         summary="Checkpoint, inclusion proofs of the agreement's events and of its "
                 "signers' organization events, and consistency from a size seen before",
         responses=problem_responses(400, 401, 403, 404, 503))
    async def agreement(self, request: Request[Any, Any, Any],
                        reads: NamedDependency[Reads], ledger: NamedDependency[Ledger],
                        agreement_id: FromPath[str], seen: Seen = None) -> ProofBatch:
        events = await load_agreement(reads, agreement_id)
        current = await current_states(request).get(reads, agreement_id, watermark(request))
        grant = await require_agreement_reader(request, reads, current.state, events)
        if not grant.access.whole:  # a trust: the events its consents cover
            events = [e for e in events if grant.visible(e)]
        return await _batch(request, ledger, reads, events, seen)

    @get("/v1/organizations/{org_id:str}/proofs", operation_id="GetOrganizationProofs",
         summary="Checkpoint, inclusion proofs of the organization's events, and "
                 "consistency from a size seen before; public",
         responses=problem_responses(400, 404, 503))
    async def organization(
        self, request: Request[Any, Any, Any], ledger: NamedDependency[Ledger],
        reads: NamedDependency[Reads],
        org_id: Annotated[str, PathParameter(pattern=ORG_ID_PATTERN,
                                             description="organization id")],
        seen: Seen = None,
    ) -> ProofBatch:
        events = await whole_stream(reads, f"org/{org_id}")
        if not events:
            raise NotFound(f"no organization {org_id!r} is registered", field="org_id")
        return await _batch(request, ledger, reads, events, seen)
