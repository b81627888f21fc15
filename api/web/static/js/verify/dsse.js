// DSSE v1 envelopes (docs/PROTOCOL.md Part I §2): their shape, the pre-authentication
// encoding that Ed25519 signs, and WebCrypto verification.

import { b64decode, concat, utf8 } from "./b64.js";

export const PAYLOAD_TYPE = "application/vnd.mutualisation-ledger.statement.v1+json";

export class EnvelopeError extends Error {
  constructor(message, code = "envelope-malformed") {
    super(message);
    this.code = code;
  }
}

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function pae(type, body) {
  const t = utf8(type);
  return concat(utf8(`DSSEv1 ${t.length} `), t, utf8(` ${body.length} `), body);
}

const HEX64 = /^[0-9a-f]{64}$/;

function exactKeys(obj, keys) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return false;
  const have = Object.keys(obj).sort();
  return have.length === keys.length && have.every((k, i) => k === keys[i]);
}

/**
 * Check an envelope object's shape; answer {payload: bytes, signatures: [{keyid, sig: bytes}],
 * canonical: bytes (the envelope's canonical JSON, the tail of its leaf)}.
 */
export function parseEnvelope(env) {
  if (!exactKeys(env, ["payload", "payloadType", "signatures"])) {
    throw new EnvelopeError("an envelope has exactly payload, payloadType and signatures");
  }
  if (env.payloadType !== PAYLOAD_TYPE) throw new EnvelopeError("unknown payloadType", "payload-type-unknown");
  let payload;
  try {
    payload = b64decode(env.payload);
  } catch {
    throw new EnvelopeError("payload is not canonical base64");
  }
  const sigs = env.signatures;
  if (!Array.isArray(sigs) || sigs.length < 1 || sigs.length > 8) {
    throw new EnvelopeError("an envelope carries 1 to 8 signatures");
  }
  const seen = new Set();
  const signatures = sigs.map((s) => {
    if (!exactKeys(s, ["keyid", "sig"]) || typeof s.keyid !== "string" || !HEX64.test(s.keyid)) {
      throw new EnvelopeError("each signature is {keyid: 64 hex, sig: base64}");
    }
    if (seen.has(s.keyid)) throw new EnvelopeError("two signatures by one key");
    seen.add(s.keyid);
    let sig;
    try {
      sig = b64decode(s.sig);
    } catch {
      throw new EnvelopeError("sig is not canonical base64");
    }
    return { keyid: s.keyid, sig };
  });
  // Every value is now base64, hex or the fixed type: printable ASCII needing no escape,
  // so the canonical form (members sorted, no whitespace) is written directly.
  const sigs_ = sigs.map((x) => `{"keyid":"${x.keyid}","sig":"${x.sig}"}`).join(",");
  const canonical = utf8(`{"payload":"${env.payload}","payloadType":"${PAYLOAD_TYPE}","signatures":[${sigs_}]}`);
  return { payload, signatures, canonical };
}

const subtle = globalThis.crypto.subtle;
const imported = new WeakMap();

/** A WebCrypto Ed25519 public key for 32 raw bytes (imported once per byte array). */
export function importEd25519(raw) {
  let key = imported.get(raw);
  if (!key) {
    key = subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    imported.set(raw, key);
  }
  return key;
}

/** Whether sig (64 bytes) is raw's Ed25519 signature of message. Never throws. */
export async function verifyEd25519(raw, sig, message) {
  if (raw.length !== 32 || sig.length !== 64) return false;
  try {
    return await subtle.verify({ name: "Ed25519" }, await importEd25519(raw), sig, message);
  } catch {
    return false;
  }
}
