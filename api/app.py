"""The HTTP application: ``create_app(...) -> Litestar``.

The app's lifespan owns the ledger (pool, store, transparency log): it opens it with
``open_ledger`` at start-up and closes it at shutdown. Handlers get it through the
``ledger`` dependency and never open database resources themselves.

Configuration (environment, read by :meth:`ApiConfig.from_env`)::

    LEDGER_MAX_BODY_BYTES            largest request body (default 1 MiB)
    LEDGER_MAX_EVENTS_PER_REQUEST    most events in one POST /v1/events (default 500)
    LEDGER_WRITES_PER_KEY_PER_SECOND accepted writes per signing key per second (1000)
    LEDGER_APPENDS_PER_ADDRESS_PER_SECOND  appended events per client address per second (5000)
    LEDGER_APPENDS_PER_TOKEN_PER_SECOND    appended events per bearer token per second (5000)
    LEDGER_OPEN_REGISTRATION         1: registering an organization needs no registration
                                     token (default 0: it needs one, see ``ledger token``)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from ledger.config import Settings
from ledger.projections import ProjectionRunner
from ledger.projections.images import image_key
from ledger.reads import AgreementStates, KeyCache, LogFollower
from ledger.runtime import Ledger, open_ledger, resolve_database
from ledger.snapshot import seal_key
from ledger.validation import AgreementRules

from .append_route import events_router
from .controllers import HealthController, LogController, OrganizationsController
from .controllers.agreements import AgreementsController, CurrentStates, StreamsController
from .controllers.events import KeyRateLimiter, WritePolicy
from .controllers.portfolio import PortfolioController
from .controllers.proofs import ProofsController
from .controllers.provenance import ProvenanceController
from .controllers.stream import HEARTBEAT_SECONDS, StreamController, stream_lifespan
from .docs_ui import SwaggerUIPlugin, assets_router
from .metrics import Metrics, metrics_middleware
from .positions import add_position_header, provide_reads
from .problems import exception_handlers
from .ratelimit import (
    DEFAULT_APPENDS_PER_ADDRESS_PER_SECOND,
    DEFAULT_APPENDS_PER_TOKEN_PER_SECOND,
    ClientRateLimiter,
)
from .security_headers import add_security_headers
from .web import web_handlers

__all__ = ["ApiConfig", "LedgerFactory", "create_app"]

#: Cross-origin reads: any page (the standalone verifier opened from a file, another
#: site's viewer) may GET the API's answers, with a bearer token of its own; no cookie or
#: credential of the browser is ever sent (the ledger sets none but the language). Writes
#: are not offered to other origins: a browser's preflight for POST is refused.
READ_CORS = CORSConfig(allow_origins=["*"], allow_methods=["GET", "HEAD"],
                       allow_headers=["Authorization", "Accept", "Cache-Control",
                                      "If-None-Match"],
                       expose_headers=["ETag", "Link"], allow_credentials=False, max_age=600)

LedgerFactory = Callable[[], AbstractAsyncContextManager[Ledger]]

DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_MAX_EVENTS = 500
DEFAULT_WRITES_PER_KEY_PER_SECOND = 1000
DEFAULT_SNAPSHOT_EVERY = 200


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Bounds the HTTP layer enforces before the store sees a request."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_events: int = DEFAULT_MAX_EVENTS
    writes_per_key_per_second: int = DEFAULT_WRITES_PER_KEY_PER_SECOND
    appends_per_address_per_second: int = DEFAULT_APPENDS_PER_ADDRESS_PER_SECOND
    appends_per_token_per_second: int = DEFAULT_APPENDS_PER_TOKEN_PER_SECOND
    open_registration: bool = False
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY  # events between snapshots (0: none)

    @classmethod
    def from_env(cls) -> ApiConfig:
        env = os.environ
        return cls(
            max_body_bytes=int(env.get("LEDGER_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            max_events=int(env.get("LEDGER_MAX_EVENTS_PER_REQUEST", DEFAULT_MAX_EVENTS)),
            writes_per_key_per_second=int(env.get("LEDGER_WRITES_PER_KEY_PER_SECOND",
                                                  DEFAULT_WRITES_PER_KEY_PER_SECOND)),
            appends_per_address_per_second=int(env.get(
                "LEDGER_APPENDS_PER_ADDRESS_PER_SECOND", DEFAULT_APPENDS_PER_ADDRESS_PER_SECOND)),
            appends_per_token_per_second=int(env.get(
                "LEDGER_APPENDS_PER_TOKEN_PER_SECOND", DEFAULT_APPENDS_PER_TOKEN_PER_SECOND)),
            open_registration=env.get("LEDGER_OPEN_REGISTRATION", "0").strip().lower()
            in ("1", "true", "yes"),
            snapshot_every=int(env.get("LEDGER_SNAPSHOT_EVERY", DEFAULT_SNAPSHOT_EVERY)),
        )


def _default_factory(settings: Settings, dsn: str | None, *,
                     background: bool, verify_history: bool = True) -> LedgerFactory:
    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[Ledger]:
        stack = contextlib.ExitStack()  # the embedded server, when one is started
        try:
            # DATABASE_URL, or an embedded server (blocking start: off the event loop)
            url: str = dsn if dsn is not None else await asyncio.to_thread(
                stack.enter_context, resolve_database(settings))
            async with open_ledger(settings, url, background=background,
                                   verify_history=verify_history) as ledger:
                yield ledger
        finally:
            await asyncio.to_thread(stack.close)

    return factory


def _provide_ledger(state: State) -> Ledger:
    ledger: Ledger = state.ledger
    return ledger


def _note_head(ledger: Ledger) -> Callable[[int], None]:
    """The follower's news of the primary's head, for the router's positions."""
    def note(position: int) -> None:
        ledger.router.note_size(position + 1)
    return note


def create_app(
    settings: Settings | None = None,
    *,
    dsn: str | None = None,
    ledger_factory: LedgerFactory | None = None,
    config: ApiConfig | None = None,
    background: bool = True,
    debug: bool = False,
    verify_history: bool = True,
    projections: bool = True,
) -> Litestar:
    """Build the app. The ledger is opened by the lifespan, from (first match):

    * ``ledger_factory()``: an async context manager yielding a :class:`Ledger`;
    * ``open_ledger(settings, dsn)`` when ``dsn`` is given;
    * ``open_ledger`` on ``settings.database_url``, or on an embedded PostgreSQL.

    ``settings`` defaults to ``Settings.from_env()`` and ``config`` to
    ``ApiConfig.from_env()``. ``background=False`` turns the checkpointer off
    (checkpoints are then signed on demand by ``GET /v1/log/checkpoint`` when none
    exists yet, or by the caller).
    """
    config = config or ApiConfig.from_env()
    if ledger_factory is None:
        ledger_factory = _default_factory(settings or Settings.from_env(), dsn,
                                          background=background,
                                          verify_history=verify_history)
    factory = ledger_factory

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with factory() as ledger:
            ledger.store.max_batch = max(ledger.store.max_batch, config.max_events)
            metrics: Metrics = app.state.metrics
            metrics.start_size(await ledger.store.size())
            # The requests' reads are routed per request (``positions.provide_reads``,
            # ``ledger.reads.routing``); the stream hub and the follower read the
            # primary, whose notifications they follow.
            reads = ledger.router.primary
            ledger.store.on_commit.append(metrics.on_commit)
            # The process's one follower of the log (LISTEN/NOTIFY for the other
            # processes' commits) wakes the stream hub and the projection runner.
            heartbeat = float(os.environ.get("LEDGER_SSE_HEARTBEAT_SECONDS",
                                             HEARTBEAT_SECONDS))
            follower = LogFollower(ledger.dsn, reads, heartbeat=heartbeat)
            # The read models follow the log in the background (woken by every commit
            # here, and by the follower for the other processes' commits).
            caches = ledger.settings.caches  # every cache's bound (LEDGER_CACHE_…)
            # An agreement the runner does not hold is reloaded from its sealed image
            # (projections.images); it also leaves the snapshots of agreement states
            # that cold reads and the write rules fold from. Both keyed by the log key.
            secret = ledger.log.key.private_bytes_raw()
            runner = ProjectionRunner(ledger.pool, follower=follower,
                                      cache_size=caches.projection_agreements,
                                      cache_bytes=caches.projection_bytes,
                                      image_key=image_key(secret),
                                      image_every=config.snapshot_every,
                                      snapshot_key=seal_key(secret))
            follower.subscribe(_note_head(ledger))
            ledger.store.on_commit.append(runner.notify)
            app.state.ledger = ledger
            app.state.reads = reads
            app.state.follower = follower
            app.state.key_cache = KeyCache(caches.key_histories)
            # Cold reads and time travel fold from snapshots sealed with a key derived
            # from the log key (ledger.snapshot), one per snapshot_every events.
            states = AgreementStates(seal_key(secret),
                                     every=config.snapshot_every, primary=ledger.pool)
            if isinstance(ledger.store.validator, AgreementRules):
                ledger.store.validator.states = states  # the write rules' cold states too
            app.state.current_states = CurrentStates(caches.agreements, states=states,
                                                    max_bytes=caches.agreements_bytes,
                                                    answers=caches.answers,
                                                    answers_bytes=caches.answers_bytes)
            app.state.projections = runner
            try:
                follower.start()
                if projections:
                    runner.start()
                yield
            finally:
                ledger.store.on_commit.remove(runner.notify)
                try:
                    await runner.stop()
                finally:
                    states.close()
                    await follower.stop()
                    ledger.store.on_commit.remove(metrics.on_commit)
                    del app.state.ledger

    state: dict[str, Any] = {
        "metrics": Metrics(),
        "write_policy": WritePolicy(
            config.max_events, KeyRateLimiter(config.writes_per_key_per_second),
            ClientRateLimiter(config.appends_per_address_per_second,
                              config.appends_per_token_per_second),
            registration_required=not config.open_registration),
    }
    app = Litestar(
        route_handlers=[events_router(), OrganizationsController, LogController,
                        HealthController, AgreementsController, StreamsController,
                        StreamController, PortfolioController, ProvenanceController,
                        ProofsController,
                        assets_router(), *web_handlers()],
        dependencies={
            "ledger": Provide(_provide_ledger, sync_to_thread=False),
            "reads": Provide(provide_reads),
        },
        lifespan=[lifespan, stream_lifespan],
        state=State(state),
        middleware=[metrics_middleware],
        before_send=[add_security_headers, add_position_header],
        cors_config=READ_CORS,
        exception_handlers=exception_handlers(),
        request_max_body_size=config.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Mutualisation ledger",
            version="1",
            description=(
                "A signed, append-only ledger of pooling agreements between organizations. "
                "Errors are RFC 9457 problem documents (application/problem+json) whose "
                "type is https://mutualisation-ledger.org/problems/<code>."
            ),
            path="/schema",
            render_plugins=[SwaggerUIPlugin(path=["/", "/swagger"])],
        ),
        debug=debug,
    )
    return app
