// "Signer la version N": the state hash is the browser's own, from the history it
// verified; a server that answers otherwise (a forged head hash, another state hash, a
// document of other terms) makes the page refuse to sign.
import assert from "node:assert/strict";
import { test } from "node:test";

import { pemFromSeed, importPem } from "../../api/web/static/js/sign/keys.js";
import { prepareRatification, verifiedAgreement } from "../../api/web/static/js/sign/ratify.js";
import { createApi } from "../../api/web/static/js/sign/submit.js";
import { foldTerms, stateHash } from "../../api/web/static/js/verify/statehash.js";
import { agreementLedger } from "./fakeledger.mjs";

const { ledger, id } = await agreementLedger();
const stream = `agreement/${id}`;
const facts = ledger.streams.get(stream).map((e) => JSON.parse(Buffer.from(e.envelope.payload, "base64").toString()));
const terms = foldTerms(facts);
const honestHash = stateHash(terms);
const last = ledger.streams.get(stream).at(-1);

/** The fake ledger's routes, with the head, the agreement view and its document added. */
function server(forge = {}) {
  const base = ledger.fetcher({ needToken: true });
  const json = (v) => ({ ok: true, status: 200, json: async () => v, text: async () => JSON.stringify(v) });
  const text = (t) => ({ ok: true, status: 200, json: async () => JSON.parse(t), text: async () => t });
  return async (url, init) => {
    const u = new URL(url, "http://ledger.test");
    if (u.pathname === `/v1/streams/${stream}`) {
      return json({ stream, version: last.version, head_hash: forge.head ?? last.hash });
    }
    if (u.pathname === `/v1/agreements/${id}`) {
      return json({ id, version: last.version, terms_version: terms.terms_version, state_hash: forge.state ?? honestHash });
    }
    if (u.pathname === `/v1/agreements/${id}/document`) {
      return text(`# Entente\n\nEmpreinte : \`${forge.document ?? honestHash}\`\n`);
    }
    return base(url, init);
  };
}

const key = await importPem(pemFromSeed(new Uint8Array(32).fill(1))); // centre-a's key in the fixture
const options = (forge) => ({
  api: createApi({ baseUrl: "http://ledger.test", token: "ml_test", fetch: server(forge) }),
  agreementId: id, actor: "centre-a", orgKey: key, version: terms.terms_version,
  issuedAt: "2026-01-02T00:00:00.000000Z", waitMs: 0,
});

test("the terms are recomputed from the verified history", async () => {
  const v = await verifiedAgreement(options({}));
  assert.ok(v.ok, JSON.stringify(v));
  assert.equal(v.stateHash, honestHash);
  assert.deepEqual(v.head, { version: last.version, head_hash: last.hash });
});

test("an honest answer gives the ratification of version N on the verified head", async () => {
  const r = await prepareRatification(options({}));
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.statement.data, { terms_version: terms.terms_version, state_hash: honestHash });
  assert.equal(r.statement.version, last.version + 1);
  assert.equal(r.statement.prev, last.hash);
  assert.equal(r.statement.key, key.keyId);
  assert.match(r.document, new RegExp(honestHash));
});

test("a forged head hash makes the page refuse to sign", async () => {
  const r = await prepareRatification(options({ head: "f".repeat(64) }));
  assert.equal(r.ok, false);
  assert.equal(r.code, "head-mismatch");
  assert.match(r.message_fr, /rien n'est signé/);
  assert.equal(r.statement, undefined);
});

test("another state hash served makes the page refuse to sign", async () => {
  const r = await prepareRatification(options({ state: "e".repeat(64) }));
  assert.equal(r.code, "state-mismatch");
});

test("a written agreement of other terms makes the page refuse to sign", async () => {
  const r = await prepareRatification(options({ document: "d".repeat(64) }));
  assert.equal(r.code, "document-mismatch");
});

test("a version that is not the current one is not signed", async () => {
  const r = await prepareRatification({ ...options({}), version: terms.terms_version - 1 });
  assert.equal(r.code, "stale-version");
});

test("a history that does not verify is not signed", async () => {
  const o = options({});
  const honest = o.api.fetch;
  o.api = createApi({ baseUrl: "http://ledger.test", token: "ml_test", fetch: async (url, init) => {
    const res = await honest(url, init);
    if (!new URL(url, "http://x").pathname.endsWith(`${stream}/events`)) return res;
    const body = await res.json();
    const env = body.events[1].envelope;
    body.events[1].envelope = { ...env, signatures: [{ ...env.signatures[0], sig: body.events[2].envelope.signatures[0].sig }] };
    return { ok: true, status: 200, json: async () => body, text: async () => JSON.stringify(body) };
  } });
  const r = await prepareRatification(o);
  assert.equal(r.ok, false);
  assert.equal(r.code, "signature-invalid");
});
