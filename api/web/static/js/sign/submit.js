// Sending signed statements to the ledger and checking what it answers (docs/API.md §2–5).
// Only envelopes (payload, signatures, public key ids) and, for a registration, the
// operator's registration token leave the browser: never the private key.
//
// Entry points:
//
//   createApi({baseUrl, token?, fetch?})     -> api: {head(stream), events(stream), get(path),
//                                               text(path), post(envelopes, registrationToken?)}
//   signAndSubmit({api, orgKey, stream, prepare, registrationToken?, prove?, pin?, vkey?})
//       prepare(head, {retry, problem}) -> statement | null   (head = {version, head_hash})
//       builds the statement on the stream's head, signs it, POSTs it. On a 409 the head is
//       read again and prepare is asked once more (retry: true): it answers a statement
//       when the command is still allowed on the new head, or null (or throws
//       NoLongerAllowed) when it is not, and the conflict is explained instead.
//       -> {ok: true, statement, envelope, receipt, inclusion?}
//        | {ok: false, code, rule?, field?, message_fr, message_en, statement?}
//   checkReceipt(receipt, statement, eventHash)   throws ReceiptError when the receipt is
//                                                 not of this statement
//   proveInclusion({api, receipt, envelope, pin?, vkey?, waitMs?}) -> {size, root}
//       the entry (position, recorded_at_us, envelope) in the log's tree, by a proof
//       verified against a checkpoint signed by the (pinned) log key; ReceiptError else

import { b64decode, b64encode } from "../verify/b64.js";
import { parseEnvelope } from "../verify/dsse.js";
import { leafHash } from "../verify/leaf.js";
import { verifyInclusion } from "../verify/merkle.js";
import { openCheckpoint, parseVkey } from "../verify/note.js";
import { explainProblem } from "./problems.js";
import { seal, StatementInputError } from "./statements.js";

export class ReceiptError extends Error {
  constructor(message_en, message_fr) {
    super(message_en);
    this.code = "receipt-invalid";
    this.message_en = message_en;
    this.message_fr = message_fr;
  }
}

/** prepare() throws this when the command is no longer allowed on the new head. */
export class NoLongerAllowed extends Error {
  constructor(message_fr, message_en) {
    super(message_en);
    this.message_fr = message_fr;
    this.message_en = message_en;
  }
}

/** A small client of the ledger's HTTP API; `fetch` may be injected (tests, pages). */
export function createApi({ baseUrl = "", token, fetch: fetchImpl } = {}) {
  const base = baseUrl.replace(/\/+$/, "");
  const f = fetchImpl || globalThis.fetch.bind(globalThis);
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  async function get(path, accept = "application/json") {
    const res = await f(base + path, { headers: { ...auth, Accept: accept }, cache: "no-store" });
    if (!res.ok) {
      let problem = {};
      try { problem = await res.json(); } catch { /* not a problem document */ }
      const err = new Error(`GET ${path}: HTTP ${res.status}`);
      err.problem = explainProblem(res.status, problem);
      throw err;
    }
    return res;
  }
  return {
    baseUrl: base, fetch: f, token,
    get: async (path) => (await get(path)).json(),
    text: async (path, accept = "text/plain") => (await get(path, accept)).text(),
    head: async (stream) => {
      const h = await (await get(`/v1/streams/${stream}`)).json();
      return { version: h.version, head_hash: h.head_hash };
    },
    async events(stream) {
      const out = [];
      for (;;) {
        const page = await (await get(`/v1/streams/${stream}/events?after=${out.length}&limit=1000`)).json();
        out.push(...page.events);
        if (!page.events.length || out.length >= page.version) return { version: page.version, events: out };
      }
    },
    async post(envelopes, registrationToken) {
      const headers = { "Content-Type": "application/json", Accept: "application/json" };
      if (registrationToken) headers.Authorization = `Bearer ${registrationToken}`;
      const res = await f(base + "/v1/events", { method: "POST", headers, body: JSON.stringify({ events: envelopes }) });
      let body = null;
      try { body = await res.json(); } catch { /* empty or not JSON */ }
      return { status: res.status, body };
    },
  };
}

/** The receipt names this statement: its stream, version and event hash. */
export function checkReceipt(receipt, statement, eventHash) {
  if (!receipt || receipt.stream !== statement.stream || receipt.version !== statement.version
      || receipt.event_hash !== eventHash || !Number.isSafeInteger(receipt.position) || receipt.position < 0
      || !Number.isSafeInteger(receipt.recorded_at_us)) {
    throw new ReceiptError("the receipt is not the receipt of the statement sent",
      "le reçu n'est pas celui de l'énoncé envoyé");
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function proofsPath(stream) {
  const [kind, key] = [stream.slice(0, stream.indexOf("/")), stream.slice(stream.indexOf("/") + 1)];
  return kind === "org" ? `/v1/organizations/${encodeURIComponent(key)}/proofs`
    : `/v1/agreements/${encodeURIComponent(key)}/proofs`;
}

/**
 * The receipt's entry is in the log: its leaf, computed here from the receipt and the
 * envelope sent, is proven in a checkpoint signed by the log key (pinned when `pin` is
 * given, equal to `vkey` when given). Checkpoints are signed in the background: the
 * proofs are asked again until one covers the position, for at most `waitMs`.
 */
export async function proveInclusion({ api, receipt, envelope, pin, vkey, waitMs = 10000 }) {
  const served = (await api.text("/v1/log/key")).trim();
  if (vkey && vkey.trim() !== served) {
    throw new ReceiptError("the log key served is not the one expected", "la clé du journal servie n'est pas celle attendue");
  }
  if (pin && pin.check(api.baseUrl || "", served) === "changed") {
    throw new ReceiptError("the log key changed since this browser pinned it", "la clé du journal a changé depuis que ce navigateur l'a retenue");
  }
  const verifier = parseVkey(served);
  const mine = leafHash(receipt.position, receipt.recorded_at_us, parseEnvelope(envelope).canonical);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const batch = await api.get(proofsPath(receipt.stream));
    const cp = await openCheckpoint(batch.checkpoint, verifier);
    if (BigInt(receipt.position) < cp.size) {
      const p = (batch.proofs || []).find((x) => x.position === receipt.position);
      // In a tree of one entry the path is empty and the root is the leaf's hash; the
      // server may then list no proof at all (ledger/reads inclusion_proofs).
      const proof = p ? p.proof.map((h) => b64decode(h)) : cp.size === 1n ? [] : null;
      if (proof === null || (p && p.leaf_hash !== b64encode(mine))
          || !verifyInclusion(receipt.position, cp.size, mine, proof, cp.rootHash)) {
        throw new ReceiptError("the log does not prove this receipt's entry", "le journal ne prouve pas l'inscription de ce reçu");
      }
      return { size: Number(cp.size), root: b64encode(cp.rootHash) };
    }
    if (Date.now() > deadline) {
      throw new ReceiptError("no signed checkpoint covers the entry yet", "aucun point de contrôle signé ne couvre encore l'inscription");
    }
    await sleep(100);
  }
}

async function attempt(api, orgKey, statement, registrationToken) {
  const sealed = await seal(statement, orgKey);
  const { status, body } = await api.post([sealed.envelope], registrationToken);
  return { sealed, status, body };
}

function refusal(status, body, statement) {
  return { ok: false, statement, ...explainProblem(status, body || {}) };
}

/** Build on the head, sign, submit; one retry on a 409 when prepare still allows it. */
export async function signAndSubmit({ api, orgKey, stream, prepare, registrationToken, prove = false, pin, vkey, waitMs }) {
  let statement;
  try {
    statement = await prepare(await api.head(stream), { retry: false });
  } catch (e) {
    if (e instanceof StatementInputError) {
      return { ok: false, code: "input-invalid", field: e.field, problems: e.problems,
        message_fr: e.problems[0].message_fr, message_en: e.problems[0].message_en };
    }
    if (e instanceof NoLongerAllowed) return { ok: false, code: "not-allowed", message_fr: e.message_fr, message_en: e.message_en };
    throw e;
  }
  if (!statement) return { ok: false, code: "nothing-to-sign", message_fr: "Rien à signer.", message_en: "Nothing to sign." };
  let { sealed, status, body } = await attempt(api, orgKey, statement, registrationToken);
  if (status === 409) {
    const first = explainProblem(status, body || {});
    let again;
    try {
      again = await prepare(await api.head(stream), { retry: true, problem: body });
    } catch (e) {
      if (!(e instanceof NoLongerAllowed || e instanceof StatementInputError)) throw e;
      return { ok: false, statement, ...first, conflict: true,
        message_fr: `${first.message_fr} ${e.message_fr || e.problems[0].message_fr}`,
        message_en: `${first.message_en} ${e.message_en || e.problems[0].message_en}` };
    }
    if (!again) {
      return { ok: false, statement, ...first, conflict: true,
        message_fr: `${first.message_fr} Ce que vous vouliez signer n'est plus permis sur le fil à jour.`,
        message_en: `${first.message_en} What you meant to sign is no longer allowed on the fresh stream.` };
    }
    statement = again;
    ({ sealed, status, body } = await attempt(api, orgKey, statement, registrationToken));
  }
  if (status !== 201) return refusal(status, body, statement);
  const receipt = body && body.receipts && body.receipts[0];
  checkReceipt(receipt, statement, sealed.eventHash);
  const out = { ok: true, statement, envelope: sealed.envelope, receipt };
  if (prove) out.inclusion = await proveInclusion({ api, receipt, envelope: sealed.envelope, pin, vkey, waitMs });
  return out;
}
