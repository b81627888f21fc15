"""``GET /v1/stream`` applies the reading policy live: a trust's open stream carries
only what a consent in force covers, and a consent withdrawn applies to the next entry;
revoking a token ends the streams open with it, and a trust's agreement stream ends
when no consent to it is left. Each failed before (a trust's stream carried every
entry; a revoked token's stream went on)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

import ledger.domain as d
from ledger import b64
from ledger.db import APP_ROLE
from ledger.domain.values import Period, Quantity
from ledger.envelope import Envelope
from ledger.tokens import revoke_token
from tests.api.conftest import Agreement
from tests.api.test_stream import Server, Sse, positions, serve, sse
from tests.helpers import org
from tests.provenance.scenario import AID, CA, FR, OTHER_TRUST, TF, TRUST, World

pytestmark = pytest.mark.pg

OWN = ("c-ca", "c-tf", "c-fr")  # the consents given to TRUST
WITHIN = 3.0  # seconds: a revocation or a last withdrawal ends open streams by then


def _statement(env: Envelope) -> dict[str, Any]:
    st: dict[str, Any] = json.loads(b64.decode(env.to_json()["payload"]))
    return st


def _covered(st: dict[str, Any]) -> bool:
    """Phase one's consents to TRUST, by hand: the centre's covers everything, the
    theatre's agreement and commitment, the festival's agreement, commitment, party."""
    if st["stream"].startswith("org/"):
        return True
    family = st["type"].split(".", 1)[0]
    if family == "consent" and st["data"].get("consent_id") in OWN:
        return True
    return st["actor"] == CA or (st["actor"] == TF and family in ("agreement", "commitment")) \
        or (st["actor"] == FR and family in ("agreement", "commitment", "party"))


async def _post(server: Server, envelopes: list[Envelope]) -> list[dict[str, Any]]:
    receipts = []
    for i in range(0, len(envelopes), 20):
        receipts += await server.append(*envelopes[i:i + 20])
    return receipts


async def test_a_trust_s_stream_carries_what_consents_cover_and_a_withdrawal_applies_live(
        database: str, tmp_path: Path) -> None:
    world = World()
    world.phase_one()
    envelopes = world.take()
    async with serve(database, tmp_path / "home") as server:
        await _post(server, envelopes)
        statements = [_statement(e) for e in envelopes]
        public_register = [i for i, st in enumerate(statements)
                           if st["stream"].startswith("org/")]
        async with sse(server, await server.token("trust", OTHER_TRUST), after=-1) as stream:
            await stream.exactly(public_register)
        trust = await server.token("trust", TRUST)
        covered = [i for i, st in enumerate(statements) if _covered(st)]
        assert len(public_register) < len(covered) < len(statements)
        async with sse(server, trust, after=-1) as stream:
            await stream.exactly(covered)

        async with sse(server, trust) as stream:  # live
            world.act(CA, d.WithdrawConsent, consent_id="c-ca", reason="Fin du partage")
            world.act(CA, d.RecordFulfilment, fulfilment_id="compta-apr",
                      commitment_id="comptable", quantity=Quantity("30", "hour"),
                      period=Period("2027-04-05", "2027-04-30"))
            world.sign(world.signers[TF], f"org/{TF}", "organization.profile_updated",
                       {"profile": {"description": "marker"}})  # in the public register
            withdrawal, fulfilment, marker = await _post(server, world.take())
            got = [await stream.entry(), await stream.entry()]
            assert positions(got) == [withdrawal["position"], marker["position"]], \
                f"the fulfilment at {fulfilment['position']} was sent"


async def _revoke(server: Server, headers: dict[str, str]) -> None:
    conn = await asyncpg.connect(server.dsn)
    try:
        await conn.execute(f"SET ROLE {APP_ROLE}")
        await revoke_token(conn, headers["Authorization"].removeprefix("Bearer "))
    finally:
        await conn.close()


async def _ends_without_an_entry(stream: Sse, within: float) -> None:
    """The stream ends within ``within`` seconds, sending no entry before."""
    deadline = time.monotonic() + within
    with pytest.raises((EOFError, httpx.RemoteProtocolError, httpx.ReadError)):
        while True:
            event = await stream.next(timeout=max(0.1, deadline - time.monotonic()))
            assert event.get("event") != "entry", f"sent after the end: {event}"
            assert time.monotonic() < deadline, "the stream is still open"


async def test_revoking_a_token_ends_the_streams_open_with_it(database: str,
                                                              tmp_path: Path) -> None:
    """Failed before: the stream kept delivering the private agreement's entries."""
    a = org("centre-arts")
    private = Agreement(a, "prive")
    async with serve(database, tmp_path / "home") as server:
        await server.append(a.registration("A"), private.next())
        member = await server.token("org", "centre-arts")
        async with sse(server, member) as stream, sse(server, member, agreement="prive") \
                as filtered:
            await _revoke(server, member)
            await server.append(private.next())  # the next entry is not sent
            await _ends_without_an_entry(stream, WITHIN)
            await _ends_without_an_entry(filtered, WITHIN)
        r = await server.http.get("/v1/stream", headers=member)
        assert r.status_code == 401 and r.json()["type"].endswith("token-invalid")
        idle = await server.token("org", "centre-arts")
        async with sse(server, idle) as stream:
            await _revoke(server, idle)  # nothing is written: an idle stream ends too
            await _ends_without_an_entry(stream, WITHIN)


async def test_a_trust_s_agreement_stream_ends_when_no_consent_is_left(
        database: str, tmp_path: Path) -> None:
    world = World()
    world.phase_one()
    async with serve(database, tmp_path / "home") as server:
        await _post(server, world.take())
        trust = await server.token("trust", TRUST)
        async with sse(server, trust, agreement=AID) as stream:
            for org_id, consent in ((CA, "c-ca"), (TF, "c-tf"), (FR, "c-fr")):
                world.act(org_id, d.WithdrawConsent, consent_id=consent, reason="Fin")
            await _post(server, world.take())
            for _ in range(3):  # the withdrawals themselves: the basis, addressed to it
                assert (await stream.entry())["data"]["type"] == "consent.withdrawn"
            await _ends_without_an_entry(stream, WITHIN)
