// Statements an organization signs in the browser (docs/PROTOCOL.md Part I §1–2,
// docs/EVENTS.md): built exactly as the Python client builds them (ledger/signer.py),
// encoded canonically and sealed in a DSSE envelope with the verify modules' own
// canonical JSON and PAE, so what is signed here is byte for byte what
// `ledger agreement …` would sign for the same inputs and issued_at.
//
// Entry points:
//
//   issuedAt(date?)                 -> "YYYY-MM-DDTHH:MM:SS.ffffffZ" (ledger/statement.py format_time)
//   normalData(type, fields)        -> data in normal form (members equal to their default omitted)
//   buildStatement({ledger, stream, version, prev, type, data, actor, keyId, issuedAt})
//                                   -> statement object; throws StatementInputError({field, ...})
//                                      when validate.js finds a problem in data
//   payloadOf(statement)            -> Uint8Array, the canonical bytes that are signed
//   signedText(statement)           -> the same bytes as text: the exact JSON to show before signing
//   seal(statement, orgKey)         -> Promise<{envelope, payload, eventHash}>
//   describe(statement, lang)       -> the statement in plain words (fr|en)
//   contentHash(expectation)        -> hex, what expectation.acknowledged signs (PROTOCOL IV)
//   registration / keyAddition / keyRevocation helpers for the org/ stream.
//   agreementStream(id), orgStream(id)

import { b64encode, toHex } from "../verify/b64.js";
import { canonicalBytes, canonicalString } from "../verify/canonical.js";
import { pae, PAYLOAD_TYPE } from "../verify/dsse.js";
import { sha256 } from "../verify/sha256.js";
import { EXPECTATION_SCHEMA } from "../verify/statehash.js";
import { eventHash, parseStatement } from "../verify/statement.js";
import { signBytes } from "./keys.js";
import { SCHEMA, validateData } from "./validate.js";

export const agreementStream = (id) => `agreement/${id}`;
export const orgStream = (id) => `org/${id}`;

/** The data's problems, found before signing: {problems: [{field, message_fr, message_en}]}. */
export class StatementInputError extends Error {
  constructor(problems) {
    super(problems.map((p) => `${p.field}: ${p.message_en}`).join("; "));
    this.problems = problems;
    this.field = problems[0] && problems[0].field;
  }
}

/** The ledger's time form with six fractional digits (the browser's clock has ms). */
export function issuedAt(date = new Date()) {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** `fields` in normal form: undefined members and members equal to their default left out. */
export function normalData(type, fields) {
  const spec = SCHEMA[type];
  if (!spec) throw new Error(`unknown event type ${type}`);
  const data = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const m = spec[name];
    if (m && "default" in m && canonicalString(value) === canonicalString(m.default)) continue;
    data[name] = value;
  }
  return data;
}

/**
 * The statement for these inputs, its data in normal form and checked (validate.js).
 * `prev` is the stream head's event hash (null for version 1): the version and prev of
 * the stream as this browser verified it, what the server expects for the next event.
 */
export function buildStatement({ ledger, stream, version, prev, type, data, actor, keyId, issuedAt: at }) {
  const normal = normalData(type, data || {});
  const problems = validateData(type, normal);
  if (problems.length) throw new StatementInputError(problems);
  const st = { ledger, stream, version, prev: prev ?? null, type, data: normal, actor, key: keyId, issued_at: at || issuedAt() };
  parseStatement(canonicalBytes(st)); // the statement's own members, as the verifier reads them
  return st;
}

/** The canonical payload bytes of a statement: exactly what is signed. */
export function payloadOf(statement) { return canonicalBytes(statement); }

/** The exact JSON that is signed (the payload's text), for the page to show. */
export function signedText(statement) { return canonicalString(statement); }

/** Sign the statement with the organization's key: the DSSE envelope as sent. */
export async function seal(statement, orgKey) {
  if (statement.key !== orgKey.keyId) throw new Error("the statement names another key than the one signing it");
  const payload = payloadOf(statement);
  const sig = await signBytes(orgKey, pae(PAYLOAD_TYPE, payload));
  const envelope = { payloadType: PAYLOAD_TYPE, payload: b64encode(payload), signatures: [{ keyid: orgKey.keyId, sig: b64encode(sig) }] };
  return { envelope, payload, eventHash: eventHash(payload) };
}

/** Content hash of an expectation {id, holder, text, addressed_to} (PROTOCOL Part IV). */
export function contentHash({ id, holder, text, addressed_to: to }) {
  const addressed = to === "all" ? "all" : [...to].sort();
  return toHex(sha256(canonicalBytes({ schema: EXPECTATION_SCHEMA, id, holder, text, addressed_to: addressed })));
}

// --- the organization's own stream -------------------------------------------------------

/** organization.registered: version 1 of org/<id>, self-signed by its first key. */
export function registration({ ledger, orgId, orgKey, name, profile, issuedAt: at }) {
  const data = { name, public_key: b64encode(orgKey.publicKey) };
  if (profile && Object.keys(profile).length) data.profile = profile;
  return buildStatement({ ledger, stream: orgStream(orgId), version: 1, prev: null, type: "organization.registered",
    data, actor: orgId, keyId: orgKey.keyId, issuedAt: at });
}

/** organization.key_added, signed by a key valid now; the new key is valid after it. */
export function keyAddition({ ledger, orgId, signingKey, version, prev, newPublicKey, label, issuedAt: at }) {
  const data = { public_key: b64encode(newPublicKey) };
  if (label) data.label = label;
  return buildStatement({ ledger, stream: orgStream(orgId), version, prev, type: "organization.key_added",
    data, actor: orgId, keyId: signingKey.keyId, issuedAt: at });
}

/** organization.key_revoked; the ledger refuses to revoke the last valid key. */
export function keyRevocation({ ledger, orgId, signingKey, version, prev, keyId, reason = "rotation", issuedAt: at }) {
  return buildStatement({ ledger, stream: orgStream(orgId), version, prev, type: "organization.key_revoked",
    data: { key_id: keyId, reason }, actor: orgId, keyId: signingKey.keyId, issuedAt: at });
}

// --- in plain words -------------------------------------------------------------------------

const WORDS = {
  "organization.registered": ["inscrit l'organisme au registre", "registers the organization"],
  "organization.key_added": ["ajoute une clé de signature", "adds a signing key"],
  "organization.key_revoked": ["révoque une clé de signature", "revokes a signing key"],
  "agreement.drafted": ["rédige l'entente", "drafts the agreement"],
  "agreement.revised": ["révise la vision ou la nature de l'entente", "revises the agreement's vision or nature"],
  "agreement.visibility_changed": ["change la visibilité de l'entente", "changes the agreement's visibility"],
  "agreement.suspended": ["suspend l'entente", "suspends the agreement"],
  "agreement.resumed": ["reprend l'entente", "resumes the agreement"],
  "agreement.terminated": ["termine l'entente", "terminates the agreement"],
  "agreement.ratified": ["ratifie les termes", "ratifies the terms"],
  "party.invited": ["invite un organisme", "invites an organization"],
  "party.joined": ["se joint à l'entente", "joins the agreement"],
  "party.withdrew": ["se retire de l'entente", "withdraws from the agreement"],
  "porteur.named": ["désigne sa personne porteuse", "names its porteur"],
  "role.proposed": ["propose un rôle", "proposes a role"],
  "role.accepted": ["accepte un rôle", "accepts a role"],
  "role.declined": ["refuse un rôle", "declines a role"],
  "role.relinquished": ["abandonne un rôle", "relinquishes a role"],
  "expectation.stated": ["énonce une attente", "states an expectation"],
  "expectation.revised": ["révise une attente", "revises an expectation"],
  "expectation.withdrawn": ["retire une attente", "withdraws an expectation"],
  "expectation.acknowledged": ["prend en compte une attente", "acknowledges an expectation"],
  "commitment.offered": ["prend un engagement de ressources", "commits resources"],
  "commitment.amended": ["modifie un engagement", "amends a commitment"],
  "commitment.withdrawn": ["retire un engagement", "withdraws a commitment"],
  "commitment.received_value_declared": ["déclare la valeur reçue", "declares the value received"],
  "fulfilment.recorded": ["consigne une contribution réalisée", "records a fulfilment"],
  "fulfilment.confirmed": ["confirme une réception", "confirms a fulfilment"],
  "fulfilment.contested": ["conteste une réception", "contests a fulfilment"],
  "stage.started": ["amorce une étape", "starts a stage"],
  "stage.completion_acknowledged": ["reconnaît la fin d'une étape", "acknowledges a stage's completion"],
  "indicator.defined": ["définit un indicateur", "defines an indicator"],
  "indicator.measured": ["consigne une mesure", "records a measurement"],
  "consent.given": ["consent au partage", "consents to sharing"],
  "consent.withdrawn": ["retire un consentement", "withdraws a consent"],
};

/** One sentence saying what the statement does, for the page to show before signing. */
export function describe(st, lang = "fr") {
  const i = lang === "en" ? 1 : 0;
  const what = (WORDS[st.type] || [st.type, st.type])[i];
  const fields = Object.entries(st.data).map(([k, v]) => `${k} = ${canonicalString(v)}`).join(", ");
  return lang === "en"
    ? `${st.actor} ${what} (${st.stream}, version ${st.version})${fields ? ": " + fields : ""}, signed with key ${st.key.slice(0, 16)}… at ${st.issued_at}.`
    : `${st.actor} ${what} (${st.stream}, version ${st.version})${fields ? " : " + fields : ""}, signé avec la clé ${st.key.slice(0, 16)}… le ${st.issued_at}.`;
}
