"""``/v1/log/...``: the transparency log for auditors and trusts.

Checkpoint, entries and proofs need an auditor or trust token. The log's key (its
public identity, which also names the ledger's origin) is public.

Checkpoints are C2SP signed notes (text/plain), the key is the log's vkey, entries
carry their leaf hash and, when the token may read their content (``ledger.access``:
an auditor always, a trust for the organization streams, public agreements and what a
consent in force covers), their exact Merkle leaf bytes and envelope; otherwise those
two are null and the leaf hash alone keeps the log verifiable (tree, inclusion and
consistency proofs need only leaf hashes). Proofs are RFC 9162 lists of base64 hashes.
Sizes are checked against the log before any node is read: a size beyond the log is
404, an index or size that makes no sense is 400.

The checkpoint is read on the primary (it signs them). A proof is for a size the
client names (that of a checkpoint it holds): it is read from a replica that has
replayed that size (``ledger.reads.routing``: the size's last position as minimum),
or from the primary, never from a tree smaller than the size asked. A page of entries
likewise comes from a server holding the whole page (up to the log's size).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from ledger import b64, merkle
from ledger.access import entry_visible
from ledger.domain import AgreementState
from ledger.errors import NotFound
from ledger.reads import Reads, StoredEvent
from ledger.runtime import Ledger

from ..auth import Principal, principal_of, require_kinds, today
from ..positions import note_position
from ..problems import OutOfRange, problem_responses
from ..schemas import ConsistencyProof, InclusionProof, LogEntries, LogEntry
from .agreements import current_states, seen, watermark

__all__ = ["LogController"]

TEXT = "text/plain"  # Litestar appends "; charset=utf-8"
MAX_PAGE = 1000

AUDIT = [require_kinds("auditor", "trust")]

NonNegative = Annotated[int, QueryParameter(ge=0)]


async def _require_size(ledger: NamedDependency[Ledger], size: int, name: str) -> int:
    """The log's size, once ``size`` is found within it (else NotFound)."""
    current = await ledger.store.size()
    if size > current:
        raise NotFound(f"{name} {size} is beyond the log, which has {current} entries",
                       field=name, log_size=current)
    return current


async def reads_holding(request: Request[Any, Any, Any], ledger: Ledger, size: int) -> Reads:
    """The reads of a server holding the tree of ``size`` (a replica or the primary),
    after ``_require_size`` checked the size against the log."""
    route = await ledger.router.route(size - 1 if size else None)
    note_position(request.scope, route.position)
    return route.reads


async def disclosed(request: Request[Any, Any, Any], reads: Reads, principal: Principal,
                     page: list[StoredEvent]) -> set[int]:
    """The positions of ``page`` whose content the reader may receive."""
    if principal.reads_everything():
        return {e.position for e in page}
    who, day = principal.reader(), today()
    states: dict[str, AgreementState] = {}
    shown = set()
    for e in page:
        kind, _, key = e.stream.partition("/")
        state = None
        if kind == "agreement":
            if key not in states:
                current = await current_states(request).get(reads, key, watermark(request))
                states[key] = current.state
            state = states[key]
        if entry_visible(who, seen(e), state, day):
            shown.add(e.position)
    return shown


class LogController(Controller):
    path = "/v1/log"
    tags = ("log",)

    @get("/checkpoint", media_type=TEXT, operation_id="GetCheckpoint", guards=AUDIT,
         summary="The latest signed checkpoint (C2SP signed note)",
         responses=problem_responses(401, 403, 503))
    async def checkpoint(self, ledger: NamedDependency[Ledger]) -> str:
        latest = await ledger.log.latest()
        if latest is None:  # nothing signed yet (e.g. before the checkpointer's first run)
            latest = await ledger.log.checkpoint()
        return latest.note

    @get("/key", media_type=TEXT, operation_id="GetLogKey",
         summary="The log's verifier key (signed-note vkey); public (pin it out of band)",
         responses=problem_responses(503))
    async def key(self, ledger: NamedDependency[Ledger]) -> str:
        return ledger.log.vkey + "\n"

    @get("/entries", operation_id="GetLogEntries", guards=AUDIT,
         summary="Log entries from a position",
         responses=problem_responses(400, 401, 403, 404, 503))
    async def entries(
        self,
        request: Request[Any, Any, Any],
        ledger: NamedDependency[Ledger],
        reads: NamedDependency[Reads],
        start: NonNegative = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
    ) -> LogEntries:
        current = await _require_size(ledger, start, "start")
        # from a server that holds the whole page asked (a replica that has replayed
        # it, or the primary): a short page means the end of the log, never a lag
        held = await reads_holding(request, ledger, min(start + limit, current))
        page = await held.read_log(start, limit)
        shown = await disclosed(request, reads, principal_of(request), page)
        items = []
        for e in page:
            leaf = e.leaf
            content = e.position in shown
            items.append(LogEntry(
                index=e.position, leaf=b64.encode(leaf) if content else None,
                envelope=e.envelope_json() if content else None,
                leaf_hash=b64.encode(merkle.hash_leaf(leaf))))
        nxt = page[-1].position + 1 if len(page) == limit else None
        return LogEntries(items, nxt)

    @get("/proof/inclusion", operation_id="GetInclusionProof", guards=AUDIT,
         summary="Inclusion proof of entry index in the tree of size",
         responses=problem_responses(400, 401, 403, 404, 503))
    async def inclusion(self, request: Request[Any, Any, Any], ledger: NamedDependency[Ledger],
                        index: NonNegative, size: NonNegative) -> InclusionProof:
        if index >= size:
            raise OutOfRange(f"index {index} must be below size {size}", field="index")
        await _require_size(ledger, size, "size")
        reads = await reads_holding(request, ledger, size)
        entry = await reads.entry(index)
        proof = await reads.inclusion_proof(index, size)
        return InclusionProof(index, size, b64.encode(merkle.hash_leaf(entry.leaf)),
                              [b64.encode(h) for h in proof])

    @get("/proof/consistency", operation_id="GetConsistencyProof", guards=AUDIT,
         summary="Consistency proof between two tree sizes",
         description="from = 0 gives an empty proof: every tree extends the empty one.",
         responses=problem_responses(400, 401, 403, 404, 503))
    async def consistency(
        self,
        request: Request[Any, Any, Any],
        ledger: NamedDependency[Ledger],
        from_: Annotated[int, QueryParameter(name="from", ge=0)],
        to: NonNegative,
    ) -> ConsistencyProof:
        if from_ > to:
            raise OutOfRange(f"from {from_} must not exceed to {to}", field="from")
        await _require_size(ledger, to, "to")
        reads = await reads_holding(request, ledger, to)
        proof = await reads.consistency_proof(from_, to) if from_ else []
        return ConsistencyProof(from_, to, [b64.encode(h) for h in proof])
