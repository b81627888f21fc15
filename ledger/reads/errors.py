"""The driver's errors the HTTP layer answers, named so that ``api`` never imports it.

Why here: the read layer is the seam between the server and PostgreSQL; the HTTP
layer maps these to problems (503 "retry later", 400 "cannot be stored") without
knowing which driver raises them.
"""

from __future__ import annotations

import asyncpg

from ..db import DATABASE_DOWN

__all__ = ["DATABASE_DOWN", "READ_ERRORS", "TEXT_NOT_STORABLE"]

#: "The database is not there right now": answered 503 with Retry-After, never a 500
#: (the one list, ``ledger.db.DATABASE_DOWN``, named here for the HTTP layer).

#: What a failed probe raises when the database is down or refuses: "not ready".
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

#: PostgreSQL refused a text parameter (a NUL character): a malformed request.
TEXT_NOT_STORABLE: type[Exception] = asyncpg.CharacterNotInRepertoireError
