// The statement in plain words shown before signing: every type the workspace signs on an
// agreement is worded in French and in English, from its normal-form data (members at
// their default left out), with nothing undefined.
import assert from "node:assert/strict";
import { test } from "node:test";

import { sentence } from "../../api/web/static/js/sign/words.js";

const period = { start: "2027-01-01", end: "2027-12-31" };
const hex = "ab".repeat(32);
const offer = { commitment_id: "k1", category: "premises", description: "Salle.", quantity: { amount: "100", unit: "evening" },
  period, receiver: "collective", value: { amount: "6000", unit: "CAD" }, fair_value: { amount: "7000", unit: "CAD", method: "market" } };
const DATA = {
  "porteur.named": { person_id: "p-1" },
  "stage.started": { stage: "plan" },
  "stage.completion_acknowledged": { stage: "plan" },
  "expectation.stated": { expectation_id: "e1", text: "Rapports." },
  "expectation.revised": { expectation_id: "e1", text: "Rapports.", addressed_to: ["theatre-b", "festival-c"] },
  "expectation.withdrawn": { expectation_id: "e1" },
  "expectation.acknowledged": { expectation_id: "e1", content_hash: hex },
  "role.proposed": { role_id: "r1", name: "Coordination", description: "Coordonner.", assignee: "festival-c" },
  "role.accepted": { role_id: "r1" },
  "role.declined": { role_id: "r1", reason: "Pas cette année." },
  "role.relinquished": { role_id: "r1" },
  "commitment.offered": offer,
  "commitment.amended": { ...offer, value: undefined, fair_value: undefined, conditions: "Le soir." },
  "commitment.withdrawn": { commitment_id: "k1", reason: "Vendue." },
  "commitment.received_value_declared": { commitment_id: "k1", value: { amount: "24000", unit: "CAD" } },
  "fulfilment.recorded": { fulfilment_id: "f1", commitment_id: "k1", quantity: { amount: "32", unit: "hour" }, period, evidence_sha256: hex },
  "fulfilment.confirmed": { fulfilment_id: "f1" },
  "fulfilment.contested": { fulfilment_id: "f1", reason: "Jamais reçu." },
  "indicator.defined": { indicator_id: "i1", name: "Heures", unit: "hour", method: "Somme.", target: "384" },
  "indicator.measured": { measurement_id: "m1", indicator_id: "i1", period, value: "32", evidence_sha256: hex },
  "consent.given": { consent_id: "s1", trust_id: "culturepedia", purpose: "Stats.", scope: ["agreement"], licence: "CC BY 4.0", expires_on: "2030-01-01" },
  "consent.withdrawn": { consent_id: "s1" },
  "party.withdrew": { effective_on: "2027-06-30", reason: "Fin." },
  "agreement.suspended": { reason: "Pause." },
  "agreement.resumed": {},
  "agreement.terminated": { reason: "Fin." },
};

test("every agreement step is worded in both languages, starting with the actor", () => {
  for (const [type, data] of Object.entries(DATA)) {
    const st = { type, data, actor: "centre-a" };
    const fr = sentence(st, "fr"), en = sentence(st, "en");
    for (const said of [fr, en]) {
      assert.ok(said && said.startsWith("centre-a "), `${type}: ${said}`);
      assert.doesNotMatch(said, /undefined|null|\[object/, `${type}: ${said}`);
    }
    assert.notEqual(fr, en, type);
  }
  assert.match(sentence({ type: "commitment.offered", data: offer, actor: "centre-a" }, "fr"),
    /envers toutes les parties.*valeur qu'il lui donne : 6000 CAD ; juste valeur estimée : 7000 CAD \(market\)/);
  assert.match(sentence({ type: "expectation.acknowledged", data: DATA["expectation.acknowledged"], actor: "b" }, "fr"), /sans y adhérer/);
  assert.equal(sentence({ type: "organization.key_added", data: {}, actor: "a" }, "fr"), null);
});
