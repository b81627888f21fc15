"""``GET /v1/stream`` applies the reading policy to trusts, live: a trust's open stream
carries only what a consent in force covers, and a consent withdrawn applies to the
next entry. Both failed before (a trust's stream carried every entry)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ledger.domain as d
from ledger import b64
from ledger.domain.values import Period, Quantity
from ledger.envelope import Envelope
from tests.api.test_stream import Server, positions, serve, sse
from tests.provenance.scenario import CA, FR, OTHER_TRUST, TF, TRUST, World

pytestmark = pytest.mark.pg

OWN = ("c-ca", "c-tf", "c-fr")  # the consents given to TRUST


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
                       {"profile": {"note": "marker"}})  # in the public register
            withdrawal, fulfilment, marker = await _post(server, world.take())
            got = [await stream.entry(), await stream.entry()]
            assert positions(got) == [withdrawal["position"], marker["position"]], \
                f"the fulfilment at {fulfilment['position']} was sent"
