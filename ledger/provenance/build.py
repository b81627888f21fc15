"""The ledger's history as a W3C PROV document (docs/DOMAIN.md §2.9,
docs/PROVENANCE.md).

* Each organization is an ``agent`` of ``prov:type`` ``prov:Organization``; each signing
  key an ``agent`` (``mut:SigningKey``) that ``actedOnBehalfOf`` its organization for
  each event it signed.
* Each event is an ``activity``: ``prov:startTime`` is the time the actor claims
  (``issued_at``); ``mut:recordedAt``, ``mut:logIndex``, ``mut:eventHash``,
  ``mut:stream``, ``mut:streamVersion``, ``mut:keyId`` and ``mut:keyValid`` say where
  and when the ledger holds it. It ``wasAssociatedWith`` the key and the organization.
* Each version of an agreement's terms, of a commitment, of an expectation and of a
  role, each declared value, fulfilment record, indicator, measure, membership and
  consent is an ``entity``, ``wasGeneratedBy`` the event that made it,
  ``wasAttributedTo`` the organization that signed it, ``wasDerivedFrom`` its previous
  version as a ``prov:Revision``, and ``wasInvalidatedBy`` the event that replaced,
  withdrew or ended it. Events that read an entity (a ratification reads the terms
  version it signs; an acknowledgement the expectation revision; a confirmation the
  fulfilment) ``used`` it. Evidence kept off the ledger appears as an entity named by
  its SHA-256, from which fulfilments and measures were derived.

``include`` selects the events whose activity and relations are written (an item's
chain, an organization's statements, what a trust's consents cover). An entity made by
an event left out but referenced by one written is declared without attributes, so
every identifier the document uses is declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ..domain.evolve import evolve
from ..domain.state import AgreementState, initial_state
from ..domain.state_hash import state_hash
from .evidence import Evidence
from .provdoc import Attr, ProvDoc, QName, Time, local
from .records import Entry, key_verdict

__all__ = ["build_prov", "type_qname"]

Include = Callable[[Entry], bool]


def type_qname(event_type: str) -> QName:
    """``commitment.received_value_declared`` → ``mut:CommitmentReceivedValueDeclared``."""
    words = event_type.replace(".", "_").split("_")
    return QName("mut:" + "".join(w[:1].upper() + w[1:] for w in words if w))


def _include_all(_: Entry) -> bool:
    return True


class _Builder:
    def __init__(self, doc: ProvDoc, evidence: Evidence, include: Include) -> None:
        self.doc = doc
        self.evidence = evidence
        self.include = include
        self.on = False
        self.act = ""
        self.time = ""

    # --- agents and activities ---------------------------------------------------------

    def org(self, org: str) -> str:
        ident = local("org", org)
        self.doc.declare("agent", ident, [("prov:type", QName("prov:Organization")),
                                          ("mut:orgId", org)])
        return ident

    def key(self, key_id: str, org: str) -> str:
        ident = local("key", key_id)
        attrs: list[Attr] = [("prov:type", QName("mut:SigningKey")), ("mut:keyId", key_id)]
        history = self.evidence.keys.get(org)
        record = history.keys.get(key_id) if history is not None else None
        if record is not None:
            attrs.append(("mut:validFrom", record.valid_from))
            if record.revoked_at is not None:
                attrs.append(("mut:revokedAt", record.revoked_at))
            if record.revocation_reason is not None:
                attrs.append(("mut:revocationReason", record.revocation_reason))
        self.doc.declare("agent", ident, attrs)
        return ident

    def activity(self, e: Entry) -> None:
        verdict = key_verdict(self.evidence.keys, e.actor, e.key, e.position)
        self.act = local("event", e.event_hash)
        self.time = e.issued_at
        self.doc.declare("activity", self.act, [
            ("prov:type", type_qname(e.type)),
            ("mut:eventType", e.type),
            ("mut:recordedAt", Time(e.recorded_at)),
            ("mut:logIndex", e.position),
            ("mut:eventHash", e.event_hash),
            ("mut:stream", e.stream),
            ("mut:streamVersion", e.version),
            ("mut:keyId", e.key),
            ("mut:keyValid", bool(verdict["valid"])),
        ], start=e.issued_at)
        org = self.org(e.actor)
        key = self.key(e.key, e.actor)
        self.doc.relate("wasAssociatedWith", self.act, key)
        self.doc.relate("wasAssociatedWith", self.act, org)
        self.doc.relate("actedOnBehalfOf", key, org, self.act)

    # --- entity relations (written only for included events) --------------------------

    def gen(self, ident: str, attrs: list[Attr], by: str) -> None:
        if self.on:
            self.doc.declare("entity", ident, attrs)
            self.doc.relate("wasGeneratedBy", ident, self.act, self.time)
            self.doc.relate("wasAttributedTo", ident, self.org(by))

    def _ref(self, ident: str) -> str:
        self.doc.declare("entity", ident)
        return ident

    def inv(self, ident: str) -> None:
        if self.on:
            self.doc.relate("wasInvalidatedBy", self._ref(ident), self.act, self.time)

    def use(self, ident: str) -> None:
        if self.on:
            self.doc.relate("used", self.act, self._ref(ident), self.time)

    def revise(self, new: str, old: str) -> None:
        if self.on:
            self.doc.relate("wasDerivedFrom", self._ref(new), self._ref(old), self.act,
                            attrs=(("prov:type", QName("prov:Revision")),))
            self.inv(old)

    def derive(self, new: str, source: str) -> None:
        if self.on:
            self.doc.relate("wasDerivedFrom", self._ref(new), self._ref(source), self.act)

    def specialize(self, specific: str, general: str) -> None:
        if self.on:
            self.doc.relate("specializationOf", self._ref(specific), self._ref(general))

    def evidence_entity(self, sha: object) -> str | None:
        if not isinstance(sha, str) or not sha:
            return None
        ident = local("evidence", sha)
        if self.on:
            self.doc.declare("entity", ident, [("prov:type", QName("mut:Evidence")),
                                               ("mut:sha256", sha)])
        return ident

    def person(self, person: object, org: str) -> None:
        if self.on and isinstance(person, str):
            ident = local("person", person)
            self.doc.declare("agent", ident, [("prov:type", QName("prov:Person")),
                                              ("mut:pseudonymousId", person)])
            self.doc.relate("actedOnBehalfOf", ident, self.org(org), self.act)

    # --- streams -------------------------------------------------------------------

    def org_stream(self, entries: Iterable[Entry]) -> None:
        for e in entries:
            if self.include(e):
                self.activity(e)

    def agreement_stream(self, entries: Sequence[Entry]) -> None:
        state = initial_state()
        memberships: dict[str, int] = {}
        role_versions: dict[str, int] = {}
        values: dict[tuple[str, str], int] = {}  # (commitment, org) -> count
        live_values: dict[str, set[str]] = {}  # commitment -> orgs with a live value
        for e in entries:
            before = state.terms_version
            held = _held_by(state, e.actor) if e.type == "party.withdrew" else ([], [])
            state = evolve(state, e.fact())
            self.on = self.include(e)
            if self.on:
                self.activity(e)
            if state.version != e.version:
                continue  # not a fact the domain applied: the activity alone
            aid = state.agreement_id or e.stream_key
            self._effects(e, state, aid, before, held, memberships, role_versions, values,
                          live_values)

    def _effects(self, e: Entry, s: AgreementState, aid: str, before: int,
                 held: tuple[list[str], list[str]], memberships: dict[str, int],
                 role_versions: dict[str, int], values: dict[tuple[str, str], int],
                 live_values: dict[str, set[str]]) -> None:
        d, t = e.data, e.type
        general = local("agreement", aid)

        def terms(n: int) -> str:
            return local("agreement", aid, "terms", str(n))

        def item(kind: str, ident: object, *rest: str) -> str:
            return local("agreement", aid, kind, str(ident), *rest)

        def membership(org: str) -> str:
            return item("membership", org, str(memberships.get(org, 1)))

        if t == "agreement.drafted":
            self.gen(general, [("prov:type", QName("mut:Agreement")),
                               ("mut:agreementId", aid)], e.actor)
        if s.terms_version != before:
            n = s.terms_version
            self.gen(terms(n), [("prov:type", QName("mut:AgreementTerms")),
                                ("mut:termsVersion", n), ("mut:stateHash", state_hash(s)),
                                ("mut:title", s.title)], e.actor)
            self.specialize(terms(n), general)
            if n > 1:
                self.revise(terms(n), terms(n - 1))
        if t in ("agreement.drafted", "party.joined"):
            memberships[e.actor] = memberships.get(e.actor, 0) + 1
            self.gen(membership(e.actor), [("prov:type", QName("mut:Membership")),
                                           ("mut:organization", e.actor)], e.actor)
        elif t == "party.withdrew":
            self.inv(membership(e.actor))
            expectations, roles = held
            for eid in expectations:
                self.inv(item("expectation", eid, f"v{s.expectations[eid].revision}"))
            for rid in roles:
                self.inv(item("role", rid, f"v{role_versions.get(rid, 1)}"))
        elif t == "agreement.ratified":
            v = d.get("terms_version")
            if isinstance(v, int) and 1 <= v <= s.terms_version:
                self.use(terms(v))
        elif t == "agreement.terminated":
            self.inv(terms(s.terms_version))
            self.inv(general)
        elif t == "porteur.named":
            self.person(d.get("person_id"), e.actor)
        elif t.startswith("role."):
            rid = str(d.get("role_id"))
            role = s.roles.get(rid)
            v = role_versions.get(rid, 1)
            if t == "role.proposed" and role is not None:
                role_versions[rid] = 1
                self.gen(item("role", rid, "v1"), [
                    ("prov:type", QName("mut:Role")), ("mut:name", role.name),
                    ("mut:assignee", role.assignee)], e.actor)
            elif t == "role.accepted" and role is not None:
                role_versions[rid] = v + 1
                self.gen(item("role", rid, f"v{v + 1}"), [
                    ("prov:type", QName("mut:Role")), ("mut:name", role.name),
                    ("mut:assignee", role.assignee), ("mut:status", "accepted")], e.actor)
                self.revise(item("role", rid, f"v{v + 1}"), item("role", rid, f"v{v}"))
                self.person(d.get("person_id"), e.actor)
            elif t in ("role.declined", "role.relinquished"):
                self.inv(item("role", rid, f"v{v}"))
        elif t.startswith("expectation."):
            eid = str(d.get("expectation_id"))
            exp = s.expectations.get(eid)
            if exp is None:
                return
            current = item("expectation", eid, f"v{exp.revision}")
            if t in ("expectation.stated", "expectation.revised"):
                self.gen(current, [("prov:type", QName("mut:Expectation")),
                                   ("mut:revision", exp.revision), ("mut:text", exp.text)],
                         e.actor)
                if exp.revision > 1:
                    self.revise(current, item("expectation", eid, f"v{exp.revision - 1}"))
            elif t == "expectation.withdrawn":
                self.inv(current)
            elif t == "expectation.acknowledged":
                self.use(current)
        elif t.startswith("commitment."):
            cid = str(d.get("commitment_id"))
            cm = s.commitments.get(cid)
            if cm is None:
                return
            version = cm.amendments + 1
            current = item("commitment", cid, f"v{version}")
            if t in ("commitment.offered", "commitment.amended"):
                attrs: list[Attr] = [
                    ("prov:type", QName("mut:Commitment")), ("mut:version", version),
                    ("mut:provider", cm.provider), ("mut:receiver", cm.receiver),
                    ("mut:category", cm.category), ("mut:quantity", cm.quantity.amount),
                    ("mut:unit", cm.quantity.unit), ("mut:periodStart", cm.period.start),
                    ("mut:periodEnd", cm.period.end)]
                if cm.value is not None:
                    attrs += [("mut:declaredValue", cm.value.amount),
                              ("mut:declaredValueUnit", cm.value.unit)]
                if cm.fair_value is not None:
                    attrs += [("mut:fairValue", cm.fair_value.amount),
                              ("mut:fairValueUnit", cm.fair_value.unit),
                              ("mut:fairValueMethod", cm.fair_value.method)]
                if t == "commitment.offered":
                    self.gen(item("commitment", cid), [
                        ("prov:type", QName("mut:CommitmentItem"))], e.actor)
                self.gen(current, attrs, e.actor)
                self.specialize(current, item("commitment", cid))
                if version > 1:
                    self.revise(current, item("commitment", cid, f"v{version - 1}"))
                    for org in sorted(live_values.pop(cid, set())):  # they lapse
                        self.inv(item("commitment", cid, "value", org,
                                      str(values[(cid, org)])))
            elif t == "commitment.withdrawn":
                self.inv(current)
                self.inv(item("commitment", cid))
            elif t == "commitment.received_value_declared":
                n = values.get((cid, e.actor), 0) + 1
                values[(cid, e.actor)] = n
                new = item("commitment", cid, "value", e.actor, str(n))
                value = cm.receiver_values.get(e.actor)
                self.gen(new, [("prov:type", QName("mut:DeclaredValue")),
                               ("mut:perspective", "received"),
                               ("mut:amount", value.amount if value else ""),
                               ("mut:unit", value.unit if value else "")], e.actor)
                self.derive(new, current)
                if e.actor in live_values.get(cid, set()):
                    self.revise(new, item("commitment", cid, "value", e.actor, str(n - 1)))
                live_values.setdefault(cid, set()).add(e.actor)
        elif t == "fulfilment.recorded":
            fid = str(d.get("fulfilment_id"))
            ful = s.fulfilments.get(fid)
            cm = s.commitments.get(str(d.get("commitment_id")))
            if ful is None or cm is None:
                return
            record = item("fulfilment", fid)
            self.gen(record, [("prov:type", QName("mut:Fulfilment")),
                              ("mut:quantity", ful.quantity.amount),
                              ("mut:unit", ful.quantity.unit),
                              ("mut:periodStart", ful.period.start),
                              ("mut:periodEnd", ful.period.end)], e.actor)
            self.use(item("commitment", cm.id, f"v{cm.amendments + 1}"))
            source = self.evidence_entity(ful.evidence_sha256)
            if source is not None:
                self.derive(record, source)
        elif t in ("fulfilment.confirmed", "fulfilment.contested"):
            self.use(item("fulfilment", d.get("fulfilment_id")))
        elif t == "indicator.defined":
            iid = str(d.get("indicator_id"))
            ind = s.indicators.get(iid)
            if ind is not None:
                self.gen(item("indicator", iid), [
                    ("prov:type", QName("mut:Indicator")), ("mut:name", ind.name),
                    ("mut:unit", ind.unit), ("mut:method", ind.method)], e.actor)
        elif t == "indicator.measured":
            mid = str(d.get("measurement_id"))
            measure = s.measures.get(mid)
            if measure is None:
                return
            new = item("measure", mid)
            indicator = item("indicator", measure.indicator_id)
            self.gen(new, [("prov:type", QName("mut:Measure")), ("mut:value", measure.value),
                           ("mut:periodStart", measure.period.start),
                           ("mut:periodEnd", measure.period.end)], e.actor)
            self.use(indicator)
            self.derive(new, indicator)
            source = self.evidence_entity(measure.evidence_sha256)
            if source is not None:
                self.derive(new, source)
        elif t == "consent.given":
            cid = str(d.get("consent_id"))
            consent = s.consents.get(cid)
            if consent is not None:
                self.gen(item("consent", cid), [
                    ("prov:type", QName("mut:Consent")), ("mut:trustId", consent.trust_id),
                    ("mut:scope", " ".join(consent.scope)), ("mut:licence", consent.licence),
                    ("mut:expiresOn", consent.expires_on)], e.actor)
        elif t == "consent.withdrawn":
            self.inv(item("consent", d.get("consent_id")))


def _held_by(s: AgreementState, org: str) -> tuple[list[str], list[str]]:
    """What a withdrawal of ``org`` ends: its live expectations and its open roles."""
    expectations = sorted(eid for eid, x in s.expectations.items()
                          if x.holder == org and not x.withdrawn)
    roles = sorted(rid for rid, r in s.roles.items()
                   if r.assignee == org and r.status in ("proposed", "accepted"))
    return expectations, roles


def build_prov(streams: Iterable[Sequence[Entry]], evidence: Evidence, *,
               include: Include = _include_all) -> ProvDoc:
    """A PROV document of the given streams (each one stream's entries in order;
    ``org/`` streams give activities only), writing the events ``include`` selects."""
    doc = ProvDoc()
    builder = _Builder(doc, evidence, include)
    for entries in streams:
        if not entries:
            continue
        if entries[0].stream_kind == "agreement":
            builder.agreement_stream(entries)
        else:
            builder.org_stream(entries)
    return doc
