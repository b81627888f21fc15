"""Agreements and streams: current state, time travel, history, the written agreement.

Every answer here is computed from the agreement's own events (folded with the domain
rules), so it is exactly what an auditor replaying the log would get. The current state
is kept per agreement and stream version (:class:`CurrentStates`): a read costs at most
one indexed query for the stream's head, none while the log has not grown, and only new
events are folded. An agreement that is not kept, and a past version (``?version=``,
``?at=``), are folded from the newest snapshot at or before that version
(``ledger.reads.AgreementStates``): at most a snapshot's interval of events, whatever the
length of the agreement, and a long fold runs off the event loop. The list of
agreements (filters, pagination) reads the projections' read model.

Access is ``ledger.access``'s, the one reading policy: an agreement its parties marked
public is readable without a token; otherwise an organization's token reads the
agreements it is (or was, or is invited to be) a party to, an auditor's everything, and
a trust's the events that a consent in force covers (history and stream events are
filtered; the state and the written document, which fold every event, only when
nothing is withheld). Organization streams are public, like
``GET /v1/organizations/{id}``: a client verifying a history needs every signer's key
history, and the register holds organizations, never persons.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from ledger.access import (
    AccessFacts,
    AgreementAccess,
    Reader,
    Seen,
    agreement_access,
    entry_visible,
    facts_of,
    whole_access,
)
from ledger.access import members as members
from ledger.domain import AgreementState, copy_state, render_markdown, state_hash
from ledger.domain.document import mentioned_orgs
from ledger.domain.state import in_force, terms_pending
from ledger.errors import NotFound
from ledger.leaf import micros
from ledger.lru import LRU, agreement_bytes
from ledger.reads import AgreementStates, Reads, StoredEvent
from ledger.reads.states import fold_events as fold_events
from ledger.runtime import Ledger
from ledger.statement import parse_time

from ..agreement_schemas import (
    AgreementList,
    AgreementSummary,
    AgreementView,
    HistoryEntry,
    HistoryPage,
    StreamEvent,
    StreamEvents,
    StreamHead,
)
from ..auth import optional_principal, reader, refusal, today
from ..positions import read_from_replica
from ..problems import OutOfRange, problem_responses
from .organizations import load_organization

__all__ = ["AgreementsController", "StreamsController"]

PAGE = 1000
STREAM_KINDS = ("org", "agreement")
MAX_STREAM_VERSION = 2**31 - 1  # events.version is a PostgreSQL integer


async def whole_stream(reads: Reads, stream: str, after_version: int = 0,
                       ) -> list[StoredEvent]:
    return await reads.read_whole_stream(stream, after_version=after_version, page=PAGE)


def seen(e: StoredEvent) -> Seen:
    """What the reading policy needs of a stored event."""
    st = e.statement()
    consent_id = st.data.get("consent_id") if st.type.startswith("consent.") else None
    return Seen(e.stream, st.actor, st.type,
                consent_id if isinstance(consent_id, str) else None)


@dataclass(frozen=True, slots=True)
class Grant:
    """What the policy granted a reader on one agreement (see ``authorize``)."""

    reader: Reader
    state: AgreementState
    today: str
    access: AgreementAccess

    def visible(self, e: StoredEvent) -> bool:
        """May the reader receive this event of the agreement?"""
        if self.access.whole:
            return True
        return entry_visible(self.reader, seen(e), self.state, self.today)


async def authorize(request: Request[Any, Any, Any], reads: Reads, state: AgreementState,
                    *, whole: bool, events: list[StoredEvent] | None = None) -> Grant:
    """Apply the reading policy to an agreement whose current state is ``state``:
    raise its refusal, or return what it grants. ``whole``: the view folds every event
    (state, document). ``events``: the agreement's events, when already read."""
    who = await reader(request)
    day = today()
    if who.kind == "trust" and not state.public and events is None:
        events = await load_agreement(reads, state.agreement_id)
    needed = [seen(e) for e in events or []] if who.kind == "trust" else []
    access = agreement_access(who, state, needed, day)
    if not (access.whole if whole else access.some):
        raise refusal(who, state, access, day)
    return Grant(who, state, day, access)


async def require_agreement_reader(request: Request[Any, Any, Any], reads: Reads,
                                   state: AgreementState,
                                   events: list[StoredEvent] | None = None) -> Grant:
    """Some of the agreement must be for the reader (else its refusal)."""
    return await authorize(request, reads, state, whole=False, events=events)


async def load_agreement(reads: Reads, agreement_id: str) -> list[StoredEvent]:
    events = await whole_stream(reads, f"agreement/{agreement_id}")
    if not events:
        raise NotFound(f"no agreement {agreement_id!r}", field="agreement_id")
    return events


async def list_scope(request: Request[Any, Any, Any]) -> tuple[bool, str | None]:
    """Which agreements a list shows the request's token: ``(public_only, visible_to)``
    for ``Reads.agreements`` (no token: the public ones; an auditor: all; any other
    token: the public ones and its subject's). The API's list and the register page
    both ask here."""
    principal = await optional_principal(request)
    if principal is None:
        return True, None
    return False, None if principal.reads_everything() else principal.subject


def view_of(state: AgreementState, version: int) -> AgreementView:
    return AgreementView(
        id=state.agreement_id,
        version=version,
        status=state.status,
        in_force=in_force(state),
        terms_version=state.terms_version,
        terms_pending=terms_pending(state),
        state_hash=state_hash(state),
        in_force_version=state.in_force_version,
        in_force_hash=state.in_force_hash,
        state=msgspec.to_builtins(state),
    )


Watermark = tuple[int, int]  # StreamHub.watermark(): (listening session, log head)


class Answer(NamedTuple):
    """An agreement's encoded current view at a stream version, gzip-compressed, with
    what the reading policy needs to serve it (``ledger.access.AccessFacts``): about a
    seventh of the JSON and a twentieth of a folded state, so many more agreements
    are answered without a fold than states can be kept."""

    version: int
    facts: AccessFacts
    gz: bytes
    checked: Watermark | None = None


class Current(NamedTuple):
    """An agreement's state at a stream version, and its encoded answer; ``checked`` is
    the log watermark taken just before the query that found ``version`` the head."""

    version: int
    state: AgreementState
    answer: Answer
    checked: Watermark | None = None


class CurrentStates:
    """The current state of recently read agreements, checked against the stream's head.

    The head version costs one indexed query; a stream's events never change, so a state
    folded at that version is still right. When the stream has grown, only the new
    events are folded, onto a copy (a cached state is never changed: requests may hold
    it). Least recently read agreements go first beyond ``size``.

    Beside the states, the encoded answers (``Answer``) of up to ``answers`` agreements
    (and ``answers_bytes``) are kept, compressed: a read of the current view of an
    agreement whose state was let go, but whose answer is still at the head, needs no
    fold (``answer``). Folded states cost about 0.4 KiB per event; their compressed
    answers a few dozen bytes.

    The query is skipped when the caller's log watermark (``known``) equals the one
    taken before the last check: the process has learnt of no commit since, so the
    head found then is still the head. What that promises (see
    ``StreamHub.watermark``): a write acknowledged by this process is always seen,
    since the watermark moves before the append returns; a write acknowledged by
    another process is seen once its notification arrives (milliseconds), and without
    a listening connection every read queries. Any commit anywhere moves the
    watermark, so under writes most reads query, as without it.

    ``states``: how a state is folded when it is not kept (from snapshots; by default,
    from the first event).
    """

    def __init__(self, size: int = 1024, states: AgreementStates | None = None, *,
                 max_bytes: int | None = None, answers: int = 4096,
                 answers_bytes: int | None = None) -> None:
        self.size = size
        self.states = states if states is not None else AgreementStates()
        # bounded in entries and in estimated bytes (the folded state and its answer)
        self._items: LRU[str, Current] = LRU(size, max_bytes)
        self._answers: LRU[str, Answer] = LRU(answers, answers_bytes)

    async def answer(self, source: Reads | Ledger, agreement_id: str,
                     known: Watermark | None = None) -> Answer:
        """The encoded current view: a kept answer still at the head, else ``get``'s."""
        reads = source if isinstance(source, Reads) else source.store.reads
        if agreement_id not in self._items:
            have = self._answers.get(agreement_id)
            if have is not None:
                if known is not None and have.checked == known:
                    return have
                head = await reads.head(f"agreement/{agreement_id}")
                if have.version >= head.version:
                    if have.version == head.version and have.checked != known:
                        have = have._replace(checked=known)
                        self._answers.put(agreement_id, have, _answer_weight(have))
                    return have
        return (await self.get(reads, agreement_id, known)).answer

    async def get(self, source: Reads | Ledger, agreement_id: str,
                  known: Watermark | None = None) -> Current:
        """The current state (raises NotFound if the agreement has no event).

        ``source``: the reads (a ledger reads through its store's).
        ``known``: the log watermark now, taken before anything else (None: query)."""
        reads = source if isinstance(source, Reads) else source.store.reads
        have = self._items.get(agreement_id)
        if have is not None and known is not None and have.checked == known:
            return have
        stream = f"agreement/{agreement_id}"
        head = await reads.head(stream)
        have = self._items.get(agreement_id)
        if have is not None and have.version >= head.version:
            if have.version == head.version and have.checked != known:
                have = have._replace(checked=known)
                self._items.put(agreement_id, have, _weight(have))
            return have
        if have is None:
            state, version = await self.states.state_at(reads, stream)
            if version == 0:
                raise NotFound(f"no agreement {agreement_id!r}", field="agreement_id")
        else:
            events = await whole_stream(reads, stream, after_version=have.version)
            state, version = copy_state(have.state), have.version
            if events:
                state = await self.states.fold(reads, state, events, stream, version)
                version = events[-1].version
        if version != head.version:
            known = None  # read past the head we checked: check again next time
        answer = Answer(version, facts_of(state),
                        compress(msgspec.json.encode(view_of(state, version))), known)
        current = Current(version, state, answer, known)
        self._items.put(agreement_id, current, _weight(current))
        self._answers.put(agreement_id, answer, _answer_weight(answer))
        return current


def compress(body: bytes) -> bytes:
    """gzip at level 1 (``mtime`` 0: the same bytes for the same view): a 100 KiB
    view of a year-long agreement becomes about 15 KiB in well under a millisecond."""
    return zlib.compress(body, 1, wbits=31)


def accepts_gzip(header: str | None) -> bool:
    """Does an ``Accept-Encoding`` header accept gzip (RFC 9110 §12.5.3: a ``q`` of 0
    refuses it; ``*`` stands for it)?"""
    for item in (header or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def gzip_response(request: Request[Any, Any, Any], gz: bytes, etag: str) -> Response[Any]:
    """The kept compressed view as it is to a client that accepts gzip, decompressed
    for one that does not."""
    headers = {"ETag": etag, "Vary": "Accept-Encoding"}
    if accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return Response(gz, media_type="application/json", headers=headers)
    return Response(zlib.decompress(gz, wbits=31), media_type="application/json",
                    headers=headers)


def _weight(current: Current) -> int:
    """A kept state's estimated memory: its folded state and its encoded answer."""
    return agreement_bytes(current.version) + len(current.answer.gz)


def _answer_weight(answer: Answer) -> int:
    """A kept answer's estimated memory: its bytes, its facts, the tuples around them."""
    return len(answer.gz) + 256 + 80 * len(answer.facts.members)


def current_states(request: Request[Any, Any, Any]) -> CurrentStates:
    """The app's cache (on its state: one per app, so one per database)."""
    cache: CurrentStates = request.app.state.current_states
    return cache


def watermark(request: Request[Any, Any, Any]) -> Watermark | None:
    """The log watermark of this process's stream hub, or None when the client asks
    for revalidation (``Cache-Control: no-cache`` or ``max-age=0``: then the stream's
    head is read from the database, e.g. right after a write sent to another server)."""
    directives = request.headers.get("cache-control")
    if directives and ("no-cache" in directives or "max-age=0" in directives):
        return None
    if read_from_replica(request):  # the watermark is the primary's (positions.py)
        return None
    hub = getattr(request.app.state, "stream_hub", None)
    return None if hub is None else hub.watermark()


async def wanted_version(reads: Reads, agreement_id: str, head: int, version: int | None,
                         at: str | None) -> int:
    """The stream version a read asks for: ``version``, the last one recorded at or
    before ``at``, or the head. (The log's time never goes back, so that version's
    events are exactly those recorded by then.)"""
    if version is not None:
        if version > head:
            raise OutOfRange(f"version {version} is beyond the agreement's {head}",
                             field="version")
        return version
    if at is not None:
        limit = micros(parse_time(at, field="at"))
        found = await reads.version_recorded_by(f"agreement/{agreement_id}", limit)
        if found == 0:
            raise NotFound(f"the agreement did not exist yet at {at}", field="at")
        return min(found, head)
    return head


async def state_at(request: Request[Any, Any, Any], reads: Reads, agreement_id: str,
                   version: int) -> AgreementState:
    """The agreement's state at ``version`` (which the stream holds), from a snapshot."""
    state, _ = await current_states(request).states.state_at(
        reads, f"agreement/{agreement_id}", version)
    return state


class AgreementsController(Controller):
    path = "/v1/agreements"
    tags = ("agreements",)

    @get("/", operation_id="ListAgreements",
         summary="Agreements, filtered by party, status or resource category",
         responses=problem_responses(400, 401, 403, 503))
    async def list_agreements(
        self, request: Request[Any, Any, Any], reads: NamedDependency[Reads],
        party: Annotated[str | None, QueryParameter(max_length=64)] = None,
        status: Annotated[str | None, QueryParameter(max_length=32)] = None,
        category: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> AgreementList:
        public_only, visible_to = await list_scope(request)
        rows = await reads.agreements(after=cursor, status=status, party=party,
                                      category=category, public_only=public_only,
                                      visible_to=visible_to, limit=limit + 1)
        items = [AgreementSummary(r.agreement_id, r.title, r.status, r.public,
                                  r.terms_version, r.last_version) for r in rows[:limit]]
        nxt = items[-1].id if len(rows) > limit else None
        return AgreementList(items, nxt)

    @get("/{agreement_id:str}", operation_id="GetAgreement",
         summary="Current state (or ?version=N / ?at=TIME); ETag is the stream version",
         description=(
             "The current state reflects every write this server process acknowledged. "
             "Behind a load balancer over several server processes, a write acknowledged "
             "by another process shows once its commit notification arrives (normally "
             "milliseconds); send `Cache-Control: no-cache` to read the stream's head "
             "from the database instead."),
         responses=problem_responses(400, 401, 403, 404, 503))
    async def get_agreement(
        self, request: Request[Any, Any, Any], reads: NamedDependency[Reads],
        agreement_id: FromPath[str],
        version: Annotated[int | None, QueryParameter(ge=1)] = None,
        at: Annotated[str | None, QueryParameter(max_length=40)] = None,
    ) -> Response[AgreementView]:
        cache, known = current_states(request), watermark(request)
        answer = await cache.answer(reads, agreement_id, known)
        if whole_access(await reader(request), answer.facts) is not True:
            # a trust on a private agreement (its consents, event by event, decide), or
            # a refusal to word: the policy's full answer, from the folded state
            current = await cache.get(reads, agreement_id, known)
            await authorize(request, reads, current.state, whole=True)
        if version is not None and at is not None:
            raise OutOfRange("give either version or at, not both", field="at")
        chosen = await wanted_version(reads, agreement_id, answer.version, version, at)
        etag = f'"{chosen}"'
        if request.headers.get("if-none-match") == etag:
            return Response(content=None, status_code=304, headers={"ETag": etag})  # type: ignore[arg-type]
        if chosen == answer.version:  # the common case: no fold
            return gzip_response(request, answer.gz, etag)
        body = msgspec.json.encode(view_of(
            await state_at(request, reads, agreement_id, chosen), chosen))
        return Response(body, media_type="application/json",  # type: ignore[arg-type]
                        headers={"ETag": etag})

    @get("/{agreement_id:str}/history", operation_id="GetAgreementHistory",
         summary="The agreement's audit history: every event, who, when, with which key",
         responses=problem_responses(400, 401, 403, 404, 503))
    async def history(
        self, request: Request[Any, Any, Any], reads: NamedDependency[Reads],
        agreement_id: FromPath[str],
        after: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=PAGE)] = 100,
    ) -> HistoryPage:
        events = await load_agreement(reads, agreement_id)
        current = await current_states(request).get(reads, agreement_id)  # at the head
        grant = await require_agreement_reader(request, reads, current.state, events)
        if not grant.access.whole:  # a trust: the events its consents cover
            events = [e for e in events if grant.visible(e)]
        page = events[after:after + limit]
        entries = []
        for e in page:
            st = e.statement()
            entries.append(HistoryEntry(e.version, e.position, e.recorded_at, st.issued_at,
                                        st.type, st.actor, st.key, e.event_hash, st.data))
        nxt = after + limit if after + limit < len(events) else None
        return HistoryPage(entries, nxt)

    @get("/{agreement_id:str}/document", operation_id="GetAgreementDocument",
         media_type="text/markdown",
         summary="The written agreement, in French or English (Markdown)",
         responses=problem_responses(400, 401, 403, 404, 503))
    async def document(
        self, request: Request[Any, Any, Any], reads: NamedDependency[Reads],
        agreement_id: FromPath[str],
        lang: Annotated[str, QueryParameter(pattern="^(fr|en)$")] = "fr",
        version: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> str:
        current = await current_states(request).get(reads, agreement_id, watermark(request))
        await authorize(request, reads, current.state, whole=True)
        chosen = await wanted_version(reads, agreement_id, current.version, version, None)
        state = (current.state if chosen == current.version
                 else await state_at(request, reads, agreement_id, chosen))
        return render_markdown(state, lang=lang,
                               names=await registered_names(reads, mentioned_orgs(state)))


async def registered_names(reads: Reads, orgs: set[str]) -> dict[str, str]:
    """The registered name of each organization (as it stands now) that is known."""
    names = {}
    for org in sorted(orgs):
        try:
            names[org] = (await load_organization(reads, org)).name
        except NotFound:
            continue
    return names


class StreamsController(Controller):
    path = "/v1/streams"
    tags = ("streams",)

    async def _check(self, request: Request[Any, Any, Any], reads: Reads, kind: str,
                     key: str) -> Grant | None:
        """None when the whole stream is for the reader, else what it may read."""
        if kind not in STREAM_KINDS:
            raise OutOfRange(f"stream kind must be one of {', '.join(STREAM_KINDS)}",
                             field="kind")
        if kind == "org":
            return None  # the register of organizations and keys is public
        try:
            current = await current_states(request).get(reads, key, watermark(request))
        except NotFound:
            return None
        grant = await require_agreement_reader(request, reads, current.state)
        return None if grant.access.whole else grant

    @get("/{kind:str}/{key:str}", operation_id="GetStreamHead",
         summary="A stream's current version and head hash (version 0 if empty)",
         responses=problem_responses(400, 401, 403, 503))
    async def head(self, request: Request[Any, Any, Any], reads: NamedDependency[Reads],
                   kind: FromPath[str], key: FromPath[str]) -> StreamHead:
        await self._check(request, reads, kind, key)
        head = await reads.head(f"{kind}/{key}")
        return StreamHead(f"{kind}/{key}", head.version, head.hash)

    @get("/{kind:str}/{key:str}/events", operation_id="GetStreamEvents",
         summary="A stream's signed events (exact envelopes), from a version",
         responses=problem_responses(400, 401, 403, 503))
    async def events(
        self, request: Request[Any, Any, Any], reads: NamedDependency[Reads],
        kind: FromPath[str], key: FromPath[str],
        after: Annotated[int, QueryParameter(ge=0, le=MAX_STREAM_VERSION)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=PAGE)] = PAGE,
    ) -> StreamEvents:
        grant = await self._check(request, reads, kind, key)
        stream = f"{kind}/{key}"
        page = await reads.read_stream(stream, after_version=after, limit=limit)
        if grant is not None:  # a trust: the events its consents cover
            page = [e for e in page if grant.visible(e)]
        head = await reads.head(stream)
        return StreamEvents(stream, head.version, head.hash, [
            StreamEvent(e.position, e.version, e.recorded_at, e.event_hash,
                        e.envelope_json()) for e in page])
