"""Small builders for tests: organizations with keys, signed events, stream heads."""

from __future__ import annotations

from typing import Any

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
