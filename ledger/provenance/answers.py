"""The provenance answers, as JSON-ready dicts, from an agreement's walked entries.

Every answer lists events with ``evidence.event_record`` (who, key validity, times,
position, event hash, inclusion proof). ``visible`` decides which entries a reader may
receive (a data trust: those its consents cover, see ``consent``); the others are left
out, and the shell reports them as withheld. Nothing here reads a clock or a database.

Values the parties declare are never added together: a reported total sums quantities
(hours, evenings) of fulfilments, and lists each party's own declared value beside it,
labelled with whose it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final

from ..domain.state import AgreementState, addressees, is_shared, receiving_orgs
from ..domain.values import COLLECTIVE
from .evidence import Evidence, event_record
from .records import Entry, OrgKeys, key_verdict
from .times import Window, instant, parse_bound
from .walk import Step, Walk

__all__ = [
    "Visible",
    "agreement_answer",
    "commitment_answer",
    "everything",
    "expectation_answer",
    "indicator_answer",
    "item_positions",
    "membership",
    "organization_answer",
    "role_answer",
    "search_answer",
]

Visible = Callable[[Entry], bool]

_STATUS_ROLES: Final = {
    "agreement.suspended": "suspension",
    "agreement.resumed": "resumption",
    "agreement.visibility_changed": "visibility",
    "agreement.terminated": "invalidation",
}
_CENT: Final = Decimal("0.01")


def everything(_: Entry) -> bool:
    """The visibility of an auditor: every entry."""
    return True


def _moment(e: Entry, evidence: Evidence) -> dict[str, Any]:
    """A compact reference to an event (no proof): where, when, who, with which key."""
    verdict = key_verdict(evidence.keys, e.actor, e.key, e.position)
    return {"position": e.position, "type": e.type, "actor": e.actor,
            "issued_at": e.issued_at, "recorded_at": e.recorded_at,
            "event_hash": e.event_hash, "key_id": e.key, "key_valid": verdict["valid"]}


def _dec(text: Any) -> Decimal | None:
    try:
        return Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None


def _fmt(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text if text != "-0" else "0"


# --- the agreement --------------------------------------------------------------------


def _summary(s: AgreementState, current_hash: str | None) -> dict[str, Any]:
    return {
        "agreement_id": s.agreement_id,
        "title": s.title,
        "status": s.status,
        "binding": s.binding,
        "drafted_by": s.drafted_by,
        "terms_version": s.terms_version,
        "state_hash": current_hash,
        "in_force_version": s.in_force_version,
        "in_force_hash": s.in_force_hash,
        "in_force_since": s.in_force_since,
        "parties": sorted(s.parties),
        "former_parties": sorted(s.former),
    }


def _ratifications(w: Walk, evidence: Evidence, visible: Visible) -> dict[str, Any]:
    made: dict[int, Step] = {}
    signed: dict[int, list[Step]] = {}
    for step in w.steps:
        if step.terms_changed:
            made[step.terms_version] = step
        e = step.entry
        if e.type == "agreement.ratified" and step.applied and visible(e):
            version = e.data.get("terms_version")
            if isinstance(version, int):
                signed.setdefault(version, []).append(step)
    s = w.state
    wanted = set(signed) | ({s.terms_version} if s.terms_version else set())
    if s.in_force_version is not None:
        wanted.add(s.in_force_version)
    versions = []
    for v in sorted(wanted):
        origin = made.get(v)
        expected = origin.state_hash if origin is not None else None
        parties = list(origin.parties) if origin is not None else []
        signatures = []
        for st in signed.get(v, []):
            h = st.entry.data.get("state_hash")
            signatures.append({"organization": st.entry.actor, "terms_version": v,
                               "state_hash": h, "matches_terms": h == expected,
                               "event": event_record(st.entry, evidence, data=False)})
        hashes = {x["state_hash"] for x in signatures}
        by = sorted({str(x["organization"]) for x in signatures})
        versions.append({
            "terms_version": v,
            "state_hash": expected,
            "made_at_position": origin.entry.position if origin is not None else None,
            "parties": parties,
            "signatures": signatures,
            "ratified_by": by,
            "not_ratified_by": sorted(set(parties) - set(by)),
            "all_same_hash": len(hashes) == 1,
            "all_match_terms": bool(signatures) and all(x["matches_terms"] for x in signatures),
            "ratified_by_all_parties": bool(parties) and set(parties) <= set(by)
            and len(hashes) == 1 and hashes == {expected},
        })
    in_force = None
    if s.in_force_version is not None:
        entry = next(x for x in versions if x["terms_version"] == s.in_force_version)
        in_force = {"terms_version": s.in_force_version, "state_hash": s.in_force_hash,
                    "since": s.in_force_since,
                    "ratified_by": entry["ratified_by"],
                    "all_ratified_same_hash": entry["all_same_hash"]
                    and entry["all_match_terms"]}
    return {"in_force": in_force, "current_terms_version": s.terms_version,
            "terms_versions": versions}


def membership(w: Walk, evidence: Evidence, visible: Visible,
               at: str | None = None) -> dict[str, Any]:
    """Who joined and withdrew, when (positions and times); with ``at`` (a date or a
    time), who were parties then, by the ledger's time (``recorded_at``).

    Raises ValueError for a malformed ``at``.
    """
    intervals: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for step in w.steps:
        e = step.entry
        if not step.applied:
            continue
        if e.type in ("agreement.drafted", "party.joined"):
            how = "drafted" if e.type == "agreement.drafted" else "joined"
            interval = {"organization": e.actor, "how": how,
                        "self_signed": True,
                        "joined": _moment(e, evidence), "left": None}
            open_[e.actor] = interval
            if visible(e):
                intervals.append(interval)
        elif e.type == "party.withdrew":
            found = open_.pop(e.actor, None)
            if found is not None and visible(e):
                found["left"] = _moment(e, evidence) | {
                    "effective_on": e.data.get("effective_on"),
                    "reason": e.data.get("reason")}
    out: dict[str, Any] = {"intervals": intervals}
    if at is not None:
        bound = parse_bound(at, name="at", end=True)
        day = bound[:10]
        parties, in_notice = [], []
        for iv in intervals:
            if instant(iv["joined"]["recorded_at"]) > bound:
                continue
            left = iv["left"]
            if left is None or instant(left["recorded_at"]) > bound:
                parties.append(iv["organization"])
            elif str(left.get("effective_on") or "") >= day:
                in_notice.append(iv["organization"])
        out["at"] = {
            "at": at,
            "rule": "a party at that moment by the ledger's time (recorded_at): joined "
                    "(or drafted) before it and not withdrawn before it",
            "parties": sorted(set(parties)),
            "withdrawn_in_notice_period": sorted(set(in_notice) - set(parties)),
        }
    return out


def agreement_answer(w: Walk, evidence: Evidence, *, at: str | None = None,
                     visible: Visible = everything) -> dict[str, Any]:
    """The events that made the agreement's current value: its generation, each new
    terms version (revision), status changes and its invalidation (termination); what
    each party ratified; membership over time. Requires ``walk(..., hashes=True)``."""
    chain: list[dict[str, Any]] = []
    other: dict[str, int] = {}
    current_hash = None
    for step in w.steps:
        e = step.entry
        if step.terms_changed:
            current_hash = step.state_hash
        if not step.applied or not visible(e) or e.type == "agreement.ratified":
            continue
        if step.terms_changed:
            role = "generation" if e.type == "agreement.drafted" else "revision"
            record = event_record(e, evidence, role=role)
            record["terms_version"] = step.terms_version
            record["state_hash"] = step.state_hash
            chain.append(record)
        elif e.type in _STATUS_ROLES:
            chain.append(event_record(e, evidence, role=_STATUS_ROLES[e.type]))
        else:
            other[e.type] = other.get(e.type, 0) + 1
    return {
        "agreement": _summary(w.state, current_hash),
        "chain": chain,
        "ratifications": _ratifications(w, evidence, visible),
        "membership": membership(w, evidence, visible, at),
        "other_events": {"count": sum(other.values()), "by_type": dict(sorted(other.items())),
                         "note": "progress events (fulfilments, stages, acknowledgements, "
                                 "measures, consents...): see the item queries or the "
                                 "PROV export, which covers the whole history"},
    }


# --- commitments ----------------------------------------------------------------------


def _status(positions: Iterable[dict[str, Any]]) -> str:
    kinds = {p["stance"] for p in positions}
    if "contested" in kinds:
        return "contested"
    return "confirmed" if "confirmed" in kinds else "unconfirmed"


def _latest_positions(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each organization's current stance (its latest word), without the events."""
    latest: dict[str, dict[str, Any]] = {}
    for p in history:
        latest[p["organization"]] = p
    return [{"organization": o, "stance": latest[o]["stance"],
             "position": latest[o]["event"]["position"]} for o in sorted(latest)]


def _total(fulfilments: list[dict[str, Any]], window: Window,
           values: list[dict[str, Any]], committed: dict[str, Any]) -> dict[str, Any]:
    inside = [f for f in fulfilments if window.contains(f["period"]["start"],
                                                         f["period"]["end"])]
    partial = [f for f in fulfilments if f not in inside
               and window.overlaps(f["period"]["start"], f["period"]["end"])]
    by_unit: dict[str, dict[str, Decimal]] = {}
    for f in inside:
        amount = _dec(f["quantity"].get("amount")) or Decimal(0)
        unit = str(f["quantity"].get("unit"))
        sums = by_unit.setdefault(unit, {"confirmed": Decimal(0), "recorded": Decimal(0)})
        sums["recorded"] += amount
        if f["status"] == "confirmed":
            sums["confirmed"] += amount
    committed_amount = _dec(committed.get("amount"))
    confirmed_here: Decimal = by_unit.get(str(committed.get("unit")), {}).get(
        "confirmed", Decimal(0))
    declared = []
    for v in values:
        if not v["current"] or v["value"] is None:
            continue
        item = {"organization": v["organization"], "side": v["side"], "value": v["value"],
                "for_committed_quantity": committed, "declared_at": v["declared_at"],
                "position": v["position"]}
        worth = _dec(v["value"].get("amount"))
        if committed_amount and worth is not None:
            share = (worth * confirmed_here / committed_amount).quantize(
                _CENT, rounding=ROUND_HALF_EVEN)
            item["pro_rata_for_confirmed"] = {
                "amount": _fmt(share), "unit": v["value"].get("unit"),
                "according_to": v["organization"]}
        declared.append(item)
    return {
        "window": window.to_json(),
        "rule": "fulfilments whose period lies wholly within the window; 'confirmed' "
                "counts those the receiving side confirmed and nobody contests; partial "
                "overlaps are listed apart and never prorated",
        "totals": [{"unit": u, "confirmed": _fmt(t["confirmed"]),
                    "recorded": _fmt(t["recorded"])} for u, t in sorted(by_unit.items())],
        "fulfilments": [{"fulfilment_id": f["fulfilment_id"], "quantity": f["quantity"],
                         "period": f["period"], "status": f["status"],
                         "recorded_by": f["recorded_by"],
                         "confirmed_by": [p["organization"] for p in f["positions"]
                                          if p["stance"] == "confirmed"],
                         "contested_by": [p["organization"] for p in f["positions"]
                                          if p["stance"] == "contested"],
                         "position": f["recorded"]["position"]} for f in inside],
        "partial_overlap": [f["fulfilment_id"] for f in partial],
        "declared_values": declared,
        "values_note": "each value is one party's own declaration of what the whole "
                       "commitment is worth to it; they are never added together. "
                       "pro_rata_for_confirmed = that party's value x confirmed quantity "
                       "/ committed quantity, rounded to 0.01",
    }


def commitment_answer(w: Walk, evidence: Evidence, commitment_id: str, *,
                      window: Window | None = None,
                      visible: Visible = everything) -> dict[str, Any] | None:
    """A commitment's generation, amendments and withdrawal, the values each side
    declared (who, what, when), its fulfilments with who recorded and who confirmed or
    contested each; with ``window``, a reported total. None if there is no such
    commitment."""
    s = w.state
    cm = s.commitments.get(commitment_id)
    if cm is None:
        return None
    chain: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    fulfilments: dict[str, dict[str, Any]] = {}
    version = 0
    for step in w.steps:
        e, d, t = step.entry, step.entry.data, step.entry.type
        if not step.applied:
            continue
        if t.startswith("commitment.") and d.get("commitment_id") == commitment_id:
            if t == "commitment.offered":
                version = 1
            elif t == "commitment.amended":
                version += 1
            if not visible(e):
                continue
            if t in ("commitment.offered", "commitment.amended"):
                role = "generation" if t == "commitment.offered" else "amendment"
                record = event_record(e, evidence, role=role)
                record["commitment_version"] = version
                chain.append(record)
                values.append({"organization": e.actor, "side": "provider",
                               "value": d.get("value"), "fair_value": d.get("fair_value"),
                               "commitment_version": version, "declared_at": e.issued_at,
                               "recorded_at": e.recorded_at, "position": e.position,
                               "key_id": e.key})
            elif t == "commitment.withdrawn":
                chain.append(event_record(e, evidence, role="withdrawal"))
            elif t == "commitment.received_value_declared":
                values.append({"organization": e.actor, "side": "receiver",
                               "value": d.get("value"), "fair_value": None,
                               "commitment_version": version, "declared_at": e.issued_at,
                               "recorded_at": e.recorded_at, "position": e.position,
                               "key_id": e.key})
        elif t == "fulfilment.recorded" and d.get("commitment_id") == commitment_id:
            if visible(e):
                fulfilments[str(d.get("fulfilment_id"))] = {
                    "fulfilment_id": d.get("fulfilment_id"), "quantity": d.get("quantity"),
                    "period": d.get("period"), "note": d.get("note", ""),
                    "evidence_sha256": d.get("evidence_sha256"), "recorded_by": e.actor,
                    "recorded": event_record(e, evidence), "history": []}
        elif t in ("fulfilment.confirmed", "fulfilment.contested"):
            found = fulfilments.get(str(d.get("fulfilment_id")))
            if found is not None and visible(e):
                kind = "confirmed" if t == "fulfilment.confirmed" else "contested"
                found["history"].append({
                    "organization": e.actor, "stance": kind,
                    "text": d.get("comment", "") if kind == "confirmed" else d.get("reason"),
                    "event": event_record(e, evidence, data=False)})
    latest: dict[tuple[str, str], int] = {}
    for i, v in enumerate(values):
        latest[(v["organization"], v["side"])] = i
    for i, v in enumerate(values):
        v["current"] = (latest[(v["organization"], v["side"])] == i
                        and v["commitment_version"] == version and not cm.withdrawn)
        if v["side"] == "receiver" and v["commitment_version"] != version:
            v["lapsed"] = "the commitment was amended after this declaration"
    items = []
    for f in fulfilments.values():
        f["positions"] = _latest_positions(f["history"])
        f["status"] = _status(f["positions"])
        items.append(f)
    receivers = receiving_orgs(s, cm) if cm.receiver == COLLECTIVE else [cm.receiver]
    committed = {"amount": cm.quantity.amount, "unit": cm.quantity.unit}
    answer: dict[str, Any] = {
        "commitment": {
            "agreement_id": s.agreement_id, "commitment_id": cm.id, "provider": cm.provider,
            "receiver": cm.receiver, "receiving_side": receivers, "category": cm.category,
            "description": cm.description, "quantity": committed,
            "period": {"start": cm.period.start, "end": cm.period.end},
            "version": version, "status": "withdrawn" if cm.withdrawn else "active",
        },
        "chain": chain,
        "declared_values": values,
        "fulfilments": items,
    }
    if window is not None:
        answer["reported_total"] = _total(items, window, values, committed)
    return answer


# --- expectations, roles, indicators -------------------------------------------------


def expectation_answer(w: Walk, evidence: Evidence, expectation_id: str, *,
                       visible: Visible = everything) -> dict[str, Any] | None:
    """An expectation's statement, revisions, withdrawal (by its holder, or because the
    holder left), and who acknowledged which revision."""
    exp = w.state.expectations.get(expectation_id)
    if exp is None:
        return None
    chain: list[dict[str, Any]] = []
    acks: list[dict[str, Any]] = []
    revision, withdrawn = 0, False
    for step in w.steps:
        e, d, t = step.entry, step.entry.data, step.entry.type
        if not step.applied:
            continue
        mine = d.get("expectation_id") == expectation_id
        role = None
        if mine and t == "expectation.stated":
            revision, role = 1, "generation"
        elif mine and t == "expectation.revised":
            revision, role = revision + 1, "revision"
        elif mine and t == "expectation.withdrawn":
            withdrawn, role = True, "invalidation"
        elif t == "party.withdrew" and e.actor == exp.holder and revision and not withdrawn:
            withdrawn, role = True, "invalidation (the holder withdrew from the agreement)"
        elif mine and t == "expectation.acknowledged":
            if visible(e):
                acks.append({"organization": e.actor, "revision": revision,
                             "content_hash": d.get("content_hash"),
                             "event": event_record(e, evidence, data=False)})
            continue
        if role is None or not visible(e):
            continue
        record = event_record(e, evidence, role=role)
        if role in ("generation", "revision"):
            record["revision"] = revision
        chain.append(record)
    for a in acks:
        a["current"] = a["revision"] == exp.revision and not exp.withdrawn
    return {
        "expectation": {
            "agreement_id": w.state.agreement_id, "expectation_id": exp.id,
            "holder": exp.holder, "text": exp.text, "addressed_to": exp.addressed_to,
            "addressees": addressees(w.state, exp), "revision": exp.revision,
            "withdrawn": exp.withdrawn, "shared": is_shared(w.state, exp),
        },
        "chain": chain,
        "acknowledgements": acks,
    }


def role_answer(w: Walk, evidence: Evidence, role_id: str, *,
                visible: Visible = everything) -> dict[str, Any] | None:
    """A role's proposal, acceptance (and who holds it), refusal, relinquishment or
    end (its assignee left the agreement)."""
    role = w.state.roles.get(role_id)
    if role is None:
        return None
    chain: list[dict[str, Any]] = []
    status = ""
    roles = {"role.proposed": "generation", "role.accepted": "acceptance",
             "role.declined": "invalidation (declined)",
             "role.relinquished": "invalidation (relinquished)"}
    for step in w.steps:
        e, d, t = step.entry, step.entry.data, step.entry.type
        if not step.applied:
            continue
        if t in roles and d.get("role_id") == role_id:
            status = t.split(".")[1]
            label = roles[t]
        elif (t == "party.withdrew" and e.actor == role.assignee
              and status in ("proposed", "accepted")):
            status, label = "ended", "invalidation (the assignee withdrew)"
        else:
            continue
        if visible(e):
            chain.append(event_record(e, evidence, role=label))
    return {
        "role": {"agreement_id": w.state.agreement_id, "role_id": role.id,
                 "name": role.name, "description": role.description,
                 "assignee": role.assignee, "proposed_by": role.proposed_by,
                 "status": role.status, "person_id": role.person},
        "chain": chain,
    }


def indicator_answer(w: Walk, evidence: Evidence, indicator_id: str, *,
                     visible: Visible = everything) -> dict[str, Any] | None:
    """An indicator's definition and each measure: value, period, evidence hash, who
    measured, when, with which key."""
    ind = w.state.indicators.get(indicator_id)
    if ind is None:
        return None
    chain: list[dict[str, Any]] = []
    measures: list[dict[str, Any]] = []
    for step in w.steps:
        e, d, t = step.entry, step.entry.data, step.entry.type
        if not step.applied or d.get("indicator_id") != indicator_id or not visible(e):
            continue
        if t == "indicator.defined":
            chain.append(event_record(e, evidence, role="generation"))
        elif t == "indicator.measured":
            measures.append({"measurement_id": d.get("measurement_id"),
                             "value": d.get("value"), "unit": ind.unit,
                             "period": d.get("period"),
                             "evidence_sha256": d.get("evidence_sha256"),
                             "measured_by": e.actor,
                             "event": event_record(e, evidence, data=False)})
    return {
        "indicator": {"agreement_id": w.state.agreement_id, "indicator_id": ind.id,
                      "name": ind.name, "unit": ind.unit, "method": ind.method,
                      "target": ind.target, "defined_by": ind.defined_by},
        "chain": chain,
        "measures": measures,
    }


def item_positions(w: Walk, kind: str, item_id: str) -> set[int]:
    """Positions of the events an item's chain is made of (what its export covers):
    ``kind`` is ``commitment``, ``expectation``, ``role`` or ``indicator``."""
    key = f"{kind}_id"
    out: set[int] = set()
    fulfilments: set[str] = set()
    owner = ""
    live = False
    for step in w.steps:
        e, d, t = step.entry, step.entry.data, step.entry.type
        if not step.applied:
            continue
        if t.startswith(kind + ".") and d.get(key) == item_id:
            out.add(e.position)
            if t in ("expectation.stated", "role.proposed"):
                owner = e.actor if kind == "expectation" else str(d.get("assignee"))
                live = True
            elif t in ("expectation.withdrawn", "role.declined", "role.relinquished"):
                live = False
        elif kind == "commitment" and t == "fulfilment.recorded" and d.get(key) == item_id:
            out.add(e.position)
            fulfilments.add(str(d.get("fulfilment_id")))
        elif (kind == "commitment" and t in ("fulfilment.confirmed", "fulfilment.contested")
              and d.get("fulfilment_id") in fulfilments):
            out.add(e.position)
        elif t == "party.withdrew" and live and e.actor == owner:
            out.add(e.position)
            live = False
    return out


# --- organizations and search --------------------------------------------------------


def _key_json(k: Any) -> dict[str, Any]:
    return {"key_id": k.key_id, "valid_from": k.valid_from, "added_position": k.added_position,
            "added_recorded_at": k.added_recorded_at, "label": k.label or None,
            "revoked_at": k.revoked_at, "revoked_recorded_at": k.revoked_recorded_at,
            "revocation_reason": k.revocation_reason}


def organization_answer(org: str, entries: Iterable[Entry], evidence: Evidence, *,
                        visible: Visible = everything) -> dict[str, Any]:
    """Everything ``org`` asserted among ``entries`` (its statements, in log order), and
    those signed with one of its keys that was revoked later (compromised-key report)."""
    statements = []
    later_revoked = []
    for e in entries:
        if not visible(e):
            continue
        statements.append(event_record(e, evidence))
        verdict = key_verdict(evidence.keys, e.actor, e.key, e.position)
        if verdict["revoked_later"]:
            later_revoked.append({
                "position": e.position, "stream": e.stream, "type": e.type,
                "recorded_at": e.recorded_at, "event_hash": e.event_hash, "key_id": e.key,
                "revoked_at": verdict["revoked_at"],
                "revocation_reason": verdict["revocation_reason"],
                "compromised": verdict["revocation_reason"] == "compromised"})
    history: OrgKeys | None = evidence.keys.get(org)
    keys = [] if history is None else [
        _key_json(k) for k in sorted(history.keys.values(), key=lambda k: k.added_position)]
    return {
        "organization": org,
        "keys": keys,
        "statements": statements,
        "signed_with_keys_revoked_later": later_revoked,
        "compromised_note": "these events were signed before their key was revoked, so the "
                            "ledger accepted them; when the reason is 'compromised' the "
                            "organization should say which of them it still stands by "
                            "(the ledger records no compromised-since time)",
    }


def search_answer(walks: Mapping[str, Walk], *, category: str | None = None,
                  org: str | None = None, window: Window | None = None,
                  allowed: Callable[[str, str], bool] | None = None,
                  ) -> tuple[list[dict[str, Any]], int]:
    """Commitments by resource category, organization (provider or on the receiving
    side) and period overlap, across ``walks`` (by agreement id); with the number left
    out because ``allowed(agreement_id, provider)`` said no."""
    items: list[dict[str, Any]] = []
    withheld = 0
    for aid in sorted(walks):
        w = walks[aid]
        s = w.state
        for cid in sorted(s.commitments):
            cm = s.commitments[cid]
            receivers = receiving_orgs(s, cm) if cm.receiver == COLLECTIVE else [cm.receiver]
            if category is not None and cm.category != category:
                continue
            if org is not None and org != cm.provider and org not in receivers:
                continue
            if window is not None and not window.overlaps(cm.period.start, cm.period.end):
                continue
            if allowed is not None and not allowed(aid, cm.provider):
                withheld += 1
                continue
            fulfilled = confirmed = Decimal(0)
            for f in s.fulfilments.values():
                if f.commitment_id != cid or f.quantity.unit != cm.quantity.unit:
                    continue
                amount = _dec(f.quantity.amount) or Decimal(0)
                fulfilled += amount
                kinds = {p.kind for p in f.positions.values()}
                if "confirmed" in kinds and "contested" not in kinds:
                    confirmed += amount
            items.append({
                "agreement_id": aid, "commitment_id": cid, "provider": cm.provider,
                "receiver": cm.receiver, "receiving_side": receivers,
                "category": cm.category, "description": cm.description,
                "quantity": {"amount": cm.quantity.amount, "unit": cm.quantity.unit},
                "period": {"start": cm.period.start, "end": cm.period.end},
                "status": "withdrawn" if cm.withdrawn else "active",
                "version": cm.amendments + 1, "offered_at": cm.offered_at,
                "provider_value": None if cm.value is None else
                {"amount": cm.value.amount, "unit": cm.value.unit},
                "receiver_values": {o: {"amount": v.amount, "unit": v.unit}
                                    for o, v in sorted(cm.receiver_values.items())},
                "fulfilled": _fmt(fulfilled), "confirmed": _fmt(confirmed),
            })
    return items, withheld
