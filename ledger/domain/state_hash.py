"""The state hash: one hex SHA-256 that names an agreement's terms at a terms version.

Why: each party ratifies ``{terms_version, state_hash}``, so the hash must be reproducible
by any implementation from the same history. It covers the *terms* only (who the parties
are and what they wrote and promised), not progress (fulfilments, measures, stages,
ratifications, consents, visibility, suspension). The exact JSON is specified in
``docs/PROTOCOL.md (Part IV)``; ``terms_json`` below is that specification in code, and
``tests/vectors/state_hash/`` pins it.

Lists are sorted by their id (or org) in Unicode code point order; every member is always
present, ``null`` when absent; the object is encoded with ``ledger.canonical``.
"""

from __future__ import annotations

import functools
import hashlib
import weakref
from typing import Any, Final

from ..canonical import canonical_json_bytes
from .state import AgreementState, Commitment, Expectation
from .values import FairValue, Quantity

__all__ = ["EXPECTATION_SCHEMA", "TERMS_SCHEMA", "expectation_hash", "state_hash", "terms_json"]

TERMS_SCHEMA: Final = "mutualisation.terms/1"
EXPECTATION_SCHEMA: Final = "mutualisation.expectation/1"


def _quantity(q: Quantity | None) -> dict[str, str] | None:
    return None if q is None else {"amount": q.amount, "unit": q.unit}


def _fair(v: FairValue | None) -> dict[str, str] | None:
    return None if v is None else {"amount": v.amount, "unit": v.unit, "method": v.method}


def _addressed(e: Expectation) -> str | list[str]:
    return e.addressed_to if isinstance(e.addressed_to, str) else sorted(e.addressed_to)


def _commitment(c: Commitment) -> dict[str, Any]:
    return {
        "id": c.id,
        "provider": c.provider,
        "receiver": c.receiver,
        "category": c.category,
        "description": c.description,
        "quantity": _quantity(c.quantity),
        "period": {"start": c.period.start, "end": c.period.end},
        "conditions": c.conditions,
        "value": _quantity(c.value),
        "fair_value": _fair(c.fair_value),
        "receiver_values": [
            {"org": org, "amount": v.amount, "unit": v.unit}
            for org, v in sorted(c.receiver_values.items())
        ],
    }


def terms_json(state: AgreementState) -> dict[str, Any]:
    """The agreement's terms at ``state.terms_version`` as the JSON object that is hashed."""
    return {
        "schema": TERMS_SCHEMA,
        "agreement_id": state.agreement_id,
        "terms_version": state.terms_version,
        "title": state.title,
        "purpose": state.purpose,
        "binding": state.binding,
        "parties": [
            {"org": org, "porteur": p.porteur} for org, p in sorted(state.parties.items())
        ],
        "expectations": [
            {"id": e.id, "holder": e.holder, "text": e.text, "addressed_to": _addressed(e)}
            for _, e in sorted(state.expectations.items())
            if not e.withdrawn
        ],
        "roles": [
            {
                "id": r.id,
                "name": r.name,
                "description": r.description,
                "assignee": r.assignee,
                "person": r.person,
            }
            for _, r in sorted(state.roles.items())
            if r.status == "accepted"
        ],
        "commitments": [
            _commitment(c) for _, c in sorted(state.commitments.items()) if not c.withdrawn
        ],
        "indicators": [
            {"id": i.id, "name": i.name, "unit": i.unit, "method": i.method, "target": i.target}
            for _, i in sorted(state.indicators.items())
        ],
    }


def state_hash(state: AgreementState) -> str:
    """Hex SHA-256 of the canonical bytes of ``terms_json(state)``.

    Raises ``MalformedStatement`` only for a state built from non-canonical data (a string
    not in NFC), which no recorded history can produce.

    Remembered per state object and terms version: terms change only with their version
    (``evolve`` bumps it on every terms event and on no other, a property test holds
    it), and every party's ratification of a version asks the same hash again. A state
    whose terms are edited in place other than by ``evolve`` must not be asked twice.
    """
    key = id(state)
    known = _hashes.get(key)
    if known is not None and known[0]() is state and known[1] == state.terms_version:
        return known[2]
    digest = hashlib.sha256(canonical_json_bytes(terms_json(state))).hexdigest()
    _hashes[key] = (weakref.ref(state, functools.partial(_forget, key)),
                    state.terms_version, digest)
    return digest


# id(state) -> (the state, weakly; its terms version; its hash). An entry leaves with
# its state (the callback), so an id the runtime reuses never finds another's hash.
_hashes: dict[int, tuple[weakref.ref[AgreementState], int, str]] = {}


def _forget(key: int, gone: weakref.ref[AgreementState]) -> None:
    known = _hashes.get(key)
    if known is not None and known[0] is gone:
        del _hashes[key]


def expectation_hash(expectation: Expectation) -> str:
    """The content hash an acknowledgement binds to: the expectation's current text,
    holder and addressees (``addressed_to`` sorted when it is a list)."""
    content = {
        "schema": EXPECTATION_SCHEMA,
        "id": expectation.id,
        "holder": expectation.holder,
        "text": expectation.text,
        "addressed_to": _addressed(expectation),
    }
    return hashlib.sha256(canonical_json_bytes(content)).hexdigest()
