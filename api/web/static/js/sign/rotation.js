// Key rotation in the workspace (issue #18, point 1): add a key, revoke a key, with the
// rules of the API (docs/PROTOCOL.md Part I §5, docs/API.md "Rule codes of the core")
// checked before signing, on the organization's own stream as this browser verified it.
//
// Entry points:
//
//   verifiedOrgKeys({api, orgId, pin?, vkey?})
//       -> {ok: true, ledger, head: {version, head_hash}, keys: [{keyId, publicKey, revoked}]}
//        | {ok: false, code, message_fr, message_en}
//   prepareKeyAddition({api, orgId, signingKey, newPublicKey, label?, issuedAt?}) -> {ok, statement} | refusal
//   prepareKeyRevocation({api, orgId, signingKey, keyId, reason?, issuedAt?})     -> {ok, statement} | refusal
//   Refusals before signing use the rule codes the server would answer:
//   key.not-own, key.already-revoked, key.last-key, key.already-registered, key-revoked.

import { parseEnvelope } from "../verify/dsse.js";
import { KeyHistory } from "../verify/history.js";
import { createPin, memoryStorage } from "../verify/pin.js";
import { eventHash, parseStatement } from "../verify/statement.js";
import { verifyOrganization } from "../verify/verify.js";
import { keyIdOf } from "./keys.js";
import { explainProblem } from "./problems.js";
import { servingCopy } from "./ratify.js";
import { keyAddition, keyRevocation, orgStream } from "./statements.js";

function ruleRefusal(rule, field) {
  const e = explainProblem(422, { type: "rule-violated", rule, field });
  return { ok: false, code: "rule-violated", rule, field, message_fr: e.message_fr, message_en: e.message_en };
}

/** The organization's keys, replayed from its own stream once verified. */
export async function verifiedOrgKeys({ api, orgId, pin, vkey, waitMs = 10000 }) {
  const stream = orgStream(orgId);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const copy = await api.events(stream);
    const result = await verifyOrganization({ baseUrl: api.baseUrl, orgId, token: api.token, vkey,
      fetch: servingCopy(api, stream, copy), pin: pin || createPin(memoryStorage()) });
    if (!result.ok) {
      if (result.failure.code === "not-in-checkpoint" && Date.now() <= deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      return { ok: false, code: result.failure.code, message_fr: result.failure.message_fr, message_en: result.failure.message_en };
    }
    const history = new KeyHistory();
    const read = copy.events.map((e) => {
      const payload = parseEnvelope(e.envelope).payload;
      return { position: e.position, st: parseStatement(payload), hash: eventHash(payload) };
    }).sort((a, b) => a.position - b.position);
    for (const { st, position } of read) history.apply(st, position);
    const last = read[read.length - 1];
    const keys = [...history.keys.entries()].filter(([, k]) => k.org === orgId)
      .map(([keyId, k]) => ({ keyId, publicKey: k.publicKey, revoked: k.revokedAt !== null }));
    return { ok: true, ledger: last.st.ledger, head: { version: last.st.version, head_hash: last.hash }, keys };
  }
}

function signable(v, signingKey) {
  const k = v.keys.find((x) => x.keyId === signingKey.keyId);
  if (!k) return ruleRefusal("key.not-own", "key");
  if (k.revoked) {
    const e = explainProblem(403, { type: "key-revoked" });
    return { ok: false, code: "key-revoked", message_fr: e.message_fr, message_en: e.message_en };
  }
  return null;
}

/** organization.key_added, signed by a valid key of the organization. */
export async function prepareKeyAddition({ api, orgId, signingKey, newPublicKey, label, issuedAt, pin, vkey }) {
  const v = await verifiedOrgKeys({ api, orgId, pin, vkey });
  if (!v.ok) return v;
  const no = signable(v, signingKey);
  if (no) return no;
  if (v.keys.some((k) => k.keyId === keyIdOf(newPublicKey))) return ruleRefusal("key.already-registered", "public_key");
  const statement = keyAddition({ ledger: v.ledger, orgId, signingKey, version: v.head.version + 1, prev: v.head.head_hash,
    newPublicKey, label, issuedAt });
  return { ok: true, statement };
}

/** organization.key_revoked; never the organization's last valid key. */
export async function prepareKeyRevocation({ api, orgId, signingKey, keyId, reason = "rotation", issuedAt, pin, vkey }) {
  const v = await verifiedOrgKeys({ api, orgId, pin, vkey });
  if (!v.ok) return v;
  const no = signable(v, signingKey);
  if (no) return no;
  const target = v.keys.find((k) => k.keyId === keyId);
  if (!target) return ruleRefusal("key.not-own", "key_id");
  if (target.revoked) return ruleRefusal("key.already-revoked", "key_id");
  if (!v.keys.some((k) => !k.revoked && k.keyId !== keyId)) return ruleRefusal("key.last-key", "key_id");
  const statement = keyRevocation({ ledger: v.ledger, orgId, signingKey, version: v.head.version + 1, prev: v.head.head_hash,
    keyId, reason, issuedAt });
  return { ok: true, statement };
}
