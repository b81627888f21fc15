// A statement in plain words, the way a coordinator would say it, for the page to show
// before signing (the exact JSON is shown beside it, and describe() in statements.js
// names every member). Pure; French and English.
//
// Entry point:
//
//   sentence(statement, lang)  -> one sentence starting with the actor, or null for a type
//                                 it does not word (the page then shows describe() alone)

const q = (x) => (x ? `${x.amount} ${x.unit}` : "");
const to = (r, fr) => (r === "collective" ? (fr ? "toutes les parties" : "all the parties") : r);
const addressed = (a, fr) => (a === undefined || a === "all"
  ? (fr ? "aux autres parties" : "to the other parties")
  : `${fr ? "à" : "to"} ${a.join(", ")}`);
const span = (p, fr) => (fr ? `du ${p.start} au ${p.end}` : `from ${p.start} to ${p.end}`);
const because = (r, fr) => (r ? (fr ? ` ; motif : « ${r} »` : `; reason: "${r}"`) : "");

function commitment(d, fr, verbFr, verbEn) {
  const parts = [fr
    ? `${verbFr} envers ${to(d.receiver, true)} : « ${d.description} » (${d.category}), ${q(d.quantity)}, ${span(d.period, true)}`
    : `${verbEn} to ${to(d.receiver, false)}: "${d.description}" (${d.category}), ${q(d.quantity)}, ${span(d.period, false)}`];
  if (d.conditions) parts.push(fr ? `conditions : « ${d.conditions} »` : `conditions: "${d.conditions}"`);
  if (d.value) parts.push(fr ? `valeur qu'il lui donne : ${q(d.value)}` : `the value it gives it: ${q(d.value)}`);
  if (d.fair_value) parts.push(fr ? `juste valeur estimée : ${q(d.fair_value)} (${d.fair_value.method})` : `estimated fair value: ${q(d.fair_value)} (${d.fair_value.method})`);
  return parts.join(fr ? " ; " : "; ");
}

const SAY = {
  "porteur.named": (d, fr) => (fr ? `désigne sa personne porteuse, d'identifiant pseudonyme ${d.person_id}` : `names its porteur, pseudonymous id ${d.person_id}`),
  "stage.started": (d, fr) => (fr ? `amorce l'étape ${d.stage}` : `starts the stage ${d.stage}`),
  "stage.completion_acknowledged": (d, fr) => (fr ? `reconnaît que l'étape ${d.stage} est terminée` : `acknowledges that the stage ${d.stage} is complete`),
  "expectation.stated": (d, fr) => (fr ? `énonce l'attente « ${d.expectation_id} », adressée ${addressed(d.addressed_to, true)} : « ${d.text} »` : `states the expectation "${d.expectation_id}", addressed ${addressed(d.addressed_to, false)}: "${d.text}"`),
  "expectation.revised": (d, fr) => (fr ? `révise l'attente « ${d.expectation_id} », adressée ${addressed(d.addressed_to, true)} : « ${d.text} »` : `revises the expectation "${d.expectation_id}", addressed ${addressed(d.addressed_to, false)}: "${d.text}"`),
  "expectation.withdrawn": (d, fr) => (fr ? `retire l'attente « ${d.expectation_id} »` : `withdraws the expectation "${d.expectation_id}"`) + because(d.reason, fr),
  "expectation.acknowledged": (d, fr) => (fr ? `prend en compte l'attente « ${d.expectation_id} » (l'a lue et comprise, sans y adhérer)` : `acknowledges the expectation "${d.expectation_id}" (read and understood, not agreed to)`),
  "role.proposed": (d, fr) => (fr ? `propose le rôle « ${d.name} » (${d.role_id}) à ${d.assignee}` : `proposes the role "${d.name}" (${d.role_id}) to ${d.assignee}`),
  "role.accepted": (d, fr) => (fr ? `accepte le rôle ${d.role_id}` : `accepts the role ${d.role_id}`) + (d.person_id ? (fr ? `, assumé par ${d.person_id}` : `, taken on by ${d.person_id}`) : ""),
  "role.declined": (d, fr) => (fr ? `refuse le rôle ${d.role_id}` : `declines the role ${d.role_id}`) + because(d.reason, fr),
  "role.relinquished": (d, fr) => (fr ? `abandonne le rôle ${d.role_id}` : `relinquishes the role ${d.role_id}`) + because(d.reason, fr),
  "commitment.offered": (d, fr) => commitment(d, fr, `s'engage (${d.commitment_id})`, `commits (${d.commitment_id})`),
  "commitment.amended": (d, fr) => commitment(d, fr, `modifie son engagement ${d.commitment_id}`, `amends its commitment ${d.commitment_id}`),
  "commitment.withdrawn": (d, fr) => (fr ? `retire son engagement ${d.commitment_id}` : `withdraws its commitment ${d.commitment_id}`) + because(d.reason, fr),
  "commitment.received_value_declared": (d, fr) => (fr ? `déclare que l'engagement ${d.commitment_id} vaut pour lui ${q(d.value)}` : `declares that the commitment ${d.commitment_id} is worth ${q(d.value)} to it`),
  "fulfilment.recorded": (d, fr) => (fr ? `déclare avoir fourni ${q(d.quantity)} au titre de l'engagement ${d.commitment_id}, ${span(d.period, true)} (${d.fulfilment_id})` : `declares it provided ${q(d.quantity)} under the commitment ${d.commitment_id}, ${span(d.period, false)} (${d.fulfilment_id})`)
    + (d.evidence_sha256 ? (fr ? ` ; pièce d'empreinte ${d.evidence_sha256.slice(0, 12)}…` : `; evidence with hash ${d.evidence_sha256.slice(0, 12)}…`) : ""),
  "fulfilment.confirmed": (d, fr) => (fr ? `confirme avoir reçu la contribution ${d.fulfilment_id}` : `confirms it received the fulfilment ${d.fulfilment_id}`),
  "fulfilment.contested": (d, fr) => (fr ? `conteste la contribution ${d.fulfilment_id}` : `contests the fulfilment ${d.fulfilment_id}`) + because(d.reason, fr),
  "indicator.defined": (d, fr) => (fr ? `définit l'indicateur « ${d.name} » (${d.indicator_id}), en ${d.unit}` : `defines the indicator "${d.name}" (${d.indicator_id}), in ${d.unit}`) + (d.target ? (fr ? `, cible ${d.target}` : `, target ${d.target}`) : ""),
  "indicator.measured": (d, fr) => (fr ? `mesure ${d.value} pour l'indicateur ${d.indicator_id}, ${span(d.period, true)} ; pièce d'empreinte ${d.evidence_sha256.slice(0, 12)}…` : `measures ${d.value} for the indicator ${d.indicator_id}, ${span(d.period, false)}; evidence with hash ${d.evidence_sha256.slice(0, 12)}…`),
  "consent.given": (d, fr) => (fr ? `consent à partager avec ${d.trust_id} (${d.scope.join(", ")}) jusqu'au ${d.expires_on}, sous licence ${d.licence}` : `consents to share with ${d.trust_id} (${d.scope.join(", ")}) until ${d.expires_on}, under the licence ${d.licence}`),
  "consent.withdrawn": (d, fr) => (fr ? `retire son consentement ${d.consent_id}` : `withdraws its consent ${d.consent_id}`) + because(d.reason, fr),
  "party.withdrew": (d, fr) => (fr ? `se retire de l'entente, avec effet le ${d.effective_on}` : `withdraws from the agreement, effective on ${d.effective_on}`) + because(d.reason, fr),
  "agreement.suspended": (d, fr) => (fr ? "suspend l'entente" : "suspends the agreement") + because(d.reason, fr),
  "agreement.resumed": (d, fr) => (fr ? "reprend l'entente" : "resumes the agreement") + because(d.reason, fr),
  "agreement.terminated": (d, fr) => (fr ? "termine l'entente, sans retour" : "terminates the agreement, for good") + because(d.reason, fr),
};

export function sentence(st, lang = "fr") {
  const say = SAY[st.type];
  if (!say) return null;
  return `${st.actor} ${say(st.data, lang !== "en")}.`;
}
