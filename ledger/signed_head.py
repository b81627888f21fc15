"""The newest checkpoint this ledger signed, remembered outside the database.

Why: the ``checkpoints`` table lives in the database it vouches for. After an
asynchronous promotion (or a restore) that lost the primary's last entries, the new
primary has lost the last checkpoints too, so "never sign a smaller tree" checked
against the table alone would let the ledger sign, in time, a *different* tree of a
size it already signed: a fork any holder of the lost checkpoint can prove. The signer
therefore keeps its newest signed note in a file beside the log key (same volume, same
backups), written as soon as the checkpoint's transaction commits (the only window it
does not cover: a process killed between the commit and the write, microseconds, with
no other process of the ledger recording it later), and refuses to sign a
tree that does not extend it (``TransparencyLog.checkpoint``) or to start on a database
that does not hold it (``TransparencyLog.verify_recent``).

The file holds the signed note verbatim (an operator can show it to an auditor). It is
read as a checkpoint body only: the signature is not checked here, because the key may
have been rotated since, and the file is the signer's own record, not evidence.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from .checkpoint import Checkpoint, CheckpointError, parse_body
from .errors import HistoryMismatch

__all__ = ["default_path", "read_signed_head", "record_signed_head", "refusal",
           "write_signed_head"]


def default_path(log_key: Path) -> Path:
    """Where the record lives unless ``LEDGER_LAST_CHECKPOINT`` says: beside the key."""
    return log_key.with_name(log_key.name + ".last-checkpoint")


def read_signed_head(path: Path, origin: str) -> Checkpoint | None:
    """The checkpoint recorded at ``path`` (None if there is no file yet).

    A file that cannot be read as a checkpoint of ``origin`` raises HistoryMismatch:
    the record is the only memory of what was signed, so it is never silently ignored.
    """
    try:
        note = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryMismatch(f"the record of the last signed checkpoint {path} cannot be "
                              f"read: {exc}") from None
    return read_signed_head_text(note, path, origin)


def read_signed_head_text(note: str, path: Path, origin: str) -> Checkpoint:
    """The checkpoint of a signed note's text (the record's content); HistoryMismatch
    naming ``path`` if it is not one of ``origin``."""
    split = note.rfind("\n\n")
    try:
        head = parse_body(note[: split + 1] if split >= 0 else note)
    except CheckpointError as exc:
        raise HistoryMismatch(f"the record of the last signed checkpoint {path} is not a "
                              f"checkpoint: {exc}") from None
    if head.origin != origin:
        raise HistoryMismatch(f"the record of the last signed checkpoint {path} is for "
                              f"origin {head.origin!r}, not {origin!r}")
    return head


def write_signed_head(path: Path, note: str) -> None:
    """Replace the record with ``note``, durably (temporary file, fsync, rename, fsync
    of the directory), so that a crash leaves the old record or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, note.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # not every file system lets a directory be synced
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def record_signed_head(path: Path, note: str, origin: str) -> None:
    """Record ``note`` unless the record already names a checkpoint at least as large:
    the record only grows, even when processes of one host (``--workers``) that signed
    one after the other write in the opposite order (a lock file serializes them)."""
    new = read_signed_head_text(note, path, origin)
    lock = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_signed_head(path, origin)
        if current is None or current.size < new.size:
            write_signed_head(path, note)
    finally:
        os.close(lock)  # releases the lock


def refusal(signed: Checkpoint, size: int, root_at_signed: bytes | None) -> str | None:
    """Why a tree of ``size`` entries, whose root at ``signed.size`` is
    ``root_at_signed`` (None when ``size`` is smaller), does not extend the checkpoint
    this ledger signed; None when it does. Pure: the caller reads the database."""
    if size < signed.size:
        return (f"the database holds {size} entries but this ledger signed a checkpoint "
                f"of size {signed.size}: entries were lost (an asynchronous promotion or an "
                "old restore); refusing to sign a tree that does not extend it "
                "(docs/DEPLOYMENT.md, Losing the primary)")
    if root_at_signed != signed.root_hash:
        return (f"the database's tree at size {signed.size} is not the one this ledger "
                "signed: entries were replaced after a loss; refusing to sign a tree that "
                "does not extend it (docs/DEPLOYMENT.md, Losing the primary)")
    return None
