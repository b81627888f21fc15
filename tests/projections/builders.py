"""Building signed agreement histories for projection tests.

A ``World`` holds organizations (signers with fixed seeds) and, per agreement, the
domain state that ``decide`` judges commands against. ``world.do(command)`` decides,
signs what was decided and queues it; ``await world.flush(store)`` appends the queue in
order. Commands the rules refuse raise ``Rejected``, or return ``[]`` with ``tolerant``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from ledger.admission import Limits
from ledger.db import connect_pool
from ledger.domain import Fact, NewEvent, decide, evolve, initial_state
from ledger.domain.state import AgreementState
from ledger.envelope import Envelope
from ledger.errors import Rejected
from ledger.projections import sql
from ledger.signer import Signer
from ledger.statement import event_hash
from ledger.store import PostgresStore
from tests.helpers import LEDGER_ID, org

__all__ = ["World", "busy", "open_store", "reset", "snapshot"]

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class World:
    """Organizations and agreements; events are signed as they are decided."""

    def __init__(self, names: list[str], seed: int = 1) -> None:
        self.signers: dict[str, Signer] = {
            n: org(n, seed=seed + i) for i, n in enumerate(names)}
        self.states: dict[str, AgreementState] = {}
        self.heads: dict[str, tuple[int, str | None]] = {}  # stream -> (version, hash)
        self.queue: list[Envelope] = []
        self.ticks = 0

    def at(self) -> str:
        """A fresh, later time for the next command."""
        self.ticks += 1
        return (START + timedelta(minutes=7 * self.ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def registrations(self) -> list[Envelope]:
        out = []
        for name, s in self.signers.items():
            env = s.registration(name.replace("-", " ").title())
            self.heads[s.stream] = (1, event_hash(env.payload_bytes()))
            out.append(env)
        return out

    def state(self, agreement_id: str) -> AgreementState:
        return self.states.get(agreement_id) or initial_state()

    def do(self, agreement_id: str, command: Any, *, tolerant: bool = False) -> list[NewEvent]:
        """Decide ``command`` against the agreement and queue the signed events."""
        state = self.state(agreement_id)
        try:
            events = decide(command, state)
        except Rejected:
            if tolerant:
                return []
            raise
        for e in events:
            self.sign(f"agreement/{agreement_id}", command.actor, e.type, e.data, command.at)
            version = self.heads[f"agreement/{agreement_id}"][0]
            state = evolve(state, Fact(e.type, e.data, command.actor, command.at, version))
        self.states[agreement_id] = state
        return events

    def sign(self, stream: str, actor: str, type_: str, data: dict[str, Any],
             at: str | None = None) -> Envelope:
        """Queue one signed event at the head of ``stream`` (any type, unchecked)."""
        version, prev = self.heads.get(stream, (0, None))
        env = self.signers[actor].event(stream, version + 1, prev, type_, data,
                                        issued_at=at or self.at())
        self.heads[stream] = (version + 1, event_hash(env.payload_bytes()))
        self.queue.append(env)
        return env

    async def flush(self, store: PostgresStore) -> int:
        """Append the queued events, in order; the log size afterwards."""
        queue, self.queue = self.queue, []
        for i in range(0, len(queue), 200):
            await store.append(queue[i:i + 200])
        return await store.size()


async def open_store(dsn: str) -> AsyncIterator[tuple[asyncpg.Pool, PostgresStore]]:
    """A pool and a store that accepts any issued_at (histories are dated 2026)."""
    pool = await connect_pool(dsn, min_size=1, max_size=8)
    store = PostgresStore(pool, ledger_id=LEDGER_ID, limits=Limits(max_skew_us=10**17))
    try:
        yield pool, store
    finally:
        await store.close()
        await pool.close()


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table and view, every row, in key order, plus the checkpoint."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with pool.acquire() as conn:
        for t in sql.READ_MODELS:
            key = ", ".join(c for c, _ in t.key)
            out[t.name] = [tuple(r) for r in await conn.fetch(
                f"SELECT * FROM {t.name} ORDER BY {key}")]
        for view, key in (("agreement_history", "position"),
                          ("org_commitments", "org, direction, agreement_id, commitment_id"),
                          ("org_declared_totals", "org, direction, unit")):
            out[view] = [tuple(r) for r in await conn.fetch(
                f"SELECT * FROM {view} ORDER BY {key}")]
        out["checkpoint"] = [tuple(r) for r in await conn.fetch(
            "SELECT * FROM projection_checkpoint ORDER BY name")]
    return out


async def reset(pool: asyncpg.Pool) -> None:
    """Empty the read models and put the checkpoint back to 0 (as if never run)."""
    async with pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {', '.join(t.name for t in sql.READ_MODELS)}")
        await conn.execute("UPDATE projection_checkpoint SET position = 0")


def busy(w: World, agreements: list[str]) -> None:
    """A few events of each agreement in turn, with organization events in between:
    drafted, joined, an expectation and its acknowledgement, a commitment with both
    values, a fulfilment confirmed, ratified by all."""
    from ledger.domain import (
        AcknowledgeExpectation,
        ConfirmFulfilment,
        DeclareReceivedValue,
        DraftAgreement,
        JoinAgreement,
        OfferCommitment,
        RecordFulfilment,
        StateExpectation,
        expectation_hash,
    )
    from ledger.domain.values import Period, Quantity

    a, b, *_ = list(w.signers)
    year = Period("2026-01-01", "2026-12-31")
    steps = [
        lambda aid: w.do(aid, DraftAgreement(agreement_id=aid, title=f"Entente {aid}",
                                             purpose="Partager.", binding=True, invited=[b],
                                             actor=a, at=w.at())),
        lambda aid: w.do(aid, JoinAgreement(actor=b, at=w.at())),
        lambda aid: w.do(aid, StateExpectation(expectation_id="e1", text="Se voir.",
                                               actor=a, at=w.at())),
        lambda aid: w.do(aid, AcknowledgeExpectation(
            expectation_id="e1", content_hash=expectation_hash(
                w.state(aid).expectations["e1"]), actor=b, at=w.at())),
        lambda aid: w.do(aid, OfferCommitment(
            commitment_id="c1", category="services", description="Comptabilité",
            quantity=Quantity("5", "hour"), period=year, receiver=b,
            value=Quantity("250", "CAD"), actor=a, at=w.at())),
        lambda aid: w.do(aid, DeclareReceivedValue(commitment_id="c1",
                                                   value=Quantity("300", "CAD"), actor=b,
                                                   at=w.at())),
        lambda aid: w.do(aid, RecordFulfilment(fulfilment_id="f1", commitment_id="c1",
                                               quantity=Quantity("2", "hour"), period=year,
                                               actor=a, at=w.at())),
        lambda aid: w.do(aid, ConfirmFulfilment(fulfilment_id="f1", actor=b, at=w.at())),
    ] + [_ratify(w, org) for org in (a, b)]
    for i, step in enumerate(steps):
        for aid in agreements:
            step(aid)
        if i % 3 == 2:  # organization events: skipped by the projection
            stream = w.signers[a].stream
            w.sign(stream, a, "organization.profile_updated", {"name": f"Nom {i}"})


def _ratify(w: World, org: str) -> Callable[[str], Any]:
    from ledger.domain import RatifyAgreement, state_hash

    return lambda aid: w.do(aid, RatifyAgreement(
        terms_version=w.state(aid).terms_version, state_hash=state_hash(w.state(aid)),
        actor=org, at=w.at()))
