// C2SP signed notes and tlog checkpoints with Ed25519 (docs/PROTOCOL.md Part II §5–7),
// as golang.org/x/mod/sumdb/note opens them, with the stricter rules of this ledger:
// canonical base64, exactly three body lines, and no verifier key that is not a
// canonical curve point or that has small order.

import { b64decode, b64encode, concat, equalBytes, fromUtf8, toHex, utf8 } from "./b64.js";
import { verifyEd25519 } from "./dsse.js";
import { sha256 } from "./sha256.js";

export class NoteError extends Error {
  constructor(message, code = "checkpoint-invalid") {
    super(message);
    this.code = code;
  }
}

const PREFIX = "\u2014 ";
const MAX_NOTE_BYTES = 1 << 20;
const MAX_SIGNATURES = 100;
const MAX_TREE_SIZE = (1n << 64n) - 1n;
// Unicode spaces as Python's str.isspace() tells them (the reference implementation).
// eslint-disable-next-line no-control-regex
const SPACE = /[\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_LF = /[\u0000-\u0009\u000b-\u001f]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f]/;

export function isValidKeyName(name) {
  return typeof name === "string" && name.length > 0 && !name.includes("+")
    && name.isWellFormed() && !SPACE.test(name) && !CONTROL.test(name);
}

// --- Ed25519 public key hygiene (RFC 8032 §5.1.3 decoding, then 8·A ≠ identity) ---
const P = (1n << 255n) - 19n;
function mod(a) { const r = a % P; return r < 0n ? r + P : r; }
function pow(b, e) {
  let r = 1n; b = mod(b);
  while (e > 0n) { if (e & 1n) r = (r * b) % P; b = (b * b) % P; e >>= 1n; }
  return r;
}
const inv = (x) => pow(x, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

function decodePoint(raw) {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(raw[i]);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) return null;
  const x2 = mod((y * y - 1n) * inv(D * y * y + 1n));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) {
    x = mod(x * SQRT_M1);
    if (mod(x * x - x2) !== 0n) return null;
  }
  if (x === 0n && sign === 1n) return null;
  if ((x & 1n) !== sign) x = P - x;
  return [x, y];
}

function double([x, y]) {
  const t = mod(D * x * x * y * y);
  return [mod(2n * x * y * inv(1n + t)), mod((y * y + x * x) * inv(1n - t))];
}

/** Throw unless raw is a canonical Ed25519 point of large order. */
export function checkPublicKey(raw) {
  if (raw.length !== 32) throw new NoteError("an Ed25519 public key is 32 bytes", "log-key-invalid");
  let pt = decodePoint(raw);
  if (!pt) throw new NoteError("the public key is not a canonically encoded curve point", "log-key-invalid");
  for (let i = 0; i < 3; i++) pt = double(pt);
  if (pt[0] === 0n && pt[1] === 1n) throw new NoteError("the public key is a small-order point", "log-key-invalid");
}

/** Key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[0:4]. */
export function noteKeyId(name, raw) {
  return sha256(utf8(name), new Uint8Array([0x0a, 0x01]), raw).subarray(0, 4);
}

/** Parse a vkey "name+hex8+base64(0x01 ‖ key)" into {name, keyId, publicKey, vkey}. */
export function parseVkey(vkey) {
  const bad = (msg) => new NoteError(`malformed vkey: ${msg}`, "log-key-invalid");
  if (typeof vkey !== "string") throw bad("not text");
  const i = vkey.indexOf("+"), j = i < 0 ? -1 : vkey.indexOf("+", i + 1);
  if (j < 0) throw bad("want <name>+<hex8 key ID>+<base64 key>");
  const name = vkey.slice(0, i), idText = vkey.slice(i + 1, j), keyText = vkey.slice(j + 1);
  if (!isValidKeyName(name)) throw bad("invalid key name");
  if (!/^[0-9a-f]{8}$/.test(idText)) throw bad("key ID is not 8 lower-case hex digits");
  let key;
  try {
    key = b64decode(keyText);
  } catch {
    throw bad("key is not canonical base64");
  }
  if (key.length === 0 || key[0] !== 0x01) throw bad("signature type is not Ed25519 (0x01)");
  const raw = key.subarray(1);
  if (raw.length !== 32) throw bad("Ed25519 public key is not 32 bytes");
  checkPublicKey(raw);
  const keyId = noteKeyId(name, raw);
  if (toHex(keyId) !== idText) throw bad("key ID does not match the key");
  return { name, keyId, publicKey: new Uint8Array(raw), vkey };
}

export function makeVkey(name, raw) {
  return `${name}+${toHex(noteKeyId(name, raw))}+${b64encode(concat(new Uint8Array([1]), raw))}`;
}

/** Parse a checkpoint body: {origin, size (BigInt), rootHash (32 bytes)}; strict. */
export function parseCheckpointBody(body) {
  const bad = (msg) => new NoteError(`checkpoint body: ${msg}`);
  let text = body;
  if (typeof body !== "string") {
    try { text = fromUtf8(body); } catch { throw bad("not UTF-8"); }
  }
  if (!text.isWellFormed()) throw bad("not UTF-8");
  if (CONTROL_BUT_LF.test(text)) throw bad("control character");
  if (!text.endsWith("\n")) throw bad("no final newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length !== 3) throw bad(`${lines.length} lines, want 3`);
  const [origin, sizeText, rootText] = lines;
  if (!origin) throw bad("empty origin");
  if (!/^(?:0|[1-9][0-9]*)$/.test(sizeText)) throw bad("size is not canonical decimal");
  const size = BigInt(sizeText);
  if (size > MAX_TREE_SIZE) throw bad("size exceeds 2^64 − 1");
  let rootHash;
  try { rootHash = b64decode(rootText); } catch { throw bad("root is not canonical base64"); }
  if (rootHash.length !== 32) throw bad("root is not 32 bytes");
  return { origin, size, rootHash };
}

/** Open a signed note against one verifier (from parseVkey); the signed text's bytes. */
export async function openNote(note, verifier) {
  const bad = (msg) => new NoteError(`malformed note: ${msg}`);
  const raw = typeof note === "string" ? utf8(note) : note;
  if (typeof note === "string" && !note.isWellFormed()) throw bad("not UTF-8");
  if (raw.length > MAX_NOTE_BYTES) throw bad("larger than 1 MiB");
  let msg;
  try { msg = typeof note === "string" ? note : fromUtf8(note); } catch { throw bad("not UTF-8"); }
  if (CONTROL_BUT_LF.test(msg)) throw bad("control character");
  const split = msg.lastIndexOf("\n\n");
  if (split < 0) throw bad("no blank line before the signatures");
  const text = msg.slice(0, split + 1), sigs = msg.slice(split + 2);
  if (!sigs) throw bad("no signature lines");
  if (!sigs.endsWith("\n")) throw bad("last signature line does not end with a newline");
  const lines = sigs.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw bad("too many signature lines");
  const textBytes = utf8(text);
  let verified = 0;
  for (const line of lines) {
    if (!line.startsWith(PREFIX)) throw bad("a signature line does not start with an em dash");
    const rest = line.slice(PREFIX.length);
    const sp = rest.indexOf(" ");
    const name = sp < 0 ? "" : rest.slice(0, sp);
    if (sp < 0 || !isValidKeyName(name)) throw bad("a signature line has no valid key name");
    let blob;
    try { blob = b64decode(rest.slice(sp + 1)); } catch { throw bad("a signature is not canonical base64"); }
    if (blob.length < 5) throw bad("a signature line is too short");
    if (name !== verifier.name || !equalBytes(blob.subarray(0, 4), verifier.keyId)) continue;
    if (!(await verifyEd25519(verifier.publicKey, blob.subarray(4), textBytes))) {
      throw new NoteError("the checkpoint's signature by the pinned log key does not verify", "checkpoint-invalid");
    }
    verified++;
  }
  if (verified === 0) throw new NoteError("the note has no signature by the pinned log key", "checkpoint-invalid");
  return textBytes;
}

/** Open a signed checkpoint: {origin, size (BigInt), rootHash, note}. */
export async function openCheckpoint(note, verifier) {
  const body = await openNote(note, verifier);
  const cp = parseCheckpointBody(body);
  if (cp.origin !== verifier.name) throw new NoteError("the checkpoint's origin is not the log key's name");
  return { ...cp, note };
}
