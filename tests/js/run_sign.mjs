// The workspace's signing modules driven from the Python tests (tests/unit/test_js_signing.py,
// tests/api/test_js_workspace.py): one JSON program on stdin, one JSON answer on stdout.
//
//   {"op": "seal", "pem", "ledger", "stream", "version", "prev", "type", "data", "actor", "issued_at"}
//   {"op": "generate"}
//   {"op": "workshop", "base", "registration": {org: token}, "tokens": {org: token}, "agreement_id"}
import { readFileSync } from "node:fs";

import { generateKey, importPem } from "../../api/web/static/js/sign/keys.js";
import { prepareAcknowledgement, ratify, verifiedAgreement } from "../../api/web/static/js/sign/ratify.js";
import { prepareKeyAddition, prepareKeyRevocation } from "../../api/web/static/js/sign/rotation.js";
import { buildStatement, issuedAt, registration, seal } from "../../api/web/static/js/sign/statements.js";
import { createApi, signAndSubmit } from "../../api/web/static/js/sign/submit.js";
import { parseVkey } from "../../api/web/static/js/verify/note.js";

const program = JSON.parse(readFileSync(0, "utf8"));

function must(prepared) {
  if (!prepared.ok) throw new Error(`${prepared.code}: ${prepared.message_en}`);
  return prepared.statement;
}

async function sealOp(p) {
  const key = await importPem(p.pem);
  const st = buildStatement({ ledger: p.ledger, stream: p.stream, version: p.version, prev: p.prev, type: p.type,
    data: p.data, actor: p.actor, keyId: key.keyId, issuedAt: p.issued_at });
  const { envelope } = await seal(st, key);
  return { envelope, key_id: key.keyId };
}

async function generateOp() {
  const k = await generateKey();
  return { pem: k.pem, key_id: k.keyId };
}

async function workshop({ base, registration: regTokens, tokens, agreement_id: id }) {
  const requests = [];
  const recording = async (url, init = {}) => {
    requests.push({ url: String(url), method: init.method || "GET", headers: init.headers || {}, body: init.body ?? null });
    return fetch(url, init);
  };
  const api = (org) => createApi({ baseUrl: base, token: tokens[org], fetch: recording });
  const ledger = parseVkey((await api("centre-a").text("/v1/log/key")).trim()).name;
  const keys = { "centre-a": await generateKey(), "centre-b": await generateKey() };
  const pems = Object.fromEntries(Object.entries(keys).map(([o, k]) => [o, k.pem]));
  const steps = {};
  const stream = `agreement/${id}`;
  const step = async (name, org, type, data, options = {}) => {
    const r = await signAndSubmit({
      api: api(org), orgKey: keys[org], stream, prove: true, ...options,
      prepare: options.prepare || (async (head) => buildStatement({ ledger, stream, version: head.version + 1, prev: head.head_hash,
        type, data, actor: org, keyId: keys[org].keyId, issuedAt: issuedAt() })),
    });
    steps[name] = r;
    return r;
  };
  for (const org of ["centre-a", "centre-b"]) {
    const r = await signAndSubmit({ api: api(org), orgKey: keys[org], stream: `org/${org}`, registrationToken: regTokens[org], prove: true,
      prepare: async () => registration({ ledger, orgId: org, orgKey: keys[org], name: `Centre ${org.slice(-1).toUpperCase()}`, profile: { region: "Capitale-Nationale" } }) });
    steps[`register ${org}`] = r;
  }
  await step("draft", "centre-a", "agreement.drafted", { agreement_id: id, title: "Salle partagée", purpose: "Partager une salle de répétition, « ensemble ».", binding: false, invited: ["centre-b"], public: false });
  await step("join", "centre-b", "party.joined", {});
  steps["join again"] = await step("join again", "centre-b", "party.joined", {});
  // Key rotation of centre-a: a second key added (signed by the first), the first revoked.
  const second = await generateKey();
  pems["centre-a second"] = second.pem;
  const orgA = "org/centre-a";
  steps["key added"] = await signAndSubmit({ api: api("centre-a"), orgKey: keys["centre-a"], stream: orgA, prove: true,
    prepare: async () => must(await prepareKeyAddition({ api: api("centre-a"), orgId: "centre-a", signingKey: keys["centre-a"], newPublicKey: second.publicKey, label: "poste 2" })) });
  const first = keys["centre-a"];
  keys["centre-a"] = second;
  steps["key revoked"] = await signAndSubmit({ api: api("centre-a"), orgKey: second, stream: orgA, prove: true,
    prepare: async () => must(await prepareKeyRevocation({ api: api("centre-a"), orgId: "centre-a", signingKey: second, keyId: first.keyId })) });
  // Revoking the last valid key is refused before anything is signed.
  steps["last key"] = await prepareKeyRevocation({ api: api("centre-a"), orgId: "centre-a", signingKey: second, keyId: second.keyId });
  const text = "Chaque partie réserve la salle une semaine à l'avance.";
  await step("expectation", "centre-a", "expectation.stated", { expectation_id: "e1", text, addressed_to: "all" });
  // The acknowledged content hash is computed from the history this browser verified.
  steps["not addressee"] = await prepareAcknowledgement({ api: api("centre-a"), agreementId: id, actor: "centre-a", orgKey: keys["centre-a"], expectationId: "e1" });
  await step("acknowledge", "centre-b", null, null, {
    prepare: async () => must(await prepareAcknowledgement({ api: api("centre-b"), agreementId: id, actor: "centre-b", orgKey: keys["centre-b"], expectationId: "e1" })),
  });
  const verified = await verifiedAgreement({ api: api("centre-b"), agreementId: id });
  // A concurrent edit: centre-b signs on a head that centre-a has just moved on; the 409
  // is retried once on the fresh head.
  const stale = await api("centre-b").head(stream);
  await step("stage a", "centre-a", "stage.started", { stage: "know_yourself" });
  let tries = 0;
  await step("stage b (409)", "centre-b", "stage.started", { stage: "get_acquainted" }, {
    prepare: async (head, { retry }) => {
      tries++;
      const h = retry ? head : stale;
      return buildStatement({ ledger, stream, version: h.version + 1, prev: h.head_hash, type: "stage.started",
        data: { stage: "get_acquainted" }, actor: "centre-b", keyId: keys["centre-b"].keyId, issuedAt: issuedAt() });
    },
  });
  steps["stage b (409)"].tries = tries;
  const version = verified.termsVersion; // read after the expectation, the last change of terms
  for (const org of ["centre-a", "centre-b"]) {
    steps[`ratify ${org}`] = await ratify({ api: api(org), agreementId: id, actor: org, orgKey: keys[org], version, prove: true });
  }
  const end = await verifiedAgreement({ api: api("centre-a"), agreementId: id });
  return { steps, requests, pems, state_hash: end.stateHash, terms_version: end.termsVersion };
}

const ops = { seal: sealOp, generate: generateOp, workshop };
const out = await ops[program.op](program);
process.stdout.write(JSON.stringify(out));
