"""``/healthz`` (the process answers), ``/readyz`` (database reachable, schema up to
date, history's triggers and grants in place, the background history check not
failed, the checkpointer not stopped — e.g. by a promotion that lost entries it had
signed; its progress reported) and ``/metrics`` (Prometheus text
format). None of them needs a token.

Readiness is the primary's (appends need it); the streaming replicas are reported
(rotation, lag in positions and seconds) but a replica out of rotation does not make
the process unready: its reads go to the primary."""

from __future__ import annotations

import asyncio
from datetime import datetime

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency

from ledger.db import migrations
from ledger.history_check import HistoryCheck
from ledger.reads import READ_ERRORS, Reads
from ledger.runtime import Ledger

from ..metrics import CONTENT_TYPE, Metrics
from ..problems import NotReady, problem_responses
from ..schemas import Health, HistoryCheckState, Readiness, ReplicaState

__all__ = ["HealthController"]

PROBE_TIMEOUT = 2.0
_DB_ERRORS = READ_ERRORS


def _history_state(check: HistoryCheck) -> HistoryCheckState:
    def when(at: datetime | None) -> str | None:
        return None if at is None else at.isoformat()

    return HistoryCheckState(check.status, check.phase, check.checked, check.size,
                             check.error, when(check.started_at), when(check.finished_at))


async def _probe(reads: Reads) -> tuple[list[int], int, str | None]:
    async with asyncio.timeout(PROBE_TIMEOUT):
        return await reads.probe()


class HealthController(Controller):
    path = "/"
    tags = ("operations",)

    @get("/healthz", operation_id="Healthz", summary="Liveness: the process answers",
         responses=problem_responses())
    async def healthz(self) -> Health:
        return Health("ok")

    @get("/readyz", operation_id="Readyz",
         summary="Readiness: database reachable and every migration applied",
         responses=problem_responses(503))
    async def readyz(self, ledger: NamedDependency[Ledger]) -> Readiness:
        try:
            applied, size, unprotected = await _probe(ledger.router.primary)
        except _DB_ERRORS as exc:
            raise NotReady(f"database check failed: {type(exc).__name__}") from exc
        if unprotected is not None:  # history could be rewritten: not ready
            raise NotReady(unprotected)
        if ledger.history.status == "failed":  # history found forged: no checkpoints
            raise NotReady(f"the history check failed: {ledger.history.error}")
        if ledger.log.suspect is not None:  # e.g. a promotion lost signed entries
            raise NotReady(f"no more checkpoints are signed: {ledger.log.suspect}")
        missing = sorted({m.version for m in migrations()} - set(applied))
        if missing:
            raise NotReady(f"migrations not applied: {missing}", missing=missing)
        # While the background history check runs the server is ready (reads derive
        # what they serve from the signed envelope); its progress is reported.
        return Readiness("ready", applied, size,
                         [ReplicaState(**r) for r in ledger.router.status()],
                         _history_state(ledger.history))

    @get("/metrics", media_type=CONTENT_TYPE, operation_id="Metrics",
         summary="Prometheus metrics (text exposition format 0.0.4)",
         responses=problem_responses())
    async def metrics(self, state: State, ledger: NamedDependency[Ledger]) -> str:
        log_size: int | None
        checkpoint_size: int | None
        try:
            log_size = await ledger.router.primary.size()
            latest = await ledger.log.latest()
            checkpoint_size = latest.size if latest else None
        except _DB_ERRORS:
            log_size = checkpoint_size = None
        registry: Metrics = state.metrics
        return registry.render(log_size=log_size, checkpoint_size=checkpoint_size,
                               replicas=ledger.router.status(), history=ledger.history)
