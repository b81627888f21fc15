// verify.html is one self-contained file: its inline script (every module, inlined by
// make_html.py) verifies as the modules do, with no import left and no network of its own.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createHash } from "node:crypto";

import { memoryStorage } from "../../api/web/static/js/verify/pin.js";
import { agreementLedger } from "./fakeledger.mjs";
import { ROOT } from "./helpers.mjs";

const html = readFileSync(join(ROOT, "api", "web", "static", "verify.html"), "utf8");
const script = html.split('<script type="module">')[1].split("</script>")[0];

test("verify.html holds one inline script, allowed by its own policy, loading nothing", () => {
  assert.equal(html.split("<script").length, 2);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|\bimport\s*\(|^\s*import\s/m);
  const hash = createHash("sha256").update(script).digest("base64");
  assert.ok(html.includes(`script-src 'sha256-${hash}'`));
});

test("the inlined verifier verifies an agreement and catches a forged signature", async () => {
  new Function(`"use strict";${script}`)();
  const api = globalThis.MutualisationVerify;
  assert.equal(typeof api.verifyAgreement, "function");
  const { ledger, id } = await agreementLedger({ extra: 3 });
  const pin = api.createPin(memoryStorage());
  const args = { baseUrl: "http://ledger.test", agreementId: id, token: "ml_test", pin };
  const ok = await api.verifyAgreement({ ...args, fetch: ledger.fetcher() });
  assert.equal(ok.ok, true, JSON.stringify(ok.failure));
  assert.equal(ok.counts.ratifications_matching, 3);
  const text = await ledger.bundle();
  const b = await api.verifyBundle({ text, vkey: ledger.vkey, pin: api.createPin(memoryStorage()) });
  assert.equal(b.ok, true, JSON.stringify(b.failure));
  const forged = text.replace(/"sig":"(.)/, (m, c) => `"sig":"${c === "A" ? "B" : "A"}`);
  const bad = await api.verifyBundle({ text: forged, vkey: ledger.vkey, pin: api.createPin(memoryStorage()) });
  assert.equal(bad.ok, false);
});
