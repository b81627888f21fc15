"""Opening the ledger of this machine for a local command, never creating one.

Why: ``ledger token create`` run with another ``LEDGER_HOME`` used to start a new,
empty embedded database there and print a token for a ledger nobody serves. Only
``ledger serve`` and ``ledger db upgrade`` create a ledger; every other local command
opens one that exists (``DATABASE_URL``, or an initialised embedded database under
``LEDGER_HOME``) or says that none exists there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..config import Settings
from ..runtime import resolve_database
from .failures import Refusal
from .lang import say

__all__ = ["existing_database", "require_ledger"]


@contextmanager
def existing_database(settings: Settings) -> Iterator[str]:
    """Yield the admin DSN of the existing ledger, or refuse if there is none."""
    require_ledger(settings)
    with resolve_database(settings) as dsn:
        yield dsn


def require_ledger(settings: Settings) -> None:
    """Refuse unless a ledger exists: ``DATABASE_URL``, or an initialised embedded
    database under ``LEDGER_HOME``."""
    if not settings.database_url:
        pgdata = settings.home / "pgdata"
        if not (pgdata / "PG_VERSION").is_file():
            raise Refusal("no-ledger", say(
                f"aucun registre dans {settings.home} (LEDGER_HOME) : démarrez-en un avec "
                "« ledger serve » (ou « ledger db upgrade »), ou indiquez le bon LEDGER_HOME "
                "ou DATABASE_URL",
                f"no ledger in {settings.home} (LEDGER_HOME): start one with `ledger serve` "
                "(or `ledger db upgrade`), or set the right LEDGER_HOME or DATABASE_URL"))
