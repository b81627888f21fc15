"""The agreement rules at the door: every signed agreement event must be what the
domain's decider would have made of it in the agreement's current state.

The check runs before the log lock, on the state at the version just before the
event (cached in memory, caught up from the store). Under the lock the store then
checks that the stream's head is still that version with that hash; if another
writer got there first, the event fails with a version conflict, so a check made on a
state that has since moved on can never let an event through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .domain import (
    AgreementState,
    check_event,
    check_stream,
    copy_state,
    evolve,
    fact_from_statement,
    fact_from_stored,
    initial_state,
)
from .errors import LedgerError
from .lru import LRU, agreement_bytes

if TYPE_CHECKING:
    from .admission import Candidate, Receipt
    from .reads.states import AgreementStates
    from .store import PostgresStore

__all__ = ["AgreementRules"]

class AgreementRules:
    """Validates a batch's agreement-stream statements against the domain rules."""

    def __init__(self, store: PostgresStore, *, max_cached: int = 4096,
                 max_bytes: int | None = 16 << 20) -> None:
        self.store = store
        # States by stream, the least recently checked dropped beyond ``max_cached``
        # agreements or ``max_bytes`` of estimated memory (and folded again from the
        # store when next written to).
        self._cache: LRU[str, tuple[int, AgreementState]] = LRU(
            max_cached, max_bytes, on_evict=self._evicted)
        self._locks: dict[str, asyncio.Lock] = {}
        # Where a state not kept is folded from: the newest snapshot at or before the
        # version wanted, the fold off the event loop when long (set by the server; None
        # folds the stream from its first event, as a command-line store does).
        self.states: AgreementStates | None = None

    def _evicted(self, stream: str, _: tuple[int, AgreementState]) -> None:
        lock = self._locks.get(stream)
        if lock is not None and not lock.locked():
            del self._locks[stream]

    async def __call__(self, candidates: Sequence[Candidate]) -> None:
        # ``decide`` never changes the state it is given, so a single event per stream is
        # checked on the cached state itself; only when a later event of the batch
        # touches the same stream is a copy evolved (``evolve`` works in place).
        simulated: dict[str, tuple[int, AgreementState]] = {}
        last_index = {c.statement.stream: i for i, c in enumerate(candidates)}
        for i, cand in enumerate(candidates):
            st = cand.statement
            try:
                if not check_stream(st):
                    continue
                copied = st.stream in simulated
                if copied:
                    version, state = simulated[st.stream]
                else:
                    version, state = await self._state_before(st.stream, st.version)
                if version != st.version - 1:
                    continue  # stale or ahead: the chain check under the lock refuses it
                check_event(state, st.type, st.data, st.actor, st.issued_at,
                            from_statement=True)
                if last_index[st.stream] > i:
                    if not copied:
                        state = copy_state(state)
                    state = evolve(state, fact_from_statement(st))
                    simulated[st.stream] = (st.version, state)
            except LedgerError as exc:
                raise exc.at(i) from None

    def committed(self, candidates: Sequence[Candidate], receipts: Sequence[Receipt]) -> None:
        """Bring cached states forward with events just committed (no re-read)."""
        for cand, receipt in zip(candidates, receipts, strict=True):
            st = cand.statement
            if st.stream_kind != "agreement":
                continue
            lock = self._locks.get(st.stream)
            if lock is not None and lock.locked():
                continue  # a catch-up from the store is in flight and will include it
            have = self._cache.peek(st.stream)
            if have is None or have[0] != st.version - 1 or receipt.version != st.version:
                continue
            state = evolve(have[1], fact_from_statement(
                st, position=receipt.position, recorded_at=receipt.recorded_at,
                event_hash=receipt.event_hash))
            self._cache.put(st.stream, (st.version, state), agreement_bytes(st.version))

    async def _state_before(self, stream: str, version: int) -> tuple[int, AgreementState]:
        """The committed state of ``stream`` at ``version - 1`` (or the newest known)."""
        lock = self._locks.setdefault(stream, asyncio.Lock())
        async with lock:
            have, state = self._cache.get(stream) or (0, initial_state())
            if have == 0 and version > 1 and self.states is not None:
                # not kept: from a snapshot, never the whole stream on the event loop
                state, have = await self.states.state_at(self.store.reads, stream,
                                                         version - 1)
            elif have < version - 1:
                for event in await self.store.read_stream(stream, after_version=have,
                                                          limit=version - 1 - have):
                    state = evolve(state, fact_from_stored(event))
                    have = event.version
            self._cache.put(stream, (have, state), agreement_bytes(have))
            return have, state
