// Submission: the receipt must be the statement's; a 409 is retried once on the fresh
// head when the command is still allowed, else explained; refusals carry rule and field.
import assert from "node:assert/strict";
import { test } from "node:test";

import { importPem, pemFromSeed } from "../../api/web/static/js/sign/keys.js";
import { buildStatement, payloadOf } from "../../api/web/static/js/sign/statements.js";
import { NoLongerAllowed, ReceiptError, signAndSubmit } from "../../api/web/static/js/sign/submit.js";
import { eventHash } from "../../api/web/static/js/verify/statement.js";

const key = await importPem(pemFromSeed(new Uint8Array(32).fill(4)));
const stream = "agreement/ent-1";
const build = (head, data = { stage: "plan" }) => buildStatement({ ledger: "l.example/x", stream, version: head.version + 1,
  prev: head.head_hash, type: "stage.started", data, actor: "centre-a", keyId: key.keyId, issuedAt: "2026-01-01T00:00:00.000000Z" });
const P = "https://mutualisation-ledger.org/problems/";

/** An api whose POSTs answer the given (status, body) in turn; heads advance by one. */
function stubApi(answers) {
  let version = 3;
  const posted = [];
  return {
    posted,
    head: async () => ({ version, head_hash: String(version).repeat(64).slice(0, 64) }),
    post: async (envelopes) => {
      posted.push(envelopes);
      const next = answers.shift();
      version++;
      return typeof next === "function" ? next(envelopes) : next;
    },
  };
}

const receiptFor = (envelopes) => {
  const payload = Uint8Array.from(Buffer.from(envelopes[0].payload, "base64"));
  const st = JSON.parse(Buffer.from(payload).toString());
  return { status: 201, body: { receipts: [{ position: 7, stream: st.stream, version: st.version, event_hash: eventHash(payload), recorded_at_us: 1 }] } };
};
const conflict = { status: 409, body: { type: P + "stream-prev-mismatch", stream } };

test("a 409 is retried once on the fresh head when the command is still allowed", async () => {
  const api = stubApi([conflict, receiptFor]);
  const heads = [];
  const r = await signAndSubmit({ api, orgKey: key, stream, prepare: async (head, { retry }) => { heads.push([head.version, retry]); return build(head); } });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(heads, [[3, false], [4, true]]);
  assert.equal(r.statement.version, 5);
  assert.equal(api.posted.length, 2);
});

test("a 409 is explained when the command is no longer allowed", async () => {
  for (const prepare of [
    async (head, { retry }) => (retry ? null : build(head)),
    async (head, { retry }) => { if (retry) throw new NoLongerAllowed("Déjà fait.", "Already done."); return build(head); },
  ]) {
    const api = stubApi([conflict]);
    const r = await signAndSubmit({ api, orgKey: key, stream, prepare });
    assert.equal(r.ok, false);
    assert.equal(r.conflict, true);
    assert.equal(r.code, "stream-prev-mismatch");
    assert.match(r.message_fr, /entre-temps|suit pas/);
    assert.equal(api.posted.length, 1);
  }
});

test("a second 409 is not retried again", async () => {
  const api = stubApi([conflict, conflict]);
  const r = await signAndSubmit({ api, orgKey: key, stream, prepare: async (head) => build(head) });
  assert.equal(r.ok, false);
  assert.equal(api.posted.length, 2);
});

test("a refusal carries its rule and field; bad input is not sent", async () => {
  const api = stubApi([{ status: 422, body: { type: P + "rule-violated", rule: "stage.not-started", field: "data.stage", detail: "…" } }]);
  const r = await signAndSubmit({ api, orgKey: key, stream, prepare: async (head) => build(head) });
  assert.deepEqual([r.ok, r.rule, r.field], [false, "stage.not-started", "stage"]);
  const bad = await signAndSubmit({ api, orgKey: key, stream, prepare: async (head) => build(head, { stage: "dream" }) });
  assert.deepEqual([bad.ok, bad.code, bad.field], [false, "input-invalid", "stage"]);
  assert.equal(api.posted.length, 1);
});

test("a receipt that is not the statement's is refused", async () => {
  const api = stubApi([(envs) => { const r = receiptFor(envs); r.body.receipts[0].event_hash = "0".repeat(64); return r; }]);
  await assert.rejects(signAndSubmit({ api, orgKey: key, stream, prepare: async (head) => build(head) }), ReceiptError);
  const ok = build({ version: 0, head_hash: null });
  assert.equal(eventHash(payloadOf(ok)).length, 64);
});
