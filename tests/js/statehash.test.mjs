// The agreement state hash in JavaScript, held to tests/vectors/state_hash/.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { canonicalString } from "../../api/web/static/js/verify/canonical.js";
import { checkRatifications, foldTerms, stateHash, termsJson } from "../../api/web/static/js/verify/statehash.js";
import { ROOT, vector } from "./helpers.mjs";

const files = readdirSync(join(ROOT, "tests", "vectors", "state_hash")).filter((f) => f.endsWith(".json"));

test("there are state-hash vectors", () => assert.ok(files.length >= 6));

for (const f of files) {
  test(`state_hash/${f}: terms, canonical text, hash and ratifications`, () => {
    const v = vector(`state_hash/${f}`);
    const s = foldTerms(v.facts);
    assert.deepEqual(termsJson(s), v.terms);
    assert.equal(canonicalString(termsJson(s)), v.canonical);
    assert.equal(stateHash(s), v.state_hash);
    for (const r of checkRatifications(v.facts).ratifications) assert.ok(r.ok, `${f}: ratification ${r.index}`);
  });
}

test("the smallest vector of PROTOCOL.md Part IV", () => {
  const v = vector("state_hash/01-drafted.json");
  assert.equal(stateHash(foldTerms(v.facts)), "dd509ca364cb3bf18cdcac3067190d7ffdf5bf7bb08ee827e751fa5f006eb7ee");
});

test("a ratification of other terms is caught", () => {
  const v = vector("state_hash/02-porteurs-ratified.json");
  const facts = structuredClone(v.facts);
  const r = facts.find((x) => x.type === "agreement.ratified");
  assert.ok(r, "the vector holds a ratification");
  r.data.state_hash = r.data.state_hash.replace(/^./, (c) => (c === "0" ? "1" : "0"));
  assert.equal(checkRatifications(facts).ratifications.some((x) => !x.ok), true);
});
