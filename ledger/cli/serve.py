"""``ledger serve``: run the HTTP API with uvicorn.

Uses ``DATABASE_URL`` when set, otherwise an embedded PostgreSQL under ``LEDGER_HOME``.
The app's lifespan applies migrations and opens the ledger. Ctrl-C or SIGTERM stops
uvicorn gracefully (the lifespan closes the ledger), then the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from types import FrameType
from typing import Any

from ..config import Settings
from ..runtime import open_ledger, resolve_database

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop(BaseException):
    """Raised by the signal handler to leave start-up early (before uvicorn runs)."""


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (embedded PostgreSQL unless DATABASE_URL)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(handler=run)


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
