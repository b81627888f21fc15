// Canonical JSON (docs/PROTOCOL.md Part I §1.1): RFC 8785 (JCS) restricted to integers
// within ±(2^53 − 1), strings in NFC without lone surrogates or U+0000, no duplicate
// member names, nesting at most 32 levels. Signed bytes are never re-encoded: a verifier
// parses them, encodes the value again and requires the same bytes.

import { equalBytes, fromUtf8, utf8 } from "./b64.js";

export const MAX_DEPTH = 32;

export class CanonicalError extends Error {
  constructor(message, code = "payload-not-canonical") {
    super(message);
    this.code = code;
  }
}

const SHORT = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\" };
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/g;

// Printable ASCII without `"` or `\\`: written as itself, and NFC by construction.
const PLAIN = /^[\u0020\u0021\u0023-\u005b\u005d-\u007e]*$/;

function str(s) {
  if (PLAIN.test(s)) return '"' + s + '"';
  if (s.includes("\u0000")) throw new CanonicalError("string holds U+0000");
  if (!s.isWellFormed()) throw new CanonicalError("string holds a lone surrogate");
  if (s.normalize("NFC") !== s) throw new CanonicalError("string is not in Unicode NFC");
  return '"' + s.replace(NEEDS_ESCAPE, (c) => SHORT[c] ?? "\\u00" + c.charCodeAt(0).toString(16).padStart(2, "0")) + '"';
}

function write(v, depth) {
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new CanonicalError(`number ${v} is not an integer within ±(2^53 − 1)`);
    return Object.is(v, -0) ? "0" : String(v);
  }
  if (typeof v === "string") return str(v);
  if (depth >= MAX_DEPTH) throw new CanonicalError(`nested deeper than ${MAX_DEPTH} levels`, "json-too-deep");
  if (Array.isArray(v)) return "[" + v.map((x) => write(x, depth + 1)).join(",") + "]";
  if (typeof v === "object") {
    const keys = Object.keys(v).sort(); // default sort: UTF-16 code units, as JCS wants
    return "{" + keys.map((k) => str(k) + ":" + write(v[k], depth + 1)).join(",") + "}";
  }
  throw new CanonicalError(`value of type ${typeof v} has no JSON form`);
}

/** The canonical text of a JSON value. */
export function canonicalString(value) { return write(value, 0); }

/** The canonical UTF-8 bytes of a JSON value. */
export function canonicalBytes(value) { return utf8(write(value, 0)); }

/** How deep brackets nest in JSON text (those inside strings ignored). */
export function jsonDepth(text) {
  let depth = 0, deepest = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) { depth++; if (depth > deepest) deepest = depth; }
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Parse bytes that must be the canonical JSON of what they hold; the value. */
export function parseCanonical(bytes) {
  let text;
  try {
    text = fromUtf8(bytes);
  } catch {
    throw new CanonicalError("payload is not UTF-8");
  }
  if (jsonDepth(text) > MAX_DEPTH) throw new CanonicalError(`nested deeper than ${MAX_DEPTH} levels`, "json-too-deep");
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CanonicalError("payload is not JSON");
  }
  if (!equalBytes(canonicalBytes(value), bytes)) {
    throw new CanonicalError("payload bytes are not the canonical JSON of their value");
  }
  return value;
}
