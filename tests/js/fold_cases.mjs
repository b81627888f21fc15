// Fold agreement histories made by the Python rules with the JavaScript of the browser,
// for tests/property/test_js_state_hash.py: reads cases from the file named, each
// {facts: [{type, actor, data}], hashes: [state hash after each fact],
// versions: [terms version after each fact]}, and prints the disagreements as JSON.
import { readFileSync } from "node:fs";

import { checkRatifications, emptyTerms, evolveTerms, stateHash } from "../../api/web/static/js/verify/statehash.js";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const wrong = [];
cases.forEach((c, n) => {
  const s = emptyTerms();
  c.facts.forEach((f, i) => {
    evolveTerms(s, f);
    const got = stateHash(s);
    if (got !== c.hashes[i] || s.terms_version !== c.versions[i]) {
      wrong.push({ case: n, fact: i, type: f.type, want: [c.versions[i], c.hashes[i]], got: [s.terms_version, got] });
    }
  });
  for (const r of checkRatifications(c.facts).ratifications) {
    if (!r.ok) wrong.push({ case: n, fact: r.index, type: "agreement.ratified", want: r.want, got: r.got });
  }
});
console.log(JSON.stringify({ cases: cases.length, facts: cases.reduce((a, c) => a + c.facts.length, 0), wrong: wrong.slice(0, 20) }));
