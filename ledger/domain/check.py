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

from . import catalogue as c
from .commands import command_for, decode_event
from .decide import decide
from .rules import reject
from .state import AgreementState

__all__ = ["check_event"]


def _first_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    for name in sorted(set(got) | set(want)):
        if got.get(name) != want.get(name) or (name in got) != (name in want):
            return name
    return "data"


def check_event(
    state: AgreementState, type: str, data: Any, actor: str, issued_at: str
) -> None:
    """Raise ``Rejected`` unless ``(type, data)`` signed by ``actor`` at ``issued_at`` is
    exactly the event ``decide`` makes of the corresponding command in ``state``.

    Codes of its own: ``event.unknown-type``, ``event.malformed``, ``event.not-normal``
    (a member equal to its default is present; omit it), ``event.redundant`` (decide
    would make no event: an idempotent repeat), ``event.mismatch`` (defensive).
    """
    type_, decoded = decode_event(type, data)
    normal = msgspec.to_builtins(decoded)
    if normal != data:
        field = _first_difference(data, normal)
        reject("event.not-normal", f"{type_}: member {field!r} is not in normal form "
               "(omit members equal to their default)", field)
    events = decide(command_for(type_, decoded, actor, issued_at), state)
    if not events:
        reject("event.redundant", f"{type_} would change nothing here")
    if events != [c.NewEvent(type_, data)]:
        reject("event.mismatch", f"{type_}: decide makes {events!r}")
