// "Ce qui demande mon attention": what waits for one organization in one agreement,
// computed from the agreement's state as GET /v1/agreements/{id} answers it (the members
// of ledger/domain/state.py). Pure: no DOM, no fetch; the page words and shows each item.
//
// Entry point:
//
//   needs(view, org, today)  -> [{kind, ...params, fill: [formId, inputId?, value?]}]
//     kinds, in the workshop's order:
//       join     the organization is invited and not a party
//       stage    a started stage whose completion it has not acknowledged (this round)
//       ack      an expectation addressed to it, not withdrawn, not acknowledged
//       role     a role proposed to it, still open
//       confirm  a fulfilment it received and took no position on (confirm or contest)
//       measure  an indicator it defined with no measure whose period holds `today`
//       ratify   a terms version it has not ratified (at least two parties)
//     `today` is "YYYY-MM-DD" (UTC); `fill` names the form and the input to fill in.

const STAGES = ["know_yourself", "get_acquainted", "common_desire", "framework", "plan", "indicators"];

/** Is `org` on the receiving side of commitment `c` (docs/EVENTS.md, received_value_declared)? */
export function receives(c, org, parties) {
  if (!c || c.provider === org) return false;
  return c.receiver === "collective" ? parties.includes(org) : c.receiver === org;
}

export function needs(view, org, today) {
  const s = (view && view.state) || {};
  const out = [];
  if (!org || s.status === "terminated" || s.status === "absent") return out;
  const parties = Object.keys(s.parties || {});
  const party = parties.includes(org);
  if ((s.invited || {})[org] !== undefined && !party) out.push({ kind: "join", fill: ["ws-join"] });
  if (!party) return out;

  const stages = s.stages || {};
  for (const name of STAGES) {
    const st = stages[name];
    if (st && !(org in (st.acks || {}))) out.push({ kind: "stage", stage: name, fill: ["ws-stageack", "ws-stageack-stage", name] });
  }
  for (const e of Object.values(s.expectations || {})) {
    const to = e.addressed_to === "all" ? parties.filter((o) => o !== e.holder) : e.addressed_to;
    if (!e.withdrawn && to.includes(org) && !(org in (e.acks || {}))) {
      out.push({ kind: "ack", id: e.id, holder: e.holder, text: e.text, fill: ["ws-ack", "ws-ack-id", e.id] });
    }
  }
  for (const r of Object.values(s.roles || {})) {
    if (r.status === "proposed" && r.assignee === org) {
      out.push({ kind: "role", id: r.id, name: r.name, by: r.proposed_by, fill: ["ws-roleaccept", "ws-roleaccept-role_id", r.id] });
    }
  }
  const commitments = s.commitments || {};
  for (const f of Object.values(s.fulfilments || {})) {
    if (receives(commitments[f.commitment_id], org, parties) && !(org in (f.positions || {}))) {
      out.push({ kind: "confirm", id: f.id, provider: f.provider, fill: ["ws-confirm", "ws-confirm-fulfilment_id", f.id] });
    }
  }
  const measures = Object.values(s.measures || {});
  for (const i of Object.values(s.indicators || {})) {
    const covered = measures.some((m) => m.indicator_id === i.id && m.period.start <= today && today <= m.period.end);
    if (i.defined_by === org && !covered) {
      out.push({ kind: "measure", id: i.id, name: i.name, fill: ["ws-measure", "ws-measure-indicator_id", i.id] });
    }
  }
  const mine = (s.signatures || {})[org];
  if (parties.length >= 2 && view.terms_version > 0 && (!mine || mine.terms_version !== view.terms_version)) {
    out.push({ kind: "ratify", version: view.terms_version, fill: ["ws-ratify", "ws-ratify-version", String(view.terms_version)] });
  }
  return out;
}
