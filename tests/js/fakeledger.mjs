// A ledger written in JavaScript for the tests and the benchmark: it signs statements
// and checkpoints as docs/PROTOCOL.md says, keeps the log, and answers the read routes
// of docs/API.md through a fetch function, so that the verifier runs as it does in a
// browser, without a server. Proofs are made by the RFC 9162 recursions (PATH, PROOF),
// not by the verifier's code.
import { webcrypto } from "node:crypto";

import { b64encode, concat, fromHex, toHex, utf8 } from "../../api/web/static/js/verify/b64.js";
import { canonicalBytes } from "../../api/web/static/js/verify/canonical.js";
import { pae, PAYLOAD_TYPE } from "../../api/web/static/js/verify/dsse.js";
import { leafBytes } from "../../api/web/static/js/verify/leaf.js";
import { EMPTY_ROOT, hashChildren, hashLeaf } from "../../api/web/static/js/verify/merkle.js";
import { makeVkey, noteKeyId } from "../../api/web/static/js/verify/note.js";
import { sha256 } from "../../api/web/static/js/verify/sha256.js";
import { eventHash } from "../../api/web/static/js/verify/statement.js";

const subtle = webcrypto.subtle;
const PKCS8 = fromHex("302e020100300506032b657004220420");

export async function keyFromSeed(seedByte) {
  const seed = new Uint8Array(32).fill(seedByte);
  const priv = await subtle.importKey("pkcs8", concat(PKCS8, seed), { name: "Ed25519" }, true, ["sign"]);
  const jwk = await subtle.exportKey("jwk", priv);
  const pub = Uint8Array.from(Buffer.from(jwk.x, "base64url"));
  return { priv, pub, id: toHex(sha256(pub)) };
}

export async function sign(key, message) {
  return new Uint8Array(await subtle.sign({ name: "Ed25519" }, key.priv, message));
}

const largestPow2Below = (n) => { let k = 1; while (k * 2 < n) k *= 2; return k; };

export class FakeLedger {
  static async create(origin = "example.org/mutualisation-ledger", seed = 200) {
    const l = new FakeLedger();
    l.origin = origin;
    l.logKey = await keyFromSeed(seed);
    l.vkey = makeVkey(origin, l.logKey.pub);
    l.log = []; // {position, recordedAtUs, envelope, leafHash, stream, version, hash}
    l.streams = new Map();
    l.orgs = new Map();
    l.memo = new Map();
    l.clock = 1767261600000000;
    l.checkpointSize = null; // null: the checkpoint covers the whole log
    return l;
  }

  mth(lo, hi) {
    if (hi - lo === 0) return EMPTY_ROOT;
    if (hi - lo === 1) return this.log[lo].leafHash;
    const key = `${lo}-${hi}`;
    let h = this.memo.get(key);
    if (!h) {
      const k = largestPow2Below(hi - lo);
      h = hashChildren(this.mth(lo, lo + k), this.mth(lo + k, hi));
      this.memo.set(key, h);
    }
    return h;
  }

  path(m, lo, hi) {
    if (hi - lo <= 1) return [];
    const k = largestPow2Below(hi - lo);
    return m - lo < k ? [...this.path(m, lo, lo + k), this.mth(lo + k, hi)]
      : [...this.path(m, lo + k, hi), this.mth(lo, lo + k)];
  }

  subproof(m, lo, hi, b) {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    const k = largestPow2Below(n);
    return m <= k ? [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)]
      : [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }

  async signedNote(size) {
    const body = `${this.origin}\n${size}\n${b64encode(this.mth(0, size))}\n`;
    const sig = await sign(this.logKey, utf8(body));
    return `${body}\n\u2014 ${this.origin} ${b64encode(concat(noteKeyId(this.origin, this.logKey.pub), sig))}\n`;
  }

  async append(signers, fields) {
    const stream = this.streams.get(fields.stream) || [];
    const st = {
      ledger: this.origin, version: stream.length + 1, prev: stream.length ? stream[stream.length - 1].hash : null,
      data: {}, issued_at: "2026-01-01T10:00:00Z", key: signers[0].id, ...fields,
    };
    const payload = canonicalBytes(st);
    const message = pae(PAYLOAD_TYPE, payload);
    const signatures = [];
    for (const k of signers) signatures.push({ keyid: k.id, sig: b64encode(await sign(k, message)) });
    const envelope = { payload: b64encode(payload), payloadType: PAYLOAD_TYPE, signatures };
    const position = this.log.length;
    const recordedAtUs = this.clock += 1000;
    const entry = {
      position, recordedAtUs, envelope, stream: st.stream, version: st.version, hash: eventHash(payload),
      leafHash: hashLeaf(leafBytes(position, recordedAtUs, canonicalBytes(envelope))),
    };
    this.log.push(entry);
    stream.push(entry);
    this.streams.set(st.stream, stream);
    return entry;
  }

  async register(org, seed) {
    const key = await keyFromSeed(seed);
    this.orgs.set(org, key);
    await this.append([key], { stream: `org/${org}`, type: "organization.registered", actor: org,
      data: { name: org, public_key: b64encode(key.pub) } });
    return key;
  }

  /** A fetch answering the read routes of docs/API.md from this ledger. */
  fetcher({ needToken = true } = {}) {
    const text = (body, status = 200) => ({ ok: status < 400, status, text: async () => body, json: async () => JSON.parse(body) });
    const json = (v, status = 200) => text(JSON.stringify(v), status);
    return async (url, init = {}) => {
      const u = new URL(url, "http://ledger.test");
      const q = u.searchParams;
      const authorized = !needToken || (init.headers && init.headers.Authorization === "Bearer ml_test");
      const size = this.checkpointSize ?? this.log.length;
      if (u.pathname === "/v1/log/key") return text(this.vkey + "\n");
      if (u.pathname.startsWith("/v1/log/") && !authorized) return json({ type: "token-missing" }, 401);
      if (u.pathname === "/v1/log/checkpoint") return text(await this.signedNote(size));
      if (u.pathname === "/v1/log/proof/inclusion") {
        const index = Number(q.get("index")), n = Number(q.get("size"));
        return json({ index, size: n, leaf_hash: b64encode(this.log[index].leafHash), proof: this.path(index, 0, n).map(b64encode) });
      }
      if (u.pathname === "/v1/log/proof/consistency") {
        const from = Number(q.get("from")), to = Number(q.get("to"));
        if (to > this.log.length) return json({ type: "not-found" }, 404);
        return json({ from, to, proof: from === 0 ? [] : this.subproof(from, 0, to, true).map(b64encode) });
      }
      const batch = /^\/v1\/(agreements|organizations)\/([^/]+)\/proofs$/.exec(u.pathname);
      if (batch) {
        if (batch[1] === "agreements" && !authorized) return json({ type: "token-missing" }, 401);
        const own = this.streams.get(`${batch[1] === "agreements" ? "agreement" : "org"}/${batch[2]}`) || [];
        if (!own.length) return json({ type: "not-found" }, 404);
        const shown = new Map(own.map((e) => [e.position, e]));
        for (const e of own) {
          const actor = JSON.parse(new TextDecoder().decode(Buffer.from(e.envelope.payload, "base64"))).actor;
          for (const o of this.streams.get(`org/${actor}`) || []) shown.set(o.position, o);
        }
        const proofs = [...shown.keys()].filter((p) => p < size).sort((x, y) => x - y)
          .map((p) => ({ position: p, leaf_hash: b64encode(this.log[p].leafHash), proof: this.path(p, 0, size).map(b64encode) }));
        let consistency = null;
        if (q.get("seen")) {
          const seen = Number(q.get("seen"));
          if (seen > this.log.length) return json({ type: "not-found" }, 404);
          const [from, to] = [Math.min(seen, size), Math.max(seen, size)];
          consistency = { from, to, proof: from === 0 ? [] : this.subproof(from, 0, to, true).map(b64encode) };
        }
        return json({ checkpoint: await this.signedNote(size), size, proofs, consistency });
      }
      const m = /^\/v1\/streams\/([a-z]+)\/([^/]+)\/events$/.exec(u.pathname);
      if (m) {
        const all = this.streams.get(`${m[1]}/${m[2]}`) || [];
        const after = Number(q.get("after") || 0), limit = Number(q.get("limit") || 1000);
        const page = all.filter((e) => e.version > after).slice(0, limit);
        return json({
          stream: `${m[1]}/${m[2]}`, version: all.length, head_hash: all.length ? all[all.length - 1].hash : null,
          events: page.map((e) => ({
            position: e.position, version: e.version, event_hash: e.hash, envelope: e.envelope,
            recorded_at: new Date(Math.floor(e.recordedAtUs / 1000)).toISOString().slice(0, 19) + "." + String(e.recordedAtUs % 1000000).padStart(6, "0") + "Z",
          })),
        });
      }
      return json({ type: "not-found" }, 404);
    };
  }

  /** The bundle of docs/PROTOCOL.md Part III, with checkpoints at the given sizes. */
  async bundle(sizes = [this.log.length]) {
    const lines = [JSON.stringify({ format: "mutualisation-ledger-bundle/1", origin: this.origin, vkey: this.vkey, size: this.log.length })];
    for (const e of this.log) {
      lines.push(JSON.stringify({ index: e.position, leaf: b64encode(leafBytes(e.position, e.recordedAtUs, canonicalBytes(e.envelope))), envelope: e.envelope }));
    }
    for (const s of sizes) lines.push(JSON.stringify({ checkpoint: await this.signedNote(s) }));
    return lines.join("\n") + "\n";
  }
}

/** An agreement among three organizations with `extra` more events, ratified by all. */
export async function agreementLedger({ extra = 0, id = "compta-2026" } = {}) {
  const l = await FakeLedger.create();
  const a = await l.register("centre-a", 1), b = await l.register("centre-b", 2), c = await l.register("centre-c", 3);
  const stream = `agreement/${id}`;
  const { checkRatifications, foldTerms, stateHash } = await import("../../api/web/static/js/verify/statehash.js");
  const facts = [];
  const add = async (key, actor, type, data) => {
    facts.push({ type, actor, data });
    return l.append([key], { stream, type, actor, data });
  };
  await add(a, "centre-a", "agreement.drafted", { agreement_id: id, title: "Comptabilité partagée", purpose: "Mieux servir le quartier.", binding: false, invited: ["centre-b", "centre-c"] });
  await add(b, "centre-b", "party.joined", {});
  await add(c, "centre-c", "party.joined", {});
  for (let i = 0; i < extra; i++) {
    const [k, org] = [[a, "centre-a"], [b, "centre-b"], [c, "centre-c"]][i % 3];
    await add(k, org, "measure.recorded", { measure_id: `m${i}`, indicator_id: "i1", value: String(i) });
  }
  const s = foldTerms(facts);
  for (const [k, org] of [[a, "centre-a"], [b, "centre-b"], [c, "centre-c"]]) {
    await add(k, org, "agreement.ratified", { terms_version: s.terms_version, state_hash: stateHash(s) });
  }
  if (!checkRatifications(facts).ratifications.every((r) => r.ok)) throw new Error("fixture ratifications");
  return { ledger: l, keys: { a, b, c }, id };
}
