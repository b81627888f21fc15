"""Settings read from the environment, in one place.

``DATABASE_URL``      PostgreSQL DSN (15+); unset = embedded PostgreSQL under LEDGER_HOME
``LEDGER_HOME``       data directory (embedded database, log key); default: user data dir
``LEDGER_ORIGIN``     the ledger id / log origin, fixed at first start
``LEDGER_LOG_KEY``    path of the log operator's Ed25519 key (default LEDGER_HOME/log-key.pem);
                      made at first start, then it must stay the key the ledger recorded
                      (a new one only by ``ledger log rotate-key``)
``LEDGER_MAX_EVENT_BYTES``  limit on one event's payload (default 65536)
``LEDGER_MAX_SKEW_SECONDS`` allowed distance of issued_at from the clock (default 600)
``LEDGER_CHECKPOINT_INTERVAL`` seconds between checkpoints at most (default 1.0)
``LEDGER_REPLICA_URLS`` (and ``LEDGER_REPLICA_*``) streaming replicas serving reads:
                      ``ledger.reads.routing.ReplicaSettings``
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .admission import Limits
from .db import ledger_home
from .reads.routing import NO_REPLICAS, ReplicaSettings

__all__ = ["DEFAULT_ORIGIN", "Settings"]

DEFAULT_ORIGIN = "localhost/mutualisation-ledger"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None
    home: Path
    origin: str
    log_key_path: Path
    limits: Limits
    checkpoint_interval: float = 1.0
    replicas: ReplicaSettings = NO_REPLICAS

    @classmethod
    def from_env(cls) -> Settings:
        home = ledger_home()
        env = os.environ
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            home=home,
            origin=env.get("LEDGER_ORIGIN", DEFAULT_ORIGIN),
            log_key_path=Path(env.get("LEDGER_LOG_KEY", str(home / "log-key.pem"))),
            limits=Limits(
                max_event_bytes=int(env.get("LEDGER_MAX_EVENT_BYTES", 64 * 1024)),
                max_skew_us=int(float(env.get("LEDGER_MAX_SKEW_SECONDS", 600)) * 1_000_000),
            ),
            checkpoint_interval=float(env.get("LEDGER_CHECKPOINT_INTERVAL", 1.0)),
            replicas=ReplicaSettings.from_env(env),
        )
