// The head a workspace signs on is the end of the history this browser verified: a
// server whose head disagrees (a forged head hash, a shorter or longer head) is refused
// with words in French and English; later calls verify only the events after the cached
// verified head, and a forged new event is still caught.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createHeadCache, HeadRefused, verifiedHead } from "../../api/web/static/js/sign/head.js";
import { createApi } from "../../api/web/static/js/sign/submit.js";
import { createPin, memoryStorage } from "../../api/web/static/js/verify/pin.js";
import { agreementLedger } from "./fakeledger.mjs";

const { ledger, keys, id } = await agreementLedger({ extra: 6 });
const stream = `agreement/${id}`;

/** The fake ledger's routes with the stream head added (forged on demand), recording
 * every path asked. */
function server(forge = {}, asked = [], l = ledger) {
  const base = l.fetcher({ needToken: true });
  return async (url, init) => {
    const u = new URL(url, "http://ledger.test");
    asked.push(u.pathname + u.search);
    const m = /^\/v1\/streams\/([a-z]+)\/([^/]+)$/.exec(u.pathname);
    if (m) {
      const all = l.streams.get(`${m[1]}/${m[2]}`) || [];
      const last = all[all.length - 1];
      const body = { stream: `${m[1]}/${m[2]}`, version: forge.version ?? all.length, head_hash: forge.head ?? (last ? last.hash : null) };
      return { ok: true, status: 200, json: async () => body, text: async () => JSON.stringify(body) };
    }
    if (forge.proofs && u.pathname.endsWith("/proofs")) {
      const body = forge.proofs(await (await base(url, init)).json());
      return { ok: true, status: 200, json: async () => body, text: async () => JSON.stringify(body) };
    }
    if (forge.events && u.pathname.endsWith("/events")) {
      const res = await base(url, init);
      const body = await res.json();
      return { ok: true, status: 200, json: async () => forge.events(body), text: async () => JSON.stringify(forge.events(body)) };
    }
    return base(url, init);
  };
}

const apiOf = (forge, asked, l) => createApi({ baseUrl: "http://ledger.test", token: "ml_test", fetch: server(forge, asked, l) });
const options = (forge = {}, cache = createHeadCache(), asked = [], l = ledger) => ({
  api: apiOf(forge, asked, l), stream, cache, pin: createPin(memoryStorage()), waitMs: 0,
});
const lastOf = (s) => ledger.streams.get(s).at(-1);

test("an honest head is the verified end of the stream", async () => {
  const head = await verifiedHead(options());
  assert.deepEqual(head, { version: lastOf(stream).version, head_hash: lastOf(stream).hash });
});

test("a forged head hash, or another version, is refused in both languages", async () => {
  for (const forge of [{ head: "00".repeat(32) }, { version: lastOf(stream).version - 1 }, { version: lastOf(stream).version + 1 }]) {
    await assert.rejects(verifiedHead(options(forge)), (e) => {
      assert.ok(e instanceof HeadRefused);
      assert.equal(e.code, "head-mismatch");
      assert.match(e.message_fr, /rien n'est signé/);
      assert.match(e.message_en, /nothing is signed/);
      assert.equal(e.refusal.message_fr, e.message_fr);
      return true;
    });
  }
});

test("a history that does not verify is refused, whatever the head says", async () => {
  const tampered = (body) => ({ ...body, events: body.events.map((e, i) => (i === 1 ? { ...e, recorded_at: "2020-01-01T00:00:00.000000Z" } : e)) });
  await assert.rejects(verifiedHead(options({ events: tampered })), (e) => e instanceof HeadRefused && e.code === "history-unverified"
    && /Échec de la vérification/.test(e.message_fr));
});

test("later heads verify only the new events, and a forged new event is caught", async () => {
  const cache = createHeadCache();
  const first = [];
  await verifiedHead(options({}, cache, first));
  assert.ok(first.some((p) => p.startsWith(`/v1/streams/${stream}/events?after=0`)));
  const before = lastOf(stream).version;
  await ledger.append([keys.b], { stream, type: "measure.recorded", actor: "centre-b",
    data: { measure_id: "m-new", indicator_id: "i1", value: "7" } });
  await ledger.append([keys.c], { stream, type: "measure.recorded", actor: "centre-c",
    data: { measure_id: "m-new2", indicator_id: "i1", value: "8" } });
  const later = [];
  const head = await verifiedHead(options({}, cache, later));
  assert.deepEqual(head, { version: before + 2, head_hash: lastOf(stream).hash });
  // Only what is new: the events after the cached head, the signers' streams, one batch.
  const reads = later.filter((p) => p.startsWith(`/v1/streams/${stream}/events`));
  assert.deepEqual(reads, [`/v1/streams/${stream}/events?after=${before}&limit=1000`]);
  assert.ok(!later.some((p) => p.startsWith("/v1/streams/org/centre-a")), later.join("\n"));
  assert.ok(later.some((p) => p.includes(`/proofs?seen=`)));

  // A new event signed by a key centre-b's history does not hold is caught, and the
  // cache is dropped: the next call verifies the whole stream again.
  await ledger.append([keys.a], { stream, type: "measure.recorded", actor: "centre-b", key: keys.a.id,
    data: { measure_id: "m-forged", indicator_id: "i1", value: "9" } });
  await assert.rejects(verifiedHead(options({}, cache)), (e) => e instanceof HeadRefused && e.code === "history-unverified"
    && /ne tient pas à cette position/.test(e.message_fr) && e.failure.code === "key-unknown");
  assert.equal(cache.size, 0);
});

test("an empty stream's head is version 0, and only when the server says so", async () => {
  const empty = "agreement/nouvelle";
  assert.deepEqual(await verifiedHead({ ...options(), stream: empty }), { version: 0, head_hash: null });
  await assert.rejects(verifiedHead({ ...options({ version: 3, head: "ab".repeat(32) }), stream: empty }),
    (e) => e instanceof HeadRefused && e.code === "head-mismatch");
});

test("after the cache, a checkpoint not consistent with the cached one is refused", async () => {
  const fresh = await agreementLedger({ extra: 2 });
  const cache = createHeadCache();
  await verifiedHead(options({}, cache, [], fresh.ledger));
  await fresh.ledger.append([fresh.keys.c], { stream, type: "measure.recorded", actor: "centre-c",
    data: { measure_id: "m-later", indicator_id: "i1", value: "3" } });
  assert.equal((await verifiedHead(options({}, new Map(cache), [], fresh.ledger))).version, fresh.ledger.streams.get(stream).length);
  // A server that rewrote its past cannot prove the new tree extends the cached one.
  const rewritten = (batch) => ({ ...batch, consistency: batch.consistency
    && { ...batch.consistency, proof: batch.consistency.proof.map(() => Buffer.alloc(32, 7).toString("base64")) } });
  await assert.rejects(verifiedHead(options({ proofs: rewritten }, cache, [], fresh.ledger)), (e) => e instanceof HeadRefused
    && e.failure.code === "consistency-invalid" && /réécrit son passé/.test(e.message_fr));
  assert.equal(cache.size, 0);
});
