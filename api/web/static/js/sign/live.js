// Following the log live (GET /v1/stream, docs/API.md §1 and api/controllers/stream.py):
// Server-Sent Events read with fetch, so the organization's token goes in the
// Authorization header (EventSource cannot send it), resumed with Last-Event-ID after a
// drop, with a bounded backoff between attempts.
//
// Entry points:
//
//   class SseParser        push(text) -> [{id, event, data}] for each complete event
//   backoff(attempt)       -> ms to wait before attempt n (0, 1, …): 500 ms doubling, at most 15 s
//   follow({baseUrl, token, agreement, fetch, onEntry, onOpen, onStop, signal, wait})
//     -> Promise that ends when `signal` aborts or the server refuses the request for
//        good (400, 401: onStop(status)); a 403 or 404 (an agreement not drafted or not
//        readable yet) is asked again after the backoff. Each (re)connection calls
//        onOpen(), each entry onEntry(entry, id).

export class SseParser {
  constructor() { this.buffer = ""; this.event = {}; }

  /** Feed text as it arrives; answer the events it completes (comments are dropped). */
  push(text) {
    this.buffer += text;
    const out = [];
    let nl;
    while ((nl = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const width = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      if (this.buffer[nl] === "\r" && width === 1 && nl === this.buffer.length - 1) break; // a lone \r may be half of \r\n
      this.buffer = this.buffer.slice(nl + width);
      if (line === "") {
        if (this.event.data !== undefined) {
          out.push({ id: this.event.id, event: this.event.event || "message", data: this.event.data });
        }
        this.event = {};
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.event.data = this.event.data === undefined ? value : `${this.event.data}\n${value}`;
      else if (field === "id" || field === "event") this.event[field] = value;
    }
    return out;
  }
}

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 15000;

export function backoff(attempt) {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal && signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
});

// A bad request or a token refused ends the following; an agreement not drafted yet (404)
// or not readable yet (403: the organization is not invited yet) is asked again later.
const FINAL = new Set([400, 401]);

export async function follow({ baseUrl = "", token, agreement, fetch: fetchImpl = globalThis.fetch, onEntry, onOpen, onStop,
  signal, wait = sleep }) {
  let last = null;
  let attempt = 0;
  while (!(signal && signal.aborted)) {
    const headers = { Accept: "text/event-stream" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (last !== null) headers["Last-Event-ID"] = last;
    const query = agreement ? `?agreement=${encodeURIComponent(agreement)}` : "";
    try {
      const r = await fetchImpl(`${baseUrl}/v1/stream${query}`, { headers, signal, cache: "no-store" });
      if (FINAL.has(r.status)) { if (onStop) onStop(r.status); return; }
      if (r.ok && r.body) {
        if (onOpen) onOpen();
        const reader = r.body.getReader();
        const decoder = new TextDecoder();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
            if (ev.id !== undefined) last = ev.id;
            attempt = 0; // the connection worked: the next drop starts the backoff again
            if (ev.event === "entry" && onEntry) {
              let entry = null;
              try { entry = JSON.parse(ev.data); } catch { /* not an entry */ }
              if (entry) onEntry(entry, ev.id);
            }
          }
        }
      }
    } catch (e) {
      if (signal && signal.aborted) return;
    }
    if (signal && signal.aborted) return;
    await wait(backoff(attempt), signal);
    attempt += 1;
  }
}
