// The organization's workspace (/espace): the key and its rotation, the registration and
// every step of an agreement (docs/EVENTS.md), each built and signed here with the
// organization's own key (sign/*.js); what needs the organization's attention, kept live
// from the log's stream (sign/attention.js, sign/live.js).
//
// What this page keeps: the key as a non-extractable CryptoKey in IndexedDB (keys.js,
// "Oublier cette clé" erases it); the organization's id, its token, the registration
// token and the agreement's id in sessionStorage (this tab only). What it sends: the
// signed envelopes and those tokens, to this register only. Never the private key: the
// PEM of a new key becomes a download (a blob URL), nothing else.
//
// Each step's form first shows the statement in plain words and the exact JSON to be
// signed; "Signer et envoyer" signs it, posts it, checks the receipt and its inclusion
// in a signed checkpoint, or shows the refusal in the page's language with the field at
// fault marked aria-invalid.

import { verifiedHead } from "./sign/head.js";
import { generateKey, importPem, KeyFileError, openKeyStore } from "./sign/keys.js";
import { needs } from "./sign/attention.js";
import { follow } from "./sign/live.js";
import { sentence } from "./sign/words.js";
import { prepareAcknowledgement, prepareRatification } from "./sign/ratify.js";
import { prepareKeyAddition, prepareKeyRevocation } from "./sign/rotation.js";
import {
  agreementStream, buildStatement, describe, issuedAt, orgStream, registration, signedText,
  StatementInputError,
} from "./sign/statements.js";
import { createApi, NoLongerAllowed, signAndSubmit } from "./sign/submit.js";
import { parseVkey } from "./verify/note.js";

const root = document.getElementById("workspace");
const lang = document.body.dataset.lang === "en" ? "en" : "fr";
const $ = (id) => document.getElementById(id);

/** A message of the page's language (data-msg-* of #workspace), {name} filled in. */
function msg(name, fill = {}) {
  const key = "msg" + name.replace(/(^|-)(\w)/g, (_m, _d, c) => c.toUpperCase());
  return (root.dataset[key] || name).replace(/\{(\w+)\}/g, (_m, k) => String(fill[k] ?? ""));
}
const words = (o) => (lang === "en" ? o.message_en : o.message_fr) || o.message || String(o);

// --- the session: id and tokens in sessionStorage ---------------------------------------

const KEPT = { "ws-org": "ledger.ws.org", "ws-token": "ledger.ws.token",
  "ws-regtoken": "ledger.ws.regtoken", "ws-agreement": "ledger.ws.agreement" };

function keep() {
  for (const [id, key] of Object.entries(KEPT)) {
    const input = $(id);
    try { input.value = sessionStorage.getItem(key) || ""; } catch { /* storage refused */ }
    input.addEventListener("change", () => {
      try { sessionStorage.setItem(key, input.value.trim()); } catch { /* not kept */ }
    });
  }
}

const orgId = () => $("ws-org").value.trim();
const agreementId = () => $("ws-agreement").value.trim();
const api = () => createApi({ baseUrl: location.origin, token: $("ws-token").value.trim() || undefined });

let ledgerName;
async function ledger() {
  if (!ledgerName) ledgerName = parseVkey((await api().text("/v1/log/key")).trim()).name;
  return ledgerName;
}

// --- the key ----------------------------------------------------------------------------

let orgKey = null;
let store = null;
let downloadUrl = null;
try { store = openKeyStore(); } catch { /* no IndexedDB: the key lives as long as the page */ }

function showKey() {
  $("ws-key-status").textContent = orgKey ? msg("key-ready", { key: orgKey.keyId }) : msg("key-none");
}

async function useKey(k) {
  orgKey = { privateKey: k.privateKey, publicKey: k.publicKey, keyId: k.keyId };
  $("ws-key-error").textContent = "";
  $("ws-key-file").removeAttribute("aria-invalid");
  if (store && orgId()) await store.save(orgId(), orgKey).catch(() => {});
  showKey();
}

function bindKey() {
  $("ws-key-generate").addEventListener("click", async () => {
    const k = await generateKey();
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(new Blob([k.pem], { type: "application/x-pem-file" }));
    const a = $("ws-key-download");
    a.href = downloadUrl;
    a.download = `${orgId() || "organisme"}.pem`;
    a.hidden = false;
    await useKey(k);
  });
  $("ws-key-file").addEventListener("change", async (ev) => {
    const input = ev.target;
    const file = input.files && input.files[0];
    if (!file) return;
    try {
      await useKey(await importPem(await file.text()));
    } catch (e) {
      const known = e instanceof KeyFileError;
      $("ws-key-error").textContent = known ? words(e) : String(e);
      input.setAttribute("aria-invalid", "true");
    } finally {
      input.value = "";
    }
  });
  $("ws-key-forget").addEventListener("click", async () => {
    if (store && orgId()) await store.forget(orgId()).catch(() => {});
    orgKey = null;
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = null;
    $("ws-key-download").hidden = true;
    $("ws-key-download").removeAttribute("href");
    showKey();
  });
  $("ws-org").addEventListener("change", async () => {
    if (!orgKey && store && orgId()) {
      const k = await store.load(orgId()).catch(() => null);
      if (k) orgKey = k;
    } else if (orgKey && store && orgId()) {
      await store.save(orgId(), orgKey).catch(() => {});
    }
    showKey();
  });
}

// --- key rotation: the new key, made here or loaded, before it is added -----------------

let newKey = null;
let newKeyUrl = null;

function forgetNewKey() {
  newKey = null;
  if (newKeyUrl) URL.revokeObjectURL(newKeyUrl);
  newKeyUrl = null;
  $("ws-keyadd-download").hidden = true;
  $("ws-keyadd-download").removeAttribute("href");
  $("ws-keyadd-status").textContent = "";
}

function bindRotation() {
  const status = $("ws-keyadd-status");
  $("ws-keyadd-generate").addEventListener("click", async () => {
    forgetNewKey();
    newKey = await generateKey();
    newKeyUrl = URL.createObjectURL(new Blob([newKey.pem], { type: "application/x-pem-file" }));
    const a = $("ws-keyadd-download");
    a.href = newKeyUrl;
    a.download = `${orgId() || "organisme"}-nouvelle-cle.pem`;
    a.hidden = false;
    status.textContent = msg("keyadd-ready", { key: newKey.keyId });
  });
  $("ws-keyadd-file").addEventListener("change", async (ev) => {
    const input = ev.target;
    const file = input.files && input.files[0];
    if (!file) return;
    forgetNewKey();
    try {
      newKey = await importPem(await file.text());
      input.removeAttribute("aria-invalid");
      status.textContent = msg("keyadd-ready", { key: newKey.keyId });
    } catch (e) {
      status.textContent = e instanceof KeyFileError ? words(e) : String(e);
      input.setAttribute("aria-invalid", "true");
    } finally {
      input.value = "";
    }
  });
}

// --- the steps: what each signs ---------------------------------------------------------

/** A plan for one event on `stream`: `first` to show, `again()` on a 409 retry. Both are
 * built on the head this browser verified (sign/head.js), never on the server's word:
 * a head that disagrees with the verified history is refused before anything is signed. */
async function simple(stream, type, data) {
  const lg = await ledger();
  const build = async () => {
    const head = await verifiedHead({ api: api(), stream });
    return buildStatement({ ledger: lg, stream, version: head.version + 1, prev: head.head_hash,
      type, data, actor: orgId(), keyId: orgKey.keyId, issuedAt: issuedAt() });
  };
  return { stream, first: await build(), again: build };
}

function refusalOf(prepared) {
  const err = new Error(prepared.message_en);
  err.refusal = prepared;
  return err;
}

/** A plan from ratify.js's prepare functions (verified history, recomputed hashes). */
async function verified(prepareFn, options, stream = agreementStream(options.agreementId)) {
  const first = await prepareFn(options);
  if (!first.ok) throw refusalOf(first);
  return {
    stream, first: first.statement,
    again: async () => {
      const p = await prepareFn(options);
      if (!p.ok) throw new NoLongerAllowed(p.message_fr, p.message_en);
      return p.statement;
    },
  };
}

const common = () => ({ api: api(), agreementId: agreementId(), actor: orgId(), orgKey, lang });

// Reading a form: trimmed text; optional members left to their default (normalData).
const val = (f, name) => (f.namedItem(name) ? f.namedItem(name).value : "").trim();
const qty = (f, name) => ({ amount: val(f, `${name}_amount`), unit: val(f, `${name}_unit`) });
const maybeQty = (f, name) => (val(f, `${name}_amount`) || val(f, `${name}_unit`) ? qty(f, name) : null);
const period = (f) => ({ start: val(f, "period_start"), end: val(f, "period_end") });
const onAgreement = (type, data) => simple(agreementStream(agreementId()), type, data);
/** "a, b" -> ["a", "b"]; nothing -> "all" (every other party, the default). */
function addressees(f) {
  const orgs = val(f, "addressed_to").split(",").map((x) => x.trim()).filter(Boolean);
  return orgs.length ? orgs : "all";
}
function commitmentData(f) {
  const fair = val(f, "fair_amount") || val(f, "fair_unit")
    ? { ...qty(f, "fair"), method: val(f, "fair_method") } : null;
  return { commitment_id: val(f, "commitment_id"), category: val(f, "category"),
    description: val(f, "description"), quantity: qty(f, "quantity"), period: period(f),
    receiver: val(f, "receiver"), conditions: val(f, "conditions"), value: maybeQty(f, "value"), fair_value: fair };
}
const checked = (f, name) => Array.from(f).filter((e) => e.name === name && e.checked).map((e) => e.value);
const reasoned = (type, idName) => (f) => onAgreement(type, { [idName]: val(f, idName), reason: val(f, "reason") });

/** The chosen file's SHA-256 in lower-case hex, computed here (the file is not sent);
 * null when no file is chosen. */
async function fileHash(f, name) {
  const input = f.namedItem(name);
  const file = input && input.files && input.files[0];
  if (!file) return null;
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const PLANS = {
  async register(f) {
    const profile = {};
    for (const name of ["website", "region", "legal_form", "sector"]) {
      const value = f.namedItem(name).value.trim();
      if (value) profile[name] = value;
    }
    const st = registration({ ledger: await ledger(), orgId: orgId(), orgKey, name: f.name.value.trim(), profile });
    return { stream: orgStream(orgId()), first: st, again: async () => null,
      registrationToken: f.regtoken.value.trim() || undefined };
  },
  draft: (f) => simple(agreementStream(agreementId()), "agreement.drafted", {
    agreement_id: agreementId(), title: f.title.value.trim(), purpose: f.purpose.value.trim(),
    binding: f.binding.checked, public: f.public.checked,
    invited: f.invited.value.split(",").map((s) => s.trim()).filter(Boolean),
  }),
  join: () => simple(agreementStream(agreementId()), "party.joined", {}),
  expect: (f) => simple(agreementStream(agreementId()), "expectation.stated", {
    expectation_id: f.expectation_id.value.trim(), text: f.text.value.trim(), addressed_to: addressees(f),
  }),
  ack: (f) => verified(prepareAcknowledgement, { ...common(), expectationId: f.expectation_id.value.trim() }),
  porteur: (f) => onAgreement("porteur.named", { person_id: val(f, "person_id") }),
  stage: (f) => onAgreement("stage.started", { stage: val(f, "stage"), note: val(f, "note") }),
  stageack: (f) => onAgreement("stage.completion_acknowledged", { stage: val(f, "stage"), note: val(f, "note") }),
  role: (f) => onAgreement("role.proposed", { role_id: val(f, "role_id"), name: val(f, "name"),
    description: val(f, "description"), assignee: val(f, "assignee") }),
  roleaccept: (f) => onAgreement("role.accepted", { role_id: val(f, "role_id"), person_id: val(f, "person_id") || null }),
  offer: (f) => onAgreement("commitment.offered", commitmentData(f)),
  amend: (f) => onAgreement("commitment.amended", commitmentData(f)),
  unoffer: reasoned("commitment.withdrawn", "commitment_id"),
  revise: (f) => onAgreement("expectation.revised", { expectation_id: val(f, "expectation_id"), text: val(f, "text"),
    addressed_to: addressees(f) }),
  unexpect: reasoned("expectation.withdrawn", "expectation_id"),
  decline: reasoned("role.declined", "role_id"),
  relinquish: reasoned("role.relinquished", "role_id"),
  contest: reasoned("fulfilment.contested", "fulfilment_id"),
  consent: (f) => onAgreement("consent.given", { consent_id: val(f, "consent_id"), trust_id: val(f, "trust_id"),
    purpose: val(f, "purpose"), scope: checked(f, "scope"), licence: val(f, "licence"), expires_on: val(f, "expires_on") }),
  unconsent: reasoned("consent.withdrawn", "consent_id"),
  withdraw: (f) => onAgreement("party.withdrew", { effective_on: val(f, "effective_on"), reason: val(f, "reason") }),
  suspend: (f) => onAgreement("agreement.suspended", { reason: val(f, "reason") }),
  resume: (f) => onAgreement("agreement.resumed", { reason: val(f, "reason") }),
  terminate: (f) => onAgreement("agreement.terminated", { reason: val(f, "reason") }),
  keyadd: async (f) => {
    if (!newKey) {
      throw refusalOf({ field: "public_key", message_fr: "Créez ou chargez d'abord la nouvelle clé.",
        message_en: "Create or load the new key first." });
    }
    const added = newKey;
    const plan = await verified(prepareKeyAddition, { api: api(), orgId: orgId(), signingKey: orgKey,
      newPublicKey: added.publicKey, label: val(f, "label") || undefined }, orgStream(orgId()));
    // Once recorded, the new key is the one this page signs with (the old one may then be revoked).
    return { ...plan, after: async () => { await useKey(added); forgetNewKey(); } };
  },
  keyrevoke: (f) => verified(prepareKeyRevocation, { api: api(), orgId: orgId(), signingKey: orgKey,
    keyId: val(f, "key_id"), reason: val(f, "reason") || "rotation" }, orgStream(orgId())),
  received: (f) => onAgreement("commitment.received_value_declared", { commitment_id: val(f, "commitment_id"),
    value: qty(f, "value") }),
  indicator: (f) => onAgreement("indicator.defined", { indicator_id: val(f, "indicator_id"), name: val(f, "name"),
    unit: val(f, "unit"), method: val(f, "method"), target: val(f, "target") || null }),
  fulfil: async (f) => onAgreement("fulfilment.recorded", { fulfilment_id: val(f, "fulfilment_id"),
    commitment_id: val(f, "commitment_id"), quantity: qty(f, "quantity"), period: period(f), note: val(f, "note"),
    evidence_sha256: await fileHash(f, "evidence") }),
  confirm: (f) => onAgreement("fulfilment.confirmed", { fulfilment_id: val(f, "fulfilment_id"), comment: val(f, "comment") }),
  measure: async (f) => onAgreement("indicator.measured", { measurement_id: val(f, "measurement_id"),
    indicator_id: val(f, "indicator_id"), period: period(f), value: val(f, "value"),
    evidence_sha256: (await fileHash(f, "evidence")) ?? undefined }),
  ratify: (f) => {
    const text = f.version.value.trim();
    if (!/^[1-9][0-9]*$/.test(text)) {
      throw refusalOf({ field: "terms_version",
        message_fr: "La version des termes est un nombre entier (1, 2, …).",
        message_en: "The terms version is a whole number (1, 2, …)." });
    }
    return verified(prepareRatification, { ...common(), version: Number(text) });
  },
};

// --- showing, signing, answering --------------------------------------------------------

function clearMarks(form) {
  document.querySelectorAll("[aria-invalid]").forEach((el) => {
    if (el.id !== "ws-key-file") el.removeAttribute("aria-invalid");
  });
  form.querySelector(".ws-result").replaceChildren();
}

/** Mark the field at fault: the form's own input for that member, else the page's. */
function mark(form, field) {
  if (!field) return null;
  const full = String(field).replace(/^data\./, "");
  const find = (name) => form.querySelector(`[data-field="${name}"]`) || document.querySelector(`[data-field="${name}"]`);
  const head = full.split(/[.[]/)[0];
  const el = find(full) || find(head) || form.querySelector(`[data-field^="${head}."]`);
  if (el) el.setAttribute("aria-invalid", "true");
  return el;
}

function answer(form, text, refused, field) {
  const p = document.createElement("p");
  p.textContent = text;
  if (refused) {
    p.className = "refused";
    p.setAttribute("role", "alert");
    const el = mark(form, field);
    if (el) p.id = `${form.id}-error`, el.setAttribute("aria-describedby", p.id);
  }
  form.querySelector(".ws-result").replaceChildren(p);
}

const refuse = (form, r) => answer(form, msg("refused", { message: words(r) }), true, r.field);

const pending = new Map();

function showPlan(form, plan) {
  pending.set(form.id, plan);
  const preview = form.querySelector(".ws-preview");
  const said = sentence(plan.first, lang);
  preview.querySelector(".ws-words").textContent = said ? `${said} ${describe(plan.first, lang)}` : describe(plan.first, lang);
  preview.querySelector(".ws-json").textContent = signedText(plan.first);
  preview.hidden = false;
}

function ready(form) {
  if (!orgId()) { refuse(form, { message_fr: msg("need-org"), message_en: msg("need-org"), field: "actor" }); return false; }
  if (!orgKey) { answer(form, msg("need-key"), true); return false; }
  return true;
}

async function review(form) {
  clearMarks(form);
  form.querySelector(".ws-preview").hidden = true;
  pending.delete(form.id);
  if (!ready(form)) return;
  try {
    showPlan(form, await PLANS[form.dataset.step](form.elements));
  } catch (e) {
    if (e instanceof StatementInputError) refuse(form, { ...e.problems[0], field: e.field });
    else if (e.refusal) refuse(form, e.refusal);
    else if (e.problem) refuse(form, e.problem);
    else answer(form, String(e.message || e), true);
  }
}

async function sign(form) {
  const plan = pending.get(form.id);
  if (!plan || !ready(form)) return;
  const button = form.querySelector(".ws-sign");
  button.disabled = true;
  answer(form, msg("working"), false);
  try {
    const r = await signAndSubmit({
      api: api(), orgKey, stream: plan.stream, registrationToken: plan.registrationToken, prove: true,
      prepare: async (head, { retry }) => (retry ? plan.again(head) : plan.first),
    });
    if (r.ok) {
      pending.delete(form.id);
      if (plan.after) await plan.after();
      form.querySelector(".ws-preview").hidden = true;
      answer(form, msg("receipt", { position: r.receipt.position, size: r.inclusion.size }), false);
      form.dataset.position = String(r.receipt.position);
      attention();
      live(); // the agreement may exist only now
    } else {
      refuse(form, r);
    }
  } catch (e) {
    answer(form, e.problem ? words(e.problem) : words(e), true);
  } finally {
    button.disabled = false;
  }
}

function bindSteps() {
  document.querySelectorAll("form[data-step]").forEach((form) => {
    form.addEventListener("submit", (ev) => { ev.preventDefault(); review(form); });
    form.querySelector(".ws-sign").addEventListener("click", () => sign(form));
  });
  for (const id of ["ws-identity", "ws-agreement-form"]) {
    $(id).addEventListener("submit", (ev) => ev.preventDefault());
  }
}

// --- what needs my attention ------------------------------------------------------------

/** One thing to do; its button fills the step's form in and moves to it. */
function item(text, fill) {
  const li = document.createElement("li");
  li.textContent = text;
  if (fill) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = msg("fill");
    b.addEventListener("click", () => {
      const [formId, inputId, value] = fill;
      if (inputId) $(inputId).value = value;
      const target = inputId ? $(inputId) : $(formId).querySelector("button[type=submit]");
      target.focus();
    });
    li.append(" ", b);
  }
  return li;
}

const TEXTS = {
  join: () => msg("join"),
  stage: (x) => msg("stage", { stage: stageName(x.stage) }),
  ack: (x) => msg("ack", x),
  role: (x) => msg("role", x),
  confirm: (x) => msg("confirm", x),
  measure: (x) => msg("measure", x),
  ratify: (x) => msg("ratify", x),
};

function stageName(stage) {
  const option = $("ws-stageack-stage").querySelector(`option[value="${stage}"]`);
  return option ? option.textContent : stage;
}

let asked = 0;

/** What waits for the organization in the agreement (sign/attention.js), from the
 * agreement's state as the API answers it; the latest answer wins. */
async function attention() {
  const list = $("ws-attention");
  const org = orgId(), id = agreementId();
  const turn = ++asked;
  if (!org || !id) { list.replaceChildren(); return; }
  let view;
  try {
    view = await api().get(`/v1/agreements/${encodeURIComponent(id)}`);
  } catch (e) {
    if (turn === asked) list.replaceChildren(item(e.problem ? words(e.problem) : String(e.message || e)));
    return;
  }
  if (turn !== asked) return;
  const items = needs(view, org, new Date().toISOString().slice(0, 10)).map((x) => item(TEXTS[x.kind](x), x.fill));
  list.replaceChildren(...(items.length ? items : [item(msg("none"))]));
}

// --- live: the agreement's new entries (GET /v1/stream) refresh the list -----------------

let following = null; // {key, stop: AbortController}
let refresh = null;

function soon() {
  clearTimeout(refresh);
  refresh = setTimeout(attention, 150);
}

function stopLive() {
  if (following) following.stop.abort();
  following = null;
  root.dataset.live = "closed";
}

/** Follow the agreement's entries with the organization's token, again after each drop
 * (bounded backoff, sign/live.js); closed when the page is hidden, opened on its return. */
function live() {
  const token = $("ws-token").value.trim();
  const key = JSON.stringify([orgId(), agreementId(), token]);
  if (following && following.key === key) return;
  stopLive();
  if (!orgId() || !agreementId()) return;
  const me = { key, stop: new AbortController() };
  following = me;
  follow({ baseUrl: location.origin, token: token || undefined, agreement: agreementId(), signal: me.stop.signal,
    onOpen: () => { root.dataset.live = "open"; soon(); },
    onEntry: soon,
    onStop: () => { if (following === me) { following = null; root.dataset.live = "closed"; } },
  });
}

async function main() {
  keep();
  bindKey();
  bindSteps();
  bindRotation();
  $("ws-attention-refresh").addEventListener("click", attention);
  $("ws-agreement").addEventListener("change", () => { attention(); live(); });
  for (const id of ["ws-org", "ws-token"]) $(id).addEventListener("change", live);
  window.addEventListener("pagehide", stopLive);
  window.addEventListener("pageshow", (ev) => { if (ev.persisted) live(); });
  if (store && orgId()) orgKey = await store.load(orgId()).catch(() => null);
  showKey();
  root.dataset.ready = "1"; // the kept key is looked up: the page answers for it
  attention();
  live();
}

main();
