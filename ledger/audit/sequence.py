"""The main sequence: the checks that need the log's order, in the main process.

Chunks arrive in log order (``Sequence.apply``); each row is checked against what the
entries before it established: every stream's version and prev-hash chain, the signing
key against the key history replayed from the bundle (the actor's key, valid at that
position), the organization rules, ``recorded_at`` never going backwards; the ranges'
subtrees are merged into the tree, whose root is compared with every checkpoint's.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field

from .. import merkle
from ..admission import Head, _check_chain
from ..errors import LedgerError
from ..registry import Registry, check_org_statement
from ..statement import Statement
from .entry import KeyCache, Pending, Row, registered, statement_decoder
from .report import AuditReport, Failure, Stop
from .worker import Chunk, routes_decoder, rows_decoder

__all__ = ["Sequence"]


@dataclass(slots=True)
class Sequence:
    """The sequential state: stream heads, key history, tree; where the rules replay
    will find each entry it folds, by partition."""

    checkpoints: dict[int, bytes]
    origin: str
    heads: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    tree: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    keys: KeyCache = field(default_factory=KeyCache)
    last_recorded: int = 0
    checked: int = 0           # entries [0, checked) passed every check of the log
    learned: list[tuple[str, bytes]] = field(default_factory=list)  # keys, in log order
    # What the report counts, by log index, so that a failure counts the entries before
    # it and no more: where each stream (and each org stream) began, and the entries
    # signed by co-signers too (index, co-signatures).
    opened: list[int] = field(default_factory=list)
    orgs_opened: list[int] = field(default_factory=list)
    cosigned: list[tuple[int, int]] = field(default_factory=list)
    # partition -> (index, line offset, recorded_at_us) * n, in log order
    routes: dict[str, array[int]] = field(default_factory=dict)

    def apply(self, chunk: Chunk) -> None:
        """Check a range's entries in log order, merging its subtrees as they end."""
        if chunk.first is not None and chunk.first != self.tree.size:
            raise Stop(Failure(self.tree.size, "entry-missing",
                               f"expected entry {self.tree.size}, found entry {chunk.first}"))
        rows = rows_decoder.decode(chunk.rows)
        routes = self.routes
        for key, where in routes_decoder.decode(chunk.routed).items():
            found = routes.get(key)
            if found is None:
                found = routes[key] = array("q")
            found.extend(where)
        index = self.tree.size
        done = 0
        try:
            for level, root in chunk.segments:
                for row in rows[done:done + (1 << level)]:
                    self.check_row(index, row)
                    index += 1
                done += 1 << level
                self.tree.append_subtree(level, root)
                self.check_root(index - 1)
        finally:  # the rows before ``index`` passed, whatever stopped the loop
            self.checked = index
        if chunk.failure is not None:
            failure = chunk.failure
            if failure.index is None:  # a line with no index of its own: where it stands
                failure = Failure(index, failure.code, failure.detail)
            if chunk.pending is not None:  # signatures checked before what failed
                self.verify_pending(index, chunk.pending)
            raise Stop(failure)

    def verify_pending(self, index: int, pending: Pending) -> None:
        """The signatures of entry ``index`` its worker could not verify, with the keys
        the history holds by then (revoked or not yet valid too: validity is checked
        after, with the other checks of the key)."""
        message = pending.message
        for kid, sig in pending.signatures:
            record = self.registry.keys.get(kid)
            raw = record.public_key if record is not None else registered(message, kid)
            if raw is None:
                raise Stop(Failure(index, "key-unknown",
                                   f"signature by key {kid}, which no earlier entry "
                                   "introduced"))
            if not self.keys.verify(raw, sig, message):
                raise Stop(Failure(index, "signature-invalid",
                                   f"signature by key {kid} does not verify"))

    def check_root(self, index: int) -> None:
        want = self.checkpoints.get(self.tree.size)
        if want is not None and self.tree.root() != want:
            raise Stop(Failure(index, "checkpoint-root",
                               f"the tree of size {self.tree.size} does not have the "
                               "root the log signed"))

    def check_row(self, index: int, row: Row) -> None:
        if row.pending is not None:
            self.verify_pending(index, row.pending)
        recorded_us = row.recorded_us
        if recorded_us < self.last_recorded:
            raise Stop(Failure(index, "recorded-at-order",
                               "recorded_at goes backwards in the log"))
        self.last_recorded = recorded_us
        stream, version = row.stream, row.version
        head = self.heads.get(stream, (0, None))
        # The common case in a few comparisons; anything else (org streams, a broken
        # link or key, co-signers) takes the full checks, which also word the failure.
        record = self.registry.keys.get(row.key)
        if (version == head[0] + 1 and row.prev == head[1] and record is not None
                and record.org_id == row.actor and record.valid_at(index)
                and not row.cosigners and not stream.startswith("org/")):
            if version == 1:
                self.opened.append(index)
            self.heads[stream] = (version, row.event_hash)
        else:
            self.full_checks(index, row, head)

    def full_checks(self, index: int, row: Row, head: tuple[int, str | None]) -> None:
        # Without the shipped payload, enough of the statement for the checks below.
        st = statement_decoder.decode(row.payload) if row.payload is not None else Statement(
            ledger=self.origin, stream=row.stream, version=row.version, prev=row.prev,
            type=row.type, data={}, actor=row.actor, key=row.key, issued_at="")
        try:
            _check_chain(st, Head(*head))
            self.registry.signer_key(st, index)
            for kid in row.cosigners:
                if self.registry.lookup(kid, index) is None:
                    raise LedgerError(f"co-signing key {kid} not valid here")
            if st.stream_kind == "org":
                check_org_statement(st, self.registry, index)
        except LedgerError as exc:
            raise Stop(Failure(index, exc.code, exc.detail)) from None
        keys = self.registry.keys
        known = len(keys)
        self.registry.apply(st, index)
        if len(keys) > known:  # a key introduced: the next ranges are sent with it
            record = next(reversed(keys.values()))
            self.learned.append((record.key_id, record.public_key))
        if row.version == 1:
            self.opened.append(index)
            if st.stream_kind == "org":
                self.orgs_opened.append(index)
        if row.cosigners:
            self.cosigned.append((index, len(row.cosigners)))
        self.heads[row.stream] = (row.version, row.event_hash)

    def count(self, report: AuditReport, before: int | None) -> None:
        """Fill the report's counts with the entries that passed every check: those
        below ``before`` (the first failing index, when one failed) and ``checked``."""
        n = self.checked if before is None else min(self.checked, before)
        report.entries_verified = n
        report.signatures_verified = n + sum(c for i, c in self.cosigned if i < n)
        report.streams = bisect.bisect_left(self.opened, n)
        report.organizations = bisect.bisect_left(self.orgs_opened, n)
