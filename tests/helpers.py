"""Small builders for tests: organizations with keys, signed events, stream heads."""

from __future__ import annotations

import base64
import json
from typing import Any

from ledger.canonical import canonical_bytes
from ledger.envelope import Envelope
from ledger.keys import generate_private_key, private_key_from_seed
from ledger.signer import Signer
from ledger.statement import event_hash

LEDGER_ID = "test.mutualisation.example/ledger"


def org(name: str, seed: int | None = None, ledger_id: str = LEDGER_ID) -> Signer:
    key = (private_key_from_seed(bytes([seed]) * 32) if seed is not None
           else generate_private_key())
    return Signer(name, key, ledger_id)


def hash_of(env: Envelope) -> str:
    return event_hash(env.payload_bytes())


def flip_signature(envelope: bytes, byte: int = 5, bit: int = 0x10) -> bytes:
    """The same canonical envelope with one bit of its first signature flipped."""
    obj = json.loads(envelope)
    raw = bytearray(base64.b64decode(obj["signatures"][0]["sig"]))
    raw[byte] ^= bit
    obj["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    return canonical_bytes(obj)


class Chain:
    """Builds consecutive events of one stream for one signer."""

    def __init__(self, signer: Signer, stream: str, version: int = 0,
                 head: str | None = None) -> None:
        self.signer, self.stream, self.version, self.head = signer, stream, version, head

    def next(self, type: str = "test.noted", data: dict[str, Any] | None = None,
             signer: Signer | None = None) -> Envelope:
        who = signer or self.signer
        data = data or {"n": self.version + 1}
        env = who.event(self.stream, self.version + 1, self.head, type, data)
        self.version += 1
        self.head = hash_of(env)
        return env


class AgreementDriver:
    """Drives one agreement through the store like a client would: fold the stream,
    ``decide`` the command, sign the resulting events on top of the head, append."""

    def __init__(self, store, agreement_id: str) -> None:
        self.store = store
        self.agreement_id = agreement_id
        self.stream = f"agreement/{agreement_id}"

    async def state(self):
        from ledger.domain import fact_from_stored, fold

        return fold(fact_from_stored(e) for e in await self.store.read_whole_stream(self.stream))

    async def do(self, signer: Signer, command) -> list:
        from ledger.domain import decide

        head = await self.store.head(self.stream)
        new = decide(command, await self.state())
        envelopes, version, prev = [], head.version, head.hash
        for event in new:
            env = signer.event(self.stream, version + 1, prev, event.type, event.data)
            envelopes.append(env)
            version, prev = version + 1, hash_of(env)
        return await self.store.append(envelopes)
