// The pages' one script: the session's token, the in-browser verification, printing
// and the provenance form. The pages read without it; it only adds to them.
//
// The token stays in sessionStorage (this tab, until it closes) and is sent only to
// this ledger, as `Authorization: Bearer`: with one, the page asks the server for
// itself again and shows what the server answers that token (the same reading policy
// as the API), a refusal included.

const KEY = "ledger.token";
const VERIFY = "/static/js/verify/verify.js";

function token() {
  try { return sessionStorage.getItem(KEY) || ""; } catch { return ""; }
}

function setToken(value) {
  try {
    if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
  } catch { /* storage refused: the token is not kept */ }
}

function lang() { return document.body.dataset.lang || "fr"; }

function showTokenForm() {
  const form = document.getElementById("token-form");
  // The workspace asks for the organization's own token in its own form.
  if (!form || document.getElementById("workspace")) return;
  form.hidden = false;
  const active = token() !== "";
  form.querySelector(".token-active").hidden = !active;
  form.querySelector(".token-ask").hidden = active;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("token-input");
    const value = input.value.trim();
    input.value = "";
    if (!value) return;
    setToken(value);
    location.reload();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    setToken("");
    location.reload();
  });
}

// Ask the server for this page again with the token; put its answer in place.
// The workspace (/espace) keeps its own tokens and binds its own forms: not swapped.
async function withToken() {
  const t = token();
  if (!t || document.getElementById("workspace")) return;
  const res = await fetch(location.href, {
    headers: { Authorization: `Bearer ${t}`, Accept: "text/html" },
    credentials: "omit", cache: "no-store",
  });
  const html = await res.text();
  const doc = new DOMParser().parseFromString(html, "text/html");
  const main = doc.getElementById("main");
  if (!main) return;
  document.getElementById("main").replaceChildren(...Array.from(main.childNodes).map(
    (n) => document.importNode(n, true)));
  document.title = doc.title;
  document.body.dataset.status = String(res.status);
}

function message(el, key, error) {
  const text = (el.dataset[key] || "").replace("{error}", error || "");
  const p = document.createElement("p");
  p.textContent = text;
  el.replaceChildren(p);
}

async function verify() {
  const targets = document.querySelectorAll(
    ".verification[data-agreement], .verification[data-organization]");
  if (targets.length === 0) return;
  targets.forEach((el) => message(el, "msgPending"));
  let mod;
  try {
    mod = await import(VERIFY);
  } catch {
    targets.forEach((el) => message(el, "msgUnavailable"));
    return;
  }
  for (const el of targets) {
    try {
      // what the page shows (its stream's last version and event hash): the verified
      // stream must end there, or the page is not what was verified (stream-mismatch)
      const shown = el.dataset.version
        ? { version: Number(el.dataset.version), head_hash: el.dataset.headHash || undefined }
        : undefined;
      const common = {
        baseUrl: location.origin, token: token() || undefined, shown,
      };
      const result = el.dataset.agreement
        ? await mod.verifyAgreement({ ...common, agreementId: el.dataset.agreement })
        : await mod.verifyOrganization({ ...common, orgId: el.dataset.organization });
      mod.renderResult(el, result, lang());
    } catch (err) {
      message(el, "msgFailed", err && err.message ? err.message : String(err));
    }
  }
}

function printing() {
  document.querySelectorAll("[data-print]").forEach((b) =>
    b.addEventListener("click", () => window.print()));
}

function provenance() {
  const form = document.getElementById("provenance-form");
  if (!form) return;
  const out = document.getElementById("provenance-answer");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const kind = f.get("kind");
    const a = encodeURIComponent(String(f.get("agreement") || "").trim());
    const c = encodeURIComponent(String(f.get("commitment") || "").trim());
    const o = encodeURIComponent(String(f.get("organization") || "").trim());
    const path = kind === "organization" ? `/v1/provenance/organizations/${o}`
      : kind === "commitment" ? `/v1/provenance/agreements/${a}/commitments/${c}`
        : `/v1/provenance/agreements/${a}`;
    const headers = { Accept: "application/json" };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    const pre = document.createElement("pre");
    const head = document.createElement("p");
    try {
      const res = await fetch(path, { headers, credentials: "omit" });
      const body = await res.text();
      head.textContent = `${res.status} ${path}`;
      try { pre.textContent = JSON.stringify(JSON.parse(body), null, 2); } catch {
        pre.textContent = body;
      }
    } catch (err) {
      head.textContent = String(err);
    }
    out.replaceChildren(head, pre);
  });
}

async function main() {
  showTokenForm();
  try {
    await withToken();
  } finally {
    // bound after the swap: the page's own nodes may have been replaced
    printing();
    provenance();
    await verify();
  }
}

main();
