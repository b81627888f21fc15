// Signed notes, checkpoints and vkeys in JavaScript, held to tests/vectors/checkpoint/.
import assert from "node:assert/strict";
import { test } from "node:test";

import { b64encode, fromHex, toHex } from "../../api/web/static/js/verify/b64.js";
import { makeVkey, openCheckpoint, openNote, parseCheckpointBody, parseVkey } from "../../api/web/static/js/verify/note.js";
import { vector } from "./helpers.mjs";

test("vkeys.json: every case", () => {
  for (const c of vector("checkpoint/vkeys.json").cases) {
    if (c.wantErr) {
      assert.throws(() => parseVkey(c.vkey), undefined, c.desc);
    } else {
      const v = parseVkey(c.vkey);
      assert.equal(v.name, c.name, c.desc);
      assert.equal(toHex(v.keyId), c.keyId, c.desc);
      assert.equal(toHex(v.publicKey), c.publicKey, c.desc);
    }
  }
});

test("bodies.json: every case", () => {
  for (const c of vector("checkpoint/bodies.json").cases) {
    const body = c.bodyHex !== undefined ? fromHex(c.bodyHex) : c.body;
    if (c.wantErr) {
      assert.throws(() => parseCheckpointBody(body), undefined, c.desc);
    } else {
      const cp = parseCheckpointBody(body);
      assert.equal(cp.origin, c.origin, c.desc);
      assert.equal(Number(cp.size), c.size, c.desc); // JSON.parse rounds 2^64 − 1
      assert.equal(toHex(cp.rootHash), c.rootHash, c.desc);
    }
  }
});

test("notes.json: every case", async () => {
  const { cases } = vector("checkpoint/notes.json");
  for (const c of cases) {
    const note = c.noteHex !== undefined ? fromHex(c.noteHex) : c.note;
    let verifier;
    try {
      verifier = parseVkey(c.vkey);
    } catch (e) {
      assert.ok(c.wantErr, `${c.desc}: ${e.message}`);
      continue;
    }
    if (c.wantErr) {
      await assert.rejects(openCheckpoint(note, verifier), undefined, c.desc);
    } else {
      const cp = await openCheckpoint(note, verifier);
      assert.equal(cp.origin, c.origin, c.desc);
      assert.equal(Number(cp.size), c.size, c.desc); // JSON.parse rounds 2^64 − 1
      assert.equal(toHex(cp.rootHash), c.rootHash, c.desc);
    }
  }
});

test("checkpoint_kat.json: key IDs, vkeys and notes", async () => {
  for (const c of vector("checkpoint/checkpoint_kat.json").cases) {
    assert.equal(makeVkey(c.keyName, fromHex(c.publicKey)), c.vkey);
    const v = parseVkey(c.vkey);
    assert.equal(toHex(v.keyId), c.keyId);
    const cp = await openCheckpoint(c.note, v);
    assert.equal(cp.size, BigInt(c.size));
    assert.equal(toHex(cp.rootHash), c.rootHash);
    assert.equal(c.note.startsWith(c.body), true);
    assert.ok(c.note.includes(b64encode(fromHex(c.keyId + c.signature))));
  }
});

test("go_sumdb_note.json: the published Go vector", async () => {
  const g = vector("checkpoint/go_sumdb_note.json");
  const v = parseVkey(g.vkey);
  const text = await openNote(g.note, v);
  assert.equal(new TextDecoder().decode(text), g.text);
  // A line of another key is ignored; a note signed only by it is refused.
  const other = parseVkey(g.otherVkey);
  await assert.rejects(openNote(g.note, other));
});
