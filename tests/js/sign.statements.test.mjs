// Statements built, checked and sealed in the browser; refusals worded.
import assert from "node:assert/strict";
import { test } from "node:test";

import { importPem, pemFromSeed } from "../../api/web/static/js/sign/keys.js";
import { explainProblem } from "../../api/web/static/js/sign/problems.js";
import { buildStatement, contentHash, describe, issuedAt, normalData, seal, StatementInputError } from "../../api/web/static/js/sign/statements.js";
import { SCHEMA, validateData } from "../../api/web/static/js/sign/validate.js";
import { b64decode } from "../../api/web/static/js/verify/b64.js";
import { pae, parseEnvelope, PAYLOAD_TYPE, verifyEd25519 } from "../../api/web/static/js/verify/dsse.js";
import { parseStatement } from "../../api/web/static/js/verify/statement.js";

const key = await importPem(pemFromSeed(new Uint8Array(32).fill(7)));
const base = { ledger: "example.org/ledger", stream: "agreement/ent-1", version: 1, prev: null, actor: "centre-a", keyId: key.keyId, issuedAt: "2026-01-01T10:00:00.000000Z" };

test("issued_at has the ledger's form, with six fractional digits", () => {
  assert.equal(issuedAt(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))), "2026-01-02T03:04:05.678000Z");
});

test("members equal to their default are left out (normal form)", () => {
  assert.deepEqual(normalData("agreement.drafted", { agreement_id: "e", title: "t", purpose: "p", binding: false, invited: [], public: false }),
    { agreement_id: "e", title: "t", purpose: "p", binding: false });
  assert.deepEqual(normalData("expectation.stated", { expectation_id: "x", text: "t", addressed_to: "all" }), { expectation_id: "x", text: "t" });
  assert.deepEqual(normalData("role.accepted", { role_id: "r", person_id: null }), { role_id: "r" });
  assert.deepEqual(normalData("agreement.resumed", { reason: "" }), {});
});

test("a sealed statement verifies, and its payload is the statement's canonical bytes", async () => {
  const st = buildStatement({ ...base, type: "agreement.drafted", data: { agreement_id: "ent-1", title: "Entente", purpose: "Vision commune", binding: true } });
  const { envelope, payload, eventHash } = await seal(st, key);
  const env = parseEnvelope(envelope);
  assert.deepEqual(env.payload, payload);
  assert.deepEqual(parseStatement(payload), st);
  assert.equal(envelope.payloadType, PAYLOAD_TYPE);
  assert.ok(await verifyEd25519(key.publicKey, b64decode(envelope.signatures[0].sig), pae(PAYLOAD_TYPE, payload)));
  assert.match(eventHash, /^[0-9a-f]{64}$/);
  assert.match(describe(st, "fr"), /rédige l'entente/);
  assert.match(describe(st, "en"), /drafts the agreement/);
});

const fieldsOf = (type, data) => validateData(type, data).map((p) => p.field);

test("the checks before signing name the field at fault", () => {
  const offer = { commitment_id: "c1", category: "premises", description: "Salle", quantity: { amount: "10", unit: "hour" },
    period: { start: "2026-01-01", end: "2026-12-31" }, receiver: "centre-b" };
  assert.deepEqual(fieldsOf("commitment.offered", offer), []);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, quantity: { amount: "12,5", unit: "hour" } }), ["quantity.amount"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, quantity: { amount: 12, unit: "hour" } }), ["quantity.amount"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, quantity: { amount: "1e3", unit: "hour" } }), ["quantity.amount"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, quantity: { amount: "01", unit: "hour" } }), ["quantity.amount"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, quantity: { amount: "1.1234567", unit: "hour" } }), ["quantity.amount"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, quantity: { amount: "1", unit: " hour" } }), ["quantity.unit"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, quantity: { amount: "1", unit: "x".repeat(33) } }), ["quantity.unit"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, period: { start: "2026-02-30", end: "2026-12-31" } }), ["period.start"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, period: { start: "2026-12-31", end: "2026-01-01" } }), ["period.end"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, category: "cars" }), ["category"]);
  assert.deepEqual(fieldsOf("commitment.offered", { ...offer, colour: "red" }), ["colour"]);
  const { description: _, ...noDescription } = offer;
  assert.deepEqual(fieldsOf("commitment.offered", noDescription), ["description"]);
  assert.deepEqual(fieldsOf("agreement.drafted", { agreement_id: "a b", title: "x".repeat(201), purpose: "", binding: "yes" }),
    ["agreement_id", "title", "purpose", "binding"]);
  assert.deepEqual(fieldsOf("party.withdrew", { effective_on: "2026-13-01", reason: "r" }), ["effective_on"]);
  assert.deepEqual(fieldsOf("consent.given", { consent_id: "c", trust_id: "t", purpose: "p", scope: ["role", "role"], licence: "l", expires_on: "2027-01-01" }), ["scope"]);
  assert.deepEqual(fieldsOf("porteur.named", { person_id: "marie@example.org" }), ["person_id"]);
  assert.deepEqual(fieldsOf("expectation.stated", { expectation_id: "e", text: "t", addressed_to: [] }), ["addressed_to"]);
  assert.deepEqual(fieldsOf("agreement.suspended", { reason: "e\u0301" }), ["reason"]); // not NFC
  for (const type of Object.keys(SCHEMA)) assert.ok(Array.isArray(validateData(type, {})));
});

test("bad input is refused before signing, with the field", () => {
  assert.throws(() => buildStatement({ ...base, type: "indicator.measured",
    data: { measurement_id: "m", indicator_id: "i", period: { start: "2026-01-01", end: "2026-01-31" }, value: "3,5", evidence_sha256: "0".repeat(64) } }),
  (e) => e instanceof StatementInputError && e.field === "value" && /point/.test(e.problems[0].message_en));
});

test("an expectation's content hash sorts its addressees", () => {
  const a = contentHash({ id: "x", holder: "a", text: "t", addressed_to: ["c", "b"] });
  assert.equal(a, contentHash({ id: "x", holder: "a", text: "t", addressed_to: ["b", "c"] }));
  assert.notEqual(a, contentHash({ id: "x", holder: "a", text: "t", addressed_to: "all" }));
});

test("a refusal is worded from its type and rule, with the field", () => {
  const r = explainProblem(422, { type: "https://mutualisation-ledger.org/problems/rule-violated", rule: "party.not-invited", field: "actor", detail: "x" });
  assert.equal(r.code, "rule-violated");
  assert.equal(r.rule, "party.not-invited");
  assert.equal(r.field, "actor");
  assert.match(r.message_fr, /invité/);
  const k = explainProblem(422, { type: "https://mutualisation-ledger.org/problems/rule-violated", rule: "key.last-key", field: "data.key_id" });
  assert.equal(k.field, "key_id");
  const u = explainProblem(400, { type: "https://mutualisation-ledger.org/problems/something-new", detail: "odd" });
  assert.match(u.message_en, /odd/);
});

test("every rule code of docs/EVENTS.md and docs/API.md has words", async () => {
  const { readFileSync } = await import("node:fs");
  const { RULE_CODES } = await import("../../api/web/static/js/sign/problems.js");
  const docs = ["EVENTS.md", "API.md"].map((f) => readFileSync(new URL(`../../docs/${f}`, import.meta.url), "utf8")).join("\n");
  const codes = new Set([...docs.matchAll(/^\| `([a-z-]+\.[a-z-]+)` \|/gm)].map((m) => m[1]).filter((c) => !c.endsWith(".js")));
  assert.ok(codes.size > 60);
  for (const c of codes) assert.ok(RULE_CODES.includes(c), c);
});

test("the JSON shown before signing is the payload's exact text", async () => {
  const { signedText } = await import("../../api/web/static/js/sign/statements.js");
  const st = buildStatement({ ...base, type: "agreement.suspended", data: { reason: "Travaux « été »" } });
  const { payload } = await seal(st, key);
  assert.equal(signedText(st), new TextDecoder().decode(payload));
});
