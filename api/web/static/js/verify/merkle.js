// RFC 9162 Merkle tree (docs/PROTOCOL.md Part II §1–4): leaf and node hashes, the root
// of a list of leaves, and verification of inclusion and consistency proofs, as
// transparency-dev/merkle verifies them. Index arithmetic uses BigInt: sizes reach 2^64.

import { equalBytes } from "./b64.js";
import { sha256 } from "./sha256.js";

const ZERO = new Uint8Array([0]);
const ONE = new Uint8Array([1]);

export const EMPTY_ROOT = sha256();

export function hashLeaf(data) { return sha256(ZERO, data); }
export function hashChildren(l, r) { return sha256(ONE, l, r); }

function bitlen(x) { let n = 0; while (x > 0n) { x >>= 1n; n++; } return n; }
function popcount(x) { let n = 0; while (x > 0n) { n += Number(x & 1n); x >>= 1n; } return n; }
function tz(x) { let n = 0; while ((x & 1n) === 0n) { x >>= 1n; n++; } return n; }
function isHash(h) { return h instanceof Uint8Array && h.length === 32; }

/** Whether proof shows leafHash at index in the tree of size whose root is root. */
export function verifyInclusion(index, size, leafHash, proof, root) {
  const m = BigInt(index), n = BigInt(size);
  if (m < 0n || m >= n || !isHash(leafHash) || !isHash(root)) return false;
  const inner = bitlen(m ^ (n - 1n));
  const border = popcount(m >> BigInt(inner));
  if (proof.length !== inner + border || !proof.every(isHash)) return false;
  let r = leafHash;
  for (let i = 0; i < inner; i++) {
    r = ((m >> BigInt(i)) & 1n) === 0n ? hashChildren(r, proof[i]) : hashChildren(proof[i], r);
  }
  for (let i = inner; i < proof.length; i++) r = hashChildren(proof[i], r);
  return equalBytes(r, root);
}

/** Whether proof shows the tree of size2 (root2) extends the tree of size1 (root1). */
export function verifyConsistency(size1, size2, root1, root2, proof) {
  const m = BigInt(size1), n = BigInt(size2);
  if (m < 0n || n < m || !isHash(root1) || !isHash(root2)) return false;
  if (m === n) return proof.length === 0 && equalBytes(root1, root2);
  if (m === 0n) return proof.length === 0 && equalBytes(root1, EMPTY_ROOT);
  if (proof.length === 0) return false;
  const shift = tz(m);
  const full = bitlen((m - 1n) ^ (n - 1n));
  const inner = full - shift;
  const border = popcount((m - 1n) >> BigInt(full));
  const start = m === 1n << BigInt(shift) ? 0 : 1;
  if (proof.length !== start + inner + border || !proof.every(isHash)) return false;
  const seed = start === 0 ? root1 : proof[0];
  const q = proof.slice(start);
  const mask = (m - 1n) >> BigInt(shift);
  let r1 = seed, r2 = seed;
  for (let i = 0; i < inner; i++) {
    if (((mask >> BigInt(i)) & 1n) === 1n) {
      r1 = hashChildren(q[i], r1);
      r2 = hashChildren(q[i], r2);
    } else {
      r2 = hashChildren(r2, q[i]);
    }
  }
  for (let i = inner; i < q.length; i++) {
    r1 = hashChildren(q[i], r1);
    r2 = hashChildren(q[i], r2);
  }
  return equalBytes(r1, root1) && equalBytes(r2, root2);
}

/**
 * A growing tree that keeps only its frontier (a compact range): push leaf hashes in
 * order, ask the root at the current size at any time.
 */
export class CompactRange {
  constructor() { this.size = 0; this.frontier = []; }

  push(leafHash) {
    let node = leafHash, n = this.size;
    while (n % 2 === 1) { node = hashChildren(this.frontier.pop(), node); n = Math.floor(n / 2); }
    this.frontier.push(node);
    this.size++;
  }

  root() {
    if (this.frontier.length === 0) return EMPTY_ROOT;
    let r = this.frontier[this.frontier.length - 1];
    for (let i = this.frontier.length - 2; i >= 0; i--) r = hashChildren(this.frontier[i], r);
    return r;
  }
}

/** MTH of a list of leaf hashes. */
export function rootOf(leafHashes) {
  const c = new CompactRange();
  for (const h of leafHashes) c.push(h);
  return c.root();
}
