"""A projection runner in a process of its own, for the crash suite to ``kill -9``:
``python -m tests.fault.projector DSN``. It follows the log until killed."""

from __future__ import annotations

import asyncio
import sys

from ledger.db import connect_pool


async def main(dsn: str) -> None:
    from ledger.projections import ProjectionRunner

    pool = await connect_pool(dsn, min_size=1, max_size=3)
    runner = ProjectionRunner(pool, page_size=100, poll_interval=0.05, rebuild_from=None)
    runner.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
