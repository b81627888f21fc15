// The register's pages: verify what an element says it shows, and write the result into
// it. A page includes this module (an external script, as the pages' Content-Security-
// Policy wants: no inline script) and marks the element:
//
//   <p data-verify-agreement="compta-2026" data-version="212"
//      data-head-hash="<event hash of version 212>" lang="fr"></p>
//   <p data-verify-org="centre-arts" data-version="3" data-head-hash="…"></p>
//   <script type="module" src="/static/js/verify/page.js"></script>
//
// data-version and data-head-hash are what the page rendered (the stream's last version
// and its event hash): the verification fails if the ledger answers another stream.
// data-base-url: the ledger's API when it is not the page's own origin. The language is
// the element's `lang`, else the document's.

import { renderResult, verifyAgreement, verifyOrganization } from "./verify.js";

const RUNNING = { fr: "Vérification dans votre navigateur…", en: "Verifying in your browser…" };

/** Verify what `el` names and render the result into it; answers the Result. */
export async function verifyElement(el, options = {}) {
  const lang = (el.closest && el.closest("[lang]")?.getAttribute("lang")) === "en" ? "en" : "fr";
  const d = el.dataset;
  el.setAttribute("role", "status");
  el.setAttribute("aria-live", "polite");
  el.textContent = RUNNING[lang];
  el.dataset.verification = "running";
  const shown = d.version ? { version: Number(d.version), head_hash: d.headHash || undefined } : undefined;
  const args = { baseUrl: d.baseUrl || "", shown, ...options };
  const result = d.verifyOrg
    ? await verifyOrganization({ ...args, orgId: d.verifyOrg })
    : await verifyAgreement({ ...args, agreementId: d.verifyAgreement });
  renderResult(el, result, lang);
  return result;
}

/** Verify every marked element of the document. */
export function verifyPage(doc = globalThis.document, options = {}) {
  return Promise.all([...doc.querySelectorAll("[data-verify-agreement], [data-verify-org]")]
    .map((el) => verifyElement(el, options)));
}

if (typeof document !== "undefined" && !globalThis.__mutualisationVerifyNoAutostart) verifyPage(document);
