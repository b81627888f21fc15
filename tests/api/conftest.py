"""Fixtures for the HTTP API: an app on a fresh database, driven by AsyncTestClient.

AsyncTestClient runs the app (lifespan included) on its own event loop in a portal
thread, so anything that touches the app's pool from a test goes through
``in_app(client, fn, ...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ledger.admission import Limits
from ledger.api.app import ApiConfig, create_app
from ledger.config import Settings
from ledger.envelope import Envelope
from ledger.runtime import Ledger
from ledger.signer import Signer
from ledger.tokens import create_token
from tests.helpers import LEDGER_ID, Chain

pytestmark = pytest.mark.pg

T = TypeVar("T")
PROBLEM = "https://mutualisation-ledger.org/problems/"

TEST_CONFIG = ApiConfig(max_body_bytes=256 * 1024, max_events=20, writes_per_key_per_second=1000,
                        open_registration=True)  # tests/integration/test_admission*.py close it


def settings_for(home: Path, dsn: str) -> Settings:
    return Settings(database_url=dsn, home=home, origin=LEDGER_ID,
                    log_key_path=home / "log-key.pem", limits=Limits(max_event_bytes=4096),
                    checkpoint_interval=0.05)


@pytest.fixture
def api_config() -> ApiConfig:
    return TEST_CONFIG


@pytest.fixture
def app(database: str, tmp_path: Path, api_config: ApiConfig) -> Litestar:
    return create_app(settings_for(tmp_path, database), dsn=database, config=api_config,
                      background=False)


@pytest_asyncio.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as c:
        yield c


def in_app(client: AsyncTestClient[Litestar], fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``fn(ledger, *args)`` on the app's event loop; return its result."""
    ledger: Ledger = client.app.state.ledger
    return client.blocking_portal.call(fn, ledger, *args)


async def _token(ledger: Ledger, kind: str, subject: str) -> str:
    async with ledger.pool.acquire() as conn:
        token, _ = await create_token(conn, kind, subject)
    return token


def token_for(client: AsyncTestClient[Litestar], kind: str, subject: str) -> dict[str, str]:
    """Authorization headers of a fresh token."""
    return {"Authorization": f"Bearer {in_app(client, _token, kind, subject)}"}


@pytest.fixture
def auditor(client: AsyncTestClient[Litestar]) -> dict[str, str]:
    return token_for(client, "auditor", "cour-des-comptes")


@pytest.fixture
def trust(client: AsyncTestClient[Litestar]) -> dict[str, str]:
    return token_for(client, "trust", "witness-1")


class Agreement(Chain):
    """Consecutive agreement events the rules at the door admit: a draft, then revisions
    (each with a new title) by the drafter."""

    def __init__(self, signer: Signer, agreement_id: str = "a1") -> None:
        super().__init__(signer, f"agreement/{agreement_id}")
        self.agreement_id = agreement_id

    def next(self, type: str | None = None, data: dict[str, Any] | None = None,
             signer: Signer | None = None) -> Envelope:
        if type is None:
            n = self.version + 1
            type, data = ("agreement.drafted", {"agreement_id": self.agreement_id}) if n == 1 \
                else ("agreement.revised", {})
            data |= {"title": f"Comptabilité partagée v{n}", "purpose": "Partager une comptable",
                     "binding": False}
        return super().next(type, data, signer)


def body(*envelopes: Envelope) -> dict[str, Any]:
    return {"events": [e.to_json() for e in envelopes]}


def assert_problem(response: Any, status: int, code: str, **members: Any) -> dict[str, Any]:
    """The response is a problem+json of this status and code, with these members."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = response.json()
    assert doc["type"] == PROBLEM + code, doc
    assert doc["status"] == status
    assert doc["title"] and isinstance(doc["detail"], str)
    for key, value in members.items():
        assert doc.get(key) == value, (key, doc)
    return doc
