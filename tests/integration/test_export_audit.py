"""Export a live log, verify it offline, and catch every kind of broken bundle."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.audit import verify_bundle
from ledger.bundle_export import export_bundle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.keys import private_key_from_seed
from ledger.leaf import encode_leaf
from ledger.log import TransparencyLog
from ledger.signer import Signer
from ledger.statement import event_hash
from tests.helpers import Chain, org

pytestmark = pytest.mark.pg


async def _populate(store, tmp_path: Path):
    log = TransparencyLog(store, private_key_from_seed(b"\x07" * 32))
    a, b = org("centre-arts"), org("theatre-nord")
    await store.append([a.registration("Centre d'arts"), b.registration("Théâtre du Nord")])
    chain = Chain(a, "agreement/compta")
    await store.append([chain.next() for _ in range(5)])
    early = await log.checkpoint()
    await store.append([chain.next(signer=b) for _ in range(5)])
    # Rotate a's key: add a new one, revoke the old one with it, then use the new one.
    new_key = private_key_from_seed(b"\x09" * 32)
    head = await store.head("org/centre-arts")
    [r_add] = await store.append([a.key_addition(head.version + 1, head.hash, new_key)])
    a_new = Signer(a.org_id, new_key, a.ledger_id)
    await store.append([a_new.key_revocation(r_add.version + 1, r_add.event_hash, a.key_id)])
    await store.append([chain.next(signer=a_new) for _ in range(3)])
    await log.checkpoint()
    path = tmp_path / "bundle.jsonl"
    with path.open("wb") as fh:
        await export_bundle(store, log.vkey, fh)
    return log, path, early, a


async def test_export_then_verify_ok(store, tmp_path):
    log, path, early, _ = await _populate(store, tmp_path)
    report = verify_bundle(path, log.vkey, trusted_checkpoint=early.note, workers=2)
    assert report.ok, report.failure
    assert report.entries_verified == report.size == await store.size()
    assert report.checkpoints_verified == 2
    assert report.root_hash == (await store.root(report.size)).hex()
    assert report.organizations == 2


async def test_wrong_pinned_key_fails(store, tmp_path):
    _, path, _, _ = await _populate(store, tmp_path)
    other = TransparencyLog(store, private_key_from_seed(b"\x08" * 32))
    report = verify_bundle(path, other.vkey, workers=1)
    assert not report.ok and report.failure.code == "checkpoint-invalid"


def _mutate_entry(lines: list[bytes], index: int, fn) -> list[bytes]:
    obj = json.loads(lines[index + 1])
    fn(obj)
    lines = list(lines)
    lines[index + 1] = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
    return lines


def _flip_b64(text: str, byte: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[byte] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _forge_revoked(lines: list[bytes], a: Signer) -> tuple[list[bytes], int]:
    """Append, bypassing the store, an event signed by a's key after its revocation."""
    entries = [json.loads(x) for x in lines[1:] if x.startswith(b'{"index"')]
    last = entries[-1]
    index = last["index"] + 1
    payload = base64.b64decode(last["envelope"]["payload"])
    st_last = json.loads(payload)
    env = a.event(st_last["stream"], st_last["version"] + 1, event_hash(payload),
                  "test.noted", {"forged": True})
    env_bytes = env.canonical()
    leaf = encode_leaf(index, 4_000_000_000_000_000, env_bytes)
    line = json.dumps({"index": index, "leaf": base64.b64encode(leaf).decode(),
                       "envelope": json.loads(env_bytes)}).encode() + b"\n"
    header = json.loads(lines[0])
    header["size"] += 1
    cps = [x for x in lines[1:] if x.startswith(b'{"checkpoint"')]
    ents = [x for x in lines[1:] if not x.startswith(b'{"checkpoint"')]
    return [json.dumps(header).encode() + b"\n", *ents, line, *cps], index


CASES = ["payload-byte", "signature-byte", "leaf-byte", "leaf-time-byte", "entry-deleted",
         "entries-swapped", "foreign-checkpoint", "forked-checkpoint", "tail-dropped",
         "revoked-key-used"]


@pytest.mark.parametrize("case", CASES)
async def test_broken_bundles_are_detected(store, tmp_path, case):
    log, path, early, a = await _populate(store, tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    trusted = None
    want_index: int | range | None = 4
    if case == "payload-byte":
        lines = _mutate_entry(lines, 4, lambda o: o["envelope"].__setitem__(
            "payload", _flip_b64(o["envelope"]["payload"], 40)))
    elif case == "signature-byte":
        lines = _mutate_entry(lines, 4, lambda o: o["envelope"]["signatures"][0].__setitem__(
            "sig", _flip_b64(o["envelope"]["signatures"][0]["sig"], 3)))
    elif case == "leaf-byte":
        # A byte of the envelope part of the leaf.
        lines = _mutate_entry(lines, 4, lambda o: o.__setitem__("leaf", _flip_b64(o["leaf"], 30)))
    elif case == "leaf-time-byte":
        # recorded_at is bound only by the tree: caught by time order or by the root of
        # the next checkpoint, so the failure falls between the entry and that checkpoint.
        lines = _mutate_entry(lines, 4, lambda o: o.__setitem__("leaf", _flip_b64(o["leaf"], 9)))
        want_index = range(4, 7)
    elif case == "entry-deleted":
        del lines[4 + 1]
    elif case == "entries-swapped":
        lines[4 + 1], lines[5 + 1] = lines[5 + 1], lines[4 + 1]
    elif case == "foreign-checkpoint":
        size = len([x for x in lines if x.startswith(b'{"index"')])
        root = await store.root(size)
        fake = sign_checkpoint(Checkpoint(log.origin, size, root),
                               private_key_from_seed(b"\x08" * 32))
        lines.append(json.dumps({"checkpoint": fake}).encode() + b"\n")
        want_index = None
    elif case == "forked-checkpoint":
        note = sign_checkpoint(Checkpoint(log.origin, 7, b"\x01" * 32), log.key)
        lines.append(json.dumps({"checkpoint": note}).encode() + b"\n")
        want_index = 6
    elif case == "tail-dropped":
        keep = 5
        header = json.loads(lines[0])
        header["size"] = keep
        lines = [json.dumps(header).encode() + b"\n", *lines[1:1 + keep]]
        trusted = early.note
        want_index = keep
    elif case == "revoked-key-used":
        lines, want_index = _forge_revoked(lines, a)
    broken = path.with_name("broken.jsonl")
    broken.write_bytes(b"".join(lines))
    report = verify_bundle(broken, log.vkey, trusted_checkpoint=trusted, workers=1)
    assert not report.ok, case
    assert report.failure is not None
    if isinstance(want_index, range):
        assert report.failure.index in want_index, (case, report.failure)
    else:
        assert report.failure.index == want_index, (case, report.failure)
