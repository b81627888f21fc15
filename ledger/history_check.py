"""The full history check, run in the background once the server serves.

Start-up checks only what no checkpoint covers yet (``TransparencyLog.verify_recent``),
so that its time does not grow with the log. Whether the stored entries before the
last checkpoint still agree with it (leaves, tree nodes, derived columns) is checked
here, from entry 0, while the server serves: reads derive everything they serve from
the signed envelope, so serving meanwhile is safe. If the check fails, the log is
made ``suspect`` (it signs no more checkpoints in this process), ``/readyz`` answers
503 with the reason, and one ERROR line names the position.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from .errors import HistoryMismatch
from .integrity import verify_derived_columns
from .log import TransparencyLog

__all__ = ["PROGRESS_SECONDS", "HistoryCheck", "run_history_check"]

#: Progress is logged at every tenth of the log, and at least this often (seconds).
PROGRESS_SECONDS = 30.0
_log = logging.getLogger("ledger.history")

Status = Literal["pending", "running", "passed", "failed", "stopped"]


@dataclass(slots=True)
class HistoryCheck:
    """Where the background history check stands (read by ``/readyz`` and ``/metrics``).

    ``pending``: not started (a process that runs no background check stays so);
    ``running``: ``checked`` of ``size`` entries' leaves recomputed so far (then the
    derived columns, ``phase`` says which); ``passed``; ``failed`` with ``error``;
    ``stopped``: the process stopped before it ended."""

    status: Status = "pending"
    phase: str = ""
    checked: int = 0
    size: int = 0
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


async def run_history_check(log: TransparencyLog, check: HistoryCheck) -> None:
    """Verify the whole stored history (``verify_history``, then every derived column
    from entry 0), keeping ``check`` up to date; on a mismatch make ``log`` suspect."""
    check.status, check.started_at, check.phase = "running", datetime.now(UTC), "tree"
    started = time.monotonic()
    said = {"at": started, "tenth": 0}

    def progress(checked: int, size: int) -> None:
        check.checked, check.size = checked, size
        tenth = checked * 10 // size if size else 10
        now = time.monotonic()
        if tenth > said["tenth"] or now - said["at"] >= PROGRESS_SECONDS:
            said["at"], said["tenth"] = now, tenth
            _log.info("history check: %s / %s entries", f"{checked:,}", f"{size:,}")

    try:
        size = await log.verify_history(progress)
        check.phase = "columns"
        async with log.store.pool.acquire() as conn, \
                conn.transaction(isolation="repeatable_read"):
            await verify_derived_columns(conn)
    except asyncio.CancelledError:
        check.status, check.finished_at = "stopped", datetime.now(UTC)
        raise
    except HistoryMismatch as exc:
        reason = f"the history check failed: {exc.detail}"
        log.suspect, check.error = reason, exc.detail  # in one turn with the ERROR line
        _log.error("history check failed: %s; no more checkpoints will be signed, "
                   "/readyz answers 503 (docs/SECURITY.md)", exc.detail)
        # and once the status says failed, no signing begun before is still in flight
        await log.distrust(reason)
        check.status, check.finished_at = "failed", datetime.now(UTC)
        return
    except Exception as exc:  # the database went away: not a verdict on history
        check.status, check.finished_at = "stopped", datetime.now(UTC)
        check.error = f"{type(exc).__name__}: {exc}"
        _log.warning("history check could not finish: %s (it runs again at the next "
                     "start)", check.error)
        return
    check.status, check.finished_at, check.size = "passed", datetime.now(UTC), size
    check.checked = size
    _log.info("history check passed: %s entries in %.1f s", f"{size:,}",
              time.monotonic() - started)
