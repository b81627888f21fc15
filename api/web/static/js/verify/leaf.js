// Leaf bytes of a log entry (docs/PROTOCOL.md Part I §6):
// u64be(position) ‖ u64be(recorded_at_us) ‖ canonical envelope; leaf hash SHA-256(0x00 ‖ leaf).

import { concat } from "./b64.js";
import { sha256 } from "./sha256.js";

export function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

export function leafBytes(position, recordedAtUs, envelopeCanonical) {
  return concat(u64be(position), u64be(recordedAtUs), envelopeCanonical);
}

const ZERO = new Uint8Array([0]);

/** SHA-256(0x00 ‖ leaf), without building the leaf. */
export function leafHash(position, recordedAtUs, envelopeCanonical) {
  const header = new Uint8Array(16);
  const view = new DataView(header.buffer);
  view.setBigUint64(0, BigInt(position));
  view.setBigUint64(8, BigInt(recordedAtUs));
  return sha256(ZERO, header, envelopeCanonical);
}

/** Read a leaf's header: {position, recordedAtUs, envelope: bytes}; numbers are safe integers. */
export function readLeaf(leaf) {
  if (leaf.length < 16) throw new Error("a leaf is at least 16 bytes");
  const view = new DataView(leaf.buffer, leaf.byteOffset, leaf.byteLength);
  const position = view.getBigUint64(0), recorded = view.getBigUint64(8);
  if (position > BigInt(Number.MAX_SAFE_INTEGER) || recorded > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error("leaf header out of range");
  }
  return { position: Number(position), recordedAtUs: Number(recorded), envelope: leaf.subarray(16) };
}

const RFC3339_US = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)$/;

/**
 * recorded_at_us from the API's `recorded_at` (RFC 3339 UTC with up to six fractional
 * digits): exact, since both sides are integers of microseconds.
 */
export function microsFromRecordedAt(text) {
  const m = RFC3339_US.exec(text);
  if (!m) throw new Error(`recorded_at ${JSON.stringify(text)} is not RFC 3339 UTC`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const frac = Number((m[7] || "").padEnd(6, "0"));
  return Date.UTC(y, mo - 1, d, h, mi, s) * 1000 + frac;
}
