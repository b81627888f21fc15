// The bytes of docs/PROTOCOL.md Part I and II in JavaScript, held to tests/vectors/.
import assert from "node:assert/strict";
import { test } from "node:test";
import { webcrypto } from "node:crypto";

import { b64decode, b64encode, fromHex, toHex, utf8 } from "../../api/web/static/js/verify/b64.js";
import { canonicalString, parseCanonical } from "../../api/web/static/js/verify/canonical.js";
import { pae, parseEnvelope, verifyEd25519 } from "../../api/web/static/js/verify/dsse.js";
import { leafBytes, leafHash, microsFromRecordedAt } from "../../api/web/static/js/verify/leaf.js";
import { hashLeaf, rootOf, verifyConsistency, verifyInclusion } from "../../api/web/static/js/verify/merkle.js";
import { sha256 } from "../../api/web/static/js/verify/sha256.js";
import { eventHash, parseStatement } from "../../api/web/static/js/verify/statement.js";
import { vector } from "./helpers.mjs";

test("sha256 agrees with WebCrypto on every length up to 300 bytes", async () => {
  for (let n = 0; n <= 300; n++) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
    const want = new Uint8Array(await webcrypto.subtle.digest("SHA-256", data));
    assert.equal(toHex(sha256(data)), toHex(want), `length ${n}`);
  }
});

test("base64 accepts only the canonical spelling", () => {
  for (const ok of ["", "AA==", "AAA=", "AAAA", "/+8="]) assert.equal(b64encode(b64decode(ok)), ok);
  for (const bad of ["A", "AA=", "AB==", "AAB=", "AA", "-_8=", "AA ==", "AA==AA==", "AAA==="]) {
    assert.throws(() => b64decode(bad), undefined, bad);
  }
});

const core = vector("core/core.json");

test("canonical JSON examples of core.json", () => {
  for (const c of core.canonical) assert.equal(canonicalString(c.value), c.canonical);
});

test("canonical JSON refuses what has two spellings", () => {
  const bad = ['{"b":1,"a":2}', '{"a":1.5}', '{"a":1.0}', '{"a":9007199254740992}', '{"a":-0}',
    '{"a":1,"a":1}', '{ "a":1}', '{"a":"\\u00e9"}', '{"a":"e\u0301"}', '{"a":"\\/"}', '{"a":1e2}',
    '{"a":"\\u0000"}', '{"a":"\\ud800"}', '["\\u001F"]', "[".repeat(33) + "]".repeat(33)];
  for (const text of bad) assert.throws(() => parseCanonical(utf8(text)), undefined, text);
  assert.deepEqual(parseCanonical(utf8("[".repeat(32) + "]".repeat(32))).length, 1);
  assert.deepEqual(parseCanonical(utf8('{"a":"\\u001f/\u2028\u007f"}')), { a: "\u001f/\u2028\u007f" });
});

test("core.json: payloads, PAE, signatures, event hashes, envelopes, leaves, root", async () => {
  const pub = b64decode(core.key.public_key_b64);
  assert.equal(toHex(sha256(pub)), core.key.key_id);
  const leaves = [];
  for (const e of core.entries) {
    const payload = fromHex(e.payload_hex);
    const st = parseStatement(payload);
    assert.deepEqual(st, e.statement);
    assert.equal(toHex(pae(core.payload_type, payload)), e.pae_hex);
    assert.ok(await verifyEd25519(pub, b64decode(e.signature_b64), pae(core.payload_type, payload)));
    assert.equal(eventHash(payload), e.event_hash);
    const env = parseEnvelope(JSON.parse(e.envelope_canonical));
    assert.equal(new TextDecoder().decode(env.canonical), e.envelope_canonical);
    assert.equal(toHex(leafBytes(e.index, e.recorded_at_us, env.canonical)), e.leaf_hex);
    const lh = leafHash(e.index, e.recorded_at_us, env.canonical);
    assert.equal(toHex(lh), e.leaf_hash);
    leaves.push(lh);
  }
  assert.equal(toHex(rootOf(leaves)), core.tree_root_3);
});

test("recorded_at to microseconds is exact", () => {
  assert.equal(microsFromRecordedAt("2026-01-01T10:00:00.123456Z"), 1767261600123456);
  assert.equal(microsFromRecordedAt("1970-01-01T00:00:00Z"), 0);
});

for (const name of ["tree_rfc6962.json", "tree_37.json"]) {
  test(`merkle ${name}: leaf hashes and every root`, () => {
    const t = vector(`merkle/${name}`);
    const hashes = t.leaves.map((l) => hashLeaf(fromHex(l)));
    assert.deepEqual(hashes.map(toHex), t.leafHashes);
    for (const r of t.roots) assert.equal(toHex(rootOf(hashes.slice(0, r.size))), r.root, `size ${r.size}`);
  });
}

const proofFiles = ["inclusion_rfc6962.json", "consistency_rfc6962.json", "proofs_tree_37.json",
  "inclusion_probes.json", "consistency_probes.json", "edge_cases.json"];
for (const name of proofFiles) {
  test(`merkle ${name}: every case`, () => {
    const { cases } = vector(`merkle/${name}`);
    let n = 0;
    for (const c of cases) {
      const proof = c.proof.map(fromHex);
      const ok = "index" in c
        ? verifyInclusion(c.index, c.size, fromHex(c.leafHash), proof, fromHex(c.root))
        : verifyConsistency(c.size1, c.size2, fromHex(c.root1), fromHex(c.root2), proof);
      assert.equal(ok, !c.wantErr, c.desc);
      n++;
    }
    assert.ok(n > 0);
  });
}

test("a statement's issued_at must be a real UTC time", () => {
  const st = structuredClone(core.entries[0].statement);
  const with_ = (t) => utf8(canonicalString({ ...st, issued_at: t }));
  assert.equal(parseStatement(with_("2024-02-29T23:59:59.5Z")).issued_at, "2024-02-29T23:59:59.5Z");
  for (const bad of ["2026-02-29T10:00:00Z", "2026-13-01T10:00:00Z", "2026-04-31T10:00:00Z",
    "2026-01-01T24:00:00Z", "2026-01-01T10:60:00Z", "2026-01-01T10:00:00", "2026-01-01T10:00:00.1234567Z"]) {
    assert.throws(() => parseStatement(with_(bad)), undefined, bad);
  }
});
