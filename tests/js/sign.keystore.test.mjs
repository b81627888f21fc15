// The key kept in the browser: non-extractable, loaded back to sign, forgotten on demand.
// IndexedDB is played by a small in-memory stand-in with its callback protocol
// (open/onupgradeneeded/onsuccess, object store put/get/delete/getAllKeys), values kept
// by structured clone as a browser keeps them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { generateKey, importPem, openKeyStore, pemFromSeed, signBytes } from "../../api/web/static/js/sign/keys.js";
import { verifyEd25519 } from "../../api/web/static/js/verify/dsse.js";

function memoryIndexedDB() {
  const dbs = new Map();
  const later = (r, fn) => queueMicrotask(() => {
    try { r.result = fn(); r.onsuccess?.(); } catch (e) { r.error = e; r.onerror?.(); }
  });
  const request = (fn) => { const r = {}; later(r, fn); return r; };
  return {
    open(name) {
      const r = {};
      queueMicrotask(() => {
        const fresh = !dbs.has(name);
        if (fresh) dbs.set(name, new Map());
        const stores = dbs.get(name);
        r.result = {
          createObjectStore(n) { stores.set(n, new Map()); },
          transaction(n) {
            const m = stores.get(n);
            return { objectStore: () => ({
              put: (v, k) => request(() => { m.set(k, structuredClone(v)); return k; }),
              get: (k) => request(() => m.get(k)),
              delete: (k) => request(() => { m.delete(k); }),
              getAllKeys: () => request(() => [...m.keys()]),
            }) };
          },
        };
        if (fresh) r.onupgradeneeded?.();
        r.onsuccess?.();
      });
      return r;
    },
  };
}

test("a kept key signs after loading, cannot be read, and is forgotten", async () => {
  const store = openKeyStore(memoryIndexedDB());
  const k = await generateKey();
  await store.save("centre-a", k);
  assert.deepEqual(await store.names(), ["centre-a"]);
  const loaded = await store.load("centre-a");
  assert.equal(loaded.keyId, k.keyId);
  assert.equal(loaded.privateKey.extractable, false);
  await assert.rejects(globalThis.crypto.subtle.exportKey("pkcs8", loaded.privateKey));
  const msg = new TextEncoder().encode("ratifier");
  assert.ok(await verifyEd25519(loaded.publicKey, await signBytes(loaded, msg), msg));
  assert.equal("pem" in loaded, false); // the PEM is not kept
  await store.forget("centre-a");
  assert.equal(await store.load("centre-a"), null);
  assert.deepEqual(await store.names(), []);
});

test("an extractable key is not kept", async () => {
  const store = openKeyStore(memoryIndexedDB());
  const k = await importPem(pemFromSeed(new Uint8Array(32).fill(3)));
  const extractable = await globalThis.crypto.subtle.importKey("pkcs8",
    (await import("node:crypto")).createPrivateKey(k.pem).export({ type: "pkcs8", format: "der" }), { name: "Ed25519" }, true, ["sign"]);
  await assert.rejects(store.save("centre-b", { ...k, privateKey: extractable }), /non-extractable/);
});
