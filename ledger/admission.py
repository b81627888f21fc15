"""Admission of a batch of signed events: the pure rules the store runs under its lock.

The store splits the work in two so that the expensive part stays outside the log lock:

1. ``prepare`` (no lock): decode each envelope, require canonical payload bytes,
   check the ledger id, size and clock skew, and verify every Ed25519 signature
   against the public key its key id names.
2. ``admit`` (under the lock, with the stream heads and key history read in the same
   transaction): idempotent retries, stream version and prev-hash chain, key validity at
   the event's log position, the organization rules, then position and leaf bytes.

Both raise typed ``LedgerError``s tagged with the index of the event in the batch.
The offline auditor replays the same functions over an exported bundle.

Registering an organization also needs the operator's admission credential, a
single-use registration token (``RegistrationGate``): ``registration_to_admit`` says,
for a placed batch, which registration the token must admit, and the store uses the
token in the transaction that writes it (``ledger.tokens.use_registration_token``).
The auditor needs no token: a registration in the log was admitted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import b64
from .envelope import Envelope, Opened, decode_envelope, pae
from .errors import (
    BadSignature,
    ClockSkew,
    EventTooLarge,
    LedgerError,
    MissingActorSignature,
    PrevHashMismatch,
    UnknownKey,
    VersionConflict,
    VersionGap,
    WrongLedger,
)
from .keys import key_id as compute_key_id
from .keys import verify_signature
from .leaf import encode_leaf, from_micros, micros
from .registry import ORG_KEY_ADDED, ORG_REGISTERED, Registry, check_org_statement
from .statement import Statement, event_hash, format_time, parse_statement, parse_time

__all__ = [
    "Admitted",
    "Candidate",
    "Head",
    "Limits",
    "Receipt",
    "RegistrationGate",
    "RegistrationRefused",
    "RegistrationTokenInvalid",
    "RegistrationTokenRequired",
    "RegistrationTokenUsed",
    "admit",
    "introduced_keys",
    "prepare",
    "registration_to_admit",
    "verify_candidate_signatures",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Configurable bounds on what one event may be."""

    max_event_bytes: int = 64 * 1024
    max_skew_us: int = 10 * 60 * 1_000_000


@dataclass(frozen=True, slots=True)
class Head:
    """The last event of a stream: its version and event hash."""

    version: int
    hash: str | None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the ledger answers for a stored event (also for an idempotent retry).

    ``recorded_at_us`` is the ledger's time in the event's leaf (docs/PROTOCOL.md I §6):
    with ``position`` and the stored envelope it gives the leaf bytes, so a client never
    has to convert the RFC 3339 ``recorded_at`` back into an integer.
    """

    position: int
    stream: str
    version: int
    event_hash: str
    recorded_at_us: int

    @property
    def recorded_at(self) -> str:
        """``recorded_at_us`` as RFC 3339 UTC with microseconds."""
        return format_time(from_micros(self.recorded_at_us))

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "stream": self.stream,
            "version": self.version,
            "event_hash": self.event_hash,
            "recorded_at": self.recorded_at,
            "recorded_at_us": self.recorded_at_us,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """A decoded, shape-checked envelope whose signatures have been verified."""

    envelope: Envelope
    envelope_bytes: bytes
    payload: bytes
    statement: Statement
    event_hash: str
    signer_keys: tuple[str, ...]
    #: The clock-skew refusal of a new event, held back until the store knows whether
    #: the payload is already in the log: a replay answers its original receipt
    #: whenever it comes (a retry after a lost answer must be safe, even much later).
    skew: LedgerError | None = None


@dataclass(frozen=True, slots=True)
class Admitted:
    """A candidate given its place in the log."""

    candidate: Candidate
    position: int
    recorded_at_us: int
    leaf: bytes


def introduced_keys(statements: Sequence[Statement]) -> dict[str, bytes]:
    """Public keys a batch brings itself (registrations and key additions)."""
    found: dict[str, bytes] = {}
    for st in statements:
        if st.stream_kind == "org" and st.type in (ORG_REGISTERED, ORG_KEY_ADDED):
            text = st.data.get("public_key") if isinstance(st.data, dict) else None
            if isinstance(text, str):
                try:
                    raw = b64.decode(text)
                except ValueError:
                    continue
                if len(raw) == 32:
                    found[compute_key_id(raw)] = raw
    return found


def decode_candidate(
    raw: bytes | dict[str, Any] | Envelope | Opened, *, ledger_id: str, limits: Limits
) -> tuple[Envelope, bytes, Statement]:
    """Decode one envelope and its statement, checking size and ledger id."""
    env, payload = decode_envelope(raw)
    if len(payload) > limits.max_event_bytes:
        raise EventTooLarge(
            f"payload is {len(payload)} bytes, limit {limits.max_event_bytes}",
            field="payload",
        )
    st = parse_statement(payload)
    if st.ledger != ledger_id:
        raise WrongLedger(f"statement is for ledger {st.ledger!r}, this is {ledger_id!r}",
                          field="ledger")
    return env, payload, st


@dataclass(frozen=True, slots=True)
class SignatureJob:
    """One Ed25519 check to run: which event and field it belongs to, and its inputs."""

    index: int
    field: str
    keyid: str
    public_key: bytes
    signature: bytes
    message: bytes


def signature_jobs(
    env: Envelope, payload: bytes, st: Statement, public_key: Callable[[str], bytes | None],
    index: int = 0,
) -> tuple[tuple[str, ...], list[SignatureJob]]:
    """The checks an envelope's signatures need; the actor's key must be among them.

    ``public_key(kid)`` returns the raw key a key id names, or None if unknown. Which
    organization holds the key and whether it is valid at the event's position is
    checked later, under the lock, by ``admit``.
    """
    message = pae(env.payloadType, payload)
    signers, jobs = [], []
    for i, sig in enumerate(env.signatures):
        raw = public_key(sig.keyid)
        if raw is None:
            raise UnknownKey(f"signature by unknown key {sig.keyid}",
                             field=f"signatures[{i}].keyid")
        jobs.append(SignatureJob(index, f"signatures[{i}].sig", sig.keyid, raw,
                                 b64.decode(sig.sig), message))
        signers.append(sig.keyid)
    if st.key not in signers:
        # A payload altered after signing (its key id included) is a bad signature
        # first: say so rather than "missing signature".
        bad = first_bad_signature(jobs)
        if bad is not None:
            raise BadSignature(f"signature by key {bad.keyid} does not verify",
                               field=bad.field)
        raise MissingActorSignature(
            f"no signature by the statement's key {st.key} (the acting organization's key)",
            field="signatures",
        )
    return tuple(signers), jobs


def first_bad_signature(jobs: Sequence[SignatureJob]) -> SignatureJob | None:
    """Run the Ed25519 checks; the first that fails, or None. Releases the GIL inside
    each verification, so worker threads can run it on every core."""
    for job in jobs:
        if not verify_signature(job.public_key, job.signature, job.message):
            return job
    return None


def bad_signature_error(job: SignatureJob) -> LedgerError:
    return BadSignature(f"signature by key {job.keyid} does not verify",
                        field=job.field).at(job.index)


def verify_candidate_signatures(
    env: Envelope, payload: bytes, st: Statement, public_key: Callable[[str], bytes | None]
) -> tuple[str, ...]:
    """Verify every signature of ``env`` now (see ``signature_jobs``)."""
    signers, jobs = signature_jobs(env, payload, st, public_key)
    bad = first_bad_signature(jobs)
    if bad is not None:
        raise BadSignature(f"signature by key {bad.keyid} does not verify", field=bad.field)
    return signers


def prepare_unverified(
    raws: Sequence[bytes | dict[str, Any] | Envelope | Opened],
    *,
    ledger_id: str,
    now_us: int,
    public_key: Callable[[str], bytes | None],
    limits: Limits = Limits(),
    defer_skew: bool = False,
) -> tuple[list[Candidate], list[SignatureJob]]:
    """Decode a batch and list its signature checks, without running them.

    With ``defer_skew`` an ``issued_at`` outside the clock window does not refuse the
    batch here: the error rides on the candidate and :func:`admit` raises it only for
    an event that is not already stored (the store's path; a replay is answered)."""
    decoded = []
    for i, raw in enumerate(raws):
        try:
            decoded.append(decode_candidate(raw, ledger_id=ledger_id, limits=limits))
        except LedgerError as exc:
            raise exc.at(i) from None
    batch_keys = introduced_keys([st for _, _, st in decoded])

    def lookup(kid: str) -> bytes | None:
        return batch_keys.get(kid) or public_key(kid)

    out: list[Candidate] = []
    all_jobs: list[SignatureJob] = []
    for i, (env, payload, st) in enumerate(decoded):
        held: LedgerError | None = None
        try:
            issued = parse_time(st.issued_at, field="issued_at")
            skew = abs(micros(issued) - now_us)
            if skew > limits.max_skew_us:
                held = ClockSkew(
                    f"issued_at {st.issued_at} is {skew / 1e6:.0f} s from the ledger's "
                    f"clock; at most {limits.max_skew_us / 1e6:.0f} s allowed",
                    field="issued_at",
                )
                if not defer_skew:
                    raise held
            signers, jobs = signature_jobs(env, payload, st, lookup, i)
        except LedgerError as exc:
            # Report the lowest failing index: an earlier event may have a bad signature.
            earlier = first_bad_signature(all_jobs)
            if earlier is not None:
                raise bad_signature_error(earlier) from None
            # An event refused here (a key nobody knows) cannot be a replay: its held
            # clock skew, when it has one, is still the first fault named.
            raise (held or exc).at(i) from None
        all_jobs.extend(jobs)
        out.append(
            Candidate(env, env.canonical(), payload, st, event_hash(payload), signers,
                      held)
        )
    return out, all_jobs


def prepare(
    raws: Sequence[bytes | dict[str, Any] | Envelope | Opened],
    *,
    ledger_id: str,
    now_us: int,
    public_key: Callable[[str], bytes | None],
    limits: Limits = Limits(),
) -> list[Candidate]:
    """Decode and verify a batch (no database, no lock). Raises tagged LedgerErrors."""
    candidates, jobs = prepare_unverified(raws, ledger_id=ledger_id, now_us=now_us,
                                          public_key=public_key, limits=limits)
    bad = first_bad_signature(jobs)
    if bad is not None:
        raise bad_signature_error(bad)
    return candidates


def admit(
    candidates: Sequence[Candidate],
    *,
    heads: Mapping[str, Head],
    registry: Registry,
    existing: Mapping[str, Receipt],
    next_position: int,
    recorded_at_us: int,
) -> list[Admitted | Receipt]:
    """Place a verified batch in the log, all or nothing.

    ``heads`` holds the current head of every stream the batch touches (absent = empty
    stream); ``existing`` the receipts of events of this batch already stored (an
    idempotent retry returns them unchanged). ``registry`` must contain every key the
    batch's signatures name; it is updated in place with the batch's key events, so pass
    a copy if the batch may still be refused. The agreement rules run before, on the
    candidates (the store's ``validator``).
    """
    heads = dict(heads)
    out: list[Admitted | Receipt] = []
    position = next_position
    for i, cand in enumerate(candidates):
        try:
            if cand.event_hash in existing:
                out.append(existing[cand.event_hash])
                continue
            if cand.skew is not None:
                raise cand.skew
            st = cand.statement
            head = heads.get(st.stream, Head(0, None))
            _check_chain(st, head)
            registry.signer_key(st, position)
            for kid in cand.signer_keys:
                if kid != st.key and registry.lookup(kid, position) is None:
                    raise UnknownKey(f"co-signing key {kid} is not valid at this position",
                                     field="signatures")
            if st.stream_kind == "org":
                check_org_statement(st, registry, position)
        except LedgerError as exc:
            raise exc.at(i) from None
        registry.apply(st, position)
        heads[st.stream] = Head(st.version, cand.event_hash)
        leaf = encode_leaf(position, recorded_at_us, cand.envelope_bytes)
        out.append(Admitted(cand, position, recorded_at_us, leaf))
        position += 1
    return out


def _check_chain(st: Statement, head: Head) -> None:
    if st.version <= head.version:
        raise VersionConflict(
            f"{st.stream} is at version {head.version}; version {st.version} is taken",
            stream=st.stream, current_version=head.version, head_hash=head.hash,
            field="version",
        )
    if st.version != head.version + 1:
        raise VersionGap(
            f"{st.stream} is at version {head.version}; next is {head.version + 1}, "
            f"got {st.version}",
            stream=st.stream, current_version=head.version, head_hash=head.hash,
            field="version",
        )
    if st.prev != head.hash:
        raise PrevHashMismatch(
            f"prev {st.prev} is not the hash of {st.stream}'s head {head.hash}",
            stream=st.stream, current_version=head.version, head_hash=head.hash,
            field="prev",
        )


# --- admission credential for registrations ------------------------------------------


class RegistrationRefused(LedgerError):
    """A registration the admission policy refuses (nothing of the batch is written)."""

    code = "registration-refused"
    title = "Registration refused"


class RegistrationTokenRequired(RegistrationRefused):
    code = "registration-token-required"
    title = "Registering an organization needs a registration token"


class RegistrationTokenInvalid(RegistrationRefused):
    code = "registration-token-invalid"
    title = "This is not a valid registration token"


class RegistrationTokenUsed(RegistrationRefused):
    code = "registration-token-used"
    title = "This registration token was already used"


@dataclass(frozen=True, slots=True)
class RegistrationGate:
    """The admission policy for one write request: whether registering an organization
    needs a token (``required``), and the token the writer presented, if any."""

    required: bool = True
    token: str | None = None


def registration_to_admit(gate: RegistrationGate | None,
                          placed: Sequence[Admitted | Receipt]) -> Admitted | None:
    """The new registration of a placed batch that ``gate.token`` must admit, or None
    when the batch needs no token (no new registration, or registration is open).

    A retry of a stored registration is a Receipt here, not a new registration: it
    returns its original receipt whatever token comes with it. One token admits one
    organization, so a batch registering two needs two requests.
    """
    if gate is None or not gate.required:
        return None
    new = [(i, item) for i, item in enumerate(placed)
           if isinstance(item, Admitted) and item.candidate.statement.type == ORG_REGISTERED
           and item.candidate.statement.stream_kind == "org"]
    if not new:
        return None
    index, first = new[0]
    if gate.token is None:
        raise RegistrationTokenRequired(
            "registering an organization needs a registration token from the ledger's "
            "operator (ledger token create --registration NOTE), sent as "
            "'Authorization: Bearer <token>'", field="type").at(index)
    if len(new) > 1:
        raise RegistrationTokenRequired(
            "one registration token admits one organization; send each registration "
            "in its own request, with its own token", field="type").at(new[1][0])
    return first
