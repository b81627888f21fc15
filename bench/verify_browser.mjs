// The standalone verifier in a real browser: verify.html opened from disk (file://) in
// headless Chromium verifies an agreement of EVENTS events that a local HTTP server
// answers (the JavaScript ledger of tests/js, with CORS, as the register's read routes
// answer other origins). Prints the page's sentence and the time the page measured,
// from the first request to the sentence (the network is the loopback). Chromium is
// driven over its DevTools protocol, so the page's clock is the real one.
//   node --experimental-websocket bench/verify_browser.mjs [EVENTS] [CHROMIUM]
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { agreementLedger } from "../tests/js/fakeledger.mjs";

const events = Number(process.argv[2] || 1000);
const chromium = process.argv[3] || "chromium";
const page = join(fileURLToPath(new URL("..", import.meta.url)), "api", "web", "static", "verify.html");

const { ledger, id } = await agreementLedger({ extra: events - 6 });
const answer = ledger.fetcher({ needToken: false });
const cache = new Map(); // the ledger's answers, made once: the browser's work is timed
const server = createServer(async (req, res) => {
  if (!cache.has(req.url)) {
    const r = await answer(`http://ledger.test${req.url}`, { headers: {} });
    cache.set(req.url, [r.status, await r.text()]);
  }
  const [status, body] = cache.get(req.url);
  res.writeHead(status, { "content-type": "application/json", "access-control-allow-origin": "*" });
  res.end(body);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${server.address().port}`;
const url = `file://${page}?base=${encodeURIComponent(base)}&agreement=${id}&run=1`;

const profile = mkdtempSync(join(tmpdir(), "verify-browser-"));
const browser = spawn(chromium, ["--headless=new", "--no-sandbox", "--disable-gpu",
  "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank"], { stdio: ["ignore", "ignore", "pipe"] });
const wsUrl = await new Promise((ok, fail) => {
  let err = "";
  browser.stderr.on("data", (d) => {
    err += d;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
    if (m) ok(m[1]);
  });
  browser.on("exit", () => fail(new Error(err)));
});
const port = new URL(wsUrl).port;
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const ws = new WebSocket(targets.find((t) => t.type === "page").webSocketDebuggerUrl);
await new Promise((ok) => ws.addEventListener("open", ok));
let next = 0;
const pending = new Map();
ws.addEventListener("message", (m) => {
  const msg = JSON.parse(m.data);
  if (pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
});
const send = (method, params = {}) => new Promise((ok) => { const i = ++next; pending.set(i, ok); ws.send(JSON.stringify({ id: i, method, params })); });
const read = async () => (await send("Runtime.evaluate", { expression: "document.getElementById('details').textContent", returnByValue: true })).result.result.value;

const runs = [];
let result;
try {
  for (let i = 0; i < 5; i++) {
    await send("Page.navigate", { url: `${url}&round=${i}` });
    const deadline = Date.now() + 60000;
    let text = "";
    while (!text && Date.now() < deadline) {
      await new Promise((ok) => setTimeout(ok, 50));
      text = await read().catch(() => "");
    }
    result = JSON.parse(text);
    if (!result.ok) throw new Error(JSON.stringify(result.failure));
    runs.push(result.elapsed_ms);
  }
} finally {
  ws.close();
  browser.kill();
  server.close();
  await new Promise((ok) => setTimeout(ok, 300));
  rmSync(profile, { recursive: true, force: true });
}
const sorted = [...runs].sort((a, b) => a - b);
console.log(JSON.stringify({ events, counts: result.counts, browser_ms: runs, median_ms: sorted[2] }));
