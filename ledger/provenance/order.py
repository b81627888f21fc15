"""The checks the ``prov`` tooling does not make: references and order.

PROV validators check a document's structure. The ledger itself guarantees more, and
this pure function states it, for any document ``build_prov`` makes:

* every identifier a relation names is declared, as the kind of element its role needs
  (an entity, an activity or an agent);
* every activity carries its log index (``mut:logIndex``), and no two share one;
* an entity is generated at most once and invalidated at most once;
* nothing is used, invalidated, or derived from before it was generated, nor used or
  derived from after it was invalidated; a derived entity is generated no earlier than
  its source (PROV-CONSTRAINTS' ordering, on the log's total order, which unlike claimed
  times cannot disagree with itself).

An entity referenced but not generated in the document (made by an event outside the
export) is only checked for being declared.
"""

from __future__ import annotations

from .provdoc import ARG_KINDS, FORMALS, ProvDoc

__all__ = ["check_order"]


def check_order(doc: ProvDoc) -> list[str]:
    """Every violation found, as sentences; an empty list when the document is sound."""
    problems: list[str] = []
    index: dict[str, int] = {}
    for (kind, ident), el in doc.elements.items():
        if kind != "activity":
            continue
        found = [v for n, v in el.attrs if n == "mut:logIndex"]
        if len(found) != 1 or not isinstance(found[0], int) or isinstance(found[0], bool):
            problems.append(f"activity {ident} has no single mut:logIndex")
            continue
        index[ident] = found[0]
    seen: dict[int, str] = {}
    for ident, i in index.items():
        if i in seen:
            problems.append(f"activities {seen[i]} and {ident} share log index {i}")
        seen[i] = ident

    generated: dict[str, list[int]] = {}
    invalidated: dict[str, list[int]] = {}
    used: list[tuple[str, int, str]] = []
    derived: list[tuple[str, str, str]] = []
    for rel in doc.relations:
        for formal, arg in zip(FORMALS[rel.kind], rel.args, strict=True):
            if arg is None or formal.startswith("*") or formal not in ARG_KINDS:
                continue
            kind = ARG_KINDS[formal]
            if (kind, arg) not in doc.elements:
                problems.append(f"{rel.kind}: {formal} {arg} is not declared as an {kind}")
        a = rel.args
        if rel.kind in ("wasGeneratedBy", "wasInvalidatedBy", "used"):
            entity, activity = (a[1], a[0]) if rel.kind == "used" else (a[0], a[1])
            if entity is None or activity is None or activity not in index:
                continue
            at = index[activity]
            if rel.kind == "wasGeneratedBy":
                generated.setdefault(entity, []).append(at)
            elif rel.kind == "wasInvalidatedBy":
                invalidated.setdefault(entity, []).append(at)
            else:
                used.append((entity, at, activity))
        elif rel.kind == "wasDerivedFrom" and a[0] is not None and a[1] is not None:
            derived.append((a[0], a[1], a[2] or "-"))

    for entity, many in generated.items():
        if len(many) > 1:
            problems.append(f"{entity} is generated {len(many)} times (log {sorted(many)})")
    for entity, many in invalidated.items():
        if len(many) > 1:
            problems.append(f"{entity} is invalidated {len(many)} times (log {sorted(many)})")

    def gen(entity: str) -> int | None:
        at = generated.get(entity)
        return min(at) if at else None

    def inv(entity: str) -> int | None:
        at = invalidated.get(entity)
        return min(at) if at else None

    for entity, at_list in invalidated.items():
        g = gen(entity)
        if g is not None and min(at_list) < g:
            problems.append(f"{entity} is invalidated (log {min(at_list)}) before it is "
                            f"generated (log {g})")
    for entity, at, activity in used:
        g, v = gen(entity), inv(entity)
        if g is not None and at < g:
            problems.append(f"{activity} uses {entity} (log {at}) before it is generated "
                            f"(log {g})")
        if v is not None and at > v:
            problems.append(f"{activity} uses {entity} (log {at}) after it is invalidated "
                            f"(log {v})")
    for new, old, activity in derived:
        g_new, g_old, v_old = gen(new), gen(old), inv(old)
        if g_new is not None and g_old is not None and g_new < g_old:
            problems.append(f"{new} (log {g_new}) is derived from {old}, generated later "
                            f"(log {g_old}) [{activity}]")
        if g_new is not None and v_old is not None and g_new > v_old:
            problems.append(f"{new} (log {g_new}) is derived from {old}, invalidated "
                            f"earlier (log {v_old}) [{activity}]")
    return problems
