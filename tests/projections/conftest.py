"""Fixtures for the projection tests: a fresh migrated database with a pool and a
store that accepts histories dated in 2026."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from ledger.store import PostgresStore
from tests.projections.builders import open_store


@pytest_asyncio.fixture
async def ledger(database: str) -> AsyncIterator[tuple[asyncpg.Pool, PostgresStore]]:
    async for pair in open_store(database):
        yield pair
