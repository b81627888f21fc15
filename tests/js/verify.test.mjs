// The verification a register page runs, end to end against a JavaScript ledger: the
// happy path, and each tampering failing with its own code.
import assert from "node:assert/strict";
import { test } from "node:test";

import { b64decode, b64encode } from "../../api/web/static/js/verify/b64.js";
import { memoryStorage } from "../../api/web/static/js/verify/pin.js";
import { createPin, renderResult, verifyAgreement, verifyBundle, verifyOrganization } from "../../api/web/static/js/verify/verify.js";
import { agreementLedger, FakeLedger, keyFromSeed, sign } from "./fakeledger.mjs";

const TOKEN = "ml_test";

async function run(ledger, id, pin = createPin(memoryStorage()), fetch = ledger.fetcher()) {
  return verifyAgreement({ baseUrl: "http://ledger.test", agreementId: id, token: TOKEN, pin, fetch });
}

test("an agreement verifies: every signature, every inclusion, every ratification", async () => {
  const { ledger, id } = await agreementLedger({ extra: 5 });
  const r = await run(ledger, id);
  assert.equal(r.ok, true, JSON.stringify(r.failure));
  // 11 agreement events and 3 registrations, one signature each.
  assert.deepEqual(r.counts, { signatures: 14, inclusions: 14, ratifications_matching: 3, events: 11 });
  assert.equal(r.logKey.status, "pinned-now");
  assert.match(r.logKey.fingerprint, /^([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
  const el = fakeElement();
  renderResult(el, r, "fr");
  assert.match(el.textContent, /^Vérifié dans votre navigateur : 14 signatures, 14 preuves d'inclusion, empreinte des termes conforme aux 3 ratifications\./);
  assert.equal(el.dataset.verification, "ok");
  assert.equal(el.attributes.role, "status");
  renderResult(el, r, "en");
  assert.match(el.textContent, /^Verified in your browser: 14 signatures, 14 inclusion proofs, terms fingerprint matches all 3 ratifications\./);
});

test("the second visit finds the key pinned and the log consistent", async () => {
  const { ledger, id, keys } = await agreementLedger();
  const pin = createPin(memoryStorage());
  assert.equal((await run(ledger, id, pin)).logKey.status, "pinned-now");
  await ledger.append([keys.a], { stream: "agreement/other", type: "agreement.drafted", actor: "centre-a", data: { agreement_id: "other", title: "t", purpose: "p", binding: false } });
  const again = await run(ledger, id, pin);
  assert.equal(again.ok, true, JSON.stringify(again.failure));
  assert.equal(again.logKey.status, "matches");
});

test("an organization verifies", async () => {
  const { ledger } = await agreementLedger();
  const r = await verifyOrganization({ baseUrl: "http://ledger.test", orgId: "centre-b", token: TOKEN, pin: createPin(memoryStorage()), fetch: ledger.fetcher() });
  assert.equal(r.ok, true, JSON.stringify(r.failure));
  assert.deepEqual(r.counts, { signatures: 1, inclusions: 1, ratifications_matching: 0, events: 1 });
});

test("a private agreement without a token: refused, and nothing is verified", async () => {
  const { ledger, id } = await agreementLedger();
  const r = await verifyAgreement({ baseUrl: "http://ledger.test", agreementId: id, pin: createPin(memoryStorage()), fetch: ledger.fetcher() });
  assert.equal(r.ok, false);
  assert.equal(r.failure.code, "token-needed");
  assert.equal(r.counts.signatures, 0);
});

test("a read the ledger refuses (a row changed in its database) names the position", async () => {
  const { ledger, id } = await agreementLedger();
  const inner = ledger.fetcher();
  const problem = { type: "https://mutualisation-ledger.org/problems/history-column-forged", title: "t", status: 500,
    detail: "entry 1: its stored columns are not what its signed statement says", index: 1 };
  const fetch = (url, init) => (String(url).includes("/streams/org") || String(url).includes("org%2F")
    ? Promise.resolve(new Response(JSON.stringify(problem), { status: 500, headers: { "content-type": "application/problem+json" } }))
    : inner(url, init));
  const r = await run(ledger, id, createPin(memoryStorage()), fetch);
  assert.equal(r.ok, false);
  assert.equal(r.failure.code, "server-refused", JSON.stringify(r.failure));
  assert.equal(r.failure.position, 1);
  assert.match(r.failure.message_fr, /^Échec de la vérification : Le registre refuse .* Position 1 du journal\. \(.*HTTP 500 history-column-forged entry 1: /);
  assert.equal(r.counts.signatures, 0);
});

function fakeElement() {
  return {
    attributes: {}, dataset: {}, style: {}, textContent: "",
    classList: { set: new Set(), add(c) { this.set.add(c); }, remove(...c) { c.forEach((x) => this.set.delete(x)); } },
    setAttribute(k, v) { this.attributes[k] = v; },
  };
}

/** Change the stream events the server answers: fn(events) edits the parsed body. */
function tamperStream(fetch, stream, fn) {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (!url.includes(`/v1/streams/${stream}/events`)) return res;
    const body = await res.json();
    fn(body.events);
    const text = JSON.stringify(body);
    return { ok: true, status: 200, text: async () => text, json: async () => JSON.parse(text) };
  };
}

/** Change the proof batch the server answers: fn(body) edits it (may be async). */
function tamperBatch(fetch, fn) {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (!url.includes("/proofs")) return res;
    const body = await res.json();
    await fn(body);
    const text = JSON.stringify(body);
    return { ok: true, status: 200, text: async () => text, json: async () => JSON.parse(text) };
  };
}

function flipB64(text, byte = 10) {
  const raw = b64decode(text);
  raw[byte] ^= 1;
  return b64encode(raw);
}

const ADVERSARIES = [
  ["a flipped byte in a signature", "signature-invalid", (l, f) => tamperStream(f, "agreement/compta-2026", (ev) => {
    ev[1].envelope.signatures[0].sig = flipB64(ev[1].envelope.signatures[0].sig);
  })],
  ["a flipped byte in a payload", "payload-not-canonical", (l, f) => tamperStream(f, "agreement/compta-2026", (ev) => {
    ev[0].envelope.payload = flipB64(ev[0].envelope.payload, 1);
  })],
  ["a changed number in a payload, canonical still", "signature-invalid", (l, f) => tamperStream(f, "agreement/compta-2026", (ev) => {
    const last = ev[ev.length - 1]; // the last: no later prev names its hash
    const p = new TextDecoder().decode(b64decode(last.envelope.payload)).replace('"ratified"', '"ratified"').replace(/"terms_version":(\d+)/, (m, n) => `"terms_version":${Number(n) + 1}`);
    last.envelope.payload = b64encode(new TextEncoder().encode(p));
  })],
  ["a deleted event", "stream-version-gap", (l, f) => tamperStream(f, "agreement/compta-2026", (ev) => { ev.splice(1, 1); })],
  ["a re-timed event", "leaf-envelope", (l, f) => tamperStream(f, "agreement/compta-2026", (ev) => {
    const last = ev[ev.length - 1]; // later still: the order holds, the leaf does not
    last.recorded_at = last.recorded_at.replace(/(\d)Z$/, (m, d) => `${(Number(d) + 1) % 10}Z`);
  })],
  ["a flipped byte in an inclusion proof", "inclusion-invalid", (l, f) => tamperBatch(f, (b) => {
    b.proofs[4].proof[0] = flipB64(b.proofs[4].proof[0], 3);
  })],
  ["an inclusion proof left out", "inclusion-invalid", (l, f) => tamperBatch(f, (b) => { b.proofs.splice(2, 1); })],
  ["a flipped byte in the checkpoint's note", "checkpoint-invalid", (l, f) => tamperBatch(f, (b) => {
    b.checkpoint = b.checkpoint.replace(/\n(\d+)\n/, (m, n) => `\n${Number(n) + 1}\n`);
  })],
  ["a checkpoint signed by another key", "checkpoint-invalid", async (l, f) => {
    const other = await FakeLedger.create(l.origin, 77);
    Object.assign(other, { log: l.log, streams: l.streams });
    return tamperBatch(f, async (b) => { b.checkpoint = await other.signedNote(b.size); });
  }],
  ["an event signed by a key swapped for another organization's", "key-wrong-organization", async (l, f, keys) => {
    await l.append([keys.b], { stream: "agreement/compta-2026", type: "measure.recorded", actor: "centre-a", key: keys.b.id, data: {} });
    return f;
  }],
  ["events of another stream under this agreement's name", "stream-mismatch", async (l, f, keys) => {
    const other = await l.append([keys.a], { stream: "agreement/x", type: "agreement.drafted", actor: "centre-a", data: {} });
    return tamperStream(f, "agreement/compta-2026", (ev) => {
      ev.push({ position: other.position, version: ev.length + 1, recorded_at: ev[ev.length - 1].recorded_at, event_hash: other.hash, envelope: other.envelope });
    });
  }],
  ["an event signed by an unknown key", "key-unknown", async (l, f) => {
    const stranger = await keyFromSeed(99);
    const e = await l.append([stranger], { stream: "agreement/compta-2026", type: "measure.recorded", actor: "centre-a", data: {} });
    return f;
  }],
  ["a log key the server swapped", "log-key-changed", async (l, f) => {
    const other = await keyFromSeed(201);
    const { makeVkey } = await import("../../api/web/static/js/verify/note.js");
    return async (url, init) => (url.endsWith("/v1/log/key") ? { ok: true, status: 200, text: async () => makeVkey(l.origin, other.pub) } : f(url, init));
  }, { pinFirst: true }],
];

for (const [what, code, make, opts = {}] of ADVERSARIES) {
  test(`adversary: ${what} → ${code}`, async () => {
    const { ledger, id, keys } = await agreementLedger({ extra: 2 });
    const pin = createPin(memoryStorage());
    if (opts.pinFirst) assert.equal((await run(ledger, id, pin)).ok, true);
    const fetch = await make(ledger, ledger.fetcher(), keys);
    const r = await run(ledger, id, pin, fetch);
    assert.equal(r.ok, false, what);
    assert.equal(r.failure.code, code, `${what}: ${r.failure.message_en}`);
    assert.equal(r.counts.signatures, 0);
    assert.equal(r.counts.inclusions, 0);
    const el = fakeElement();
    renderResult(el, r, "fr");
    assert.equal(el.dataset.verification, "failed");
    assert.match(el.textContent, /^Échec de la vérification/);
  });
}

test("adversary: a log that rewrites its past between two visits → consistency-invalid", async () => {
  const { ledger, id, keys } = await agreementLedger();
  const pin = createPin(memoryStorage());
  assert.equal((await run(ledger, id, pin)).ok, true);
  // The operator rewrites an old entry (another registration at position 0) and grows.
  const evil = await FakeLedger.create();
  evil.logKey = ledger.logKey; evil.vkey = ledger.vkey;
  await evil.register("centre-z", 9);
  for (const e of ledger.log.slice(1)) {
    evil.log.push({ ...e });
    const s = evil.streams.get(e.stream) || [];
    s.push(e);
    evil.streams.set(e.stream, s);
  }
  for (const org of ["centre-a"]) evil.streams.set(`org/${org}`, ledger.streams.get(`org/${org}`));
  await evil.append([keys.a], { stream: "agreement/later", type: "agreement.drafted", actor: "centre-a", data: {} });
  const r = await run(evil, id, pin, evil.fetcher());
  assert.equal(r.ok, false);
  assert.equal(r.failure.code, "consistency-invalid", r.failure.message_en);
});

test("events after the latest checkpoint are not shown as verified", async () => {
  const { ledger, id } = await agreementLedger();
  ledger.checkpointSize = ledger.log.length - 1;
  const r = await run(ledger, id);
  assert.equal(r.ok, false);
  assert.equal(r.failure.code, "not-in-checkpoint");
  const el = fakeElement();
  renderResult(el, r, "en");
  assert.equal(el.dataset.verification, "pending");
});

test("a ratification of other terms → state-hash-mismatch", async () => {
  const { ledger, id, keys } = await agreementLedger();
  await ledger.append([keys.a], { stream: `agreement/${id}`, type: "agreement.ratified", actor: "centre-a", data: { terms_version: 3, state_hash: "0".repeat(64) } });
  const r = await run(ledger, id);
  assert.equal(r.failure?.code, "state-hash-mismatch");
  assert.equal(r.failure.event.type, "agreement.ratified");
  assert.match(r.failure.message_fr, /agreement\/compta-2026 version 7/);
});

test("a bundle verifies, and a tampered one fails", async () => {
  const { ledger } = await agreementLedger({ extra: 4 });
  const text = await ledger.bundle([3, ledger.log.length]);
  const r = await verifyBundle({ text, pin: createPin(memoryStorage()), vkey: ledger.vkey });
  assert.equal(r.ok, true, JSON.stringify(r.failure));
  assert.equal(r.counts.inclusions, ledger.log.length);
  assert.equal(r.counts.ratifications_matching, 3);
  const lines = text.split("\n");
  const row = JSON.parse(lines[5]);
  row.envelope.signatures[0].sig = flipB64(row.envelope.signatures[0].sig);
  lines[5] = JSON.stringify(row);
  const bad = await verifyBundle({ text: lines.join("\n"), pin: createPin(memoryStorage()), vkey: ledger.vkey });
  assert.equal(bad.ok, false);
  assert.ok(["signature-invalid", "leaf-envelope"].includes(bad.failure.code), bad.failure.code);
  const other = await verifyBundle({ text, pin: createPin(memoryStorage()), vkey: (await FakeLedger.create(ledger.origin, 7)).vkey });
  assert.equal(other.failure?.code, "checkpoint-invalid");
});

test("a bundle whose first checkpoint is the empty tree's verifies", async () => {
  // a ledger signs a checkpoint of size 0 when it starts empty; `ledger export` keeps it
  const { ledger } = await agreementLedger({ extra: 1 });
  const r = await verifyBundle({ text: await ledger.bundle([0, 3, ledger.log.length]), pin: createPin(memoryStorage()), vkey: ledger.vkey });
  assert.equal(r.ok, true, JSON.stringify(r.failure));
  assert.equal(r.counts.inclusions, ledger.log.length);
});

test("the page's own account must be what was verified", async () => {
  const { ledger, id } = await agreementLedger();
  const head = ledger.streams.get(`agreement/${id}`).at(-1);
  const args = { baseUrl: "http://ledger.test", agreementId: id, token: TOKEN, fetch: ledger.fetcher() };
  const ok = await verifyAgreement({ ...args, pin: createPin(memoryStorage()), shown: { version: head.version, head_hash: head.hash } });
  assert.equal(ok.ok, true, JSON.stringify(ok.failure));
  const stale = await verifyAgreement({ ...args, pin: createPin(memoryStorage()), shown: { version: head.version + 1 } });
  assert.equal(stale.failure?.code, "stream-mismatch");
});

test("a bundle of a rewritten log is caught on the next visit", async () => {
  const { ledger, keys } = await agreementLedger();
  const pin = createPin(memoryStorage());
  assert.equal((await verifyBundle({ text: await ledger.bundle(), pin, vkey: ledger.vkey })).ok, true);
  const evil = await FakeLedger.create();
  evil.logKey = ledger.logKey; evil.vkey = ledger.vkey;
  await evil.register("centre-a", 1);
  await evil.register("centre-b", 2);
  await evil.register("centre-c", 3);
  for (let i = 0; i < ledger.log.length; i++) {
    await evil.append([keys.a], { stream: `agreement/other-${i}`, type: "agreement.drafted", actor: "centre-a", data: {} });
  }
  const r = await verifyBundle({ text: await evil.bundle(), pin, vkey: ledger.vkey });
  assert.equal(r.failure?.code, "consistency-invalid", JSON.stringify(r.failure));
  const shorter = await FakeLedger.create();
  shorter.logKey = ledger.logKey; shorter.vkey = ledger.vkey;
  await shorter.register("centre-a", 1);
  const rolled = await verifyBundle({ text: await shorter.bundle(), pin, vkey: ledger.vkey });
  assert.equal(rolled.failure?.code, "rollback");
});

test("a signer's events after the last one shown need no checkpoint yet", async () => {
  const { ledger, id, keys } = await agreementLedger();
  const org = ledger.streams.get("org/centre-b");
  await ledger.append([keys.b], { stream: "org/centre-b", type: "organization.profile_updated", actor: "centre-b", prev: org.at(-1).hash, data: { name: "B" } });
  ledger.checkpointSize = ledger.log.length - 1; // the profile update is not covered yet
  const r = await run(ledger, id);
  assert.equal(r.ok, true, JSON.stringify(r.failure));
  assert.equal(r.counts.signatures, 9); // 6 agreement events, 3 registrations
});
