// The ledger's refusals (RFC 9457 problems, docs/API.md §6 and docs/EVENTS.md "Rule
// codes") in plain French and English, for the workspace to show beside the field at
// fault. A code without words here falls back to the server's own `detail`.
//
// Entry point: explainProblem(status, problem) -> {code, rule?, field?, message_fr, message_en}

const TYPES = {
  "request-malformed": ["La demande n'a pas pu être lue.", "The request could not be read."],
  "envelope-malformed": ["L'enveloppe signée n'a pas la forme attendue.", "The signed envelope does not have its expected form."],
  "payload-not-canonical": ["L'énoncé n'est pas en JSON canonique.", "The statement is not canonical JSON."],
  "statement-malformed": ["L'énoncé n'a pas les membres ou les formes attendus.", "The statement lacks the expected members or forms."],
  "statement-wrong-ledger": ["L'énoncé est destiné à un autre registre.", "The statement is meant for another ledger."],
  "organization-profile-invalid": ["Le nom ou le profil de l'organisme sort du schéma permis.", "The organization's name or profile is outside the allowed schema."],
  "clock-skew": ["L'heure de votre ordinateur est trop éloignée de celle du registre ; corrigez-la et signez de nouveau.", "Your computer's clock is too far from the ledger's; fix it and sign again."],
  "signature-invalid": ["La signature ne se vérifie pas.", "The signature does not verify."],
  "signature-missing": ["Aucune signature n'est faite par la clé que l'énoncé nomme.", "No signature is by the key the statement names."],
  "key-unknown": ["Le registre ne connaît pas cette clé : l'organisme est-il inscrit avec elle ?", "The ledger does not know this key: is the organization registered with it?"],
  "key-revoked": ["Cette clé a été révoquée ; chargez une clé valide de l'organisme.", "This key was revoked; load a valid key of the organization."],
  "key-wrong-organization": ["Cette clé appartient à un autre organisme.", "This key belongs to another organization."],
  "registration-token-required": ["L'inscription demande le jeton d'inscription remis par l'exploitant du registre.", "Registration needs the registration token from the ledger's operator."],
  "registration-token-invalid": ["Ce jeton d'inscription n'est pas valide.", "This registration token is not valid."],
  "registration-token-used": ["Ce jeton d'inscription a déjà servi à inscrire un organisme.", "This registration token already registered an organization."],
  "token-missing": ["Un jeton d'accès est nécessaire.", "An access token is needed."],
  "token-invalid": ["Le jeton d'accès est inconnu ou révoqué.", "The access token is unknown or revoked."],
  "forbidden": ["Ce jeton ne permet pas cette lecture.", "This token does not allow this read."],
  "stream-version-conflict": ["Quelqu'un a inscrit un événement entre-temps.", "Someone recorded an event in the meantime."],
  "stream-version-gap": ["La version de l'énoncé saute une version du fil.", "The statement's version skips one of the stream."],
  "stream-prev-mismatch": ["L'énoncé ne suit pas le dernier événement du fil.", "The statement does not follow the stream's last event."],
  "event-too-large": ["L'énoncé est trop volumineux.", "The statement is too large."],
  "rate-limited": ["Trop de demandes ; réessayez dans un moment.", "Too many requests; try again in a moment."],
  "unavailable": ["Le registre est momentanément indisponible ; réessayez.", "The ledger is unavailable for a moment; try again."],
};

const RULES = {
  "agreement.exists": ["Cette entente existe déjà.", "This agreement already exists."],
  "agreement.not-drafted": ["Cette entente n'a pas encore été rédigée.", "This agreement has not been drafted yet."],
  "agreement.terminated": ["L'entente est terminée : elle n'accepte plus rien.", "The agreement is terminated and accepts nothing."],
  "agreement.suspended": ["L'entente est suspendue : seules les mesures de clôture sont permises.", "The agreement is suspended: only winding down is allowed."],
  "agreement.not-suspended": ["L'entente n'est pas suspendue.", "The agreement is not suspended."],
  "agreement.not-party": ["Votre organisme n'est pas partie à cette entente.", "Your organization is not a party to this agreement."],
  "agreement.wrong-stream": ["L'identifiant de l'entente ne correspond pas à son fil.", "The agreement id is not its stream's."],
  "event.malformed": ["Une valeur n'a pas la forme attendue.", "A value does not have its expected form."],
  "event.not-normal": ["Une valeur égale à sa valeur par défaut doit être omise.", "A value equal to its default must be left out."],
  "event.redundant": ["Cela ne changerait rien : c'est déjà inscrit.", "This would change nothing: it is already recorded."],
  "event.duplicate-item": ["La liste contient un doublon.", "The list holds a repeat."],
  "event.unknown-type": ["Type d'événement inconnu.", "Unknown event type."],
  "period.inverted": ["La période finit avant de commencer.", "The period ends before it starts."],
  "party.reserved-id": ["« collective » désigne le groupe et ne peut pas être une partie.", "\"collective\" names the group and cannot be a party."],
  "party.self-invited": ["Votre organisme est déjà partie ; il ne peut pas s'inviter.", "Your organization is already a party and cannot invite itself."],
  "party.already-party": ["Cet organisme est déjà partie à l'entente.", "This organization is already a party."],
  "party.not-invited": ["Seul un organisme invité peut se joindre à l'entente.", "Only an invited organization may join."],
  "party.withdrawal-retroactive": ["La date d'effet du retrait précède l'avis.", "The withdrawal's effective date is before its notice."],
  "party.last-party": ["La dernière partie ne peut pas se retirer ; terminez l'entente.", "The last party cannot withdraw; terminate instead."],
  "role.duplicate": ["Cet identifiant de rôle est déjà pris.", "This role id is taken."],
  "role.unknown": ["Aucun rôle ne porte cet identifiant.", "No role has this id."],
  "role.assignee-not-party": ["Le rôle est proposé à un organisme qui n'est pas partie.", "The role is proposed to an organization that is not a party."],
  "role.not-assignee": ["Seul l'organisme désigné accepte, refuse ou abandonne ce rôle.", "Only the assignee accepts, declines or relinquishes this role."],
  "role.already-accepted": ["Un rôle accepté s'abandonne, il ne se refuse pas.", "An accepted role is relinquished, not declined."],
  "role.not-accepted": ["Seul un rôle accepté peut être abandonné.", "Only an accepted role can be relinquished."],
  "role.closed": ["Ce rôle est clos.", "This role is closed."],
  "expectation.duplicate": ["Cet identifiant d'attente est déjà pris.", "This expectation id is taken."],
  "expectation.unknown": ["Aucune attente ne porte cet identifiant.", "No expectation has this id."],
  "expectation.not-holder": ["Seul l'organisme qui a énoncé l'attente la révise ou la retire.", "Only the holder revises or withdraws its expectation."],
  "expectation.withdrawn": ["Cette attente a été retirée.", "This expectation was withdrawn."],
  "expectation.self-addressed": ["Une partie n'adresse pas une attente à elle-même.", "A party does not address an expectation to itself."],
  "expectation.addressee-not-party": ["Un destinataire n'est pas partie.", "An addressee is not a party."],
  "expectation.not-addressee": ["Seul un destinataire prend en compte cette attente.", "Only an addressee acknowledges this expectation."],
  "expectation.hash-mismatch": ["Le texte de l'attente a changé depuis votre lecture ; relisez-le.", "The expectation's text changed since you read it; read it again."],
  "commitment.duplicate": ["Cet identifiant d'engagement est déjà pris.", "This commitment id is taken."],
  "commitment.unknown": ["Aucun engagement ne porte cet identifiant.", "No commitment has this id."],
  "commitment.not-provider": ["Seul le fournisseur modifie ou retire son engagement.", "Only the provider amends or withdraws its commitment."],
  "commitment.withdrawn": ["Cet engagement a été retiré.", "This commitment was withdrawn."],
  "commitment.receiver-not-party": ["Le bénéficiaire n'est ni une partie ni « collective ».", "The receiver is neither a party nor \"collective\"."],
  "commitment.self-receiver": ["Une partie ne s'engage pas envers elle-même.", "A party does not commit resources to itself."],
  "commitment.not-receiver": ["Seul le bénéficiaire déclare la valeur reçue.", "Only the receiving side declares the value received."],
  "fulfilment.duplicate": ["Cet identifiant de contribution est déjà pris.", "This fulfilment id is taken."],
  "fulfilment.unknown": ["Aucune contribution ne porte cet identifiant.", "No fulfilment has this id."],
  "fulfilment.not-provider": ["Seul le fournisseur consigne la contribution.", "Only the provider records the fulfilment."],
  "fulfilment.not-receiver": ["Seul le bénéficiaire confirme ou conteste.", "Only the receiving side confirms or contests."],
  "fulfilment.unit-mismatch": ["L'unité diffère de celle de l'engagement.", "The unit differs from the commitment's."],
  "stage.not-started": ["Cette étape n'a pas été amorcée.", "This stage has not been started."],
  "indicator.duplicate": ["Cet identifiant d'indicateur est déjà pris.", "This indicator id is taken."],
  "indicator.unknown": ["Aucun indicateur ne porte cet identifiant.", "No indicator has this id."],
  "measure.duplicate": ["Cet identifiant de mesure est déjà pris.", "This measurement id is taken."],
  "ratification.too-few-parties": ["Il faut au moins deux parties pour ratifier.", "At least two parties are needed to ratify."],
  "ratification.stale-version": ["Les termes ont changé : une nouvelle version attend votre lecture.", "The terms changed: a new version awaits your reading."],
  "ratification.hash-mismatch": ["L'empreinte ne correspond pas aux termes actuels.", "The hash is not that of the current terms."],
  "consent.duplicate": ["Cet identifiant de consentement est déjà pris.", "This consent id is taken."],
  "consent.unknown": ["Aucun consentement ne porte cet identifiant.", "No consent has this id."],
  "consent.not-holder": ["Seule la partie qui a consenti retire son consentement.", "Only the consenting party withdraws its consent."],
  "consent.expired": ["Le consentement expire avant le jour où il est donné.", "The consent expires before the day it is given."],
  "organization.not-self": ["Seul l'organisme lui-même écrit dans son propre fil.", "Only the organization itself writes in its own stream."],
  "organization.already-registered": ["L'organisme est déjà inscrit.", "The organization is already registered."],
  "organization.not-registered": ["L'organisme n'est pas encore inscrit.", "The organization is not registered yet."],
  "key.already-registered": ["Cette clé publique est déjà inscrite.", "This public key is already registered."],
  "key.not-own": ["Cette clé n'est pas une clé de votre organisme.", "This key is not one of your organization's."],
  "key.already-revoked": ["Cette clé est déjà révoquée.", "This key is already revoked."],
  "organization.unknown-type": ["Ce type d'événement n'existe pas pour un organisme.", "This event type does not exist for an organization."],
  "stream.unknown-kind": ["Ce fil n'est ni celui d'un organisme ni celui d'une entente.", "This stream is neither an organization's nor an agreement's."],
  "command.unknown": ["Cette commande n'existe pas.", "This command does not exist."],
  "command.malformed": ["L'organisme ou l'heure de la commande n'a pas sa forme.", "The command's organization or time does not have its form."],
  "event.mismatch": ["L'événement n'est pas celui que les règles produisent.", "The event is not what the rules make of it."],
  "key.last-key": ["C'est la dernière clé valide de l'organisme : ajoutez-en une autre avant de la révoquer.", "This is the organization's last valid key: add another before revoking it."],
};

/** The stable code of a problem: the last segment of its `type` URI. */
export function problemCode(problem) {
  const t = String((problem && problem.type) || "");
  return t.replace(/\/+$/, "").split("/").pop() || "client-error";
}

/** The refusal in plain French and English, with the rule and the field at fault. */
export function explainProblem(status, problem) {
  const code = problemCode(problem);
  const rule = problem && typeof problem.rule === "string" ? problem.rule : undefined;
  const words = (rule && RULES[rule]) || TYPES[code];
  const detail = (problem && (problem.detail || problem.title)) || `HTTP ${status}`;
  const out = {
    code, status,
    message_fr: words ? words[0] : `Le registre a refusé : ${detail}`,
    message_en: words ? words[1] : `The ledger refused: ${detail}`,
    detail,
  };
  if (rule) out.rule = rule;
  if (problem && typeof problem.field === "string") out.field = problem.field.replace(/^data\./, "");
  return out;
}

export const RULE_CODES = Object.keys(RULES);
