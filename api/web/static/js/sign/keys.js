// The organization's Ed25519 key in the browser: made here, read from a file, kept here.
// The private key never leaves this module except as the PEM file the user downloads
// (the same unencrypted PKCS#8 PEM `ledger keygen` writes, ledger/keys.py); no function
// here sends anything anywhere.
//
// Entry points:
//
//   generateKey()                   -> Promise<OrgKey & {pem}>  a new key (WebCrypto Ed25519)
//   importPem(text)                 -> Promise<OrgKey & {pem}>  a key file; KeyFileError
//                                      (code, message_fr, message_en) for anything not an
//                                      Ed25519 PKCS#8 PEM
//   pemFromSeed(seed32) / seedFromPkcs8(der)   the file's exact bytes <-> the 32-byte seed
//   keyIdOf(publicRaw)              -> hex SHA-256 of the raw public key (as the Python)
//   signBytes(orgKey, message)      -> Promise<Uint8Array(64)>
//   openKeyStore(indexedDB?)        -> {save(name, orgKey), load(name), forget(name), names()}
//                                      keeps a NON-extractable CryptoKey in IndexedDB
//
//   OrgKey = {privateKey: CryptoKey, publicKey: Uint8Array(32), keyId: hex}

import { b64decode, b64encode, concat, equalBytes, toHex } from "../verify/b64.js";
import { sha256 } from "../verify/sha256.js";

const subtle = globalThis.crypto.subtle;

// PKCS#8 PrivateKeyInfo of an Ed25519 key (RFC 8410 §7), the 48 bytes OpenSSL and
// Python's cryptography write: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 },
// OCTET STRING { OCTET STRING seed } }.
const ED25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const OID = {
  ed25519: [0x2b, 0x65, 0x70], x25519: [0x2b, 0x65, 0x6e], ed448: [0x2b, 0x65, 0x71],
  x448: [0x2b, 0x65, 0x6f],
  rsa: [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
  ec: [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
};

const MESSAGES = {
  "not-pem": [
    "Ce fichier n'est pas une clé au format PEM (il devrait commencer par « -----BEGIN PRIVATE KEY----- »).",
    "This file is not a PEM key (it should start with \"-----BEGIN PRIVATE KEY-----\").",
  ],
  "public-key": [
    "Ce fichier contient une clé publique ou un certificat, pas la clé privée de l'organisme.",
    "This file holds a public key or a certificate, not the organization's private key.",
  ],
  encrypted: [
    "Cette clé est chiffrée par un mot de passe ; le registre attend la clé non chiffrée que « ledger keygen » écrit.",
    "This key is encrypted with a password; the register expects the unencrypted key \"ledger keygen\" writes.",
  ],
  rsa: [
    "Ce fichier contient une clé RSA ; le registre n'accepte que les clés Ed25519 (« ledger keygen »).",
    "This file holds an RSA key; the register accepts Ed25519 keys only (\"ledger keygen\").",
  ],
  ec: [
    "Ce fichier contient une clé à courbe elliptique (ECDSA, p. ex. P-256) ; le registre n'accepte que les clés Ed25519.",
    "This file holds an elliptic-curve key (ECDSA, e.g. P-256); the register accepts Ed25519 keys only.",
  ],
  "other-algorithm": [
    "Ce fichier contient une clé d'un autre algorithme qu'Ed25519 ; le registre n'accepte que les clés Ed25519.",
    "This file holds a key of an algorithm other than Ed25519; the register accepts Ed25519 keys only.",
  ],
  "not-pkcs8": [
    "Ce fichier n'est pas une clé PKCS#8 (« BEGIN PRIVATE KEY ») ; convertissez-la ou créez-en une avec « ledger keygen ».",
    "This file is not a PKCS#8 key (\"BEGIN PRIVATE KEY\"); convert it or make one with \"ledger keygen\".",
  ],
  truncated: [
    "Ce fichier de clé est incomplet ou abîmé (son contenu ne se lit pas en entier).",
    "This key file is incomplete or damaged (its content does not read in full).",
  ],
};

/** A key file that is not an Ed25519 PKCS#8 PEM: code, message_fr, message_en. */
export class KeyFileError extends Error {
  constructor(code) {
    const [fr, en] = MESSAGES[code];
    super(en);
    this.code = code;
    this.message_fr = fr;
    this.message_en = en;
  }
}

/** Hex SHA-256 of the raw 32-byte public key: the key id (ledger/keys.py key_id). */
export function keyIdOf(publicRaw) { return toHex(sha256(publicRaw)); }

/** The PEM text `ledger keygen` writes for this 32-byte seed, byte for byte. */
export function pemFromSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError("an Ed25519 seed is 32 bytes");
  return pemOf(concat(ED25519_PKCS8_PREFIX, seed));
}

function pemOf(der) {
  const b64 = b64encode(der);
  const lines = b64.match(/.{1,64}/g).join("\n");
  return `-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`;
}

/** The 32-byte seed of a PKCS#8 Ed25519 key in its usual 48-byte form, or null. */
export function seedFromPkcs8(der) {
  if (der.length !== 48 || !equalBytes(der.subarray(0, 16), ED25519_PKCS8_PREFIX)) return null;
  return der.slice(16);
}

// --- reading a key file ----------------------------------------------------------------

/** One DER element at `at`: {tag, start (of content), end}; throws "truncated". */
function element(der, at) {
  if (at + 2 > der.length) throw new KeyFileError("truncated");
  const tag = der[at];
  let len = der[at + 1], start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3 || start + n > der.length) throw new KeyFileError("truncated");
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | der[start + i];
    start += n;
  }
  if (start + len > der.length) throw new KeyFileError("truncated");
  return { tag, start, end: start + len };
}

/** The algorithm a PKCS#8 PrivateKeyInfo names: "ed25519", "rsa", "ec", … */
function algorithmOf(der) {
  const top = element(der, 0);
  if (top.tag !== 0x30 || top.end !== der.length) throw new KeyFileError("truncated");
  const version = element(der, top.start);
  if (version.tag !== 0x02) throw new KeyFileError("not-pkcs8");
  const alg = element(der, version.end);
  if (alg.tag !== 0x30) throw new KeyFileError("not-pkcs8");
  const oid = element(der, alg.start);
  if (oid.tag !== 0x06) throw new KeyFileError("not-pkcs8");
  const bytes = der.subarray(oid.start, oid.end);
  for (const [name, want] of Object.entries(OID)) {
    if (equalBytes(bytes, new Uint8Array(want))) return name;
  }
  return "other";
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;

/** The DER bytes of the PEM's PRIVATE KEY block; KeyFileError for anything else. */
function derOfPem(text) {
  if (typeof text !== "string") throw new KeyFileError("not-pem");
  const m = PEM_BLOCK.exec(text);
  if (!m) throw new KeyFileError(/-----BEGIN [A-Z0-9 ]+-----/.test(text) ? "truncated" : "not-pem");
  const label = m[1];
  if (label === "ENCRYPTED PRIVATE KEY") throw new KeyFileError("encrypted");
  if (label === "RSA PRIVATE KEY") throw new KeyFileError("rsa");
  if (label === "EC PRIVATE KEY") throw new KeyFileError("ec");
  if (/PUBLIC KEY|CERTIFICATE/.test(label)) throw new KeyFileError("public-key");
  if (label !== "PRIVATE KEY") throw new KeyFileError("not-pkcs8");
  if (/Proc-Type:\s*4,ENCRYPTED/.test(m[2])) throw new KeyFileError("encrypted");
  const body = m[2].replace(/\s+/g, "");
  try {
    return b64decode(body);
  } catch {
    throw new KeyFileError("truncated");
  }
}

async function fromPkcs8(der) {
  let privateKey, jwk;
  try {
    const extractable = await subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
    jwk = await subtle.exportKey("jwk", extractable);
    privateKey = await subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
  } catch {
    throw new KeyFileError("truncated");
  }
  const publicKey = b64decode(jwk.x.replace(/-/g, "+").replace(/_/g, "/") + "=");
  const seed = b64decode(jwk.d.replace(/-/g, "+").replace(/_/g, "/") + "=");
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), pem: pemFromSeed(seed) };
}

/**
 * Read a key file's text. Answers the key (its CryptoKey not extractable) and the PEM
 * in the form `ledger keygen` writes; throws KeyFileError for an RSA, EC, encrypted,
 * public, truncated or non-PEM file.
 */
export async function importPem(text) {
  const der = derOfPem(text);
  const alg = algorithmOf(der);
  if (alg === "rsa") throw new KeyFileError("rsa");
  if (alg === "ec") throw new KeyFileError("ec");
  if (alg !== "ed25519") throw new KeyFileError("other-algorithm");
  return fromPkcs8(der);
}

/** A new Ed25519 key, made by the browser's WebCrypto; with its PEM for download. */
export async function generateKey() {
  const pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const der = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
  const seed = seedFromPkcs8(der);
  if (seed === null) throw new Error("WebCrypto exported an unexpected PKCS#8 form");
  return fromPkcs8(concat(ED25519_PKCS8_PREFIX, seed));
}

/** Ed25519 signature of `message` (Uint8Array) by the organization's key. */
export async function signBytes(orgKey, message) {
  return new Uint8Array(await subtle.sign({ name: "Ed25519" }, orgKey.privateKey, message));
}

// --- kept in the browser ---------------------------------------------------------------

const DB_NAME = "ledger-workspace-keys";
const STORE = "keys";

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/**
 * The keys kept in this browser, by a name the user chooses (the organization's id).
 * What is stored is the non-extractable CryptoKey (structured clone keeps it so):
 * a script of the page can sign with it but nobody can read its bytes back.
 * forget(name) deletes it.
 */
export function openKeyStore(idb = globalThis.indexedDB) {
  if (!idb) throw new Error("IndexedDB is not available in this browser");
  let db;
  const open = async () => {
    if (!db) {
      const r = idb.open(DB_NAME, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE);
      db = await request(r);
    }
    return db;
  };
  const tx = async (mode) => (await open()).transaction(STORE, mode).objectStore(STORE);
  return {
    async save(name, { privateKey, publicKey, keyId }) {
      if (privateKey.extractable) throw new Error("only a non-extractable key is kept in the browser");
      await request((await tx("readwrite")).put({ privateKey, publicKey, keyId }, name));
    },
    async load(name) { return (await request((await tx("readonly")).get(name))) || null; },
    async forget(name) { await request((await tx("readwrite")).delete(name)); },
    async names() { return request((await tx("readonly")).getAllKeys()); },
  };
}
