// The workspace's key module: the PEM it writes is the one `ledger keygen` writes, it
// reads such files back, and it refuses every other key file with its own message.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";

import { generateKey, importPem, KeyFileError, keyIdOf, pemFromSeed, signBytes } from "../../api/web/static/js/sign/keys.js";
import { verifyEd25519 } from "../../api/web/static/js/verify/dsse.js";

// What Python's cryptography writes for the all-zero seed (ledger/keys.py save_private_key).
const ZERO_PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n";
const ZERO_KEY_ID = "139e3940e64b5491722088d9a0d741628fc826e09475d341a780acde3c4b8070";

test("the PEM of a seed is byte for byte what ledger keygen writes", () => {
  assert.equal(pemFromSeed(new Uint8Array(32)), ZERO_PEM);
});

test("a key read from a PEM has the key id the Python computes, and signs", async () => {
  const k = await importPem(ZERO_PEM);
  assert.equal(k.keyId, ZERO_KEY_ID);
  assert.equal(keyIdOf(k.publicKey), ZERO_KEY_ID);
  assert.equal(k.privateKey.extractable, false);
  assert.equal(k.pem, ZERO_PEM);
  const msg = new TextEncoder().encode("bonjour");
  assert.ok(await verifyEd25519(k.publicKey, await signBytes(k, msg), msg));
});

test("a generated key exports a PEM that reads back as the same key", async () => {
  const k = await generateKey();
  assert.match(k.pem, /^-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI[A-Za-z0-9+/]{43}\n-----END PRIVATE KEY-----\n$/);
  assert.equal(k.privateKey.extractable, false);
  const again = await importPem(k.pem);
  assert.equal(again.keyId, k.keyId);
  // CRLF line ends and surrounding text do not matter.
  assert.equal((await importPem("clé de l'organisme\r\n" + k.pem.replace(/\n/g, "\r\n"))).keyId, k.keyId);
});

async function refused(text) {
  try {
    await importPem(text);
  } catch (e) {
    assert.ok(e instanceof KeyFileError, `${e}`);
    assert.ok(e.message_fr && e.message_en);
    return e.code;
  }
  assert.fail("the key file was accepted");
}

test("every key file that is not an Ed25519 PKCS#8 PEM gets its own message", async () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const x25519 = generateKeyPairSync("x25519");
  const ed = generateKeyPairSync("ed25519");
  assert.equal(await refused(rsa.privateKey.export({ type: "pkcs8", format: "pem" })), "rsa");
  assert.equal(await refused(rsa.privateKey.export({ type: "pkcs1", format: "pem" })), "rsa");
  assert.equal(await refused(ec.privateKey.export({ type: "pkcs8", format: "pem" })), "ec");
  assert.equal(await refused(ec.privateKey.export({ type: "sec1", format: "pem" })), "ec");
  assert.equal(await refused(x25519.privateKey.export({ type: "pkcs8", format: "pem" })), "other-algorithm");
  assert.equal(await refused(ed.publicKey.export({ type: "spki", format: "pem" })), "public-key");
  assert.equal(await refused(ed.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" })), "encrypted");
  assert.equal(await refused("ceci n'est pas une clé"), "not-pem");
  assert.equal(await refused(""), "not-pem");
  assert.equal(await refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB user@host"), "not-pem");
  assert.equal(await refused(ZERO_PEM.slice(0, 60)), "truncated");
  assert.equal(await refused(ZERO_PEM.replace("MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAA")), "truncated");
  assert.equal(await refused(ZERO_PEM.replace("MC4C", "M!4C")), "truncated");
  // A key Node writes in PKCS#8 is read (the seed is the same, the PEM normalized).
  const k = await importPem(ed.privateKey.export({ type: "pkcs8", format: "pem" }));
  assert.equal(k.keyId.length, 64);
});
