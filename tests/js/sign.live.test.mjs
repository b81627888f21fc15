// The workspace's live updates: the SSE parser, the bounded backoff, and follow()
// resuming with Last-Event-ID, stopping on a refusal or when aborted.
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoff, BACKOFF_MAX_MS, follow, SseParser } from "../../api/web/static/js/sign/live.js";

test("events split anywhere, comments dropped, multi-line data joined, CRLF read", () => {
  const p = new SseParser();
  const text = "retry: 1000\n\n: heartbeat\n\nid: 7\nevent: entry\ndata: {\"a\":\ndata: 1}\n\nid: 8\r\nevent: entry\r\ndata: {}\r\n\r\n";
  const out = [];
  for (const ch of text) out.push(...p.push(ch)); // one character at a time
  assert.deepEqual(out, [
    { id: "7", event: "entry", data: "{\"a\":\n1}" },
    { id: "8", event: "entry", data: "{}" },
  ]);
  assert.deepEqual(new SseParser().push("data: x\n"), []); // not complete before its blank line
});

test("the backoff doubles from 500 ms and never exceeds its bound", () => {
  assert.deepEqual([0, 1, 2, 3].map(backoff), [500, 1000, 2000, 4000]);
  assert.equal(backoff(10), BACKOFF_MAX_MS);
  assert.equal(backoff(1e6), BACKOFF_MAX_MS);
});

function body(chunks) {
  const enc = new TextEncoder();
  return new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(enc.encode(x)); c.close(); } });
}

test("follow reconnects after a drop with Last-Event-ID, waits the backoff, stops on 401", async () => {
  const calls = [];
  const answers = [
    () => new Response(body(["id: 3\nevent: entry\ndata: {\"index\":3}\n\n", ": heartbeat\n\n"]), { status: 200 }),
    () => { throw new TypeError("network down"); },
    () => new Response(body(["id: 4\nevent: entry\ndata: {\"index\":4}\n\n"]), { status: 200 }),
    () => new Response("{}", { status: 404 }), // not drafted yet: asked again
    () => new Response("{}", { status: 401 }),
  ];
  const entries = [], waits = [];
  let opened = 0, stopped = null;
  await follow({
    baseUrl: "http://ledger.test", token: "ml_x", agreement: "ent 1",
    fetch: async (url, init) => { calls.push({ url, headers: init.headers }); return answers[calls.length - 1](); },
    onEntry: (e, id) => entries.push([e.index, id]), onOpen: () => { opened += 1; },
    onStop: (s) => { stopped = s; }, wait: async (ms) => { waits.push(ms); },
  });
  assert.deepEqual(entries, [[3, "3"], [4, "4"]]);
  assert.equal(opened, 2);
  assert.equal(stopped, 401);
  assert.equal(calls[0].url, "http://ledger.test/v1/stream?agreement=ent%201");
  assert.equal(calls[0].headers.Authorization, "Bearer ml_x");
  assert.equal(calls[0].headers["Last-Event-ID"], undefined);
  assert.equal(calls[1].headers["Last-Event-ID"], "3");
  assert.equal(calls[3].headers["Last-Event-ID"], "4");
  assert.equal(calls.length, 5);
  // After a drop 500 ms; a failed attempt doubles it; an entry received resets it.
  assert.deepEqual(waits, [500, 1000, 500, 1000]);
});

test("follow ends when aborted, even while waiting", async () => {
  const ctl = new AbortController();
  let n = 0;
  const done = follow({
    fetch: async () => { n += 1; throw new TypeError("down"); }, signal: ctl.signal,
    wait: (ms, signal) => new Promise((r) => signal.addEventListener("abort", r, { once: true })),
  });
  await new Promise((r) => setTimeout(r, 10));
  ctl.abort();
  await done;
  assert.equal(n, 1);
});
