"""Settings read from the environment, in one place.

``DATABASE_URL``      PostgreSQL DSN (15+); unset = embedded PostgreSQL under LEDGER_HOME
``LEDGER_HOME``       data directory (embedded database, log key); default: user data dir
``LEDGER_ORIGIN``     the ledger id / log origin, fixed at first start
``LEDGER_LOG_KEY``    path of the log operator's Ed25519 key (default LEDGER_HOME/log-key.pem);
                      made at first start, then it must stay the key the ledger recorded
                      (a new one only by ``ledger log rotate-key``)
``LEDGER_LAST_CHECKPOINT`` file remembering the newest checkpoint signed, outside the
                      database (default: the log key's path + ``.last-checkpoint``;
                      ``ledger.signed_head``): keep it with the log key
``LEDGER_MAX_EVENT_BYTES``  limit on one event's payload (default 65536)
``LEDGER_MAX_SKEW_SECONDS`` allowed distance of issued_at from the clock (default 600)
``LEDGER_CHECKPOINT_INTERVAL`` seconds between checkpoints at most (default 1.0)
``LEDGER_REPLICA_URLS`` (and ``LEDGER_REPLICA_*``) streaming replicas serving reads:
                      ``ledger.reads.routing.ReplicaSettings``

Memory (:class:`Caches`): every cache of a server process has a bound here, so that its
memory follows these settings and not the length of the log (``docs/DEPLOYMENT.md``
has the table with the memory an entry takes). Each is a positive whole number;
``…_MIB`` are mebibytes of estimated memory, the others entries:

``LEDGER_CACHE_AGREEMENTS``                agreements' current states kept for reads
``LEDGER_CACHE_AGREEMENTS_MIB``            … and their memory (128, 32)
``LEDGER_CACHE_ANSWERS``                   agreements' current views kept compressed for
``LEDGER_CACHE_ANSWERS_MIB``               reads, and their memory (4096, 64)
``LEDGER_CACHE_PROJECTION_AGREEMENTS``     agreements the projection runner keeps folded
``LEDGER_CACHE_PROJECTION_MIB``            … and their memory (10000, 32)
``LEDGER_CACHE_RULES_AGREEMENTS``          agreement states the write rules keep
``LEDGER_CACHE_RULES_MIB``                 … and their memory (4096, 16)
``LEDGER_CACHE_STREAM_AGREEMENTS``         agreement states the live stream keeps (who may
``LEDGER_CACHE_STREAM_MIB``                read an entry), and their memory (4096, 16)
``LEDGER_CACHE_STREAM_ENTRIES``            log entries kept encoded for the live stream
``LEDGER_CACHE_STREAM_ENTRIES_MIB``        … and their memory (4096, 4)
``LEDGER_CACHE_KEY_HISTORIES``             organizations' key histories (provenance) (4096)
``LEDGER_CACHE_PUBLIC_KEYS``               signing keys kept for signature checks (16384)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from .admission import Limits
from .db import ledger_home
from .reads.routing import NO_REPLICAS, ReplicaSettings
from .signed_head import default_path

__all__ = ["DEFAULT_ORIGIN", "BadSetting", "Caches", "Settings"]

DEFAULT_ORIGIN = "localhost/mutualisation-ledger"
MIB = 1 << 20


class BadSetting(ValueError):
    """A setting of the environment that cannot be used (its message is one line)."""


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise BadSetting(f"{name} must be a positive whole number, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class Caches:
    """The bounds of the process's caches (entries; ``…_bytes``: estimated memory).

    Why a byte bound beside the entries: a folded agreement of 2,000 events takes two
    hundred times the memory of one of 10 (``ledger.lru.agreement_bytes``)."""

    agreements: int = 128
    agreements_bytes: int = 32 * MIB
    answers: int = 4096
    answers_bytes: int = 64 * MIB
    projection_agreements: int = 10_000
    projection_bytes: int = 32 * MIB
    rules_agreements: int = 4096
    rules_bytes: int = 16 * MIB
    stream_agreements: int = 4096
    stream_bytes: int = 16 * MIB
    stream_entries: int = 4096
    stream_entries_bytes: int = 4 * MIB
    key_histories: int = 4096
    public_keys: int = 16_384

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Caches:
        """Read from ``LEDGER_CACHE_…`` (BadSetting, one line, on a bad value)."""
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        for f in fields(cls):
            default: int = f.default  # type: ignore[assignment]
            if f.name.endswith("_bytes"):
                name = "LEDGER_CACHE_" + f.name.removesuffix("_bytes").upper() + "_MIB"
                values[f.name] = _whole(env, name, default // MIB) * MIB
            else:
                values[f.name] = _whole(env, "LEDGER_CACHE_" + f.name.upper(), default)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None
    home: Path
    origin: str
    log_key_path: Path
    limits: Limits
    checkpoint_interval: float = 1.0
    replicas: ReplicaSettings = NO_REPLICAS
    caches: Caches = field(default_factory=Caches)
    last_checkpoint_path: Path | None = None

    @property
    def signed_head(self) -> Path:
        """The record of the newest signed checkpoint (``ledger.signed_head``)."""
        return self.last_checkpoint_path or default_path(self.log_key_path)

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
            caches=Caches.from_env(env),
            last_checkpoint_path=(Path(env["LEDGER_LAST_CHECKPOINT"])
                                  if env.get("LEDGER_LAST_CHECKPOINT") else None),
        )
