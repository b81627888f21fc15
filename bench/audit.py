"""Offline audit throughput against the raw all-core Ed25519 verification rate.

Generates a bundle of N signed events (default 100,000) straight to a file: the
registrations of 60 organizations, then the realistic agreement workload the other
benchmarks use (drafts, joins, expectations, commitments, ratifications, months of
fulfilments..., every event decided by the domain), interleaved across agreements, with
a signed checkpoint every 10,000 entries. Then measures, in the same run:

* the raw rate: Ed25519 verifications of the same messages on every core (a process
  pool, nothing else done);
* ``ledger audit verify --skip-rules``: ``verify_bundle`` on every core, the log's own
  checks (bundle lines, leaves, canonical payloads, signatures, chains, keys, Merkle
  roots, checkpoints);
* ``ledger audit verify``: the same with the agreement rules replayed over every
  agreement stream (``AgreementReplay``), the agreements shared among the cores, as
  the command does by default.

The host's speed drifts (other tenants): each round measures the raw rate before,
between and after its two audits, holds each audit to the mean of the raw rates around
it, and the summary gives the median ratio over the rounds.

Run: python bench/audit.py [--events N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import msgspec
from _setup import LEDGER_ID, machine, signers
from _workload import ORGS, lives, sign_all

from ledger import b64, merkle
from ledger.bundle import checkpoint_line, entry_line, header_line
from ledger.checkpoint import Checkpoint, make_vkey, sign_checkpoint
from ledger.envelope import pae
from ledger.keys import private_key_from_seed, raw_public_key, verify_signature
from ledger.leaf import encode_leaf


def generate(path: Path, n: int) -> tuple[str, list[tuple[bytes, bytes, bytes]]]:
    log_key = private_key_from_seed(b"\x42" * 32)
    orgs = signers(ORGS)
    keys = {o.org_id: raw_public_key(o.key) for o in orgs}
    envelopes = [o.registration(o.org_id) for o in orgs]
    envelopes += sign_all(lives(n - len(orgs)))[:n - len(orgs)]
    tree = merkle.CompactRange()
    samples: list[tuple[bytes, bytes, bytes]] = []
    t0 = 1_780_000_000_000_000
    notes = []
    with path.open("wb") as fh:
        fh.write(header_line(LEDGER_ID, make_vkey(LEDGER_ID, raw_public_key(log_key)), n))
        for i, env in enumerate(envelopes):
            envelope = env.canonical()
            leaf = encode_leaf(i, t0 + i, envelope)
            tree.append(merkle.hash_leaf(leaf))
            fh.write(entry_line(i, leaf, envelope))
            if (i + 1) % 10_000 == 0 or i + 1 == n:
                notes.append(sign_checkpoint(Checkpoint(LEDGER_ID, i + 1, tree.root()),
                                             log_key))
            if len(samples) < 20_000 and i >= len(orgs):
                payload = env.payload_bytes()
                actor = msgspec.json.decode(payload)["actor"]
                samples.append((keys[actor], b64.decode(env.signatures[0].sig),
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


def main(n: int, rounds: int) -> None:
    from ledger.audit import verify_bundle
    from ledger.domain.audit import AgreementReplay

    workers = os.cpu_count() or 1
    print(f"setup: {machine()}; bundle of {n:,} events ({ORGS} registrations, then "
          f"agreement events; {workers} worker processes), no database; {rounds} rounds, "
          "each measuring the raw rate before, between and after its two audits")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.jsonl"
        t = time.perf_counter()
        vkey, samples = generate(path, n)
        print(f"generated {n:,} signed events in {time.perf_counter() - t:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB)")
        ratios: dict[str, list[float]] = {"skip": [], "rules": []}
        for k in range(1, rounds + 1):
            # The raw rate right before and right after each audit: each audit is held
            # to their mean, the host's speed at the time it ran.
            before = raw_rate(samples, workers)
            core = verify_bundle(path, vkey)
            between = raw_rate(samples, workers)
            full = verify_bundle(path, vkey, replay=AgreementReplay)
            after = raw_rate(samples, workers)
            assert core.ok, core.failure
            assert full.ok, full.failure
            print(f"round {k}: raw Ed25519 verification, all cores: {before:,.0f}, "
                  f"{between:,.0f}, {after:,.0f} signatures/s (before, between, after)")
            for key, label, report, raw in (
                    ("skip", "ledger audit verify --skip-rules", core, (before + between) / 2),
                    ("rules", "ledger audit verify (rules replayed)", full,
                     (between + after) / 2)):
                rate = report.entries_verified / report.elapsed
                ratios[key].append(rate / raw)
                print(f"  {label:>36}: {rate:10,.0f} events/s ({rate / raw:.0%} of the raw "
                      f"rate around it, {raw:,.0f}/s)")
        print(f"{len(full.agreements):,} agreements replayed; root {full.root_hash[:16]}...")
        for key, label in (("skip", "--skip-rules"), ("rules", "rules replayed")):
            print(f"median over {rounds} rounds, {label}: {statistics.median(ratios[key]):.0%} "
                  f"of the raw rate (range {min(ratios[key]):.0%}-{max(ratios[key]):.0%})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure raw rate and both audits this many times (default 3)")
    args = parser.parse_args()
    main(args.events, args.rounds)
