"""check_event: admit a signed agreement event only if decide would have made it.

Why re-decide instead of validating events separately: there is then one set of rules.
The server calls this for every signed agreement event before storing it; the event is
admitted iff ``decide(command_from_event(...), state) == [NewEvent(type, data)]``.
Everything that is not an agreement event with well-typed data in normal form, or that
breaks a rule, or that would change nothing, is refused with ``Rejected`` and a stable
rule code; no other exception escapes.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..canonical import encode_sorted
from . import catalogue as c
from .commands import command_for, decode_event
from .decide import admits, decide
from .rules import reject
from .state import AgreementState

__all__ = ["check_event", "check_event_json"]


def _first_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    for name in sorted(set(got) | set(want)):
        if got.get(name) != want.get(name) or (name in got) != (name in want):
            return name
    return "data"


def check_event(
    state: AgreementState, type: str, data: Any, actor: str, issued_at: str,
    *, from_statement: bool = False,
) -> c.Data:
    """Raise ``Rejected`` unless ``(type, data)`` signed by ``actor`` at ``issued_at`` is
    exactly the event ``decide`` makes of the corresponding command in ``state``;
    return its data decoded with its type's Struct (for ``evolve``'s ``decoded``).

    Codes of its own: ``event.unknown-type``, ``event.malformed``, ``event.not-normal``
    (a member equal to its default is present; omit it), ``event.redundant`` (decide
    would make no event: an idempotent repeat), ``event.mismatch`` (defensive).

    ``from_statement=True`` says the arguments are the members of a statement that
    ``parse_statement`` accepted: ``data`` is canonical JSON, ``actor`` an organization
    id and ``issued_at`` a valid time. The command is then not rebuilt and re-read
    (``decide``'s first step would find the data already decoded here, in normal form
    and canonical, and the speaker valid); the gate and every rule of the event run
    as in ``decide``. The verdict is the same (a property test holds the two paths to
    it); the work is about half.
    """
    type_, decoded = decode_event(type, data)
    normal = msgspec.to_builtins(decoded)
    if normal != data:
        field = _first_difference(data, normal)
        reject("event.not-normal", f"{type_}: member {field!r} is not in normal form "
               "(omit members equal to their default)", field)
    if from_statement:
        # decide_shaped makes [NewEvent(type_, normal)] or nothing, and normal == data.
        return _admitted(state, type_, decoded, actor, issued_at)
    events = decide(command_for(type_, decoded, actor, issued_at), state)
    if not events:
        reject("event.redundant", f"{type_} would change nothing here")
    if events != [c.NewEvent(type_, data)]:
        reject("event.mismatch", f"{type_}: decide makes {events!r}")
    return decoded


def _admitted(state: AgreementState, type_: str, decoded: c.Data, actor: str,
              issued_at: str) -> c.Data:
    """``decoded``, once the gate and the event's own rule admit it."""
    if not admits(state, type_, decoded, actor, issued_at):
        reject("event.redundant", f"{type_} would change nothing here")
    return decoded


# One strict decoder per event type, straight from JSON text to the type's Struct.
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    t: msgspec.json.Decoder(spec.data) for t, spec in c.EVENTS.items()}


def check_event_json(
    state: AgreementState, type: str, data_json: bytes, actor: str, issued_at: str,
) -> c.Data:
    """``check_event(..., from_statement=True)`` for the data's canonical JSON bytes, as
    they stand in a statement that ``parse_statement`` accepted: the same verdict and
    the same Struct, with less work.

    The bytes decode straight into the type's Struct, with no dict on the way; when the
    Struct encodes back (canonically: sorted members, defaults omitted) to the very same
    bytes, the data is in normal form (``check_event``'s dict comparison, done on the
    bytes: canonical JSON is one text per value) and only the rules are left. Anything
    else goes to ``check_event`` itself, which decides and words the refusal
    (``tests/property/test_domain_props.py`` holds the two to one verdict).
    """
    decoder = _DECODERS.get(type)
    if decoder is not None:
        try:
            decoded: c.Data = decoder.decode(data_json)
            again = encode_sorted(decoded)  # members sorted, defaults omitted
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError):
            again = None
        if again == data_json:
            return _admitted(state, type, decoded, actor, issued_at)
    return check_event(state, type, msgspec.json.decode(data_json), actor, issued_at,
                       from_statement=True)
