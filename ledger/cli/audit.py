"""``ledger audit verify FILE --log-key VKEY``: verify a bundle offline."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..audit import AuditReport, verify_bundle
from ..domain.audit import AgreementReplay
from .output import Progress, print_json, table


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="offline verification of an exported bundle")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="verify every signature, chain, leaf, root and "
                        "checkpoint of a bundle, with no database and no network")
    v.add_argument("bundle", type=Path, help="bundle file written by 'ledger export'")
    v.add_argument("--log-key", required=True,
                   help="the log's verifier key (vkey), obtained out of band")
    v.add_argument("--trusted-checkpoint", type=Path,
                   help="a signed checkpoint kept from before (detects rollback and forks)")
    v.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    v.add_argument("--skip-rules", action="store_true",
                   help="verify the log only (signatures, chains, keys, tree, checkpoints) "
                   "without replaying the agreement rules: faster, and proves less")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    trusted = args.trusted_checkpoint.read_text("utf-8") if args.trusted_checkpoint else None
    if not args.bundle.exists():
        raise FileNotFoundError(f"no such bundle: {args.bundle}")
    bars = _Bars(enabled=not args.json)
    report = verify_bundle(args.bundle, args.log_key, trusted_checkpoint=trusted,
                           workers=args.workers, progress=bars.update,
                           replay=None if args.skip_rules else AgreementReplay)
    bars.close()
    if args.skip_rules:
        report.warnings.append("the agreement rules were not replayed (--skip-rules)")
    if args.json:
        print_json(report.to_json())
    else:
        _print(report)
    return 0 if report.ok else 1


class _Bars:
    """One progress bar per phase of the audit (verify, then rules), one after the other."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Progress | None = None
        self.since = time.monotonic()   # when the phase under way began

    def update(self, phase: str, done: int, total: int) -> None:
        if self.bar is None or self.bar.label != phase:
            self.close()
            self.bar = Progress(phase, total or None, enabled=self.enabled)
            self.bar.start = self.since  # its rate counts from the phase's start
        self.bar.update(done, total or None)
        self.since = time.monotonic()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print(report: AuditReport) -> None:
    rows = [
        ("origin", report.origin),
        ("entries verified", f"{report.entries_verified} of {report.size}"),
        ("signatures verified", report.signatures_verified),
        ("checkpoints verified", report.checkpoints_verified),
        ("streams", report.streams),
        ("organizations", report.organizations),
        ("tree root", report.root_hash),
        ("rate", f"{report.entries_verified / report.elapsed:,.0f} events/s"
         if report.elapsed else "-"),
    ]
    if report.trusted_checkpoint:
        rows.append(("trusted checkpoint", f"size {report.trusted_checkpoint['size']}"))
    table(("check", "result"), rows)
    for w in report.warnings:
        print(f"warning: {w}")
    if report.agreements:
        print()
        table(("agreement", "final state hash"), sorted(report.agreements.items()))
    print()
    if report.failure is None:
        print("OK: the bundle verifies")
    else:
        f = report.failure
        where = f"entry {f.index}" if f.index is not None else "bundle"
        print(f"FAIL: {where}: {f.code}: {f.detail}")
