"""The organization's workspace against a real ``ledger serve``: every statement of a small
workshop (two registrations under the operator's registration tokens, a draft, a join, a
key rotation, an expectation stated and acknowledged, two stages, both ratifications) is
built and signed by the browser's modules (api/web/static/js/sign/, run by Node), admitted
by the server, and each receipt's inclusion proof verified. The terms' state hash the
browser computed is the one the Python domain folds from the same history; a refusal is
worded with its rule and field; a 409 is retried on the fresh head; and no request the
browser's code sends carries a private key, in any spelling."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ledger.client import LedgerClient
from ledger.db import APP_ROLE
from ledger.domain.state_hash import state_hash
from ledger.tokens import create_token
from tests.api.test_serve import _stop, _wait_until_healthy, serve_on

pytestmark = [pytest.mark.pg,
              pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")]

ROOT = Path(__file__).resolve().parents[2]
AGREEMENT = "ws-2026"
ORGS = ("centre-a", "centre-b")


async def _tokens(dsn: str) -> tuple[dict[str, str], dict[str, str]]:
    """A single-use registration token and an org token for each organization."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"SET ROLE {APP_ROLE}")
        registration = {o: (await create_token(conn, "registration", f"atelier {o}"))[0]
                        for o in ORGS}
        reading = {o: (await create_token(conn, "org", o))[0] for o in ORGS}
        return registration, reading
    finally:
        await conn.close()


def _workshop(base: str, registration: dict[str, str], tokens: dict[str, str]) -> dict[str, Any]:
    program = {"op": "workshop", "base": base, "registration": registration, "tokens": tokens,
               "agreement_id": AGREEMENT}
    done = subprocess.run(["node", str(ROOT / "tests" / "js" / "run_sign.mjs")],
                          input=json.dumps(program), capture_output=True, text=True,
                          timeout=150)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _secrets_of(pem: str) -> list[str]:
    """Every spelling of a private key a request could carry: the PEM, its base64 body,
    the seed in hex, standard and URL-safe base64 (and unpadded)."""
    key = load_pem_private_key(pem.encode(), password=None)
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    body = "".join(pem.strip().splitlines()[1:-1])
    b64 = base64.b64encode(seed).decode()
    url = base64.urlsafe_b64encode(seed).decode()
    return [pem, body, seed.hex(), b64, b64.rstrip("="), url.rstrip("=")]


def _public_of(pem: str) -> str:
    key = load_pem_private_key(pem.encode(), password=None)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _readable(request: dict[str, Any]) -> str:
    """A request as text: URL, method, headers, body, and the payload of each envelope
    in the body decoded (a payload is the base64 of the signed statement)."""
    parts = [json.dumps(request)]
    if request["body"]:
        for env in json.loads(request["body"]).get("events", []):
            parts.append(base64.b64decode(env["payload"]).decode())
    return "\n".join(parts)


@pytest.mark.timeout(240)
async def test_the_workshop_signed_in_the_browser(database: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    proc, port = serve_on(database, tmp_path / "home", log)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            await _wait_until_healthy(http, proc, log)
        registration, tokens = await _tokens(database)
        r = await asyncio.to_thread(_workshop, base, registration, tokens)
        steps = r["steps"]

        accepted = ["register centre-a", "register centre-b", "draft", "join", "key added",
                    "key revoked", "expectation", "acknowledge", "stage a", "stage b (409)",
                    "ratify centre-a", "ratify centre-b"]
        for name in accepted:
            assert steps[name]["ok"], (name, steps[name])
            # The receipt is the statement's, and proven in a signed checkpoint.
            assert steps[name]["inclusion"]["size"] > steps[name]["receipt"]["position"]
        assert steps["last key"]["rule"] == "key.last-key"
        assert steps["not addressee"]["rule"] == "expectation.not-addressee"  # its holder
        refused = steps["join again"]
        assert refused["ok"] is False
        assert (refused["code"], refused["rule"]) == ("rule-violated", "party.already-party")
        assert "partie" in refused["message_fr"] and "party" in refused["message_en"]
        # The concurrent edit: refused once (409), signed again on the fresh head.
        assert steps["stage b (409)"]["tries"] == 2
        assert steps["stage b (409)"]["statement"]["version"] == \
            steps["stage a"]["statement"]["version"] + 1

        # The browser's state hash is the Python domain's, on the history it verified.
        client = LedgerClient(base, token=tokens["centre-a"])
        state, _head = await asyncio.to_thread(client.agreement_state, AGREEMENT)
        assert r["state_hash"] == state_hash(state)
        assert r["terms_version"] == state.terms_version
        for org in ORGS:
            ratified = steps[f"ratify {org}"]["statement"]["data"]
            assert ratified == {"terms_version": state.terms_version,
                                "state_hash": state_hash(state)}
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            view = (await http.get(f"/v1/agreements/{AGREEMENT}",
                                   headers={"Authorization": f"Bearer {tokens['centre-b']}"})
                    ).json()
        assert view["in_force"] is True
        assert view["in_force_version"] == state.terms_version

        # No request carried a private key, in any spelling (the instrumented fetch saw
        # every request: URL, headers and body, and the statements inside the envelopes).
        assert len(r["requests"]) > 30
        secrets = [s for pem in r["pems"].values() for s in _secrets_of(pem)]
        publics = [_public_of(pem) for pem in r["pems"].values()]
        seen_publics = set()
        for q in r["requests"]:
            seen = _readable(q)
            for secret in secrets:
                assert secret not in seen, q["url"]
            seen_publics.update(p for p in publics if p in seen)
        # The scan reads what is signed: every public key is found in it (registrations
        # and the key added), so a private key sent the same way would have been too.
        assert seen_publics == set(publics)
    finally:
        await asyncio.to_thread(_stop, proc)
    assert "Traceback" not in log.read_text()
