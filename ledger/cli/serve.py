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

Starting and stopping: the port is bound first, before any database is started, so a
port already in use is one line and a non-zero exit with nothing left running; "serving
http://…" is printed once the server accepts connections. Every step of the shutdown
is bounded (open responses ``GRACEFUL_SECONDS``, then the ledger's closes, then the
embedded PostgreSQL's bounded stop), and a second SIGINT/SIGTERM stops at once (the
embedded PostgreSQL with an immediate shutdown). The embedded PostgreSQL's own lines
stay off the console unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any

from ..config import Settings
from ..db import EmbeddedPostgres
from ..runtime import open_ledger, resolve_database

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How the parent hands the resolved database to worker processes (they are started
# afresh, so they cannot inherit the embedded server's DSN any other way).
_WORKER_DSN = "LEDGER_SERVE_WORKER_DSN"
GRACEFUL_SECONDS = 10  # open responses (e.g. live streams) get this long to end


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
    p.add_argument("--verbose", action="store_true",
                   help="also show the embedded PostgreSQL's own log lines")
    p.set_defaults(handler=run)


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def worker_app() -> Any:
    """The app of one worker process (``--workers`` > 1), built from the environment
    the parent set up; the parent already ran the start-up checks."""
    from ledger.api.app import create_app

    return create_app(Settings.from_env(), dsn=os.environ[_WORKER_DSN],
                      verify_history=False)


class _Supervisor:
    """uvicorn's multiprocess supervisor, remembering whether a signal stopped it (and
    not a worker that could not start)."""

    def __init__(self, config: Any, sock: socket.socket) -> None:
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
        self.multiprocess = Supervisor(config, sockets=[sock])

    def run(self) -> bool:
        """Serve until a signal (True) or a worker's start-up failure (False)."""
        self.multiprocess.run()
        return self.signalled


class _CannotListen(Exception):
    pass


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts (as uvicorn binds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            why = "the port is already in use (another `ledger serve`?)"
        raise _CannotListen(f"error: cannot listen on {host}:{port}: {why}") from None
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _server_class() -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, saying where it serves once it accepts connections."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                print(f"ledger: serving {_url(self.config.host, self.config.port)}",
                      file=sys.stderr, flush=True)

    return Server


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _preflight(settings: Settings, dsn: str) -> None:
    async with open_ledger(settings, dsn, background=False):
        pass


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    phase = {"name": "starting"}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Before uvicorn runs, leave through the context managers below. While it runs,
        # uvicorn has its own handlers (a second signal skips the graceful part); they
        # hand the signal back here as it returns, still "serving". Once stopping, a
        # signal forces the exit: the embedded PostgreSQL is stopped at once.
        if phase["name"] == "starting":
            phase["name"] = "stopping"
            raise _Stop
        if phase["name"] == "stopping":
            _force_exit(settings)

    try:
        sock = _bind(args.host, args.port)
    except _CannotListen as exc:
        print(exc, file=sys.stderr)
        return 1
    previous = {sig: signal.signal(sig, on_signal) for sig in _STOP_SIGNALS}
    try:
        import uvicorn

        from ledger.api.app import create_app

        with sock, resolve_database(settings, verbose=args.verbose) as dsn:
            where = "DATABASE_URL" if settings.database_url else f"embedded, {settings.home}"
            print(f"ledger: database ({where})", file=sys.stderr, flush=True)
            # The start-up checks (migrations, origin, the stored history against the
            # last signed checkpoint) run here first, so a refusal is one clear line.
            asyncio.run(_preflight(settings, dsn))
            if args.workers > 1:
                os.environ[_WORKER_DSN] = dsn
                config = uvicorn.Config(f"{__name__}:worker_app", factory=True,
                                        workers=args.workers, host=args.host,
                                        port=args.port, lifespan="on",
                                        log_level=args.log_level,
                                        timeout_graceful_shutdown=GRACEFUL_SECONDS)
                phase["name"] = "serving"
                print(f"ledger: serving {_url(args.host, args.port)} "
                      f"({args.workers} processes)", file=sys.stderr, flush=True)
                ok = _Supervisor(config, sock).run()
                phase["name"] = "stopping"
                if not ok:
                    print("error: a server process did not start (see the log above)",
                          file=sys.stderr)
                    return 1
                return 0
            config = uvicorn.Config(create_app(settings, dsn=dsn, verify_history=False),
                                    host=args.host, port=args.port, lifespan="on",
                                    log_level=args.log_level,
                                    timeout_graceful_shutdown=GRACEFUL_SECONDS)
            server = _server_class()(config)
            phase["name"] = "serving"
            server.run(sockets=[sock])
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


def _force_exit(settings: Settings) -> None:
    """A second signal while stopping: stop the embedded PostgreSQL at once, exit."""
    print("ledger: stopping now", file=sys.stderr, flush=True)
    if not settings.database_url:
        with contextlib.suppress(Exception):
            EmbeddedPostgres(settings.home / "pgdata").stop_now()
    os._exit(1)
