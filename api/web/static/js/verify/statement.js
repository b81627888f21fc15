// Statements (docs/PROTOCOL.md Part I §1): the members and forms a signed payload must
// have, and the event hash that chains a stream.

import { toHex } from "./b64.js";
import { parseCanonical } from "./canonical.js";
import { sha256 } from "./sha256.js";

export class StatementError extends Error {
  constructor(message, code = "statement-malformed") {
    super(message);
    this.code = code;
  }
}

const MEMBERS = ["actor", "data", "issued_at", "key", "ledger", "prev", "stream", "type", "version"];
const PATTERNS = {
  stream: /^[a-z][a-z0-9-]{0,31}\/[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
  type: /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/,
  actor: /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/,
  key: /^[0-9a-f]{64}$/,
};
const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?Z$/;
const HEX64 = /^[0-9a-f]{64}$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function realTime(text) {
  const m = TIME.exec(text);
  if (!m) return false;
  const y = +m[1], mo = +m[2], d = +m[3];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = mo === 2 && leap ? 29 : DAYS[mo - 1];
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= days && +m[4] < 24 && +m[5] < 60 && +m[6] < 60;
}

/** Parse canonical payload bytes into a statement object; throws with a code. */
export function parseStatement(payload) {
  const st = parseCanonical(payload);
  if (st === null || typeof st !== "object" || Array.isArray(st)) {
    throw new StatementError("a statement is a JSON object");
  }
  const keys = Object.keys(st).sort();
  if (keys.length !== MEMBERS.length || !keys.every((k, i) => k === MEMBERS[i])) {
    throw new StatementError(`a statement has exactly the members ${MEMBERS.join(", ")}`);
  }
  for (const [name, re] of Object.entries(PATTERNS)) {
    if (typeof st[name] !== "string" || !re.test(st[name])) {
      throw new StatementError(`${name} does not have its form`);
    }
  }
  if (typeof st.ledger !== "string" || !st.ledger || st.ledger.length > 255) {
    throw new StatementError("ledger must be a non-empty origin");
  }
  if (!Number.isSafeInteger(st.version) || st.version < 1) throw new StatementError("version must be ≥ 1");
  if (st.version === 1 ? st.prev !== null : typeof st.prev !== "string" || !HEX64.test(st.prev)) {
    throw new StatementError("prev must be null at version 1, an event hash after");
  }
  if (st.data === null || typeof st.data !== "object" || Array.isArray(st.data)) {
    throw new StatementError("data must be an object");
  }
  if (typeof st.issued_at !== "string" || !realTime(st.issued_at)) {
    throw new StatementError("issued_at is not a UTC time");
  }
  return st;
}

/** Event hash: hex SHA-256 of the exact payload bytes. */
export function eventHash(payload) { return toHex(sha256(payload)); }
