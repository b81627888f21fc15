// Verification of what a register page shows, in the reader's own browser.
//
// Entry points (the pages call these; keep the names):
//
//   verifyAgreement({baseUrl, agreementId, token?, pin?, shown?, vkey?, fetch?}) -> Promise<Result>
//   verifyOrganization({baseUrl, orgId, token?, pin?, shown?, vkey?, fetch?})    -> Promise<Result>
//   verifyBundle({text, agreementId?, orgId?, pin?, vkey?})        -> Promise<Result>
//   renderResult(element, result, lang)   writes the sentence (role=status, aria-live),
//                                         green only when result.ok
//
//   Result = {ok, counts: {signatures, inclusions, ratifications_matching, events},
//             failure?: {code, message_fr, message_en, position?, event?},
//             logKey: {fingerprint, status: "pinned-now"|"matches"|"changed", vkey}
//                     (status "unknown", fingerprint "", when no key could be read),
//             checkpoint?: {size, root}}
//
// baseUrl: the ledger's HTTP API ("" for the page's own origin). token: a bearer token,
// for an agreement that is not public (docs/API.md §1, the agreement rule). Requests:
// the log key, the stream's events, its signers' organization streams, and one proof
// batch (GET /v1/agreements/{id}/proofs or /v1/organizations/{id}/proofs, ?seen=SIZE).
// pin: createPin(storage) from pin.js (localStorage by default). vkey: a log key the
// user supplies out of band; when given, it must equal the one served or pinned.
// shown: {version, head_hash?}, what the page rendered (the stream's last version and
// its event hash): the verified stream must end there, or the page is not what was
// verified (stream-mismatch).
//
// What is checked, in this order (the first failure is the answer; nothing unverified
// is counted as verified): the log key against the pin; the checkpoint's signature by
// the pinned key; consistency with the last checkpoint this browser saw; each event's
// envelope, canonical payload, statement and ledger; each stream's versions and hash
// chain; each signature against the key the signer's replayed history holds at the
// event's position; each event's inclusion in the signed tree; for an agreement, the
// terms' state hash recomputed before each ratification and compared with it.

import { b64decode, b64encode, fromUtf8, toHex } from "./b64.js";
import { parseEnvelope, pae, PAYLOAD_TYPE, verifyEd25519 } from "./dsse.js";
import { KeyHistory } from "./history.js";
import { leafHash, microsFromRecordedAt, readLeaf } from "./leaf.js";
import { CompactRange, verifyConsistency, verifyInclusion } from "./merkle.js";
import { failureMessages, successSentence } from "./messages.js";
import { openCheckpoint, parseVkey } from "./note.js";
import { createPin } from "./pin.js";
import { sha256 } from "./sha256.js";
import { checkRatifications } from "./statehash.js";
import { eventHash, parseStatement } from "./statement.js";

export { createPin };

/** A failure found while verifying: a code of messages.js, where, and a detail. */
export class Failure extends Error {
  constructor(code, { position, event, detail } = {}) {
    super(detail || code);
    this.code = code;
    this.position = position;
    this.event = event;
    this.detail = detail;
  }
}

/** The log key's fingerprint: hex SHA-256 of its raw public key, in groups of four. */
export function fingerprint(publicKey) {
  return toHex(sha256(publicKey)).match(/.{4}/g).join(" ");
}

function describe(ev) {
  return ev && ev.st ? { stream: ev.st.stream, version: ev.st.version, type: ev.st.type, actor: ev.st.actor } : undefined;
}

function fail(code, ev, detail) {
  return new Failure(code, { position: ev ? ev.position : undefined, event: describe(ev), detail });
}

// --- the log key and checkpoints -----------------------------------------------------

/** Check the served vkey against the pin (and an out-of-band one): {verifier, logKey}. */
function pinnedKey(served, pin, scope, expected) {
  let verifier;
  try {
    verifier = parseVkey(served);
  } catch (e) {
    throw new Failure("log-key-invalid", { detail: e.message });
  }
  const logKey = { fingerprint: fingerprint(verifier.publicKey), status: "matches", vkey: served };
  if (expected !== undefined && expected !== null && expected.trim() !== served) {
    logKey.status = "changed";
    return { verifier, logKey };
  }
  logKey.status = pin.check(scope, served);
  if (logKey.status === "changed") {
    const before = pin.pinned(scope);
    try { logKey.pinnedFingerprint = fingerprint(parseVkey(before).publicKey); } catch { /* unreadable pin */ }
  }
  return { verifier, logKey };
}

async function openSigned(note, verifier) {
  try {
    return await openCheckpoint(note, verifier);
  } catch (e) {
    throw new Failure("checkpoint-invalid", { detail: e.message });
  }
}

// --- events --------------------------------------------------------------------------

/**
 * Read each entry {position, recordedAtUs, envelope, shown}: its envelope, payload,
 * statement and ledger. Returns the entries with {env, st, hash} added.
 */
function readEvents(entries, origin) {
  return entries.map((e) => {
    const ev = { position: e.position, recordedAtUs: e.recordedAtUs, envelope: e.envelope, shown: e.shown, leafEnvelope: e.leafEnvelope };
    try {
      ev.env = parseEnvelope(e.envelope);
    } catch (err) {
      throw fail(err.code || "envelope-malformed", ev, err.message);
    }
    try {
      ev.st = parseStatement(ev.env.payload);
    } catch (err) {
      throw fail(err.code || "statement-malformed", ev, err.message);
    }
    if (ev.st.ledger !== origin) throw fail("wrong-ledger", ev, `ledger ${ev.st.ledger}`);
    ev.hash = eventHash(ev.env.payload);
    return ev;
  });
}

/** Each stream's versions from 1 without gap, each prev the hash of the one before. */
function checkChains(events) {
  const streams = new Map();
  for (const ev of events) {
    if (!streams.has(ev.st.stream)) streams.set(ev.st.stream, []);
    streams.get(ev.st.stream).push(ev);
  }
  for (const list of streams.values()) {
    list.sort((a, b) => a.st.version - b.st.version);
    let prev = null;
    list.forEach((ev, i) => {
      if (i > 0 && ev.st.version === list[i - 1].st.version) throw fail("stream-version-conflict", ev);
      if (ev.st.version !== i + 1) throw fail("stream-version-gap", ev, `version ${i + 1} is missing`);
      if (ev.st.prev !== prev) throw fail("stream-prev-mismatch", ev);
      prev = ev.hash;
    });
  }
  return streams;
}

/** Every signature, against the keys replayed in position order; the count verified. */
async function checkSignatures(events) {
  const keys = new KeyHistory();
  const tasks = [];
  const byPosition = [...events].sort((a, b) => a.position - b.position);
  let last = -1;
  for (const ev of byPosition) {
    if (ev.position === last) throw fail("leaf-envelope", ev, "two events at one position");
    last = ev.position;
    if (ev.st.type === "organization.registered") keys.apply(ev.st, ev.position); // self-signed
    const message = pae(PAYLOAD_TYPE, ev.env.payload);
    let own = false;
    for (const s of ev.env.signatures) {
      const isOwn = s.keyid === ev.st.key;
      own ||= isOwn;
      const k = keys.keyAt(s.keyid, ev.position, isOwn ? ev.st.actor : null);
      if (k.code) throw fail(k.code, ev, `key ${s.keyid.slice(0, 16)}…`);
      tasks.push({ ev, run: verifyEd25519(k.publicKey, s.sig, message) });
    }
    if (!own) throw fail("signature-missing", ev);
    if (ev.st.type !== "organization.registered") keys.apply(ev.st, ev.position);
  }
  const results = await Promise.all(tasks.map((t) => t.run));
  const bad = results.findIndex((ok) => !ok);
  if (bad >= 0) throw fail("signature-invalid", tasks[bad].ev);
  return tasks.length;
}

/** recorded_at never goes backwards along the log. */
function checkRecordedOrder(events) {
  const byPosition = [...events].sort((a, b) => a.position - b.position);
  for (let i = 1; i < byPosition.length; i++) {
    if (byPosition[i].recordedAtUs < byPosition[i - 1].recordedAtUs) throw fail("recorded-at-order", byPosition[i]);
  }
}

/** Ratifications of the agreement stream against the terms recomputed before each. */
function checkTerms(streamEvents) {
  const facts = streamEvents.map((ev) => ({ type: ev.st.type, actor: ev.st.actor, data: ev.st.data }));
  const { ratifications } = checkRatifications(facts);
  for (const r of ratifications) {
    if (!r.ok) {
      throw fail("state-hash-mismatch", streamEvents[r.index],
        `terms v${r.got.terms_version} ${r.got.state_hash.slice(0, 12)}…, ratified v${r.want.terms_version} ${String(r.want.state_hash).slice(0, 12)}…`);
    }
  }
  return ratifications.length;
}

/**
 * The checks every route shares, on entries already read: events, chains, signatures,
 * recorded order, and the terms of `subjectStream` when it is an agreement. `include`
 * (async, given the read events) checks inclusion and answers the count proven.
 */
export async function verifyEvents({ entries, origin, subjectStream, include }) {
  const events = entries.map((e) => (e.st ? e : readEvents([e], origin)[0]));
  const streams = checkChains(events);
  // Signatures and inclusion proofs are checked at once (proofs may come over the
  // network); their failures are then told in this order: signatures first.
  const [signed, included] = await Promise.allSettled([checkSignatures(events), include(events)]);
  if (signed.status === "rejected") throw signed.reason;
  checkRecordedOrder(events);
  if (included.status === "rejected") throw included.reason;
  const subject = streams.get(subjectStream) || [];
  const ratifications = subjectStream.startsWith("agreement/") ? checkTerms(subject) : 0;
  return {
    counts: {
      signatures: signed.value, inclusions: included.value,
      ratifications_matching: ratifications, events: subject.length,
    },
    streams,
  };
}

// --- over HTTP -----------------------------------------------------------------------

function scopeOf(baseUrl) {
  const base = (baseUrl || "").replace(/\/+$/, "");
  if (base) return base;
  return globalThis.location ? globalThis.location.origin : "";
}

/** A refused read as a Failure: a server error with a problem document (RFC 9457) is
 * the ledger refusing to serve something (e.g. history-column-forged, a row changed in
 * its database), named with the log position (`index`) and the problem's own words. */
async function refusal(path, res) {
  let problem = null;
  try { problem = await res.json(); } catch { /* not a problem document */ }
  const code = problem && typeof problem.type === "string" ? problem.type.split("/").pop() : "";
  const words = problem && typeof problem.detail === "string" ? problem.detail : "";
  const detail = [`${path}: HTTP ${res.status}`, code, words].filter(Boolean).join(" ");
  const position = problem && Number.isSafeInteger(problem.index) ? problem.index : undefined;
  return new Failure(res.status >= 500 && code ? "server-refused" : "fetch-failed", { position, detail });
}

function client(baseUrl, token, fetchImpl) {
  const base = (baseUrl || "").replace(/\/+$/, "");
  const f = fetchImpl || globalThis.fetch.bind(globalThis);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  async function get(path) {
    let res;
    try {
      res = await f(base + path, { headers, cache: "no-store" });
    } catch (e) {
      throw new Failure("fetch-failed", { detail: `${path}: ${e.message}` });
    }
    if (res.status === 401 || res.status === 403) {
      throw new Failure("token-needed", { detail: `${path}: HTTP ${res.status}` });
    }
    if (!res.ok) throw await refusal(path, res);
    return res;
  }
  return {
    text: async (path) => (await get(path)).text(),
    json: async (path) => (await get(path)).json(),
  };
}

async function streamEntries(api, stream, shown) {
  const out = [];
  let after = 0;
  for (;;) {
    const page = await api.json(`/v1/streams/${stream}/events?after=${after}&limit=1000`);
    for (const e of page.events) {
      let recordedAtUs;
      try { recordedAtUs = microsFromRecordedAt(e.recorded_at); } catch (err) {
        throw new Failure("statement-malformed", { position: e.position, detail: err.message });
      }
      out.push({ position: e.position, recordedAtUs, envelope: e.envelope, shown });
    }
    if (page.events.length === 0 || page.events[page.events.length - 1].version >= page.version) return out;
    after = page.events[page.events.length - 1].version;
  }
}

/** Decode a list of base64 hashes; an unreadable one becomes empty (and fails its check). */
function hashes(list) {
  return (Array.isArray(list) ? list : []).map((h) => { try { return b64decode(h); } catch { return new Uint8Array(0); } });
}

/**
 * The checkpoint of a proof batch, opened with the pinned key, and consistent with the
 * last one this browser saw (the batch carries that proof when asked with `seen`).
 */
async function checkedCheckpoint(batch, verifier, seen) {
  const cp = await openSigned(batch.checkpoint, verifier);
  if (BigInt(batch.size) !== cp.size) throw new Failure("checkpoint-invalid", { detail: "the batch's size is not its checkpoint's" });
  if (seen === null) return { ...cp, keep: true };
  let seenRoot;
  try { seenRoot = b64decode(seen.root); } catch { seenRoot = new Uint8Array(0); }
  const [small, big, rootSmall, rootBig] = seen.size <= cp.size
    ? [seen.size, cp.size, seenRoot, cp.rootHash] : [cp.size, seen.size, cp.rootHash, seenRoot];
  const c = batch.consistency;
  const proof = c && BigInt(c.from) === small && BigInt(c.to) === big ? hashes(c.proof) : null;
  if (proof === null || !verifyConsistency(small, big, rootSmall, rootBig, proof)) {
    throw new Failure("consistency-invalid", { detail: `size ${seen.size} seen before, ${cp.size} now` });
  }
  return { ...cp, keep: seen.size <= cp.size };
}

/** Inclusion of each event in the checkpoint's tree, from the batch's proofs. */
function batchInclusion(batch, cp) {
  const byPosition = new Map((batch.proofs || []).map((p) => [p.position, p]));
  return async (events) => {
    let proven = 0;
    for (const ev of [...events].sort((a, b) => a.position - b.position)) {
      if (BigInt(ev.position) >= cp.size) continue;
      const p = byPosition.get(ev.position);
      if (!p) throw fail("inclusion-invalid", ev, "the ledger sent no proof for this event");
      const mine = leafHash(ev.position, ev.recordedAtUs, ev.env.canonical);
      if (p.leaf_hash !== b64encode(mine)) throw fail("leaf-envelope", ev, "the log holds another entry at this position");
      if (!verifyInclusion(ev.position, cp.size, mine, hashes(p.proof), cp.rootHash)) throw fail("inclusion-invalid", ev);
      proven++;
    }
    const pending = events.filter((ev) => BigInt(ev.position) >= cp.size).sort((a, b) => a.position - b.position);
    if (pending.length) {
      throw fail("not-in-checkpoint", pending[0], `${pending.length} event(s) after size ${cp.size}`);
    }
    return proven;
  };
}

async function verifyOverHttp({ baseUrl, token, pin, fetch: fetchImpl, vkey, shown }, subjectStream, proofsPath) {
  pin = pin || createPin();
  const scope = scopeOf(baseUrl);
  const api = client(baseUrl, token, fetchImpl);
  const counts = { signatures: 0, inclusions: 0, ratifications_matching: 0, events: 0 };
  let logKey = { fingerprint: "", status: "unknown", vkey: "" }; // until the key is read
  let checkpoint;
  try {
    // The key, the stream and the proof batch are asked at once; their answers are
    // then judged in this order (a changed key first).
    const seen = pin.lastCheckpoint(scope);
    const [keyText, streamAnswer, batchAnswer] = await Promise.allSettled([
      api.text("/v1/log/key"), streamEntries(api, subjectStream, true),
      api.json(seen === null ? proofsPath : `${proofsPath}?seen=${seen.size}`)]);
    const settled = (r) => { if (r.status === "rejected") throw r.reason; return r.value; };
    const pinnedNow = pinnedKey(settled(keyText).trim(), pin, scope, vkey);
    logKey = pinnedNow.logKey;
    const verifier = pinnedNow.verifier;
    if (logKey.status === "changed") throw new Failure("log-key-changed");
    const subject = readEvents(settled(streamAnswer), verifier.name);
    if (subject.length === 0) throw new Failure("empty");
    for (const ev of subject) {
      if (ev.st.stream !== subjectStream) throw fail("stream-mismatch", ev, `asked for ${subjectStream}`);
    }
    checkShown(subject, shown);
    const signers = new Set();
    for (const e of subject) signers.add(e.st.actor);
    signers.delete(subjectStream.slice(4)); // an org page reads its own stream once
    const orgStreams = await Promise.all([...signers].sort().map((org) => streamEntries(api, `org/${org}`, false)));
    // The signers' later events change no key the shown events were signed with.
    const lastShown = Math.max(...subject.map((ev) => ev.position));
    const entries = [...subject, ...orgStreams.flat().filter((e) => e.position <= lastShown)];
    const batch = settled(batchAnswer);
    const cp = await checkedCheckpoint(batch, verifier, seen);
    checkpoint = { size: Number(cp.size), root: b64encode(cp.rootHash) };
    if (cp.keep) pin.saveCheckpoint(scope, cp.size, checkpoint.root);
    const verified = await verifyEvents({
      entries, origin: verifier.name, subjectStream, include: batchInclusion(batch, cp),
    });
    Object.assign(counts, verified.counts);
    return { ok: true, counts, logKey, checkpoint };
  } catch (e) {
    return failed(e, counts, logKey, checkpoint);
  }
}

/**
 * The page's own account of what it shows ({version, head_hash}: the stream's last
 * version and its event hash, as the page rendered them) must be what was verified.
 */
function checkShown(subject, shown) {
  if (!shown) return;
  const last = subject.reduce((a, b) => (b.st.version > a.st.version ? b : a));
  if (last.st.version !== shown.version || (shown.head_hash && last.hash !== shown.head_hash)) {
    throw fail("stream-mismatch", last, `the page shows version ${shown.version}, the ledger answered ${last.st.version}`);
  }
}

function failed(e, counts, logKey, checkpoint) {
  const f = e instanceof Failure ? e : new Failure("fetch-failed", { detail: e && e.message });
  const failure = { code: f.code, ...failureMessages(f.code, f) };
  if (f.position !== undefined) failure.position = f.position;
  if (f.event) failure.event = f.event;
  // Nothing is counted as verified when the whole did not verify.
  return { ok: false, counts: { ...counts, signatures: 0, inclusions: 0, ratifications_matching: 0 }, failure, logKey, checkpoint };
}

export function verifyAgreement({ baseUrl, agreementId, token, pin, fetch, vkey, shown }) {
  return verifyOverHttp({ baseUrl, token, pin, fetch, vkey, shown }, `agreement/${agreementId}`,
    `/v1/agreements/${encodeURIComponent(agreementId)}/proofs`);
}

export function verifyOrganization({ baseUrl, orgId, token, pin, fetch, vkey, shown }) {
  return verifyOverHttp({ baseUrl, token, pin, fetch, vkey, shown }, `org/${orgId}`,
    `/v1/organizations/${encodeURIComponent(orgId)}/proofs`);
}

// --- from an exported bundle (docs/PROTOCOL.md Part III) -----------------------------

/**
 * Verify a bundle's text: every entry (leaf, envelope, signature, chain), the tree's root
 * at every checkpoint, each checkpoint's signature by the pinned key. The counts are
 * those of the whole log; the terms are checked for `agreementId` when given, else for
 * every agreement of the bundle.
 */
export async function verifyBundle({ text, agreementId, orgId, pin, vkey }) {
  pin = pin || createPin();
  const counts = { signatures: 0, inclusions: 0, ratifications_matching: 0, events: 0 };
  let logKey = { fingerprint: "", status: "unknown", vkey: "" }; // until the key is read
  let checkpoint;
  try {
    const lines = (typeof text === "string" ? text : fromUtf8(text)).split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    let header;
    try { header = JSON.parse(lines[0]); } catch { throw new Failure("bundle-malformed", { detail: "header" }); }
    if (!header || header.format !== "mutualisation-ledger-bundle/1" || typeof header.origin !== "string") {
      throw new Failure("bundle-malformed", { detail: "header" });
    }
    const scope = `bundle:${header.origin}`;
    const pinned = pin.pinned(scope);
    const served = vkey ? vkey.trim() : pinned !== null ? pinned : header.vkey;
    const pinnedNow = pinnedKey(served, pin, scope, undefined);
    logKey = pinnedNow.logKey;
    const verifier = pinnedNow.verifier;
    if (logKey.status === "changed") throw new Failure("log-key-changed");
    if (verifier.name !== header.origin) throw new Failure("checkpoint-invalid", { detail: "the log key names another origin" });
    let end = lines.length;
    while (end > 1 && lines[end - 1].startsWith('{"checkpoint"')) end--;
    let notes;
    try { notes = lines.slice(end).map((l) => JSON.parse(l).checkpoint); } catch {
      throw new Failure("bundle-malformed", { detail: "a checkpoint line" });
    }
    const entries = [];
    for (let i = 1; i < end; i++) {
      let row;
      try { row = JSON.parse(lines[i]); } catch { throw new Failure("bundle-malformed", { position: i - 1, detail: "entry line" }); }
      if (row && "checkpoint" in row) throw new Failure("bundle-malformed", { detail: "a checkpoint among the entries" });
      if (!row || row.index !== i - 1) throw new Failure("bundle-malformed", { position: i - 1, detail: "entry index" });
      let leaf;
      try { leaf = readLeaf(b64decode(row.leaf)); } catch { throw new Failure("leaf-envelope", { position: row.index }); }
      if (leaf.position !== row.index) throw new Failure("leaf-envelope", { position: row.index, detail: "leaf index" });
      entries.push({ position: row.index, recordedAtUs: leaf.recordedAtUs, envelope: row.envelope, leafEnvelope: leaf.envelope, shown: true });
    }
    if (typeof header.size === "number" && header.size !== entries.length) {
      throw new Failure("bundle-malformed", { detail: `header says ${header.size} entries, file holds ${entries.length}` });
    }
    const cps = [];
    for (const n of notes) cps.push(await openSigned(n, verifier));
    if (cps.length === 0) throw new Failure("checkpoint-invalid", { detail: "the bundle holds no checkpoint" });
    const last = cps[cps.length - 1];
    checkpoint = { size: Number(last.size), root: b64encode(last.rootHash) };
    const subject = agreementId ? `agreement/${agreementId}` : orgId ? `org/${orgId}` : null;
    const seen = pin.lastCheckpoint(scope);
    if (seen !== null && seen.size > last.size) throw new Failure("rollback", { detail: `size ${seen.size} seen before` });
    const include = async (events) => {
      const tree = new CompactRange();
      let c = 0;
      // the empty tree's checkpoint (a ledger signs one when it starts with no events)
      while (c < cps.length && cps[c].size === 0n) {
        if (toHex(tree.root()) !== toHex(cps[c].rootHash)) throw new Failure("checkpoint-root", { detail: "the checkpoint of size 0 is not the empty tree's" });
        c++;
      }
      for (const ev of events) {
        if (toHex(ev.leafEnvelope) !== toHex(ev.env.canonical)) throw fail("leaf-envelope", ev);
        tree.push(leafHash(ev.position, ev.recordedAtUs, ev.env.canonical));
        if (seen !== null && BigInt(tree.size) === seen.size && b64encode(tree.root()) !== seen.root) {
          throw fail("consistency-invalid", ev, `the tree of size ${seen.size} seen before has another root`);
        }
        while (c < cps.length && BigInt(tree.size) === cps[c].size) {
          if (toHex(tree.root()) !== toHex(cps[c].rootHash)) throw fail("checkpoint-root", ev);
          c++;
        }
      }
      if (c < cps.length) throw new Failure("checkpoint-root", { detail: `a checkpoint of size ${cps[c].size} is beyond the file` });
      return events.filter((ev) => BigInt(ev.position) < last.size).length;
    };
    const result = await verifyEvents({ entries, origin: verifier.name, subjectStream: subject || "", include });
    Object.assign(counts, result.counts);
    if (!subject) {
      counts.events = entries.length;
      for (const [name, list] of result.streams) {
        if (name.startsWith("agreement/")) counts.ratifications_matching += checkTerms(list);
      }
    }
    pin.saveCheckpoint(scope, last.size, checkpoint.root);
    const pending = entries.length - counts.inclusions;
    if (pending > 0) throw new Failure("not-in-checkpoint", { position: Number(last.size), detail: `${pending} entries after size ${last.size}` });
    return { ok: true, counts, logKey, checkpoint };
  } catch (e) {
    return failed(e, counts, logKey, checkpoint);
  }
}


// --- the sentence on the page --------------------------------------------------------

/** Write the result's sentence into element (role=status, aria-live); green only if ok. */
export function renderResult(element, result, lang = "fr") {
  const en = lang === "en";
  element.setAttribute("role", "status");
  element.setAttribute("aria-live", "polite");
  let sentence, state;
  if (result.ok) {
    sentence = successSentence(result.counts, lang);
    state = "ok";
  } else {
    sentence = en ? result.failure.message_en : result.failure.message_fr;
    state = result.failure.code === "not-in-checkpoint" ? "pending" : "failed";
  }
  const fp = result.logKey && result.logKey.fingerprint;
  const keyLine = !fp ? "" : result.logKey.status === "changed"
    ? (en ? ` The register now shows key ${fp}; your browser pinned ${result.logKey.pinnedFingerprint || "another"}.`
      : ` Le registre présente la clé ${fp} ; votre navigateur avait épinglé ${result.logKey.pinnedFingerprint || "une autre"}.`)
    : result.logKey.status === "pinned-now"
      ? (en ? ` Register key pinned now: ${fp} (compare it with the one the operator publishes).`
        : ` Clé du registre épinglée maintenant : ${fp} (comparez-la avec celle que publie l'opérateur).`)
      : (en ? ` Register key: ${fp}.` : ` Clé du registre : ${fp}.`);
  element.textContent = sentence + keyLine;
  element.dataset.verification = state;
  element.classList.remove("verify-ok", "verify-failed", "verify-pending");
  element.classList.add(`verify-${state}`);
  if (element.style) {
    element.style.color = state === "ok" ? "#0a6b2d" : state === "pending" ? "#6b4e00" : "#a4000f";
  }
  return sentence;
}

