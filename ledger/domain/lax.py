"""Constraint-free mirrors of the event data Structs, for ``evolve`` only.

Why: ``evolve`` must be cheap (``bench/projections.py`` holds the fold to its target)
and must not judge what ``decide`` already judged. Decoding with the catalogue's own
Structs re-runs every pattern, most of a fact's decoding time (docs/PERFORMANCE.md,
*Figures behind the code's choices*); the mirrors keep the
member names, types, defaults and ``forbid_unknown_fields`` (so a decoded fact is still
safe to read) and drop the ``Annotated`` constraints. They are derived from the catalogue,
never written by hand, so the two cannot drift. Nested Structs get mirrors too; ``evolve``
copies their values into the catalogue's value types before storing them.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

import msgspec

__all__ = ["lax"]


def _strip(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _strip(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return lax(tp)
    if origin is list:
        return list[_strip(typing.get_args(tp)[0])]  # type: ignore[misc]
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return typing.Union[tuple(_strip(a) for a in typing.get_args(tp))]  # noqa: UP007
    return tp


@functools.cache
def lax(cls: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The mirror of ``cls``: same members and defaults, no constraints."""
    fields: list[tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(cls):
        default: Any = f.default  # NODEFAULT when required
        if f.default_factory is not msgspec.NODEFAULT:
            default = msgspec.field(default_factory=f.default_factory)
        fields.append((f.name, _strip(f.type), default))
    mirror: type[msgspec.Struct] = msgspec.defstruct(
        f"Lax{cls.__name__}", fields, frozen=True, forbid_unknown_fields=True, gc=False
    )
    return mirror
