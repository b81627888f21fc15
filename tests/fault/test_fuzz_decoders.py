"""Fuzzing the decoders: whatever bytes or JSON arrive, only LedgerErrors come out.

Each decoder of untrusted input is fed arbitrary bytes, arbitrary JSON values and
mutations of valid inputs (bytes flipped, inserted, deleted; members removed, added or
replaced; payloads re-signed so the mutation reaches the checks behind the signature):

* ``ledger.envelope.decode_envelope`` (bytes and parsed JSON),
* ``ledger.canonical.parse_canonical``, ``ledger.statement.parse_statement``,
* ``ledger.admission.prepare`` (whole batches),
* ``ledger.domain.check_event`` (against several agreement states) and
  ``ledger.domain.command_from_event``.

Any exception that is not a ``ledger.errors.LedgerError`` subclass fails the test.
Then through the store: a batch the store refuses writes nothing (the log size and
contents are unchanged, the valid events of the batch included).
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger import b64
from ledger.admission import Limits, prepare
from ledger.canonical import canonical_bytes, parse_canonical
from ledger.domain import (
    EVENTS,
    DraftAgreement,
    Fact,
    JoinAgreement,
    ReviseAgreement,
    check_event,
    command_from_event,
    decide,
    evolve,
    initial_state,
)
from ledger.envelope import PAYLOAD_TYPE, Envelope, Signature, decode_envelope, pae
from ledger.errors import LedgerError
from ledger.keys import raw_public_key
from ledger.statement import parse_statement
from ledger.store import PostgresStore
from ledger.validation import AgreementRules
from tests.api.conftest import Agreement
from tests.helpers import LEDGER_ID, Chain, hash_of, org

pytestmark = [pytest.mark.pg, pytest.mark.fault]

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
outcomes: Counter[str] = Counter()  # decoder: outcome -> count, printed at the end


def only_ledger_errors(name: str, fn: Callable[[], Any]) -> None:
    """Run ``fn``; a LedgerError is a refusal, anything else escapes (and fails)."""
    try:
        fn()
    except LedgerError as exc:
        outcomes[f"{name}: refused ({exc.code})"] += 1
    else:
        outcomes[f"{name}: accepted"] += 1


# --- inputs ----------------------------------------------------------------------------

A, B = org("fuzz-a", seed=11), org("fuzz-b", seed=12)
KEYS = {s.key_id: raw_public_key(s.key) for s in (A, B)}
T0 = "2026-03-02T09:00:00Z"

json_leaf = (st.none() | st.booleans() | st.integers(-(2**64), 2**64)
             | st.floats(allow_nan=True, allow_infinity=True)
             | st.text(max_size=10) | st.sampled_from(["\ud800", "e\u0301", "\x00", "ﬁ"]))
json_values = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=10)


def _as_bytes(value: Any, mode: int) -> bytes:
    """A JSON value as bytes: canonical when possible, or one of several other forms."""
    if mode == 0:
        try:
            return canonical_bytes(value)
        except LedgerError:
            pass
    text = json.dumps(value, ensure_ascii=mode == 1, sort_keys=mode == 2,
                      separators=(",", ":") if mode != 3 else (", ", ": "), allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


json_bytes = st.builds(_as_bytes, json_values, st.integers(0, 3))


def _statement(stream: str, version: int, prev: str | None, type_: str,
               data: dict[str, Any], signer: Any = A) -> dict[str, Any]:
    return signer.statement(stream, version, prev, type_, data).to_json()


def _sealed(payload: bytes, signer: Any = A, keyid: str | None = None) -> Envelope:
    """An envelope whose signature over ``payload`` verifies (whatever the payload)."""
    sig = signer.key.sign(pae(PAYLOAD_TYPE, payload))
    return Envelope(PAYLOAD_TYPE, b64.encode(payload),
                    [Signature(keyid or signer.key_id, b64.encode(sig))])


REG_A = A.registration("Fuzz A")
AGREEMENT = Agreement(A, "fuzz")
VALID = [REG_A, B.registration("Fuzz B"),
         A.event("org/fuzz-a", 2, hash_of(REG_A), "organization.profile_updated",
                 {"profile": {"description": "2"}}),
         AGREEMENT.next(), AGREEMENT.next()]
VALID_ENVELOPES = [e.canonical() for e in VALID]
VALID_PAYLOADS = [e.payload_bytes() for e in VALID]
VALID_STATEMENTS = [json.loads(p) for p in VALID_PAYLOADS]


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "replace", "truncate"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[i:i + draw(st.integers(1, 8))]
        elif op == "replace" and data:
            data[i] = draw(st.sampled_from(b'"{}[],:\\0 \xff\xc3A'))
        elif op == "truncate":
            del data[i:]
    return bytes(data)


@st.composite
def mutated_json(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """A valid object with members removed, added, or replaced (at any depth)."""
    value = json.loads(json.dumps(draw(st.sampled_from(seeds))))
    for _ in range(draw(st.integers(1, 3))):
        node: Any = value
        while node and draw(st.booleans()):  # go down into a member object, maybe
            inner = [k for k in sorted(node) if isinstance(node[k], dict)]
            if not inner:
                break
            node = node[draw(st.sampled_from(inner))]
        op = draw(st.sampled_from(["drop", "add", "replace"]))
        if op == "drop" and node:
            del node[draw(st.sampled_from(sorted(node)))]
        elif op == "add":
            node[draw(st.text(max_size=8))] = draw(json_values)
        elif node:
            node[draw(st.sampled_from(sorted(node)))] = draw(json_values)
    return value


envelope_dicts = st.sampled_from([e.to_json() for e in VALID]).flatmap(
    lambda e: mutated_json([e]))
payloads = st.one_of(st.binary(max_size=300), json_bytes, mutated_bytes(VALID_PAYLOADS),
                     st.builds(_as_bytes, mutated_json(VALID_STATEMENTS), st.integers(0, 3)))


# --- the decoders ----------------------------------------------------------------------


@FUZZ
@given(raw=st.one_of(st.binary(max_size=400), json_bytes, mutated_bytes(VALID_ENVELOPES),
                     st.builds(_as_bytes, envelope_dicts, st.integers(0, 3))))
@example(raw=VALID_ENVELOPES[0])
def test_decode_envelope_bytes(raw: bytes):
    only_ledger_errors("decode_envelope(bytes)", lambda: decode_envelope(raw))


@FUZZ
@given(value=st.one_of(json_values, envelope_dicts))
@example(value=VALID[0].to_json())
# A lone surrogate once escaped as a UnicodeEncodeError (fixed; no longer assumed away).
@example(value={**VALID[0].to_json(), "payloadType": "\udfff"})
def test_decode_envelope_json(value: Any):
    only_ledger_errors("decode_envelope(json)", lambda: decode_envelope(value))


def test_lone_surrogate_in_parsed_json_is_a_ledger_error():
    escaped = []
    for value in ("\ud800", json.loads('{"\\ud800": 1}'),
                  {**VALID[0].to_json(), "payloadType": "\udfff"}):
        for name, fn in (("decode_envelope", lambda v=value: decode_envelope(v)),
                         ("prepare", lambda v=value: prepare(
                             [v], ledger_id=LEDGER_ID, now_us=int(time.time() * 1e6),
                             public_key=KEYS.get))):
            try:
                fn()
            except LedgerError:
                pass
            except Exception as exc:
                escaped.append(f"{name}({value!r}): {type(exc).__name__}")
    print(f"\n[fuzz] escaped: {escaped}")
    assert not escaped, escaped


@FUZZ
@given(raw=payloads)
def test_parse_canonical(raw: bytes):
    only_ledger_errors("parse_canonical", lambda: parse_canonical(raw))


@FUZZ
@given(raw=payloads)
def test_parse_statement(raw: bytes):
    only_ledger_errors("parse_statement", lambda: parse_statement(raw))


batch_item = st.one_of(
    st.sampled_from(VALID),                                        # valid
    mutated_bytes(VALID_ENVELOPES),                                # broken bytes
    envelope_dicts,                                                # broken shape
    st.builds(_sealed, payloads),                                  # re-signed payload
    st.builds(lambda p: _sealed(p, B, A.key_id), payloads),        # wrong key for the id
    json_values,
)


@settings(FUZZ, max_examples=200)
@given(batch=st.lists(batch_item, min_size=1, max_size=4),
       skew=st.sampled_from([0, 10**9, -(10**13)]))
@example(batch=[VALID[0]], skew=0)
@example(batch=[json.loads('{"\\ud800": 1}')], skew=0)
def test_prepare(batch: list[Any], skew: int):
    now_us = int(time.time() * 1_000_000) + skew
    only_ledger_errors("prepare", lambda: prepare(
        batch, ledger_id=LEDGER_ID, now_us=now_us, public_key=KEYS.get,
        limits=Limits(max_event_bytes=2048)))


def _history() -> list[tuple[Any, str, dict[str, Any], str, str]]:
    """A short agreement history: (state before, type, data, actor, at) of each event."""
    commands = [
        DraftAgreement(agreement_id="fz", title="Compta", purpose="Partager", binding=False,
                       invited=["fuzz-b"], actor="fuzz-a", at=T0),
        JoinAgreement(actor="fuzz-b", at="2026-03-02T10:00:00Z"),
        ReviseAgreement(title="Compta 2", purpose="Partager", binding=True, actor="fuzz-a",
                        at="2026-03-02T11:00:00Z"),
    ]
    state, out, version = initial_state(), [], 0
    for cmd in commands:
        for e in decide(cmd, state):
            out.append((copy.deepcopy(state), e.type, e.data, cmd.actor, cmd.at))
            version += 1
            state = evolve(state, Fact(e.type, e.data, cmd.actor, cmd.at, version))
    return out


HISTORY = _history()
STATES = [h[0] for h in HISTORY]
event_types = st.one_of(st.sampled_from(sorted(EVENTS)), json_values)
event_data = st.one_of(json_values, mutated_json([h[2] for h in HISTORY]),
                       st.sampled_from([h[2] for h in HISTORY]))
actors = st.one_of(st.sampled_from(["fuzz-a", "fuzz-b", "fuzz-c"]), json_values)
times = st.one_of(st.sampled_from([T0, "2026-02-30T00:00:00Z", "2026-03-02T09:00:00.5Z"]),
                  json_values)


@st.composite
def history_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    """A real event in its real state, then (mostly) one of its five parts replaced."""
    case = list(draw(st.sampled_from(HISTORY)))
    part = draw(st.integers(0, 5))  # 5: leave it valid
    if part < 5:
        case[part] = draw([st.sampled_from(STATES), event_types, event_data, actors,
                           times][part])
    return tuple(case)


@FUZZ
@given(case=st.one_of(history_cases(),
                      st.tuples(st.sampled_from(STATES), event_types, event_data, actors,
                                times)))
def test_check_event(case: tuple[Any, ...]):
    only_ledger_errors("check_event", lambda: check_event(*case))


@FUZZ
@given(case=st.one_of(history_cases().map(lambda c: c[1:]),
                      st.tuples(event_types, event_data, actors, times)))
# Found by this test: msgspec raised UnicodeEncodeError wording its error about a lone
# surrogate where a boolean was expected.
@example(case=("agreement.drafted", {"title": "Compta 2", "purpose": "Partager",
                                     "binding": "\ud800"}, "centre-arts",
               "2026-01-01T00:00:00Z"))
def test_command_from_event(case: tuple[Any, ...]):
    only_ledger_errors("command_from_event", lambda: command_from_event(*case))


def test_valid_inputs_are_accepted():
    """The control: the seeds themselves pass every decoder."""
    for raw, payload in zip(VALID_ENVELOPES, VALID_PAYLOADS, strict=True):
        assert decode_envelope(raw)[1] == payload
        assert parse_canonical(payload) == json.loads(payload)
        parse_statement(payload)
    assert len(prepare(VALID, ledger_id=LEDGER_ID, now_us=int(time.time() * 1e6),
                       public_key=KEYS.get)) == len(VALID)
    for state, type_, data, actor, at in HISTORY:
        check_event(state, type_, data, actor, at)
        command_from_event(type_, data, actor, at)


# --- through the store ---------------------------------------------------------------


class StoreRun:
    """The store's state across examples: what is stored, what each example did."""

    def __init__(self) -> None:
        self.ready = False
        self.chain = Chain(A, "org/fuzz-a")
        self.size = 0
        self.refused: Counter[str] = Counter()
        self.accepted = 0


@pytest.fixture(scope="module")
def store_run() -> StoreRun:
    return StoreRun()


@settings(FUZZ, max_examples=60,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(junk=st.lists(batch_item, min_size=0, max_size=3), where=st.integers(0, 3))
async def test_refused_batches_write_nothing(store: PostgresStore, store_run: StoreRun,
                                             junk: list[Any], where: int):
    run = store_run
    if not run.ready or await store.size() != run.size:  # a fresh database per test
        run.__init__()  # type: ignore[misc]
        store.validator = AgreementRules(store)
        reg = A.registration("Fuzz A")
        await store.append([reg, B.registration("Fuzz B")])
        run.chain = Chain(A, "org/fuzz-a", 1, hash_of(reg))
        run.size, run.ready = 2, True
    head = (run.chain.version, run.chain.head)
    valid = run.chain.next("organization.profile_updated",
                           {"profile": {"description": str(run.size)}})
    batch = [*junk[:where], valid, *junk[where:]]
    before = await store.read_log(0, 10_000)
    try:
        receipts = await store.append(batch)
    except LedgerError as exc:
        run.refused[exc.code] += 1
        run.chain.version, run.chain.head = head  # not stored: sign it again next time
        assert await store.read_log(0, 10_000) == before, "a refused batch changed the log"
        assert await store.size() == run.size
        return
    run.accepted += 1
    run.size += sum(1 for r in receipts if r.position >= run.size)
    assert await store.size() == run.size


FUZZERS: dict[str, Callable[[], None]] = {
    "decode_envelope(bytes)": test_decode_envelope_bytes,
    "decode_envelope(json)": test_decode_envelope_json,
    "parse_canonical": test_parse_canonical,
    "parse_statement": test_parse_statement,
    "prepare": test_prepare,
    "check_event": test_check_event,
    "command_from_event": test_command_from_event,
}
#: Refusals each fuzzer must reach: a check behind the first one (a fuzzer whose inputs
#: all die at the first gate tests nothing behind it).
DEEPER = {
    "parse_statement": {"statement-malformed"},
    "prepare": {"statement-malformed", "payload-not-canonical"},
}


def test_every_fuzzer_meets_both_verdicts():
    """Each decoder's fuzzer both got inputs accepted and inputs refused (with the
    refusals named in DEEPER among them): inputs all refused, or all accepted, would
    make "only LedgerErrors come out" vacuous. Fuzzers not run in this session (a
    selection of tests) are run here."""
    for name, fuzzer in FUZZERS.items():
        if not any(k.startswith(f"{name}: ") for k in outcomes):
            fuzzer()
    lines = [f"  {k}: {v}" for k, v in sorted(outcomes.items())]
    print("\n[fuzz] outcomes\n" + "\n".join(lines))
    for name in FUZZERS:
        seen = {k.removeprefix(f"{name}: ") for k in outcomes if k.startswith(f"{name}: ")}
        refused = {v[len("refused ("):-1] for v in seen if v.startswith("refused (")}
        assert "accepted" in seen, f"{name}: nothing accepted ({seen})"
        assert refused, f"{name}: nothing refused"
        assert DEEPER.get(name, set()) <= refused, f"{name}: refusals {refused}"
