// Key rotation in the workspace: the API's rules on the organization's keys are checked
// before signing, on the organization's stream as the browser verified it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { importPem, pemFromSeed } from "../../api/web/static/js/sign/keys.js";
import { prepareKeyAddition, prepareKeyRevocation, verifiedOrgKeys } from "../../api/web/static/js/sign/rotation.js";
import { createApi } from "../../api/web/static/js/sign/submit.js";
import { b64encode } from "../../api/web/static/js/verify/b64.js";
import { FakeLedger, keyFromSeed } from "./fakeledger.mjs";

const seed = (n) => new Uint8Array(32).fill(n);
const first = await importPem(pemFromSeed(seed(1)));
const second = await importPem(pemFromSeed(seed(9)));

test("add a key, revoke the first, and the rules refuse what the API would", async () => {
  const ledger = await FakeLedger.create();
  await ledger.register("centre-a", 1);
  const api = createApi({ baseUrl: "http://ledger.test", fetch: ledger.fetcher({ needToken: false }) });
  const o = { api, orgId: "centre-a", waitMs: 0 };

  let v = await verifiedOrgKeys(o);
  assert.ok(v.ok, JSON.stringify(v));
  assert.deepEqual(v.keys.map((k) => [k.keyId, k.revoked]), [[first.keyId, false]]);

  let r = await prepareKeyRevocation({ ...o, signingKey: first, keyId: first.keyId });
  assert.equal(r.rule, "key.last-key");
  assert.match(r.message_fr, /dernière clé/);
  r = await prepareKeyRevocation({ ...o, signingKey: first, keyId: "0".repeat(64) });
  assert.equal(r.rule, "key.not-own");
  r = await prepareKeyAddition({ ...o, signingKey: second, newPublicKey: second.publicKey });
  assert.equal(r.rule, "key.not-own"); // a key the organization does not have cannot sign
  r = await prepareKeyAddition({ ...o, signingKey: first, newPublicKey: first.publicKey });
  assert.equal(r.rule, "key.already-registered");

  r = await prepareKeyAddition({ ...o, signingKey: first, newPublicKey: second.publicKey, label: "poste 2" });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.statement.version, 2);
  assert.deepEqual(r.statement.data, { public_key: b64encode(second.publicKey), label: "poste 2" });
  await ledger.append([await keyFromSeed(1)], { stream: "org/centre-a", type: r.statement.type, actor: "centre-a", data: r.statement.data });

  r = await prepareKeyRevocation({ ...o, signingKey: second, keyId: first.keyId });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.statement.data, { key_id: first.keyId, reason: "rotation" });
  await ledger.append([await keyFromSeed(9)], { stream: "org/centre-a", type: r.statement.type, actor: "centre-a", data: r.statement.data });

  v = await verifiedOrgKeys(o);
  assert.deepEqual(v.keys.map((k) => [k.keyId, k.revoked]), [[first.keyId, true], [second.keyId, false]]);
  r = await prepareKeyRevocation({ ...o, signingKey: second, keyId: first.keyId });
  assert.equal(r.rule, "key.already-revoked");
  r = await prepareKeyRevocation({ ...o, signingKey: second, keyId: second.keyId });
  assert.equal(r.rule, "key.last-key");
  r = await prepareKeyAddition({ ...o, signingKey: first, newPublicKey: (await importPem(pemFromSeed(seed(5)))).publicKey });
  assert.equal(r.code, "key-revoked");
});
