// Which key may sign at which log position (docs/PROTOCOL.md Part I §5), replayed from
// the organizations' own signed streams, never taken from a server's say-so:
// a registered key signs from its registration's position, an added key from the next
// position, a revoked key up to its revocation's position inclusive.

import { b64decode, toHex } from "./b64.js";
import { sha256 } from "./sha256.js";

export const REGISTERED = "organization.registered";
export const KEY_ADDED = "organization.key_added";
export const KEY_REVOKED = "organization.key_revoked";

export class KeyHistory {
  constructor() { this.keys = new Map(); } // key id -> {org, publicKey, validFrom, revokedAt}

  /** Apply what an org/ statement at `position` does to keys (call in position order). */
  apply(st, position) {
    if (!st.stream.startsWith("org/") || st.stream !== `org/${st.actor}`) return;
    const d = st.data;
    if (st.type === REGISTERED || st.type === KEY_ADDED) {
      let raw;
      try { raw = b64decode(d.public_key); } catch { return; }
      if (raw.length !== 32) return;
      const id = toHex(sha256(raw));
      if (st.type === REGISTERED && (st.version !== 1 || id !== st.key)) return;
      if (this.keys.has(id)) return; // a key is never registered twice: the first stands
      this.keys.set(id, {
        org: st.actor, publicKey: raw,
        validFrom: st.type === REGISTERED ? position : position + 1, revokedAt: null,
      });
    } else if (st.type === KEY_REVOKED) {
      const k = this.keys.get(d.key_id);
      if (k && k.org === st.actor && k.revokedAt === null) k.revokedAt = position;
    }
  }

  /**
   * The raw key `keyId` may sign with for `actor` at `position` (actor null: any org,
   * for co-signatures), or {code} saying why not.
   */
  keyAt(keyId, position, actor = null) {
    const k = this.keys.get(keyId);
    if (!k || position < k.validFrom) return { code: "key-unknown" };
    if (actor !== null && k.org !== actor) return { code: "key-wrong-organization" };
    if (k.revokedAt !== null && position > k.revokedAt) return { code: "key-revoked" };
    return { publicKey: k.publicKey, org: k.org };
  }
}
