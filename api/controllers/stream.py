"""``GET /v1/stream``: new log entries as Server-Sent Events, resumable.

Each entry is one event::

    id: <position>
    event: entry
    data: {"index", "stream", "version", "type", "actor", "event_hash", "recorded_at",
           "envelope"}

A client resumes with ``Last-Event-ID`` (or ``?after=``): it gets every entry whose
position is greater, read from the database, then the live ones. Without either it gets
the entries recorded after it connected; ``after=-1`` replays the whole log.

One :class:`StreamHub` per app wakes every open stream. It learns of other processes'
commits from the process's one :class:`~ledger.reads.LogFollower` (``LISTEN
ledger_log``, kept on the app's state and shared with the projection runner; it also
tells the agreements' read cache when the log grows, see :meth:`StreamHub.watermark`);
when the follower's connection drops it polls the log size every second and listens
again as soon as it can. A stream holds no database
connection while idle: it reads through the pool when woken, and streams that wait at
the same place share one query. Idle streams get a comment every 15 s (heartbeat;
``LEDGER_SSE_HEARTBEAT_SECONDS`` changes it).

Who sees what is ``ledger.access``'s policy, decided per entry: auditor tokens
everything; everyone the organization streams (the public register) and the entries of
public agreements; organization tokens also the agreements their organization is a
party to, was a party to, or is invited to; trust tokens the entries a consent in
force covers, decided on the agreement's current state (a withdrawal applies to the
next entry sent).

Revocation: a stream ends when its token is revoked — checked before each batch of
entries it would send (one query shared by the streams woken together) and every
second while it idles, so a revoked token receives nothing more and its idle streams
end within about a second. A trust's ``?agreement=`` stream ends once no consent to it
is left in that agreement.

Shutdown: the lifespan (:func:`stream_lifespan`) stops the hub, which ends the open
streams. uvicorn waits for open responses to finish *before* it runs the lifespan's
shutdown, so the lifespan also chains the process's SIGINT/SIGTERM handlers (when it
runs in the main thread, as under ``ledger serve``): the signal ends the streams first,
then reaches the server's own handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Annotated, Any

import msgspec
from litestar import Controller, Litestar, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import Stream

from ledger.access import agreement_access, entry_visible
from ledger.config import Caches
from ledger.domain import AgreementState, evolve, fact_from_stored, initial_state
from ledger.domain.values import ID_PATTERN
from ledger.errors import Unavailable
from ledger.lru import LRU, agreement_bytes
from ledger.reads import LISTENER_NAME, TRANSIENT, LogFollower, Reads, StoredEvent
from ledger.runtime import Ledger
from ledger.waits import wait_event

from ..auth import Principal, optional_principal, today
from ..problems import RequestMalformed, problem_responses
from .agreements import (
    CurrentStates,
    fold_events,
    load_agreement,
    members,
    require_agreement_reader,
    seen,
)

__all__ = ["LISTENER_NAME", "StreamController", "StreamHub", "stream_lifespan"]

HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0
START_TIMEOUT_SECONDS = 10.0
REVOCATION_SECONDS = 1.0  # how often open streams' tokens are checked while idle
RETRY_MS = 2000  # the reconnection delay suggested to clients
PAGE = 500
MAX_POSITION = 2**63 - 1  # events.position is a PostgreSQL bigint

_log = logging.getLogger("ledger.api.stream")

_TRANSIENT = TRANSIENT  # the database is unreachable: a stream waits it out and retries


class _Peek(msgspec.Struct):
    type: str
    actor: str


class _EntryData(msgspec.Struct):
    index: int
    stream: str
    version: int
    type: str
    actor: str
    event_hash: str
    recorded_at: str
    envelope: msgspec.Raw


_peek = msgspec.json.Decoder(_Peek)
_encoder = msgspec.json.Encoder()


def encode_entry(e: StoredEvent) -> bytes:
    """The SSE event of one log entry (its data on one line)."""
    head = _peek.decode(e.payload)
    envelope = e.envelope
    if b"\n" in envelope or b"\r" in envelope:  # the data must be one line
        envelope = _encoder.encode(msgspec.json.decode(envelope))
    data = _encoder.encode(_EntryData(e.position, e.stream, e.version, head.type, head.actor,
                                      e.event_hash, e.recorded_at, msgspec.Raw(envelope)))
    return b"id: %d\nevent: entry\ndata: %s\n\n" % (e.position, data)


_Read = tuple[list[StoredEvent], int]  # entries, and the position scanned up to


@dataclass(slots=True)
class _Folded:
    """An agreement's state as far as the hub has folded it (never behind ``version``)."""

    version: int = 0
    state: AgreementState = field(default_factory=initial_state)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class StreamHub:
    """Wakes every open stream of one app when the log grows. See the module docstring.

    ``head`` is the last position known to be committed (-1 for an empty log); every
    position up to it is committed, since positions are gapless and given in commit
    order. The hub learns it from this process's commits and from the process's
    :class:`LogFollower` (``follower``: the app's; without one the hub runs its own).
    """

    def __init__(self, ledger: Ledger, *, heartbeat: float = HEARTBEAT_SECONDS,
                 poll: float = POLL_SECONDS, reads: Reads | None = None,
                 follower: LogFollower | None = None,
                 states: CurrentStates | None = None,
                 caches: Caches | None = None) -> None:
        self.ledger = ledger
        self.reads = reads if reads is not None else Reads(ledger.pool)
        self.states = states if states is not None else CurrentStates()
        self._owns_follower = follower is None
        self.follower = follower if follower is not None else LogFollower(
            ledger.dsn, self.reads, heartbeat=heartbeat, poll=poll)
        self.heartbeat = heartbeat
        self.poll = poll
        self.head = -1
        self.closing = False
        self._changed = asyncio.Event()
        self._inflight: dict[tuple[int, str | None], asyncio.Task[_Read]] = {}
        self._watched: Counter[str] = Counter()  # token ids of the open streams
        self._revoked: set[str] = set()  # those found revoked
        self._revocation_check: asyncio.Task[None] | None = None
        self._revocations: asyncio.Task[None] | None = None
        # Bounded by ``caches`` (``LEDGER_CACHE_STREAM_…``): agreements' states folded to
        # decide who may read an entry, and entries encoded once for every stream.
        caches = caches if caches is not None else Caches()
        self._folded: LRU[str, _Folded] = LRU(caches.stream_agreements, caches.stream_bytes)
        self._encoded: LRU[int, bytes] = LRU(caches.stream_entries,
                                             caches.stream_entries_bytes)
        ledger.store.on_commit.append(self._on_commit)  # this process's commits: no wait
        self.follower.subscribe(self._advance)

    @property
    def listening(self) -> bool:
        return self.follower.listening

    @property
    def live(self) -> int | None:
        """The follower's listening session, once caught up (see ``watermark``)."""
        return self.follower.live

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start following the log, and watching the open streams' tokens for
        revocations, in the background (once; the app does it)."""
        if not self.closing:
            self.follower.start()
            if self._revocations is None:
                self._revocations = asyncio.get_running_loop().create_task(
                    self._watch_revocations(), name="ledger-stream-revocations")

    async def ensure_started(self) -> None:
        """Start following (if not yet) and wait until ``head`` is known."""
        if self.closing:
            raise Unavailable("the server is shutting down")
        self.start()
        if not await self.follower.wait_ready(START_TIMEOUT_SECONDS):
            raise Unavailable("the log cannot be read; retry later")
        self._advance(self.follower.head)

    def end_streams(self) -> None:
        """Make every open stream end (and refuse new ones)."""
        self.closing = True
        self._wake()

    async def stop(self) -> None:
        """End the streams (and stop the follower, if it is the hub's own)."""
        with contextlib.suppress(ValueError):
            self.ledger.store.on_commit.remove(self._on_commit)
        self.end_streams()
        self.follower.unsubscribe(self._advance)
        for task in (self._revocations, self._revocation_check):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_TRANSIENT):
                    await task
        self._revocations = self._revocation_check = None
        if self._owns_follower:
            await self.follower.stop()

    # --- waking ----------------------------------------------------------------------

    def waiter(self) -> asyncio.Event:
        """An event set at the next change of ``head`` (or when streams must end)."""
        return self._changed

    def watermark(self) -> tuple[int, int] | None:
        """``(session, head)`` while the follower listens and has caught up, else None.

        Equal watermarks taken at two moments mean the hub learnt of no commit in
        between: none of this process (``on_commit`` runs after each commit, before the
        append returns) and none of another process whose notification has arrived
        (notifications follow their commit by milliseconds). A new listening session
        (after a lost connection, when notifications may have been missed) changes it.
        """
        live = self.live
        return None if live is None else (live, self.head)

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _advance(self, position: int) -> None:
        if position > self.head:
            self.head = position
            self._wake()

    def _on_commit(self, size: int) -> None:
        self._advance(size - 1)

    # --- reading ---------------------------------------------------------------------

    async def read_after(self, scanned: int, stream: str | None) -> _Read:
        """Entries after position ``scanned`` (of ``stream`` only, if given), at most a
        page, and the position up to which the log has now been scanned. Readers asking
        the same question at once share one query."""
        key = (scanned, stream)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._read(scanned, stream))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._forget(key, t))
        return await asyncio.shield(task)

    def _forget(self, key: tuple[int, str | None], task: asyncio.Task[_Read]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here: every reader may have gone

    async def _read(self, scanned: int, stream: str | None) -> _Read:
        head = self.head  # committed, hence visible to the query below
        reads, held = self.reads, head
        if head - scanned > PAGE:
            # a catch-up from far back (a reconnection, a stream opened from an old
            # position): from a replica that holds the next page, or the primary; what
            # the answer covers is then what that server holds, never more
            route = await self.ledger.router.route(scanned + PAGE)
            reads, held = route.reads, min(head, route.position)
        if stream is None:
            rows = await reads.read_log(scanned + 1, PAGE)
        else:
            version = await reads.version_at(stream, scanned)
            rows = await reads.read_stream(stream, after_version=version, limit=PAGE)
        if len(rows) == PAGE:
            return rows, rows[-1].position
        return rows, max(held, rows[-1].position if rows else scanned)

    def encoded(self, e: StoredEvent) -> bytes:
        """The SSE bytes of an entry, encoded once for every stream that sends it."""
        data = self._encoded.get(e.position)
        if data is None:
            data = encode_entry(e)
            self._encoded.put(e.position, data, len(data))
        return data

    # --- revoked tokens end their streams ---------------------------------------------

    def watch(self, token_id: str) -> None:
        """A stream opened with this token (see ``revoked``)."""
        self._watched[token_id] += 1

    def unwatch(self, token_id: str) -> None:
        self._watched[token_id] -= 1
        if self._watched[token_id] <= 0:
            del self._watched[token_id]
            # Its last stream ended: forget it (a new stream checks the token anew), so
            # that the revoked tokens kept are at most those of open streams.
            self._revoked.discard(token_id)

    def revoked(self, token_id: str | None) -> bool:
        """Whether the token was found revoked (its streams end at once)."""
        return token_id is not None and token_id in self._revoked

    async def revoked_now(self, token_id: str) -> bool:
        """Whether the token is revoked, asked of the database now: one query for
        every watched token, shared by the streams asking at the same moment."""
        task = self._revocation_check
        if task is None or task.done():
            task = self._revocation_check = asyncio.get_running_loop().create_task(
                self._check_revocations())
        try:
            await asyncio.shield(task)
        except _TRANSIENT as exc:  # the next check decides
            _log.warning("stream: cannot check token revocations: %s", exc)
        return token_id in self._revoked

    async def _check_revocations(self) -> None:
        watched = list(self._watched)
        if not watched:
            return
        new = {t for t in await self.reads.revoked_tokens(watched)
               if t in self._watched} - self._revoked  # still open after the query
        if new:
            self._revoked |= new
            self._wake()  # idle streams of those tokens end now

    async def _watch_revocations(self) -> None:
        """Every ``REVOCATION_SECONDS``, look for revoked tokens among the open
        streams' (so an idle stream ends within about that long)."""
        while not self.closing:
            await asyncio.sleep(REVOCATION_SECONDS)
            if self._watched:
                await self.revoked_now("")

    async def trust_may_open(self, principal: Principal, agreement_id: str) -> bool:
        """Whether a consent in force still opens the agreement to this trust."""
        events = await load_agreement(self.reads, agreement_id)
        return agreement_access(principal.reader(), fold_events(events),
                                [seen(e) for e in events], today()).some

    # --- who may read what -------------------------------------------------------------

    async def may_read(self, principal: Principal | None, e: StoredEvent) -> bool:
        """The reading policy (``ledger.access``) for one entry. A trust is decided on
        the agreement's current state, so a consent withdrawn applies to the next entry
        sent; an organization on the state the hub folded up to the entry (or later)."""
        if principal is not None and principal.reads_everything():
            return True
        kind, _, key = e.stream.partition("/")
        if kind == "org":
            return True
        if kind != "agreement":
            return False
        if principal is not None and principal.kind == "trust":
            current = await self.states.get(self.reads, key, self.watermark())
            return entry_visible(principal.reader(), seen(e), current.state, today())
        state = await self.agreement_state(key, e.version)
        if state.public:
            return True
        return (principal is not None and principal.kind == "org"
                and principal.subject in members(state))

    async def agreement_state(self, agreement_id: str, version: int) -> AgreementState:
        """The agreement's state at ``version`` or later, folded incrementally."""
        folded = self._folded.get(agreement_id)
        if folded is None:
            folded = _Folded()
            self._folded.put(agreement_id, folded, agreement_bytes(0))
        if folded.version >= version:
            return folded.state
        async with folded.lock:
            stream = f"agreement/{agreement_id}"
            while folded.version < version:
                page = await self.reads.read_stream(
                    stream, after_version=folded.version, limit=PAGE)
                for e in page:
                    folded.state = evolve(folded.state, fact_from_stored(e))
                    folded.version = e.version
                if len(page) < PAGE:
                    break
            self._folded.reweigh(agreement_id, agreement_bytes(folded.version))
        return folded.state


# --- the app's side ------------------------------------------------------------------


def _end_streams_on_signals(hub: StreamHub) -> Callable[[], None]:
    """Chain SIGINT/SIGTERM so that a stopping server ends the streams first; returns
    the function that restores the previous handlers. Only in the main thread, and only
    over handlers written in Python (the server's)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Callable[[int, FrameType | None], Any]] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(hub.end_streams)
        previous[signum](signum, frame)

    for sig in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(sig)
        if callable(current):
            previous[sig] = current
            signal.signal(sig, handler)

    def restore() -> None:
        for sig, prev in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, prev)

    return restore


@contextlib.asynccontextmanager
async def stream_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Own the app's :class:`StreamHub` (after the ledger's lifespan, before its end)."""
    heartbeat = float(os.environ.get("LEDGER_SSE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
    hub = StreamHub(app.state.ledger, heartbeat=heartbeat, reads=app.state.reads,
                    follower=app.state.follower, states=app.state.current_states,
                    caches=app.state.ledger.settings.caches)
    app.state.stream_hub = hub
    hub.start()
    restore = _end_streams_on_signals(hub)
    try:
        yield
    finally:
        restore()
        await hub.stop()
        del app.state.stream_hub


def _provide_hub(state: State) -> StreamHub:
    hub: StreamHub = state.stream_hub
    return hub


async def _entries(hub: StreamHub, principal: Principal | None, stream: str | None,
                   after: int) -> AsyncIterator[bytes]:
    """The stream's bytes: every visible entry after position ``after``, in order, once;
    a heartbeat whenever nothing was sent for ``hub.heartbeat`` seconds."""
    loop = asyncio.get_running_loop()
    scanned = after  # every entry up to here was sent or is not for this client
    token = None if principal is None else principal.token_id
    trust_agreement = (stream.partition("/")[2] if stream is not None and principal
                       is not None and principal.kind == "trust" else None)
    if token is not None:
        hub.watch(token)
    try:
        yield b"retry: %d\n\n" % RETRY_MS
        sent_at = loop.time()
        while not hub.closing and not hub.revoked(token):
            if loop.time() - sent_at >= hub.heartbeat:
                yield b": heartbeat\n\n"
                sent_at = loop.time()
            if hub.head <= scanned:
                changed = hub.waiter()
                await wait_event(changed, max(0.0, sent_at + hub.heartbeat - loop.time()))
                continue
            try:
                rows, upto = await hub.read_after(scanned, stream)
                if rows and token is not None and await hub.revoked_now(token):
                    return  # revoked: nothing more goes out
                for e in rows:
                    if await hub.may_read(principal, e):
                        yield hub.encoded(e)
                        sent_at = loop.time()
                    scanned = e.position
                if rows and trust_agreement is not None and principal is not None \
                        and not await hub.trust_may_open(principal, trust_agreement):
                    return  # no consent to it is left in this agreement
            except _TRANSIENT as exc:  # wait for the database to come back
                _log.warning("stream: cannot read the log: %s", exc)
                await asyncio.sleep(hub.poll)
                continue
            scanned = max(scanned, upto)
    finally:
        if token is not None:
            hub.unwatch(token)


def _start_position(last_event_id: str | None, after: int | None, head: int) -> int:
    if last_event_id is not None:
        try:
            value = int(last_event_id.strip())
        except ValueError:
            raise RequestMalformed("Last-Event-ID must be a log position (an integer)",
                                   field="Last-Event-ID") from None
        if not -1 <= value <= MAX_POSITION:
            raise RequestMalformed(f"Last-Event-ID must be from -1 to {MAX_POSITION}",
                                   field="Last-Event-ID")
        return value
    return head if after is None else after


class StreamController(Controller):
    path = "/v1/stream"
    tags = ("stream",)
    dependencies = {"stream_hub": Provide(_provide_hub, sync_to_thread=False)}  # noqa: RUF012

    @get(
        "/",
        operation_id="StreamEntries",
        media_type="text/event-stream",
        summary="New log entries as Server-Sent Events (resumable with Last-Event-ID)",
        description=(
            "Each entry is an SSE event `id: <position>`, `event: entry`, and one line of "
            "JSON data: index, stream, version, type, actor, event_hash, recorded_at and "
            "the exact signed envelope. Resume with the Last-Event-ID header or ?after= "
            "(every entry whose position is greater); without either, entries recorded "
            "after connecting; after=-1 replays the whole log. ?agreement= keeps one "
            "agreement's entries. Auditor tokens see everything; others the "
            "organization streams, public agreements, (organization tokens) the "
            "agreements their organization is, was or is invited to be a party to, and "
            "(trust tokens) the entries a consent in force covers. A "
            "comment is sent every 15 s while idle."
        ),
        response_description=(
            "text/event-stream: a `retry:` line, then `entry` events (one line of JSON "
            "data each) and `: heartbeat` comments; it ends only when the server stops"),
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def stream(
        self, request: Request[Any, Any, Any], ledger: NamedDependency[Ledger],
        stream_hub: NamedDependency[StreamHub],
        after: Annotated[int | None, QueryParameter(
            ge=-1, le=MAX_POSITION,
            description="send entries whose position is greater (-1: all)")] = None,
        agreement: Annotated[str | None, QueryParameter(
            pattern=ID_PATTERN.replace("\\Z", "$"),
            description="only this agreement's entries")] = None,
        last_event_id: Annotated[str | None, HeaderParameter(
            name="Last-Event-ID", max_length=40,
            description="the last position received; takes precedence over ?after=")] = None,
    ) -> Stream:
        principal = await optional_principal(request)
        stream = None
        if agreement is not None:
            stream = f"agreement/{agreement}"
            current = await stream_hub.states.get(stream_hub.reads, agreement)
            await require_agreement_reader(request, stream_hub.reads, current.state)
        await stream_hub.ensure_started()
        start = _start_position(last_event_id, after, stream_hub.head)
        return Stream(_entries(stream_hub, principal, stream, start),
                      media_type="text/event-stream",
                      headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
