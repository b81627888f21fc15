// The head a workspace statement is built on (its version and prev): the end of the
// stream's history as this browser verified it, never the server's word alone (issue
// #18: "a hostile server answer (a forged head hash) makes the page refuse to sign").
// The server's own head (GET /v1/streams/{stream}) must then be that verified end, or
// nothing is signed: a statement chained to a forged prev would be refused anyway, but
// the organization must not be made to sign onto a history it never saw.
//
// Entry points:
//
//   verifiedHead({api, stream, pin?, vkey?, cache?, waitMs?}) -> {version, head_hash}
//       throws HeadRefused {code, message_fr, message_en, refusal, served?, verified?}
//   createHeadCache() -> a cache for `cache` (the module keeps one per page otherwise)
//   HeadRefused
//
// What is verified. The first time, the whole stream as verify.js verifies a register
// page (the log key against the pin, the checkpoint's signature and its consistency with
// the last one seen, every event's envelope, statement, chain, signature against the key
// the signer's verified history holds at that position, inclusion in the checkpoint, and
// for an agreement the terms recomputed before every ratification), on the very bytes
// read once. Later, for an agreement stream, only what is new since the cached verified
// head: the events after it (their chain continuing the cached head hash, their
// signatures against the signers' verified key histories, their inclusion in a new
// checkpoint proven consistent with the cached one, ratifications against the terms
// folded on from the cached state). The cost then follows the new events and the
// signers' own streams, not the agreement's length. An organization's stream is short:
// it is verified whole each time.

import { b64decode, b64encode } from "../verify/b64.js";
import { PAYLOAD_TYPE, pae, parseEnvelope, verifyEd25519 } from "../verify/dsse.js";
import { KeyHistory } from "../verify/history.js";
import { leafHash, microsFromRecordedAt } from "../verify/leaf.js";
import { verifyConsistency, verifyInclusion } from "../verify/merkle.js";
import { failureMessages } from "../verify/messages.js";
import { openCheckpoint, parseVkey } from "../verify/note.js";
import { createPin } from "../verify/pin.js";
import { evolveTerms, foldTerms, stateHash } from "../verify/statehash.js";
import { eventHash, parseStatement } from "../verify/statement.js";
import { Failure, verifyAgreement, verifyEvents, verifyOrganization } from "../verify/verify.js";
import { servingCopy } from "./ratify.js";

const WORDS = {
  "head-mismatch": [
    "Le registre annonce un autre dernier événement que l'historique vérifié dans ce navigateur : rien n'est signé. Rechargez la page.",
    "The ledger announces another last event than the history verified in this browser: nothing is signed. Reload the page.",
  ],
  "history-unverified": [
    "L'historique de ce fil ne se vérifie pas dans ce navigateur : rien n'est signé.",
    "This stream's history does not verify in this browser: nothing is signed.",
  ],
};

/** A head the page will not sign on: the server's head disagrees with the verified
 * history, or the history itself does not verify. `refusal` is what the page shows. */
export class HeadRefused extends Error {
  constructor(code, { detail_fr = "", detail_en = "", served, verified } = {}) {
    const [fr, en] = WORDS[code];
    super(en);
    this.code = code;
    this.message_fr = detail_fr ? `${fr} ${detail_fr}` : fr;
    this.message_en = detail_en ? `${en} ${detail_en}` : en;
    this.served = served;
    this.verified = verified;
    this.refusal = { code, message_fr: this.message_fr, message_en: this.message_en };
  }
}

function unverified(failure) {
  const e = new HeadRefused("history-unverified", { detail_fr: failure.message_fr, detail_en: failure.message_en });
  e.failure = failure;
  return e;
}

export function createHeadCache() { return new Map(); }

const PAGE_CACHE = createHeadCache();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function scopeOf(api) {
  return api.baseUrl || (globalThis.location ? globalThis.location.origin : "");
}

/** The events after version `after`, page by page (GET …/events?after=). */
async function eventsAfter(api, stream, after) {
  const out = [];
  for (;;) {
    const page = await api.get(`/v1/streams/${stream}/events?after=${after + out.length}&limit=1000`);
    out.push(...page.events);
    if (!page.events.length || after + out.length >= page.version) return out;
  }
}

/** One event of a page of …/events, read: a Failure when it cannot be. */
function read(e) {
  try {
    const env = parseEnvelope(e.envelope);
    return { position: e.position, recordedAtUs: microsFromRecordedAt(e.recorded_at), env, st: parseStatement(env.payload),
      hash: eventHash(env.payload) };
  } catch (err) {
    throw new Failure(err.code || "statement-malformed", { position: e && e.position, detail: err.message });
  }
}

/** The whole stream, verified by verify.js on the bytes read once; the cache entry. */
async function verifyWhole(api, stream, pin, vkey) {
  const copy = await api.events(stream);
  if (copy.events.length === 0) return { version: 0, head_hash: null, empty: true };
  const [kind, key] = [stream.slice(0, stream.indexOf("/")), stream.slice(stream.indexOf("/") + 1)];
  const options = { baseUrl: api.baseUrl, token: api.token, fetch: servingCopy(api, stream, copy), pin, vkey };
  const result = kind === "org" ? await verifyOrganization({ ...options, orgId: key })
    : await verifyAgreement({ ...options, agreementId: key });
  if (!result.ok) return { failure: result.failure };
  const events = copy.events.map(read).sort((a, b) => a.st.version - b.st.version);
  const last = events[events.length - 1];
  return {
    version: last.st.version, head_hash: last.hash, ledger: last.st.ledger, vkey: result.logKey.vkey,
    position: Math.max(...events.map((e) => e.position)), recordedAtUs: last.recordedAtUs,
    checkpoint: { size: BigInt(result.checkpoint.size), root: result.checkpoint.root },
    terms: kind === "agreement" ? foldTerms(events.map(({ st }) => ({ type: st.type, actor: st.actor, data: st.data }))) : null,
  };
}

function fail(code, ev, detail) {
  return new Failure(code, { position: ev.position, detail,
    event: { stream: ev.st.stream, version: ev.st.version, type: ev.st.type, actor: ev.st.actor } });
}

/** A signed checkpoint consistent with the cached one (the log only grew). */
async function nextCheckpoint(batch, verifier, before) {
  let cp;
  try { cp = await openCheckpoint(batch.checkpoint, verifier); } catch (e) {
    throw new Failure("checkpoint-invalid", { detail: e.message });
  }
  if (BigInt(batch.size) !== cp.size) throw new Failure("checkpoint-invalid", { detail: "the batch's size is not its checkpoint's" });
  if (cp.size < before.size) throw new Failure("rollback", { detail: `size ${before.size} seen before` });
  const c = batch.consistency;
  let proof = null;
  try { proof = c && BigInt(c.from) === before.size && BigInt(c.to) === cp.size ? c.proof.map((h) => b64decode(h)) : null; } catch { proof = null; }
  if (proof === null || !verifyConsistency(before.size, cp.size, b64decode(before.root), cp.rootHash, proof)) {
    throw new Failure("consistency-invalid", { detail: `size ${before.size} seen before, ${cp.size} now` });
  }
  return cp;
}

function includedIn(batch, cp) {
  const byPosition = new Map((batch.proofs || []).map((p) => [p.position, p]));
  return (ev) => {
    if (BigInt(ev.position) >= cp.size) throw fail("not-in-checkpoint", ev, `after size ${cp.size}`);
    const p = byPosition.get(ev.position);
    const mine = leafHash(ev.position, ev.recordedAtUs, ev.env.canonical);
    let proof = null;
    try { proof = p ? p.proof.map((h) => b64decode(h)) : cp.size === 1n ? [] : null; } catch { proof = null; }
    if (proof === null) throw fail("inclusion-invalid", ev, "the ledger sent no proof for this event");
    if (p && p.leaf_hash !== b64encode(mine)) throw fail("leaf-envelope", ev, "the log holds another entry at this position");
    if (!verifyInclusion(ev.position, cp.size, mine, proof, cp.rootHash)) throw fail("inclusion-invalid", ev);
  };
}

/**
 * The agreement's events after the cached verified head, verified against it; the new
 * cache entry (the old one is left untouched, so a failure costs nothing kept).
 */
async function verifyNew(api, stream, pin, vkey, known) {
  const served = (await api.text("/v1/log/key")).trim();
  if ((vkey && vkey.trim() !== served) || served !== known.vkey || pin.check(scopeOf(api), served) === "changed") {
    throw new Failure("log-key-changed");
  }
  const verifier = parseVkey(served);
  const fresh = (await eventsAfter(api, stream, known.version)).map(read).sort((a, b) => a.st.version - b.st.version);
  if (fresh.length === 0) return known;
  let prev = { version: known.version, hash: known.head_hash, position: known.position, recordedAtUs: known.recordedAtUs };
  for (const ev of fresh) {
    if (ev.st.stream !== stream) throw fail("stream-mismatch", ev, `asked for ${stream}`);
    if (ev.st.ledger !== known.ledger) throw fail("wrong-ledger", ev, `ledger ${ev.st.ledger}`);
    if (ev.st.version !== prev.version + 1) throw fail("stream-version-gap", ev, `version ${prev.version + 1} expected`);
    if (ev.st.prev !== prev.hash) throw fail("stream-prev-mismatch", ev);
    if (ev.position <= prev.position) throw fail("leaf-envelope", ev, "positions go backwards");
    if (ev.recordedAtUs < prev.recordedAtUs) throw fail("recorded-at-order", ev);
    prev = { version: ev.st.version, hash: ev.hash, position: ev.position, recordedAtUs: ev.recordedAtUs };
  }
  // One proof batch for the new checkpoint, the new events and the signers' key histories.
  const id = stream.slice("agreement/".length);
  const batch = await api.get(`/v1/agreements/${encodeURIComponent(id)}/proofs?seen=${known.checkpoint.size}`);
  const cp = await nextCheckpoint(batch, verifier, known.checkpoint);
  const include = includedIn(batch, cp);
  // The signers' own streams, verified whole (chains, signatures, inclusion): the keys.
  const signers = [...new Set(fresh.map((ev) => ev.st.actor))].sort();
  const orgEntries = [];
  for (const org of signers) {
    for (const e of (await api.events(`org/${org}`)).events) {
      if (e.position <= prev.position) {
        orgEntries.push({ position: e.position, recordedAtUs: read(e).recordedAtUs, envelope: e.envelope, shown: false });
      }
    }
  }
  const orgs = await verifyEvents({ entries: orgEntries, origin: verifier.name, subjectStream: "",
    include: async (events) => { events.forEach(include); return events.length; } });
  const keys = new KeyHistory();
  const orgEvents = [...orgs.streams.values()].flat().sort((a, b) => a.position - b.position);
  for (const ev of orgEvents) keys.apply(ev.st, ev.position);
  const checks = [];
  for (const ev of fresh) {
    let own = false;
    const message = pae(PAYLOAD_TYPE, ev.env.payload);
    for (const s of ev.env.signatures) {
      const isOwn = s.keyid === ev.st.key;
      own ||= isOwn;
      const k = keys.keyAt(s.keyid, ev.position, isOwn ? ev.st.actor : null);
      if (k.code) throw fail(k.code, ev, `key ${s.keyid.slice(0, 16)}…`);
      checks.push(verifyEd25519(k.publicKey, s.sig, message).then((ok) => { if (!ok) throw fail("signature-invalid", ev); }));
    }
    if (!own) throw fail("signature-missing", ev);
    include(ev);
  }
  await Promise.all(checks);
  // The terms folded on from the cached state (a copy: the cache stays as it was).
  const terms = foldTerms([]);
  copyTerms(known.terms, terms);
  for (const ev of fresh) {
    if (ev.st.type === "agreement.ratified") {
      const got = { terms_version: terms.terms_version, state_hash: stateHash(terms) };
      if (got.terms_version !== ev.st.data.terms_version || got.state_hash !== ev.st.data.state_hash) {
        throw fail("state-hash-mismatch", ev, `terms v${got.terms_version}, ratified v${ev.st.data.terms_version}`);
      }
    }
    evolveTerms(terms, { type: ev.st.type, actor: ev.st.actor, data: ev.st.data });
  }
  const root = b64encode(cp.rootHash);
  const seen = pin.lastCheckpoint(scopeOf(api));
  if (seen === null || seen.size <= cp.size) pin.saveCheckpoint(scopeOf(api), cp.size, root);
  return { ...known, version: prev.version, head_hash: prev.hash, position: prev.position, recordedAtUs: prev.recordedAtUs,
    checkpoint: { size: cp.size, root }, terms };
}

/** A deep copy of a folded terms state (Maps of plain records and Maps). */
function copyTerms(from, to) {
  const clone = (v) => (v instanceof Map ? new Map([...v].map(([k, x]) => [k, clone(x)]))
    : Array.isArray(v) ? v.map(clone) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) : v);
  for (const [k, v] of Object.entries(from)) to[k] = clone(v);
}

/** The verified end of `stream`: from the cache and what is new, or whole. */
async function verifiedEnd(api, stream, pin, vkey, cache, waitMs) {
  const key = `${scopeOf(api)}|${stream}`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const known = cache.get(key);
    let end;
    try {
      end = known && stream.startsWith("agreement/")
        ? await verifyNew(api, stream, pin, vkey, known)
        : await verifyWhole(api, stream, pin, vkey);
    } catch (e) {
      if (!(e instanceof Failure)) throw e; // a refused read: the server's own words
      end = { failure: { code: e.code, ...failureMessages(e.code, e) } };
    }
    if (end.failure) {
      // Checkpoints are signed in the background: an event just appended waits for one.
      if (end.failure.code === "not-in-checkpoint" && Date.now() <= deadline) { await sleep(100); continue; }
      cache.delete(key); // start again from the whole history next time
      throw unverified(end.failure);
    }
    if (!end.empty) cache.set(key, end);
    return { version: end.version, head_hash: end.head_hash };
  }
}

/**
 * The head to sign on: the verified end of the stream, which the server's head must
 * equal. A server head beyond the verified end (another party signed in between) is
 * verified once more; any other disagreement is refused.
 */
export async function verifiedHead({ api, stream, pin, vkey, cache = PAGE_CACHE, waitMs = 10000 }) {
  pin = pin || createPin();
  for (let attempt = 0; ; attempt++) {
    const verified = await verifiedEnd(api, stream, pin, vkey, cache, waitMs);
    const served = await api.head(stream);
    if (served.version === verified.version && served.head_hash === verified.head_hash) return verified;
    if (served.version > verified.version && attempt === 0) continue;
    throw new HeadRefused("head-mismatch", { served, verified });
  }
}
