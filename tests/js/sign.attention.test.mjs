// "Ce qui demande mon attention", from an agreement's state as the API answers it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { needs } from "../../api/web/static/js/sign/attention.js";

const period = (start, end) => ({ start, end });
const view = {
  terms_version: 4,
  state: {
    status: "draft",
    invited: { "festival-c": "centre-a" },
    parties: { "centre-a": {}, "theatre-b": {} },
    stages: {
      know_yourself: { acks: { "centre-a": "t", "theatre-b": "t" } },
      get_acquainted: { acks: { "centre-a": "t" } },
    },
    expectations: {
      e1: { id: "e1", holder: "centre-a", text: "Rapports.", addressed_to: "all", acks: {} },
      e2: { id: "e2", holder: "centre-a", text: "Retirée.", addressed_to: "all", withdrawn: true, acks: {} },
      e3: { id: "e3", holder: "centre-a", text: "Pour un autre.", addressed_to: ["festival-c"], acks: {} },
    },
    roles: {
      r1: { id: "r1", name: "Coordination", assignee: "theatre-b", proposed_by: "centre-a", status: "proposed" },
      r2: { id: "r2", name: "Accepté", assignee: "theatre-b", proposed_by: "centre-a", status: "accepted" },
    },
    commitments: {
      k1: { id: "k1", provider: "centre-a", receiver: "theatre-b" },
      k2: { id: "k2", provider: "centre-a", receiver: "collective" },
      k3: { id: "k3", provider: "theatre-b", receiver: "centre-a" },
    },
    fulfilments: {
      f1: { id: "f1", commitment_id: "k1", provider: "centre-a", positions: {} },
      f2: { id: "f2", commitment_id: "k2", provider: "centre-a", positions: { "theatre-b": { kind: "confirmed" } } },
      f3: { id: "f3", commitment_id: "k3", provider: "theatre-b", positions: {} },
    },
    indicators: {
      i1: { id: "i1", name: "Heures", defined_by: "theatre-b" },
      i2: { id: "i2", name: "Mesuré", defined_by: "theatre-b" },
      i3: { id: "i3", name: "D'un autre", defined_by: "centre-a" },
    },
    measures: { m1: { id: "m1", indicator_id: "i2", period: period("2027-01-01", "2027-01-31") },
      m0: { id: "m0", indicator_id: "i1", period: period("2026-12-01", "2026-12-31") } },
    signatures: { "theatre-b": { terms_version: 3 } },
  },
};

test("what waits for a party, in the workshop's order, with the form to fill", () => {
  const got = needs(view, "theatre-b", "2027-01-15");
  assert.deepEqual(got.map((x) => [x.kind, x.id ?? x.stage ?? x.version]), [
    ["stage", "get_acquainted"], ["ack", "e1"], ["role", "r1"], ["confirm", "f1"], ["measure", "i1"], ["ratify", 4],
  ]);
  assert.deepEqual(got.find((x) => x.kind === "role").fill, ["ws-roleaccept", "ws-roleaccept-role_id", "r1"]);
  assert.deepEqual(got.find((x) => x.kind === "stage").fill, ["ws-stageack", "ws-stageack-stage", "get_acquainted"]);
  // A measure whose period holds the day covers the indicator; one of a past period does not.
  assert.ok(!needs(view, "theatre-b", "2027-01-31").some((x) => x.id === "i2"));
  assert.ok(needs(view, "theatre-b", "2027-02-01").some((x) => x.id === "i2"));
});

test("the provider has no fulfilment of its own to confirm; a collective one is each other party's", () => {
  const got = needs(view, "centre-a", "2027-01-15");
  assert.deepEqual(got.filter((x) => x.kind === "confirm").map((x) => x.id), ["f3"]);
  assert.ok(!got.some((x) => x.kind === "stage")); // it acknowledged both started stages
});

test("an invited organization is asked to join, and nothing else", () => {
  assert.deepEqual(needs(view, "festival-c", "2027-01-15").map((x) => x.kind), ["join"]);
  assert.deepEqual(needs(view, "inconnu", "2027-01-15"), []);
  assert.deepEqual(needs({ terms_version: 4, state: { ...view.state, status: "terminated" } }, "theatre-b", "2027-01-15"), []);
});
