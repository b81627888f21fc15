"""A small W3C PROV document model and its two serializations, PROV-JSON and PROV-N.

Why written here and not with the ``prov`` package: the server must not depend on it
(it is a test-only dependency that reads our output back). The model holds only what
the ledger emits: entities, activities and agents with attributes, and the relations
``wasGeneratedBy``, ``used``, ``wasInvalidatedBy``, ``wasAssociatedWith``,
``wasAttributedTo``, ``actedOnBehalfOf``, ``wasDerivedFrom`` (a revision is a derivation
of ``prov:type`` ``prov:Revision``, as PROV-DM defines it) and ``specializationOf``.

References:
* PROV-JSON: https://www.w3.org/Submission/prov-json/ (typed literals are
  ``{"$": text, "type": datatype}``; relations are keyed by blank ids ``_:rN``);
* PROV-N: https://www.w3.org/TR/prov-n/ (qualified names with ``:`` / ``.`` and other
  reserved characters percent-encoded here, strings with ``\\`` escapes, typed literals
  ``"text" %% xsd:type``, ``-`` for an absent argument).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "ARG_KINDS",
    "FORMALS",
    "MUT",
    "PREFIXES",
    "Attr",
    "Element",
    "ProvDoc",
    "QName",
    "Relation",
    "Time",
    "Value",
    "dumps_json",
    "local",
    "to_prov_json",
    "to_provn",
]

MUT: Final = "https://mutualisation-ledger.org/ns#"
PREFIXES: Final = {"mut": MUT}


@dataclass(frozen=True, slots=True)
class QName:
    """A qualified name such as ``prov:Organization`` or ``mut:org/centre-a``."""

    text: str


@dataclass(frozen=True, slots=True)
class Time:
    """An ``xsd:dateTime`` (RFC 3339 UTC)."""

    text: str


Value = str | int | bool | QName | Time
Attr = tuple[str, Value]

#: The formal arguments of each relation, in PROV-N order, with their PROV-JSON names.
#: ``*`` marks a time argument (a literal, not an identifier).
FORMALS: Final[dict[str, tuple[str, ...]]] = {
    "wasGeneratedBy": ("prov:entity", "prov:activity", "*prov:time"),
    "used": ("prov:activity", "prov:entity", "*prov:time"),
    "wasInvalidatedBy": ("prov:entity", "prov:activity", "*prov:time"),
    "wasAssociatedWith": ("prov:activity", "prov:agent", "prov:plan"),
    "wasAttributedTo": ("prov:entity", "prov:agent"),
    "actedOnBehalfOf": ("prov:delegate", "prov:responsible", "prov:activity"),
    "wasDerivedFrom": ("prov:generatedEntity", "prov:usedEntity", "prov:activity",
                       "prov:generation", "prov:usage"),
    "specializationOf": ("prov:specificEntity", "prov:generalEntity"),
}

#: What kind of element each identifier argument must name.
ARG_KINDS: Final[dict[str, str]] = {
    "prov:entity": "entity", "prov:activity": "activity", "prov:agent": "agent",
    "prov:plan": "entity", "prov:delegate": "agent", "prov:responsible": "agent",
    "prov:generatedEntity": "entity", "prov:usedEntity": "entity",
    "prov:specificEntity": "entity", "prov:generalEntity": "entity",
}

_SAFE = re.compile(r"[A-Za-z0-9_/-]")


def local(*segments: str) -> str:
    """A ``mut:`` qualified name from path segments, each percent-encoded so that the
    name is valid in PROV-N and the same in both serializations."""
    parts = []
    for seg in segments:
        parts.append("".join(ch if _SAFE.match(ch) and ch != "/" else
                             "".join(f"%{b:02X}" for b in ch.encode()) for ch in seg))
    return "mut:" + "/".join(parts)


@dataclass(slots=True)
class Element:
    """An entity, activity or agent. Activities have ``start`` (and optional ``end``)."""

    kind: str
    id: str
    attrs: list[Attr] = field(default_factory=list)
    start: str | None = None
    end: str | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation: its PROV-N keyword, formal arguments (identifiers or times, None
    when absent, in ``FORMALS`` order) and extra attributes."""

    kind: str
    args: tuple[str | None, ...]
    attrs: tuple[Attr, ...] = ()


@dataclass(slots=True)
class ProvDoc:
    """A PROV document: namespaces, elements by (kind, id) in order, relations."""

    prefixes: dict[str, str] = field(default_factory=lambda: dict(PREFIXES))
    elements: dict[tuple[str, str], Element] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)

    def declare(self, kind: str, ident: str, attrs: list[Attr] | None = None, *,
                start: str | None = None) -> Element:
        """Declare an element once; a later declaration adds attributes it lacked."""
        found = self.elements.get((kind, ident))
        if found is None:
            found = Element(kind, ident, list(attrs or []), start)
            self.elements[(kind, ident)] = found
            return found
        names = {a[0] for a in found.attrs}
        found.attrs.extend(a for a in (attrs or []) if a[0] not in names)
        if start is not None and found.start is None:
            found.start = start
        return found

    def relate(self, kind: str, *args: str | None, attrs: tuple[Attr, ...] = ()) -> None:
        formals = FORMALS[kind]
        padded = tuple(args) + (None,) * (len(formals) - len(args))
        self.relations.append(Relation(kind, padded, attrs))


# --- PROV-JSON -----------------------------------------------------------------------


def _json_value(value: Value) -> object:
    if isinstance(value, bool):
        return {"$": "true" if value else "false", "type": "xsd:boolean"}
    if isinstance(value, int):
        return {"$": str(value), "type": "xsd:long"}
    if isinstance(value, QName):
        return {"$": value.text, "type": "prov:QUALIFIED_NAME"}
    if isinstance(value, Time):
        return {"$": value.text, "type": "xsd:dateTime"}
    return value


def to_prov_json(doc: ProvDoc) -> dict[str, object]:
    """The document as a PROV-JSON object."""
    out: dict[str, object] = {"prefix": dict(doc.prefixes)}
    for kind in ("entity", "activity", "agent"):
        group: dict[str, object] = {}
        for el in doc.elements.values():
            if el.kind != kind:
                continue
            body: dict[str, object] = {}
            if el.start is not None:
                body["prov:startTime"] = el.start
            if el.end is not None:
                body["prov:endTime"] = el.end
            for name, value in el.attrs:
                body[name] = _json_value(value)
            group[el.id] = body
        if group:
            out[kind] = group
    for n, rel in enumerate(doc.relations, start=1):
        body = {}
        for formal, arg in zip(FORMALS[rel.kind], rel.args, strict=True):
            if arg is not None:
                body[formal.lstrip("*")] = arg
        for name, value in rel.attrs:
            body[name] = _json_value(value)
        group_of = out.setdefault(rel.kind, {})
        assert isinstance(group_of, dict)
        group_of[f"_:r{n}"] = body
    return out


# --- PROV-N --------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\b": "\\b", "\f": "\\f"}


def _string(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in text) + '"'


def _provn_value(value: Value) -> str:
    if isinstance(value, bool):
        return f'"{"true" if value else "false"}" %% xsd:boolean'
    if isinstance(value, int):
        return f'"{value}" %% xsd:long'
    if isinstance(value, QName):
        return f"'{value.text}'"
    if isinstance(value, Time):
        return f'"{value.text}" %% xsd:dateTime'
    return _string(value)


def _attrs(attrs: list[Attr] | tuple[Attr, ...]) -> str:
    if not attrs:
        return ""
    return ", [" + ", ".join(f"{n}={_provn_value(v)}" for n, v in attrs) + "]"


def to_provn(doc: ProvDoc) -> str:
    """The document in PROV-N."""
    lines = ["document"]
    for prefix, uri in doc.prefixes.items():
        lines.append(f"  prefix {prefix} <{uri}>")
    lines.append("")
    for el in doc.elements.values():
        if el.kind == "activity":
            lines.append(f"  activity({el.id}, {el.start or '-'}, {el.end or '-'}"
                         f"{_attrs(el.attrs)})")
        else:
            lines.append(f"  {el.kind}({el.id}{_attrs(el.attrs)})")
    for rel in doc.relations:
        args = ", ".join(a if a is not None else "-" for a in rel.args)
        lines.append(f"  {rel.kind}({args}{_attrs(rel.attrs)})")
    lines.append("endDocument")
    return "\n".join(lines) + "\n"


def dumps_json(doc: ProvDoc) -> str:
    """PROV-JSON text (UTF-8, compact)."""
    return json.dumps(to_prov_json(doc), ensure_ascii=False, separators=(",", ":"))
