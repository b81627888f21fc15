"""The agreement's terms version by version: who ratified which version (and when, with
which key), and what changed between two versions of the terms.

Why here, from the facts: a version of the terms is what ``terms_json`` gives at that
``terms_version`` (the very object the parties' state hash covers), so the difference of
two versions is the difference of those two objects, item by item (parties,
expectations, roles, commitments, indicators, by id) and member by member — not a
difference of rendered text. A ratification is the ``Ratification`` the fold records for
it (``evolve``), kept for the version it names; the parties a version asks to ratify are
the parties of that version's terms. One pass over the facts; pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from .catalogue import Fact
from .evolve import evolve
from .state import Ratification, initial_state
from .state_hash import terms_json

__all__ = ["Change", "ItemChange", "TermsChanges", "VersionRatifications", "terms_history"]

#: The terms' lists compared item by item, and the member that names an item.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("parties", "org"), ("expectations", "id"), ("roles", "id"),
    ("commitments", "id"), ("indicators", "id"))
#: The terms' own members compared as values.
SCALARS: tuple[str, ...] = ("title", "purpose", "binding")


class VersionRatifications(msgspec.Struct, frozen=True):
    """One terms version: its parties, and each one's ratification of it (or None)."""

    terms_version: int
    parties: tuple[str, ...]
    ratified: tuple[tuple[str, Ratification | None], ...]

    @property
    def complete(self) -> bool:
        return len(self.parties) >= 2 and all(r is not None for _, r in self.ratified)


class Change(msgspec.Struct, frozen=True):
    """One member of an item (or of the terms) before and after."""

    member: str
    before: Any
    after: Any


class ItemChange(msgspec.Struct, frozen=True):
    """An item of a section added, removed, or changed (with its members' changes)."""

    kind: Literal["added", "removed", "changed"]
    key: str
    item: dict[str, Any]
    changes: tuple[Change, ...] = ()


class TermsChanges(msgspec.Struct, frozen=True):
    """What changed from terms version ``a`` to terms version ``b``."""

    a: int
    b: int
    scalars: tuple[Change, ...]
    sections: tuple[tuple[str, tuple[ItemChange, ...]], ...]

    @property
    def empty(self) -> bool:
        return not self.scalars and not any(items for _, items in self.sections)


class TermsHistory(msgspec.Struct, frozen=True):
    """The versions of an agreement's terms: ratifications per version (latest first)
    and the terms at the versions asked for."""

    current: int
    versions: tuple[VersionRatifications, ...]
    terms: dict[int, dict[str, Any]]


def terms_history(facts: Iterable[Fact], wanted: Iterable[int] = ()) -> TermsHistory:
    """One fold of the stream's facts: each terms version's parties and ratifications,
    and ``terms_json`` at each version of ``wanted`` that exists, at each version someone
    ratified and at the current one. The versions listed are those someone ratified,
    and the current one."""
    want = set(wanted)
    state = initial_state()
    parties: dict[int, tuple[str, ...]] = {}
    ratifications: dict[int, dict[str, Ratification]] = {}
    terms: dict[int, dict[str, Any]] = {}
    for fact in facts:
        before = state.terms_version
        state = evolve(state, fact)
        v = state.terms_version
        if v != before:
            parties[v] = tuple(sorted(state.parties))
            if v in want:
                terms[v] = terms_json(state)
        if fact.type == "agreement.ratified":
            sig = state.signatures.get(fact.actor)
            if sig is not None and sig.stream_version == fact.stream_version:
                ratifications.setdefault(sig.terms_version, {})[fact.actor] = sig
                if sig.terms_version == v and v not in terms:
                    terms[v] = terms_json(state)  # a ratified version's terms, kept
    current = state.terms_version
    if current and current not in terms:
        terms[current] = terms_json(state)
    shown = sorted({v for v in ratifications if v in parties} | ({current} if current else set()),
                   reverse=True)
    versions = tuple(
        VersionRatifications(v, parties[v], tuple(
            (org, ratifications.get(v, {}).get(org)) for org in parties[v]))
        for v in shown)
    return TermsHistory(current, versions, terms)


def terms_changes(a: int, before: dict[str, Any], b: int, after: dict[str, Any]) -> TermsChanges:
    """The difference of two terms objects (``terms_json``): the scalar members that
    changed, then each section's items added, removed or changed, by their id."""
    scalars = tuple(Change(m, before[m], after[m]) for m in SCALARS if before[m] != after[m])
    sections = []
    for name, key in SECTIONS:
        old = {str(i[key]): i for i in before[name]}
        new = {str(i[key]): i for i in after[name]}
        items: list[ItemChange] = []
        for k in sorted(old.keys() | new.keys()):
            if k not in old:
                items.append(ItemChange("added", k, new[k]))
            elif k not in new:
                items.append(ItemChange("removed", k, old[k]))
            elif old[k] != new[k]:
                members = sorted(old[k].keys() | new[k].keys())
                items.append(ItemChange("changed", k, new[k], tuple(
                    Change(m, old[k].get(m), new[k].get(m)) for m in members
                    if old[k].get(m) != new[k].get(m))))
        sections.append((name, tuple(items)))
    return TermsChanges(a, b, scalars, tuple(sections))
