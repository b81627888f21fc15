// "Signer la version N": a ratification the organization can trust (issue #18, point 4).
// The terms' state hash is recomputed here, from the agreement's history as this browser
// verified it (verify.js: signatures against the signers' key histories, chains,
// inclusion in a checkpoint signed by the pinned log key, earlier ratifications), and
// never taken from the server. The server's own account (the stream's head, the
// agreement's state hash, the written agreement of that version) must agree with what
// was verified, or the page refuses to sign: a hostile answer cannot make an
// organization sign terms it did not see.
//
// Entry points:
//
//   verifiedAgreement({api, agreementId, pin?, vkey?, waitMs?})
//       -> {ok: true, ledger, statements, head: {version, head_hash}, state, termsVersion, stateHash}
//        | {ok: false, code, message_fr, message_en}
//   prepareRatification({api, agreementId, actor, orgKey, version, lang?, pin?, vkey?, issuedAt?})
//       -> {ok: true, statement, document, termsVersion, stateHash, head} | {ok: false, …}
//       the statement to show (in plain words and as JSON) and sign; `document` is the
//       written agreement of exactly that version (GET …/document?version=<stream version>)
//   ratify({...same, prove?}) -> the result of submit.js signAndSubmit, or the refusal
//   prepareAcknowledgement({api, agreementId, actor, orgKey, expectationId, issuedAt?})
//       -> {ok: true, statement, expectation} | {ok: false, …}: the content hash of the
//       expectation's current text, computed from the verified terms as well

import { parseEnvelope } from "../verify/dsse.js";
import { foldTerms, stateHash } from "../verify/statehash.js";
import { eventHash, parseStatement } from "../verify/statement.js";
import { verifyAgreement } from "../verify/verify.js";
import { createPin, memoryStorage } from "../verify/pin.js";
import { explainProblem } from "./problems.js";
import { agreementStream, buildStatement, contentHash } from "./statements.js";
import { NoLongerAllowed, signAndSubmit } from "./submit.js";

/**
 * A fetch that answers the stream's events from `copy` (what was read once) and passes
 * everything else to the api's fetch: the verifier then checks the very bytes the page
 * goes on to use.
 */
export function servingCopy(api, stream, copy) {
  const eventsPath = `/v1/streams/${stream}/events`;
  return async (url, init) => {
    const u = new URL(url, "http://x");
    if (u.pathname === eventsPath) {
      const after = Number(u.searchParams.get("after") || 0);
      const limit = Number(u.searchParams.get("limit") || 1000);
      const body = { stream, version: copy.version, events: copy.events.slice(after, after + limit) };
      return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
    }
    return api.fetch(url, init);
  };
}

const REFUSALS = {
  "head-mismatch": [
    "Le registre annonce un autre dernier événement que l'historique vérifié : rien n'est signé. Rechargez la page.",
    "The ledger announces another last event than the verified history: nothing is signed. Reload the page.",
  ],
  "state-mismatch": [
    "Le registre annonce d'autres termes (empreinte ou version) que ceux recalculés ici : rien n'est signé.",
    "The ledger announces other terms (hash or version) than those recomputed here: nothing is signed.",
  ],
  "document-mismatch": [
    "Le texte de l'entente servi ne porte pas l'empreinte des termes vérifiés : rien n'est signé.",
    "The written agreement served does not carry the verified terms' hash: nothing is signed.",
  ],
  "stale-version": [
    "Cette version n'est pas la version actuelle des termes ; relisez la version actuelle avant de signer.",
    "This version is not the terms' current version; read the current version before signing.",
  ],
  "not-party": [
    "Votre organisme n'est pas partie à cette entente.",
    "Your organization is not a party to this agreement.",
  ],
  "too-few-parties": [
    "Il faut au moins deux parties pour ratifier.",
    "At least two parties are needed to ratify.",
  ],
};

function refuse(code, extra = {}) {
  const [fr, en] = REFUSALS[code];
  return { ok: false, code, message_fr: fr, message_en: en, ...extra };
}

/**
 * Read the agreement's stream once, verify exactly those bytes (verify.js is given the
 * copy read, so what is folded is what was verified), fold the terms and compare the
 * server's head and state with them.
 */
export async function verifiedAgreement({ api, agreementId, pin, vkey, waitMs = 10000 }) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const v = await verifiedOnce({ api, agreementId, pin, vkey });
    // Checkpoints are signed in the background: an event just appended waits for one.
    if (v.ok || v.code !== "not-in-checkpoint" || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function verifiedOnce({ api, agreementId, pin, vkey }) {
  const stream = agreementStream(agreementId);
  const copy = await api.events(stream);
  const cached = servingCopy(api, stream, copy);
  const result = await verifyAgreement({
    baseUrl: api.baseUrl, agreementId, token: api.token, fetch: cached, vkey,
    pin: pin || createPin(memoryStorage()),
  });
  if (!result.ok) return { ok: false, code: result.failure.code, message_fr: result.failure.message_fr, message_en: result.failure.message_en, failure: result.failure };
  const statements = copy.events
    .map((e) => {
      const payload = parseEnvelope(e.envelope).payload;
      return { st: parseStatement(payload), hash: eventHash(payload) };
    })
    .sort((a, b) => a.st.version - b.st.version);
  const last = statements[statements.length - 1];
  const state = foldTerms(statements.map(({ st }) => ({ type: st.type, actor: st.actor, data: st.data })));
  const out = {
    ok: true, ledger: last.st.ledger, statements: statements.map((x) => x.st),
    head: { version: last.st.version, head_hash: last.hash }, state,
    termsVersion: state.terms_version, stateHash: stateHash(state),
  };
  const served = await api.head(stream);
  if (served.version !== out.head.version || served.head_hash !== out.head.head_hash) {
    return refuse("head-mismatch", { served, verified: out.head });
  }
  const view = await api.get(`/v1/agreements/${encodeURIComponent(agreementId)}`);
  if (view.version !== out.head.version || view.terms_version !== out.termsVersion || view.state_hash !== out.stateHash) {
    return refuse("state-mismatch", { served: { version: view.version, terms_version: view.terms_version, state_hash: view.state_hash } });
  }
  return out;
}

/** The ratification of terms version `version`, built on the verified head. */
export async function prepareRatification({ api, agreementId, actor, orgKey, version, lang = "fr", pin, vkey, issuedAt, waitMs }) {
  const v = await verifiedAgreement({ api, agreementId, pin, vkey, waitMs });
  if (!v.ok) return v;
  if (version !== v.termsVersion) return refuse("stale-version", { current: v.termsVersion });
  if (!v.state.parties.has(actor)) return refuse("not-party");
  if (v.state.parties.size < 2) return refuse("too-few-parties");
  const document = await api.text(
    `/v1/agreements/${encodeURIComponent(agreementId)}/document?lang=${lang}&version=${v.head.version}`, "text/markdown");
  if (!document.includes(v.stateHash)) return refuse("document-mismatch");
  const statement = buildStatement({
    ledger: v.ledger, stream: agreementStream(agreementId), version: v.head.version + 1, prev: v.head.head_hash,
    type: "agreement.ratified", data: { terms_version: v.termsVersion, state_hash: v.stateHash },
    actor, keyId: orgKey.keyId, issuedAt,
  });
  return { ok: true, statement, document, termsVersion: v.termsVersion, stateHash: v.stateHash, head: v.head };
}

/**
 * Prepare, sign and submit the ratification of version `version`. On a 409 the history
 * is verified again: the ratification is signed again only if version N is still the
 * current terms version (another party's ratification in between leaves it so), else
 * the conflict is explained.
 */
export async function ratify(options) {
  const first = await prepareRatification(options);
  if (!first.ok) return first;
  const prepare = async (_head, { retry }) => {
    if (!retry) return first.statement;
    const again = await prepareRatification(options);
    if (!again.ok) throw new NoLongerAllowed(again.message_fr, again.message_en);
    return again.statement;
  };
  const result = await signAndSubmit({ ...options, stream: agreementStream(options.agreementId), prepare });
  return { ...result, termsVersion: first.termsVersion, stateHash: first.stateHash };
}

function ruleRefusal(rule, field) {
  const e = explainProblem(422, { type: "rule-violated", rule, field });
  return { ok: false, code: "rule-violated", rule, field, message_fr: e.message_fr, message_en: e.message_en };
}

/**
 * The acknowledgement of an expectation's current text: its content hash is computed
 * here from the verified history, so an organization acknowledges the text it was
 * shown, never a hash the server supplied.
 */
export async function prepareAcknowledgement({ api, agreementId, actor, orgKey, expectationId, issuedAt, pin, vkey, waitMs }) {
  const v = await verifiedAgreement({ api, agreementId, pin, vkey, waitMs });
  if (!v.ok) return v;
  const e = v.state.expectations.get(expectationId);
  if (!e) return ruleRefusal("expectation.unknown", "expectation_id");
  if (e.withdrawn) return ruleRefusal("expectation.withdrawn", "expectation_id");
  const addressees = e.addressed_to === "all"
    ? [...v.state.parties.keys()].filter((o) => o !== e.holder)
    : e.addressed_to.filter((o) => v.state.parties.has(o));
  if (!addressees.includes(actor)) return ruleRefusal("expectation.not-addressee", "actor");
  const expectation = { id: expectationId, holder: e.holder, text: e.text, addressed_to: e.addressed_to };
  const statement = buildStatement({
    ledger: v.ledger, stream: agreementStream(agreementId), version: v.head.version + 1, prev: v.head.head_hash,
    type: "expectation.acknowledged", data: { expectation_id: expectationId, content_hash: contentHash(expectation) },
    actor, keyId: orgKey.keyId, issuedAt,
  });
  return { ok: true, statement, expectation };
}
