"""Sealed images of the projection runner's folded agreements, so that a runner that
does not hold an agreement (a restart, or one the bounded cache let go) reloads it
from its newest image and folds only the events after it, not its whole stream.

Why not the agreement snapshots of the reads (``ledger.snapshot``): the runner keeps
more than the domain state (every ratification per party and terms version, who
invited each party, the tallies of each commitment, ...: ``projections.fold.Tracked``),
and what the domain state forgets cannot be folded back from it. An image is the whole
``Tracked`` at the end of a step, written in that step's transaction, so it stands at
a position the read models' rows and the checkpoint stand at too.

Why sealed: the read models derive from verified bytes only, and an image is a row a
database superuser can change. Each carries an HMAC-SHA256, under a key derived from
the log operator's private key (which the database never holds), over the format, the
agreement, the stream version and log position it stands at, and the image's bytes. An
image that fails a check is discarded (logged, deleted) and the agreement refolded
from its events. An older genuine image is as good as a newer one (folding the events
after it gives the same state), so putting back an old row changes nothing served.

Why a format number: the image is the encoding of ``Tracked`` and of the domain state
inside it; raise ``FORMAT`` whenever either changes shape (it follows
``ledger.snapshot.FORMAT``), and every image of another format is ignored.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import msgspec

from ledger import snapshot
from ledger.domain import AgreementState
from ledger.domain.state import Ratification

from .fold import Tally, Tracked

__all__ = ["FORMAT", "ImageRejected", "SealedImage", "image_key", "open_image", "seal_image"]

#: The image's encoding: this module's own number and the domain state's.
FORMAT: Final = 1000 * snapshot.FORMAT + 1

_KEY_LABEL: Final = b"mutualisation-ledger/projection-image-seal/1\n"


class _Image(msgspec.Struct, array_like=True, gc=False):
    """``Tracked`` as encoded (tallies as count, total, confirmed)."""

    state: AgreementState
    ratifications: list[Ratification]
    inviters: dict[str, str]
    stage: str | None
    fulfilments_of: dict[str, list[str]]
    measures_of: dict[str, list[str]]
    tallies: dict[str, dict[str, tuple[int, Decimal, Decimal]]]
    last_version: int
    last_position: int
    last_recorded_us: int


_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_decoder = msgspec.msgpack.Decoder(_Image)


class ImageRejected(Exception):
    """A stored image that must not be used (the reason says which check failed)."""


@dataclass(frozen=True, slots=True)
class SealedImage:
    """An image as stored: ``version`` and ``position`` of the agreement's last event
    folded into it."""

    agreement_id: str
    version: int
    position: int
    format: int
    image: bytes
    seal: bytes


def image_key(secret: bytes) -> bytes:
    """The images' sealing key derived from ``secret`` (the log key's bytes)."""
    return snapshot.derive_key(_KEY_LABEL, secret)


def _mac(key: bytes, agreement_id: str, version: int, position: int, fmt: int,
         image: bytes) -> bytes:
    return snapshot.seal_mac(key, fmt, agreement_id, (version, position), image)


def seal_image(key: bytes, agreement_id: str, t: Tracked) -> SealedImage:
    """The sealed image of ``t`` as it stands (after its last event)."""
    data = _encoder.encode(_Image(
        t.state, list(t.ratifications.values()), t.inviters, t.stage,
        {k: list(v) for k, v in t.fulfilments_of.items()},
        {k: list(v) for k, v in t.measures_of.items()},
        {c: {u: (x.count, x.total, x.confirmed) for u, x in units.items()}
         for c, units in t.tallies.items()},
        t.last_version, t.last_position, t.last_recorded_us))
    return SealedImage(agreement_id, t.last_version, t.last_position, FORMAT, data,
                       _mac(key, agreement_id, t.last_version, t.last_position, FORMAT,
                            data))


def open_image(key: bytes, sealed: SealedImage) -> Tracked:
    """The ``Tracked`` a stored image holds, once every check passed; raises
    :class:`ImageRejected`."""
    if sealed.format != FORMAT:
        raise ImageRejected(f"format {sealed.format}, not {FORMAT}")
    expected = _mac(key, sealed.agreement_id, sealed.version, sealed.position,
                    sealed.format, sealed.image)
    if not hmac.compare_digest(expected, sealed.seal):
        raise ImageRejected("its seal does not match its contents")
    try:
        image = _decoder.decode(sealed.image)
    except msgspec.DecodeError as exc:
        raise ImageRejected(f"its image does not decode: {exc}") from None
    if (image.last_version, image.last_position) != (sealed.version, sealed.position):
        raise ImageRejected(f"it stands at version {image.last_version}, position "
                            f"{image.last_position}, not where its row says")
    t = Tracked()
    t.state = image.state
    t.ratifications = {(r.org, r.terms_version): r for r in image.ratifications}
    t.inviters = image.inviters
    t.stage = image.stage
    t.fulfilments_of = {k: dict.fromkeys(v) for k, v in image.fulfilments_of.items()}
    t.measures_of = {k: dict.fromkeys(v) for k, v in image.measures_of.items()}
    t.tallies = {c: {u: _tally(*x) for u, x in units.items()}
                 for c, units in image.tallies.items()}
    t.last_version = image.last_version
    t.last_position = image.last_position
    t.last_recorded_us = image.last_recorded_us
    return t


def _tally(count: int, total: Decimal, confirmed: Decimal) -> Tally:
    tally = Tally()
    tally.count, tally.total, tally.confirmed = count, total, confirmed
    return tally
