// The standalone verifier's page (verify.html): a form for a ledger URL and an agreement
// or organization id, or an exported bundle file; the result in words. It runs opened
// from disk, so that nobody has to trust the JavaScript a server sends.

import { createPin, renderResult, verifyAgreement, verifyBundle, verifyOrganization } from "./verify.js";

const TEXT = {
  fr: { verify: "Vérifier", running: "Vérification en cours…", forget: "Oublier la clé épinglée pour ce registre",
    forgotten: "Clé oubliée : la prochaine vérification épinglera la clé présentée.", nothing: "Indiquez un registre et un identifiant, ou un fichier d'export." },
  en: { verify: "Verify", running: "Verifying…", forget: "Forget the pinned key for this register",
    forgotten: "Key forgotten: the next verification pins the key presented.", nothing: "Give a register and an id, or an export file." },
};

export function start(doc) {
  const $ = (id) => doc.getElementById(id);
  const form = $("verify-form");
  const out = $("verify-result");
  const pin = createPin();
  const lang = () => (doc.documentElement.lang === "en" ? "en" : "fr");
  const params = new URLSearchParams(doc.location ? doc.location.search : "");
  for (const [name, id] of [["base", "base"], ["agreement", "subject-id"], ["org", "subject-id"], ["vkey", "vkey"]]) {
    if (params.get(name)) $(id).value = params.get(name);
  }
  if (params.get("org")) $("kind").value = "organization";
  if (params.get("lang") === "en") doc.documentElement.lang = "en";

  async function run() {
    const t = TEXT[lang()];
    const began = performance.now();
    out.textContent = t.running;
    out.dataset.verification = "running";
    const file = $("bundle").files && $("bundle").files[0];
    const id = $("subject-id").value.trim();
    const kind = $("kind").value;
    const vkey = $("vkey").value.trim() || undefined;
    let result;
    if (file) {
      const text = await file.text();
      result = await verifyBundle({ text, vkey, pin, agreementId: kind === "agreement" && id ? id : undefined, orgId: kind === "organization" && id ? id : undefined });
    } else if ($("base").value.trim() && id) {
      const args = { baseUrl: $("base").value.trim(), token: $("token").value.trim() || undefined, pin, vkey };
      result = kind === "organization" ? await verifyOrganization({ ...args, orgId: id }) : await verifyAgreement({ ...args, agreementId: id });
    } else {
      out.textContent = t.nothing;
      return;
    }
    renderResult(out, result, lang());
    $("details").textContent = JSON.stringify({ ...result, elapsed_ms: Math.round(performance.now() - began) }, null, 2);
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
  // ?run=1 verifies at once what the other parameters name (a link from the register).
  if (params.get("run") === "1") run();

  $("forget").addEventListener("click", () => {
    const base = $("base").value.trim().replace(/\/+$/, "");
    if (base) pin.forget(base);
    out.textContent = TEXT[lang()].forgotten;
  });
}

if (typeof document !== "undefined" && document.getElementById("verify-form")) start(document);
