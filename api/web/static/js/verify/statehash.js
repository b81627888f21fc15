// The agreement's terms and their state hash (docs/PROTOCOL.md Part IV), folded from
// the agreement stream's events exactly as the specification says, event by event; and
// the check of every ratification against the terms it names.

import { toHex } from "./b64.js";
import { canonicalBytes } from "./canonical.js";
import { sha256 } from "./sha256.js";

export const TERMS_SCHEMA = "mutualisation.terms/1";
export const EXPECTATION_SCHEMA = "mutualisation.expectation/1";

const TERMS_TYPES = new Set([
  "agreement.revised", "party.joined", "party.withdrew", "porteur.named", "role.accepted",
  "role.relinquished", "expectation.stated", "expectation.revised", "expectation.withdrawn",
  "commitment.offered", "commitment.amended", "commitment.withdrawn",
  "commitment.received_value_declared", "indicator.defined",
]);

export function emptyTerms() {
  return {
    agreement_id: "", title: "", purpose: "", binding: false, terms_version: 0,
    parties: new Map(), expectations: new Map(), roles: new Map(), commitments: new Map(),
    indicators: new Map(),
  };
}

const q = (v) => (v === undefined || v === null ? null : { amount: v.amount, unit: v.unit });
const opt = (v) => (v === undefined ? null : v);

function commitmentFrom(d, provider) {
  return {
    provider, receiver: d.receiver, category: d.category, description: d.description,
    quantity: q(d.quantity), period: { start: d.period.start, end: d.period.end },
    conditions: d.conditions ?? "", value: q(d.value),
    fair_value: d.fair_value == null ? null
      : { amount: d.fair_value.amount, unit: d.fair_value.unit, method: d.fair_value.method },
    withdrawn: false, receiver_values: new Map(),
  };
}

/** Fold one event ({type, actor, data}) into the terms state s, in place. */
export function evolveTerms(s, { type, actor, data: d }) {
  switch (type) {
    case "agreement.drafted":
      s.agreement_id = d.agreement_id; s.title = d.title; s.purpose = d.purpose; s.binding = d.binding;
      s.parties = new Map([[actor, null]]);
      s.terms_version = 1;
      return;
    case "agreement.revised":
      s.title = d.title; s.purpose = d.purpose; s.binding = d.binding; break;
    case "party.joined": s.parties.set(actor, null); break;
    case "party.withdrew":
      s.parties.delete(actor);
      for (const e of s.expectations.values()) if (e.holder === actor) e.withdrawn = true;
      for (const r of s.roles.values()) {
        if (r.assignee === actor && (r.status === "proposed" || r.status === "accepted")) r.status = "ended";
      }
      break;
    case "porteur.named": if (s.parties.has(actor)) s.parties.set(actor, opt(d.person_id)); break;
    case "role.proposed":
      s.roles.set(d.role_id, { name: d.name, description: d.description, assignee: d.assignee, status: "proposed", person: null });
      break;
    case "role.accepted": {
      const r = s.roles.get(d.role_id);
      if (r) { r.status = "accepted"; r.person = opt(d.person_id); }
      break;
    }
    case "role.declined": { const r = s.roles.get(d.role_id); if (r) r.status = "declined"; break; }
    case "role.relinquished": { const r = s.roles.get(d.role_id); if (r) r.status = "relinquished"; break; }
    case "expectation.stated":
      s.expectations.set(d.expectation_id, { holder: actor, text: d.text, addressed_to: d.addressed_to ?? "all", withdrawn: false });
      break;
    case "expectation.revised": {
      const e = s.expectations.get(d.expectation_id);
      if (e) { e.text = d.text; e.addressed_to = d.addressed_to ?? "all"; }
      break;
    }
    case "expectation.withdrawn": { const e = s.expectations.get(d.expectation_id); if (e) e.withdrawn = true; break; }
    case "commitment.offered": s.commitments.set(d.commitment_id, commitmentFrom(d, actor)); break;
    case "commitment.amended": {
      const old = s.commitments.get(d.commitment_id);
      if (old) s.commitments.set(d.commitment_id, commitmentFrom(d, old.provider));
      break;
    }
    case "commitment.withdrawn": { const c = s.commitments.get(d.commitment_id); if (c) c.withdrawn = true; break; }
    case "commitment.received_value_declared": {
      const c = s.commitments.get(d.commitment_id);
      if (c) c.receiver_values.set(actor, q(d.value));
      break;
    }
    case "indicator.defined":
      s.indicators.set(d.indicator_id, { name: d.name, unit: d.unit, method: d.method, target: opt(d.target) });
      break;
    default: return;
  }
  if (TERMS_TYPES.has(type)) s.terms_version += 1;
}

const byCodePoint = (a, b) => (a < b ? -1 : a > b ? 1 : 0); // ids are ASCII
const sorted = (m) => [...m.entries()].sort((x, y) => byCodePoint(x[0], y[0]));
const addressed = (a) => (typeof a === "string" ? a : [...a].sort(byCodePoint));

/** The terms object that is hashed (every member present, lists sorted). */
export function termsJson(s) {
  return {
    schema: TERMS_SCHEMA,
    agreement_id: s.agreement_id,
    terms_version: s.terms_version,
    title: s.title,
    purpose: s.purpose,
    binding: s.binding,
    parties: sorted(s.parties).map(([org, porteur]) => ({ org, porteur })),
    expectations: sorted(s.expectations).filter(([, e]) => !e.withdrawn)
      .map(([id, e]) => ({ id, holder: e.holder, text: e.text, addressed_to: addressed(e.addressed_to) })),
    roles: sorted(s.roles).filter(([, r]) => r.status === "accepted")
      .map(([id, r]) => ({ id, name: r.name, description: r.description, assignee: r.assignee, person: r.person })),
    commitments: sorted(s.commitments).filter(([, c]) => !c.withdrawn).map(([id, c]) => ({
      id, provider: c.provider, receiver: c.receiver, category: c.category, description: c.description,
      quantity: c.quantity, period: c.period, conditions: c.conditions, value: c.value,
      fair_value: c.fair_value,
      receiver_values: sorted(c.receiver_values).map(([org, v]) => ({ org, amount: v.amount, unit: v.unit })),
    })),
    indicators: sorted(s.indicators)
      .map(([id, i]) => ({ id, name: i.name, unit: i.unit, method: i.method, target: i.target })),
  };
}

/** Lower-case hex SHA-256 of the canonical bytes of the terms. */
export function stateHash(s) { return toHex(sha256(canonicalBytes(termsJson(s)))); }

/** The terms state after folding a list of events in version order. */
export function foldTerms(events) {
  const s = emptyTerms();
  for (const e of events) evolveTerms(s, e);
  return s;
}

/**
 * Fold the events in version order and check each `agreement.ratified` against the
 * terms as they stood just before it: {ratifications: [{index, actor, ok, want, got}],
 * state}. `want` is what the ratification signed, `got` what the events give.
 */
export function checkRatifications(events) {
  const s = emptyTerms();
  const ratifications = [];
  events.forEach((e, index) => {
    if (e.type === "agreement.ratified") {
      const got = { terms_version: s.terms_version, state_hash: stateHash(s) };
      const want = { terms_version: e.data.terms_version, state_hash: e.data.state_hash };
      ratifications.push({
        index, actor: e.actor, want, got,
        ok: got.terms_version === want.terms_version && got.state_hash === want.state_hash,
      });
    }
    evolveTerms(s, e);
  });
  return { ratifications, state: s };
}
