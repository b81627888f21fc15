// page.js: the register pages mark an element, the module verifies and writes into it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { memoryStorage } from "../../api/web/static/js/verify/pin.js";
import { createPin } from "../../api/web/static/js/verify/verify.js";
import { agreementLedger } from "./fakeledger.mjs";

function element(data, lang = "fr") {
  return {
    dataset: { ...data }, attributes: {}, style: {}, textContent: "",
    classList: { add() {}, remove() {} },
    setAttribute(k, v) { this.attributes[k] = v; },
    closest() { return { getAttribute: () => lang }; },
  };
}

test("marked elements are verified and say so, in their language", async () => {
  globalThis.__mutualisationVerifyNoAutostart = true;
  const { verifyPage } = await import("../../api/web/static/js/verify/page.js");
  const { ledger, id } = await agreementLedger({ extra: 1 });
  const head = ledger.streams.get(`agreement/${id}`).at(-1);
  const fr = element({ verifyAgreement: id, version: String(head.version), headHash: head.hash });
  const en = element({ verifyOrg: "centre-a" }, "en");
  const stale = element({ verifyAgreement: id, version: String(head.version - 1) });
  const doc = { querySelectorAll: () => [fr, en, stale] };
  const results = await verifyPage(doc, { fetch: ledger.fetcher({ needToken: false }), pin: createPin(memoryStorage()) });
  assert.deepEqual(results.map((r) => r.ok), [true, true, false]);
  assert.match(fr.textContent, /^Vérifié dans votre navigateur : 10 signatures, 10 preuves d'inclusion, empreinte des termes conforme aux 3 ratifications\./);
  assert.equal(fr.attributes.role, "status");
  assert.match(en.textContent, /^Verified in your browser: 1 signature, 1 inclusion proof\./);
  assert.equal(stale.dataset.verification, "failed");
  assert.match(stale.textContent, /^Échec de la vérification : Le registre a répondu avec d'autres événements/);
});
