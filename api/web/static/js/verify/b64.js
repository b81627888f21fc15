// Bytes and their spellings: strict canonical base64 (RFC 4648 §4, padded, as
// docs/PROTOCOL.md requires: one spelling per value), lower-case hex, UTF-8.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export class EncodingError extends Error {}

/** Standard padded base64 of a Uint8Array. */
export function b64encode(bytes) {
  if (bytes.length > 3072) {
    const parts = [];
    for (let i = 0; i < bytes.length; i += 3072) parts.push(b64encode(bytes.subarray(i, i + 3072)));
    return parts.join("");
  }
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + "=";
  }
  return out;
}

// Before "==" four bits are spare, before "=" two: canonical base64 leaves them zero.
const ZERO_LOW4 = "AQgw";
const ZERO_LOW2 = "AEIMQUYcgkosw048";

/** Decode canonical base64 only; throws EncodingError for any other spelling. */
export function b64decode(text) {
  if (typeof text !== "string" || text.length % 4 !== 0) {
    throw new EncodingError("not canonical standard base64");
  }
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  if ((pad === 2 && !ZERO_LOW4.includes(text[text.length - 3]))
      || (pad === 1 && !ZERO_LOW2.includes(text[text.length - 2]))) {
    throw new EncodingError("base64 is not in canonical padded form");
  }
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  const full = text.length - (pad ? 4 : 0);
  let o = 0, bad = 0;
  for (let i = 0; i < full; i += 4) {
    const a = VALUE[text.charCodeAt(i) & 127] | (text.charCodeAt(i) & ~127);
    const b = VALUE[text.charCodeAt(i + 1) & 127] | (text.charCodeAt(i + 1) & ~127);
    const c = VALUE[text.charCodeAt(i + 2) & 127] | (text.charCodeAt(i + 2) & ~127);
    const d = VALUE[text.charCodeAt(i + 3) & 127] | (text.charCodeAt(i + 3) & ~127);
    bad |= a | b | c | d;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16; out[o++] = (n >> 8) & 0xff; out[o++] = n & 0xff;
  }
  if (pad) {
    const i = full;
    const a = VALUE[text.charCodeAt(i) & 127] | (text.charCodeAt(i) & ~127);
    const b = VALUE[text.charCodeAt(i + 1) & 127] | (text.charCodeAt(i + 1) & ~127);
    const c = pad === 2 ? 0 : VALUE[text.charCodeAt(i + 2) & 127] | (text.charCodeAt(i + 2) & ~127);
    bad |= a | b | c;
    const n = (a << 18) | (b << 12) | (c << 6);
    out[o++] = n >> 16;
    if (pad === 1) out[o++] = (n >> 8) & 0xff;
  }
  // A character outside the alphabet reads as -1, or carries bits above 127: refused.
  if (bad < 0 || bad > 63) throw new EncodingError("not canonical standard base64");
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

export function fromHex(text) {
  if (typeof text !== "string" || !/^(?:[0-9a-f]{2})*$/.test(text)) {
    throw new EncodingError("not lower-case hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function utf8(text) { return encoder.encode(text); }

/** Strict UTF-8 decoding: throws EncodingError on invalid bytes. */
export function fromUtf8(bytes) {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new EncodingError("not valid UTF-8");
  }
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
