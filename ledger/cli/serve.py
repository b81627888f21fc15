"""``ledger serve``: run the HTTP API with uvicorn.

Uses ``DATABASE_URL`` when set, otherwise an embedded PostgreSQL under ``LEDGER_HOME``.
The app's lifespan applies migrations and opens the ledger. Ctrl-C or SIGTERM stops
uvicorn gracefully (the lifespan closes the ledger), then the embedded PostgreSQL.

``--workers N`` runs N server processes on one listening socket (uvicorn's supervisor:
it restarts a worker that dies, and stops when a worker cannot start), because one
process runs at most one core of Python. The processes share only the database, as
separate servers do (``docs/DEPLOYMENT.md``): appends are ordered by the store's
advisory lock, the caches follow the database (the agreements' read cache through
LISTEN/NOTIFY), and the per-key write limit and ``/metrics`` counters are per process.
The default stays 1: on two cores a second process serves more reads but appends fewer
events (``docs/PERFORMANCE.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from types import FrameType
from typing import Any

from ..config import Settings
from ..runtime import open_ledger, resolve_database

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How the parent hands the resolved database to worker processes (they are started
# afresh, so they cannot inherit the embedded server's DSN any other way).
_WORKER_DSN = "LEDGER_SERVE_WORKER_DSN"


class _Stop(BaseException):
    """Raised by the signal handler to leave start-up early (before uvicorn runs)."""


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (embedded PostgreSQL unless DATABASE_URL)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--workers", type=_positive, default=1,
                   help="server processes sharing the port (1); see docs/DEPLOYMENT.md")
    p.set_defaults(handler=run)


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def worker_app() -> Any:
    """The app of one worker process (``--workers`` > 1), built from the environment
    the parent set up; the parent already ran the start-up checks."""
    from api.app import create_app

    return create_app(Settings.from_env(), dsn=os.environ[_WORKER_DSN],
                      verify_history=False)


class _Supervisor:
    """uvicorn's multiprocess supervisor, remembering whether a signal stopped it (and
    not a worker that could not start)."""

    def __init__(self, config: Any) -> None:
        from uvicorn.supervisors import Multiprocess

        supervisor = self

        class Supervisor(Multiprocess):
            def handle_int(self) -> None:
                supervisor.signalled = True
                super().handle_int()

            def handle_term(self) -> None:
                supervisor.signalled = True
                super().handle_term()

        self.signalled = False
        self.sock = config.bind_socket()
        self.multiprocess = Supervisor(config, sockets=[self.sock])

    def run(self) -> bool:
        """Serve until a signal (True) or a worker's start-up failure (False)."""
        try:
            self.multiprocess.run()
        finally:
            self.sock.close()
        return self.signalled


async def _preflight(settings: Settings, dsn: str) -> None:
    async with open_ledger(settings, dsn, background=False):
        pass


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = Settings.from_env()
    phase = {"name": "starting"}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Before uvicorn runs, leave through the context managers below. While it runs,
        # uvicorn has its own handlers; afterwards (it re-raises what it caught) we are
        # stopping anyway and must not interrupt the clean-up.
        if phase["name"] == "starting":
            phase["name"] = "stopping"
            raise _Stop

    previous = {sig: signal.signal(sig, on_signal) for sig in _STOP_SIGNALS}
    try:
        with resolve_database(settings) as dsn:
            where = "DATABASE_URL" if settings.database_url else f"embedded, {settings.home}"
            print(f"ledger: database ({where}); serving http://{args.host}:{args.port}",
                  file=sys.stderr, flush=True)
            # The start-up checks (migrations, origin, the stored history against the
            # last signed checkpoint) run here first, so a refusal is one clear line.
            asyncio.run(_preflight(settings, dsn))
            if args.workers > 1:
                os.environ[_WORKER_DSN] = dsn
                config = uvicorn.Config(f"{__name__}:worker_app", factory=True,
                                        workers=args.workers, host=args.host,
                                        port=args.port, lifespan="on",
                                        log_level=args.log_level)
                phase["name"] = "serving"
                ok = _Supervisor(config).run()
                phase["name"] = "stopping"
                if not ok:
                    print("error: a server process did not start (see the log above)",
                          file=sys.stderr)
                    return 1
                return 0
            config = uvicorn.Config(create_app(settings, dsn=dsn, verify_history=False),
                                    host=args.host,
                                    port=args.port, lifespan="on", log_level=args.log_level)
            server = uvicorn.Server(config)
            phase["name"] = "serving"
            server.run()
            phase["name"] = "stopping"
            if not server.started:
                print("error: the server did not start (see the log above)", file=sys.stderr)
                return 1
    except _Stop:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
