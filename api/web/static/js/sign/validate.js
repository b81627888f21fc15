// What the ledger's rules check on an event's data, checked before signing, with the
// member at fault and a message in French and English. The shapes are those of
// docs/EVENTS.md (ledger/domain/catalogue.py and values.py): the server still decides,
// and its refusal is shown when it differs (submit.js).
//
// Entry points:
//
//   SCHEMA                      {type: {member: {kind, default?, optional?}}}
//   validateData(type, data)    -> [{field, message_fr, message_en}]  (empty: nothing to say)
//   isAmount(text), isDate(text), isUnit(text)
//
// Kinds: id, org, person, date, amount, unit, quantity, period, fair_value, title, text,
// note, name, hex64, hex64?, category, stage, families, orgs, addressees, receiver,
// bool, version, base64key, label, profile, reason.

export const AMOUNT = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$/;
export const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const ORG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const HEX64 = /^[0-9a-f]{64}$/;
const UNIT = /^\S(?:.*\S)?$/su;
const B64KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export const CATEGORIES = ["human_resources", "premises", "buildings", "equipment", "technology",
  "software", "function_accounting", "function_it", "function_communications",
  "group_insurance", "services", "expertise", "fundraising", "collective_events", "other"];
export const STAGES = ["know_yourself", "get_acquainted", "common_desire", "framework", "plan", "indicators"];
export const FAMILIES = ["agreement", "party", "porteur", "role", "expectation", "commitment",
  "fulfilment", "stage", "indicator", "consent"];

const req = (kind) => ({ kind });
const def = (kind, value) => ({ kind, default: value });
const commitment = {
  commitment_id: req("id"), category: req("category"), description: req("text"),
  quantity: req("quantity"), period: req("period"), receiver: req("receiver"),
  conditions: def("note", ""), value: def("quantity?", null), fair_value: def("fair_value?", null),
};

/** Every event type an organization signs, with its data members (docs/EVENTS.md). */
export const SCHEMA = {
  "agreement.drafted": { agreement_id: req("id"), title: req("title"), purpose: req("text"),
    binding: req("bool"), invited: def("orgs", []), public: def("bool", false) },
  "agreement.revised": { title: req("title"), purpose: req("text"), binding: req("bool") },
  "agreement.visibility_changed": { public: req("bool") },
  "agreement.suspended": { reason: req("text") },
  "agreement.resumed": { reason: def("note", "") },
  "agreement.terminated": { reason: req("text") },
  "agreement.ratified": { terms_version: req("version"), state_hash: req("hex64") },
  "party.invited": { org: req("org") },
  "party.joined": {},
  "party.withdrew": { effective_on: req("date"), reason: req("text") },
  "porteur.named": { person_id: req("person") },
  "role.proposed": { role_id: req("id"), name: req("title"), description: req("text"), assignee: req("org") },
  "role.accepted": { role_id: req("id"), person_id: def("person?", null) },
  "role.declined": { role_id: req("id"), reason: def("note", "") },
  "role.relinquished": { role_id: req("id"), reason: def("note", "") },
  "expectation.stated": { expectation_id: req("id"), text: req("text"), addressed_to: def("addressees", "all") },
  "expectation.revised": { expectation_id: req("id"), text: req("text"), addressed_to: def("addressees", "all") },
  "expectation.withdrawn": { expectation_id: req("id"), reason: def("note", "") },
  "expectation.acknowledged": { expectation_id: req("id"), content_hash: req("hex64") },
  "commitment.offered": commitment,
  "commitment.amended": commitment,
  "commitment.withdrawn": { commitment_id: req("id"), reason: req("text") },
  "commitment.received_value_declared": { commitment_id: req("id"), value: req("quantity") },
  "fulfilment.recorded": { fulfilment_id: req("id"), commitment_id: req("id"), quantity: req("quantity"),
    period: req("period"), note: def("note", ""), evidence_sha256: def("hex64?", null) },
  "fulfilment.confirmed": { fulfilment_id: req("id"), comment: def("note", "") },
  "fulfilment.contested": { fulfilment_id: req("id"), reason: req("text") },
  "stage.started": { stage: req("stage"), note: def("note", "") },
  "stage.completion_acknowledged": { stage: req("stage"), note: def("note", ""), evidence_sha256: def("hex64?", null) },
  "indicator.defined": { indicator_id: req("id"), name: req("title"), unit: req("unit"),
    method: req("text"), target: def("amount?", null) },
  "indicator.measured": { measurement_id: req("id"), indicator_id: req("id"), period: req("period"),
    value: req("amount"), evidence_sha256: req("hex64") },
  "consent.given": { consent_id: req("id"), trust_id: req("id"), purpose: req("text"),
    scope: req("families"), licence: req("title"), expires_on: req("date") },
  "consent.withdrawn": { consent_id: req("id"), reason: def("note", "") },
  // The organization's own stream (docs/PROTOCOL.md §5, docs/EVENTS.md Organizations).
  "organization.registered": { name: req("name"), public_key: req("base64key"), profile: { kind: "profile", optional: true } },
  "organization.key_added": { public_key: req("base64key"), label: { kind: "label", optional: true } },
  "organization.key_revoked": { key_id: req("hex64"), reason: req("reason") },
};

const M = {
  missing: ["Ce champ est obligatoire.", "This field is required."],
  unknown: ["Ce champ n'existe pas pour cet événement.", "This field does not exist for this event."],
  id: ["Identifiant : lettres, chiffres, « . _ : - », 128 caractères au plus, sans espace.",
    "Id: letters, digits, \". _ : -\", at most 128 characters, no space."],
  org: ["Identifiant d'organisme : minuscules, chiffres et traits d'union (64 au plus).",
    "Organization id: lower-case letters, digits and hyphens (at most 64)."],
  person: ["Identifiant pseudonyme : ni nom, ni courriel, ni espace.", "Pseudonymous id: no name, no e-mail, no space."],
  date: ["Date attendue au format AAAA-MM-JJ, un jour qui existe.", "Expected a date as YYYY-MM-DD, a real day."],
  amount: ["Montant : un nombre décimal écrit avec un point (p. ex. 12.50), au plus 6 décimales, sans signe.",
    "Amount: a decimal number written with a point (e.g. 12.50), at most 6 decimals, no sign."],
  unit: ["Unité : 1 à 32 caractères, sans espace au début ni à la fin (p. ex. heure, CAD).",
    "Unit: 1 to 32 characters, no leading or trailing space (e.g. hour, CAD)."],
  title: ["1 à 200 caractères.", "1 to 200 characters."],
  name: ["1 à 200 caractères sur une ligne.", "1 to 200 characters on one line."],
  text: ["1 à 20 000 caractères.", "1 to 20,000 characters."],
  note: ["2 000 caractères au plus.", "At most 2,000 characters."],
  hex64: ["Empreinte SHA-256 attendue (64 chiffres hexadécimaux en minuscules).", "Expected a SHA-256 (64 lower-case hex digits)."],
  category: ["Catégorie inconnue.", "Unknown category."],
  stage: ["Étape inconnue.", "Unknown stage."],
  families: ["Au moins une famille, sans doublon, parmi la liste.", "At least one family, no repeat, from the list."],
  orgs: ["Liste d'organismes sans doublon.", "A list of organizations without repeats."],
  addressees: ["« all » ou une liste non vide d'organismes sans doublon.", "\"all\" or a non-empty list of organizations without repeats."],
  receiver: ["Un organisme partie, ou « collective ».", "A party organization, or \"collective\"."],
  bool: ["Oui ou non.", "Yes or no."],
  version: ["Un numéro de version entier, 1 ou plus.", "A whole version number, 1 or more."],
  base64key: ["Clé publique Ed25519 : 32 octets en base64.", "Ed25519 public key: 32 bytes in base64."],
  label: ["Libellé de 2 000 caractères au plus.", "A label of at most 2,000 characters."],
  reason: ["Raison de 1 à 2 000 caractères.", "A reason of 1 to 2,000 characters."],
  profile: ["Profil : un objet de membres connus.", "Profile: an object of known members."],
  period: ["Période : début et fin (AAAA-MM-JJ), la fin pas avant le début.", "Period: start and end (YYYY-MM-DD), the end not before the start."],
  inverted: ["La période finit avant de commencer.", "The period ends before it starts."],
  method: ["Méthode : market, appraisal ou cost.", "Method: market, appraisal or cost."],
  nfc: ["Le texte doit être en Unicode NFC.", "The text must be in Unicode NFC."],
};

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function isDate(text) {
  const m = typeof text === "string" && DATE.exec(text);
  if (!m) return false;
  const y = +m[1], mo = +m[2], d = +m[3];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= (mo === 2 && leap ? 29 : DAYS[mo - 1]);
}
export const isAmount = (t) => typeof t === "string" && AMOUNT.test(t);
export const isUnit = (t) => typeof t === "string" && [...t].length >= 1 && [...t].length <= 32 && UNIT.test(t);

const len = (s) => [...s].length; // code points, as Python's len()
const str = (v, lo, hi) => typeof v === "string" && len(v) >= lo && len(v) <= hi;
const distinct = (xs) => new Set(xs).size === xs.length;
const oneLine = (v) => !/[\u0000-\u001f\u007f]/.test(v);

/** Check one value of `kind`; push problems (field paths like "period.end") into out. */
function check(kind, v, field, out) {
  const bad = (code, f = field) => out.push({ field: f, message_fr: M[code][0], message_en: M[code][1] });
  if (kind.endsWith("?")) {
    if (v === null) return;
    kind = kind.slice(0, -1);
  }
  if (typeof v === "string" && v.normalize("NFC") !== v) return bad("nfc");
  switch (kind) {
    case "id": case "person": if (!(typeof v === "string" && ID.test(v))) bad(kind); return;
    case "org": if (!(typeof v === "string" && ORG.test(v))) bad("org"); return;
    case "date": if (!isDate(v)) bad("date"); return;
    case "amount": if (!isAmount(v)) bad("amount"); return;
    case "unit": if (!isUnit(v)) bad("unit"); return;
    case "title": if (!str(v, 1, 200)) bad("title"); return;
    case "name": if (!(str(v, 1, 200) && oneLine(v))) bad("name"); return;
    case "text": if (!str(v, 1, 20000)) bad("text"); return;
    case "note": if (!str(v, 0, 2000)) bad("note"); return;
    case "label": if (!str(v, 0, 2000)) bad("label"); return;
    case "reason": if (!str(v, 1, 2000)) bad("reason"); return;
    case "hex64": if (!(typeof v === "string" && HEX64.test(v))) bad("hex64"); return;
    case "base64key": if (!(typeof v === "string" && B64KEY.test(v))) bad("base64key"); return;
    case "bool": if (typeof v !== "boolean") bad("bool"); return;
    case "version": if (!(Number.isSafeInteger(v) && v >= 1)) bad("version"); return;
    case "category": if (!CATEGORIES.includes(v)) bad("category"); return;
    case "stage": if (!STAGES.includes(v)) bad("stage"); return;
    case "families":
      if (!(Array.isArray(v) && v.length >= 1 && distinct(v) && v.every((x) => FAMILIES.includes(x)))) bad("families");
      return;
    case "orgs": if (!(Array.isArray(v) && distinct(v) && v.every((x) => typeof x === "string" && ORG.test(x)))) bad("orgs"); return;
    case "addressees":
      if (v !== "all" && !(Array.isArray(v) && v.length >= 1 && distinct(v) && v.every((x) => typeof x === "string" && ORG.test(x)))) bad("addressees");
      return;
    case "receiver": if (!(typeof v === "string" && ORG.test(v))) bad("receiver"); return;
    case "profile": if (v === null || typeof v !== "object" || Array.isArray(v)) bad("profile"); return;
    case "quantity":
      if (v === null || typeof v !== "object") { bad("amount", `${field}.amount`); return; }
      check("amount", v.amount, `${field}.amount`, out);
      check("unit", v.unit, `${field}.unit`, out);
      return;
    case "fair_value":
      check("quantity", v, field, out);
      if (!v || !["market", "appraisal", "cost"].includes(v.method)) bad("method", `${field}.method`);
      return;
    case "period":
      if (v === null || typeof v !== "object") { bad("period"); return; }
      check("date", v.start, `${field}.start`, out);
      check("date", v.end, `${field}.end`, out);
      if (isDate(v.start) && isDate(v.end) && v.end < v.start) bad("inverted", `${field}.end`);
      return;
    default: throw new Error(`no check for kind ${kind}`);
  }
}

/**
 * Every problem the rules' shape checks would find in `data` for `type`: a missing or
 * unknown member, a wrong form, an inverted period. Members equal to their default may
 * be given (statements.js omits them before signing).
 */
export function validateData(type, data) {
  const spec = SCHEMA[type];
  if (!spec) throw new Error(`unknown event type ${type}`);
  const out = [];
  for (const name of Object.keys(data)) {
    if (!(name in spec)) out.push({ field: name, message_fr: M.unknown[0], message_en: M.unknown[1] });
  }
  for (const [name, m] of Object.entries(spec)) {
    const v = data[name];
    if (v === undefined) {
      if (!("default" in m) && !m.optional) out.push({ field: name, message_fr: M.missing[0], message_en: M.missing[1] });
      continue;
    }
    check(m.kind, v, name, out);
  }
  return out;
}
