"""Offline audit throughput against the raw all-core Ed25519 verification rate.

Generates a bundle of N signed events (default 100,000: registrations, then agreement
streams of ~200-byte events, a checkpoint every 10,000 entries) straight to a file,
then measures, in the same run:

* the raw rate: Ed25519 verifications of the same messages on every core (a process
  pool, nothing else done);
* ``ledger audit verify`` (``ledger.audit.verify_bundle``) on every core.

Run: python bench/audit.py [--events N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _setup import LEDGER_ID, machine, signers

from ledger import b64, merkle
from ledger.bundle import checkpoint_line, entry_line, header_line
from ledger.checkpoint import Checkpoint, make_vkey, sign_checkpoint
from ledger.envelope import pae
from ledger.keys import private_key_from_seed, raw_public_key, verify_signature
from ledger.leaf import encode_leaf
from ledger.statement import event_hash


def generate(path: Path, n: int) -> tuple[str, list[tuple[bytes, bytes, bytes]]]:
    log_key = private_key_from_seed(b"\x42" * 32)
    orgs = signers(16)
    tree = merkle.CompactRange()
    samples: list[tuple[bytes, bytes, bytes]] = []
    heads: dict[str, tuple[int, str | None]] = {}
    t0 = 1_780_000_000_000_000
    notes = []
    with path.open("wb") as fh:
        fh.write(header_line(LEDGER_ID, make_vkey(LEDGER_ID, raw_public_key(log_key)), n))
        for i in range(n):
            if i < len(orgs):
                env = orgs[i].registration(orgs[i].org_id)
            else:
                o = orgs[i % len(orgs)]
                stream = f"agreement/bench-{i % 500}"
                version, prev = heads.get(stream, (0, None))
                env = o.event(stream, version + 1, prev, "bench.noted",
                              {"n": i, "note": "x" * 100})
                heads[stream] = (version + 1, event_hash(env.payload_bytes()))
            envelope = env.canonical()
            leaf = encode_leaf(i, t0 + i, envelope)
            tree.append(merkle.hash_leaf(leaf))
            fh.write(entry_line(i, leaf, envelope))
            if (i + 1) % 10_000 == 0 or i + 1 == n:
                notes.append(sign_checkpoint(Checkpoint(LEDGER_ID, i + 1, tree.root()),
                                             log_key))
            if len(samples) < 20_000 and i >= len(orgs):
                payload = env.payload_bytes()
                samples.append((raw_public_key(o.key), b64.decode(env.signatures[0].sig),
                                pae(env.payloadType, payload)))
        for note in notes:
            fh.write(checkpoint_line(note))
    return make_vkey(LEDGER_ID, raw_public_key(log_key)), samples


def _verify_many(jobs: list[tuple[bytes, bytes, bytes]]) -> int:
    return sum(verify_signature(k, s, m) for k, s, m in jobs)


def raw_rate(samples: list[tuple[bytes, bytes, bytes]], workers: int) -> float:
    chunks = [samples[i::workers * 4] for i in range(workers * 4)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_verify_many, [chunks[0][:50]] * workers))  # warm up the workers
        t = time.perf_counter()
        ok = sum(pool.map(_verify_many, chunks))
        elapsed = time.perf_counter() - t
    assert ok == len(samples)
    return len(samples) / elapsed


def main(n: int) -> None:
    from ledger.audit import verify_bundle

    workers = os.cpu_count() or 1
    print(f"setup: {machine()}; bundle of {n} events (~200-byte payloads, "
          f"{workers} worker processes), no database")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.jsonl"
        t = time.perf_counter()
        vkey, samples = generate(path, n)
        print(f"generated {n} signed events in {time.perf_counter() - t:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB)")
        raw = raw_rate(samples, workers)
        report = verify_bundle(path, vkey)
        assert report.ok, report.failure
        rate = report.entries_verified / report.elapsed
        print(f"raw Ed25519 verification, all cores: {raw:10,.0f} signatures/s")
        print(f"ledger audit verify:                 {rate:10,.0f} events/s "
              f"({rate / raw:.0%} of the raw rate)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    main(parser.parse_args().events)
