// Trust on first use, kept in the browser: the log's key (vkey) pinned the first time a
// ledger is verified, and the last checkpoint seen, so that the next visit proves the
// log only grew (a consistency proof) rather than trusting it again.
// Storage is anything with getItem/setItem (localStorage by default; a Map-backed one
// where there is none, e.g. Node or a file opened from disk with storage disabled).

const PREFIX = "mutualisation-ledger.verify.";

export function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

function defaultStorage() {
  try {
    const s = globalThis.localStorage;
    if (s) { s.getItem(PREFIX + "probe"); return s; }
  } catch { /* storage refused (privacy settings, file://) */ }
  return memoryStorage();
}

/**
 * A pin store for one scope (a ledger's base URL, or a bundle's origin).
 * check(vkey) -> "pinned-now" | "matches" | "changed" (a changed key is never stored
 * over the pinned one: forget() is the user's explicit decision).
 */
export function createPin(storage = defaultStorage()) {
  return {
    storage,
    pinned(scope) { return storage.getItem(PREFIX + "key:" + scope); },
    check(scope, vkey) {
      const have = storage.getItem(PREFIX + "key:" + scope);
      if (have === null) { storage.setItem(PREFIX + "key:" + scope, vkey); return "pinned-now"; }
      return have === vkey ? "matches" : "changed";
    },
    forget(scope) {
      storage.removeItem(PREFIX + "key:" + scope);
      storage.removeItem(PREFIX + "checkpoint:" + scope);
    },
    /** The last verified checkpoint {size: BigInt, root: base64} seen for scope, or null. */
    lastCheckpoint(scope) {
      const raw = storage.getItem(PREFIX + "checkpoint:" + scope);
      if (raw === null) return null;
      try {
        const v = JSON.parse(raw);
        return { size: BigInt(v.size), root: v.root };
      } catch { return null; }
    },
    saveCheckpoint(scope, size, rootB64) {
      storage.setItem(PREFIX + "checkpoint:" + scope, JSON.stringify({ size: String(size), root: rootB64 }));
    },
  };
}
