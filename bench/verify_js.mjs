// How long the browser's verification takes for an agreement page of 1,000 events
// (docs/PERFORMANCE.md, target: under 1 s). The ledger is the JavaScript one of the
// tests, answering the API's routes in process: what is timed is the verification
// (1,003 signatures, 1,003 inclusion proofs, chains, the state hash at each
// ratification) and the parsing of the answers' JSON, not a network.
//   node bench/verify_js.mjs [EVENTS]
import { performance } from "node:perf_hooks";

import { memoryStorage } from "../api/web/static/js/verify/pin.js";
import { createPin, verifyAgreement, verifyBundle } from "../api/web/static/js/verify/verify.js";
import { agreementLedger } from "../tests/js/fakeledger.mjs";

const events = Number(process.argv[2] || 1000);
const { ledger, id } = await agreementLedger({ extra: events - 6 });
const server = ledger.fetcher();
// The answers are made once and replayed: what is timed is the verifier, not the
// JavaScript ledger that makes the proofs (a server's work, not the browser's).
const answers = new Map();
const fetch = async (url, init) => {
  if (!answers.has(url)) answers.set(url, await (await server(url, init)).text());
  const text = answers.get(url);
  return { ok: true, status: 200, text: async () => text, json: async () => JSON.parse(text) };
};
await verifyAgreement({ baseUrl: "http://ledger.test", agreementId: id, token: "ml_test", pin: createPin(memoryStorage()), fetch });

const runs = [];
let result;
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  result = await verifyAgreement({ baseUrl: "http://ledger.test", agreementId: id, token: "ml_test", pin: createPin(memoryStorage()), fetch });
  runs.push(performance.now() - t0);
}
if (!result.ok) throw new Error(JSON.stringify(result.failure));
const text = await ledger.bundle();
const t0 = performance.now();
const b = await verifyBundle({ text, vkey: ledger.vkey, pin: createPin(memoryStorage()) });
const bundleMs = performance.now() - t0;
if (!b.ok) throw new Error(JSON.stringify(b.failure));
runs.sort((x, y) => x - y);
console.log(JSON.stringify({
  events: result.counts.events, signatures: result.counts.signatures, inclusions: result.counts.inclusions,
  ratifications: result.counts.ratifications_matching,
  api_median_ms: Math.round(runs[2]), api_best_ms: Math.round(runs[0]), bundle_ms: Math.round(bundleMs),
  node: process.version,
}));
if (runs[2] > 1000) process.exitCode = 1;
