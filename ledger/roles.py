"""Two database logins: the migration (admin) login and the server's runtime login.

Why: the server used to log in with ``DATABASE_URL``'s role (often a superuser) and
only ``SET ROLE ledger_writer`` on its connections, so any SQL it could be made to run
could ``RESET ROLE`` and be superuser again: disable the history triggers, rewrite the
tokens. Now the server's connections log in as a role that is nothing more than a
member of ``ledger_writer``: ``NOSUPERUSER``, ``NOCREATEROLE``, ``NOCREATEDB``,
``NOREPLICATION``, ``NOBYPASSRLS``; ``RESET ROLE`` gives back that role, no more.

``DATABASE_URL`` stays the admin login: migrations (``ledger db upgrade``, and at
start-up) and the operator's commands use it. The runtime login is, in order:

1. ``LEDGER_RUNTIME_DATABASE_URL`` when set: a role the operator made (external
   PostgreSQL, ``docs/DEPLOYMENT.md``);
2. else a role the server makes for itself when the admin login may create roles
   (the embedded PostgreSQL, the README's set-up): ``ledger_rt_`` + a hash of the
   database's name (role names are shared by the whole PostgreSQL cluster, so each
   ledger database has its own), a random password kept in ``ledger_runtime_login``
   (readable by the admin login only), granted ``ledger_writer``. Made under an
   advisory lock, idempotent: every start and every worker finds the same role and
   password;
3. else the admin login itself (it may not create roles, so it is no superuser).

Whatever the choice, start-up logs a loud warning when the runtime login is a
superuser (``runtime_is_superuser``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg

__all__ = [
    "RUNTIME_DSN_ENV",
    "RUNTIME_ROLE_PREFIX",
    "drop_runtime_role",
    "runtime_is_superuser",
    "runtime_login",
    "runtime_role_name",
    "with_login",
]

RUNTIME_DSN_ENV = "LEDGER_RUNTIME_DATABASE_URL"
RUNTIME_ROLE_PREFIX = "ledger_rt_"
_ROLE_LOCK = 0x4C454447_00000005  # "LEDG" + 5
_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
_log = logging.getLogger("ledger.roles")


def runtime_role_name(database: str) -> str:
    """The runtime role the server makes for the database named ``database``."""
    return RUNTIME_ROLE_PREFIX + hashlib.sha256(database.encode("utf-8")).hexdigest()[:20]


def with_login(dsn: str, user: str, password: str) -> str:
    """``dsn`` (a postgresql:// URL) logging in as ``user`` with ``password``."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    hostport = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k not in ("user", "password")])
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{hostport}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


async def _provision(conn: asyncpg.Connection) -> tuple[str, str]:
    """Make (or find) this database's runtime role; its name and password."""
    database: str = await conn.fetchval("SELECT current_database()")
    name = runtime_role_name(database)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _ROLE_LOCK)
        password = await conn.fetchval(
            "SELECT password FROM ledger_runtime_login WHERE role_name = $1", name)
        if password is None:
            password = secrets.token_urlsafe(32)
            await conn.execute(
                "INSERT INTO ledger_runtime_login (role_name, password) VALUES ($1, $2)",
                name, password)
        exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", name)
        # Role names cannot be bound parameters: quoted with quote_ident/quote_literal.
        verb = "ALTER ROLE" if exists else "CREATE ROLE"
        sql = await conn.fetchval(
            f"SELECT format('{verb} %I WITH {_ATTRIBUTES} PASSWORD %L', $1::text, $2::text)",
            name, password)
        try:
            await conn.execute(sql)
        except asyncpg.DuplicateObjectError:  # made meanwhile by another database's start
            await conn.execute(sql.replace("CREATE ROLE", "ALTER ROLE", 1))
        grant = await conn.fetchval("SELECT format('GRANT ledger_writer TO %I', $1::text)", name)
        await conn.execute(grant)
    return name, password


async def runtime_is_superuser(dsn: str) -> bool:
    """Whether ``dsn`` logs in as a superuser (checked with the role it logs in as)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return bool(await conn.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = session_user"))
    finally:
        await conn.close()


async def runtime_login(admin_dsn: str, explicit: str | None = None) -> str:
    """The DSN the server's connections use (see the module docstring); call it after
    the migrations. ``explicit`` defaults to ``LEDGER_RUNTIME_DATABASE_URL``."""
    explicit = explicit if explicit is not None else os.environ.get(RUNTIME_DSN_ENV) or None
    if explicit:
        dsn = explicit
    else:
        conn = await asyncpg.connect(admin_dsn, timeout=10)
        try:
            may_create = await conn.fetchval(
                "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
            if may_create:
                name, password = await _provision(conn)
                dsn = with_login(admin_dsn, name, password)
            else:
                _log.warning("the admin login cannot create roles: the server runs with it "
                             "(set %s to a runtime login, docs/DEPLOYMENT.md)",
                             RUNTIME_DSN_ENV)
                dsn = admin_dsn
        finally:
            await conn.close()
    if await runtime_is_superuser(dsn):
        _log.warning("!!! THE SERVER'S DATABASE LOGIN IS A SUPERUSER: it can disable the "
                     "history triggers and rewrite tokens; set %s to a login without "
                     "superuser rights (docs/DEPLOYMENT.md) !!!", RUNTIME_DSN_ENV)
    return dsn


async def drop_runtime_role(admin_dsn: str, database: str) -> None:
    """Drop the runtime role the server made for ``database`` (after dropping the
    database itself: throwaway test databases on a shared cluster)."""
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        sql = await conn.fetchval("SELECT format('DROP ROLE IF EXISTS %I', $1::text)",
                                  runtime_role_name(database))
        await conn.execute(sql)
    finally:
        await conn.close()
