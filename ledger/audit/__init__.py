"""Offline audit of a bundle: no database, no network, no trust in the server.

What is checked, in order of the log:

1. every entry line: its index is the next one; its leaf bytes carry that index and
   exactly the canonical bytes of its envelope; the payload is canonical JSON for this
   ledger; every signature verifies (Ed25519 over DSSE PAE) — spread over every core,
   with the keys the bundle introduced before it;
2. every stream's version sequence and prev-hash chain;
3. every signing key against the key history replayed from the bundle itself (the
   actor's key, valid at that log position), and the organization rules;
4. the Merkle tree: the root at every checkpoint's size equals the checkpoint's root;
5. every checkpoint's signature against the pinned log key (never a key from the bundle);
6. consistency with a trusted checkpoint kept from before: a bundle shorter than it
   (rolled back or truncated) or with another root at its size (a fork) fails;
7. optionally, rules replayed over the verified entries (the agreement rules: see
   ``Replay``), partitioned by the stream they fold, every core folding its share.

The result names the first failing index and what failed. The modules, one job each:

* ``scan``: the bundle file mapped, its header, checkpoint lines and byte ranges;
* ``entry``: the checks of one entry line, in a worker (a ``Row`` for what passes);
* ``worker``: ranges verified and partitions folded in worker processes (``Worker``);
* ``sequence``: the checks that need the log's order, in the main process;
* ``replay``: the rules replay (``Replay``, partitions, the fold);
* ``report``: the verdict (``AuditReport``, ``Failure``);
* ``verify``: ``verify_bundle``, the whole from start to end.

Pure: no database, HTTP or command-line layer is imported (the import contract in
pyproject.toml).
"""

from __future__ import annotations

from .replay import Replay
from .report import AuditReport, Failure
from .verify import verify_bundle

__all__ = ["AuditReport", "Failure", "Replay", "verify_bundle"]
