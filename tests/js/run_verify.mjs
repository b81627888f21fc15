// Run the browser's verification from the command line, for the cross-implementation
// tests (a Python-served ledger checked by the JavaScript): prints the Result as JSON.
//   node tests/js/run_verify.mjs agreement BASE_URL AGREEMENT_ID [TOKEN]
//   node tests/js/run_verify.mjs organization BASE_URL ORG_ID [TOKEN]
//   node tests/js/run_verify.mjs bundle FILE VKEY [AGREEMENT_ID]
import { readFileSync } from "node:fs";

import { memoryStorage } from "../../api/web/static/js/verify/pin.js";
import { createPin, verifyAgreement, verifyBundle, verifyOrganization } from "../../api/web/static/js/verify/verify.js";

const [what, a, b, c] = process.argv.slice(2);
const pin = createPin(memoryStorage());
let result;
if (what === "agreement") result = await verifyAgreement({ baseUrl: a, agreementId: b, token: c, pin });
else if (what === "organization") result = await verifyOrganization({ baseUrl: a, orgId: b, token: c, pin });
else if (what === "bundle") result = await verifyBundle({ text: readFileSync(a, "utf8"), vkey: b, agreementId: c, pin });
else { console.error("usage: run_verify.mjs agreement|organization|bundle ..."); process.exit(2); }
console.log(JSON.stringify(result));
