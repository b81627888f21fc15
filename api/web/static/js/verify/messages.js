// What the verification says to a person, in French first and English second: the
// success sentence with its counts, or the first failure, plainly, with its event.

const FAILURES = {
  "log-key-changed": ["La clé du registre a changé depuis votre dernière visite : rien n'est vérifié. Comparez l'empreinte avec celle publiée par l'opérateur.",
    "The register's key changed since your last visit: nothing is verified. Compare the fingerprint with the one the operator publishes."],
  "log-key-invalid": ["La clé du registre est illisible ou dangereuse.", "The register's key is unreadable or unsafe."],
  "fetch-failed": ["Impossible de lire le registre", "Could not read the register"],
  "server-refused": ["Le registre refuse de servir ce qu'il faudrait vérifier : rien n'est vérifié.",
    "The register refuses to serve what is to be verified: nothing is verified."],
  "token-needed": ["Ce contenu n'est lisible qu'avec un jeton : rien n'est vérifié.",
    "This content is readable only with a token: nothing is verified."],
  "checkpoint-invalid": ["Le point de contrôle n'est pas signé par la clé épinglée du registre.", "The checkpoint is not signed by the register's pinned key."],
  "consistency-invalid": ["Le registre a réécrit son passé : l'arbre vu lors d'une visite précédente n'est pas un préfixe de l'arbre actuel.",
    "The register rewrote its past: the tree seen on an earlier visit is not a prefix of the current one."],
  "inclusion-invalid": ["Une preuve d'inclusion ne correspond pas au point de contrôle signé.", "An inclusion proof does not match the signed checkpoint."],
  "not-in-checkpoint": ["Des événements récents ne sont pas encore couverts par un point de contrôle signé ; réessayez dans un instant.",
    "Recent events are not yet covered by a signed checkpoint; try again in a moment."],
  "signature-invalid": ["Une signature ne correspond pas à l'événement signé.", "A signature does not match the signed event."],
  "signature-missing": ["Un événement n'est pas signé par la clé qu'il nomme.", "An event is not signed by the key it names."],
  "key-unknown": ["Un événement est signé par une clé que l'historique de l'organisation ne tient pas à cette position.",
    "An event is signed by a key the organization's history does not hold at that position."],
  "key-revoked": ["Un événement est signé par une clé déjà révoquée.", "An event is signed by a key already revoked."],
  "key-wrong-organization": ["Un événement est signé par la clé d'une autre organisation.", "An event is signed by another organization's key."],
  "stream-version-gap": ["Il manque un événement dans la chaîne.", "An event is missing from the chain."],
  "stream-version-conflict": ["Deux événements portent la même version.", "Two events carry the same version."],
  "stream-prev-mismatch": ["La chaîne d'empreintes est rompue.", "The hash chain is broken."],
  "stream-mismatch": ["Le registre a répondu avec d'autres événements que ceux que montre la page.",
    "The ledger answered with other events than those the page shows."],
  "wrong-ledger": ["Un événement appartient à un autre registre.", "An event belongs to another register."],
  "envelope-malformed": ["Une enveloppe signée est mal formée.", "A signed envelope is malformed."],
  "payload-type-unknown": ["Une enveloppe signée est d'un type inconnu.", "A signed envelope has an unknown type."],
  "payload-not-canonical": ["Un événement n'est pas sous sa forme canonique.", "An event is not in its canonical form."],
  "json-too-deep": ["Un événement est imbriqué trop profondément.", "An event nests too deep."],
  "statement-malformed": ["Un événement est mal formé.", "An event is malformed."],
  "leaf-envelope": ["Une entrée du journal ne contient pas l'enveloppe montrée.", "A log entry does not hold the envelope shown."],
  "recorded-at-order": ["L'heure d'enregistrement recule.", "A recorded time goes backwards."],
  "state-hash-mismatch": ["L'empreinte des termes ne correspond pas à une ratification.", "The terms' fingerprint does not match a ratification."],
  "bundle-malformed": ["Le fichier d'export est illisible.", "The export file is unreadable."],
  "checkpoint-root": ["L'arbre du fichier ne donne pas la racine signée.", "The file's tree does not give the signed root."],
  "rollback": ["Le registre est plus court qu'un point de contrôle déjà vu.", "The register is shorter than a checkpoint already seen."],
  "empty": ["Rien à vérifier.", "Nothing to verify."],
};

const plural = (n, one, many) => `${n.toLocaleString("fr-FR").replace(/\u202f|\u00a0/g, " ")} ${n === 1 ? one : many}`;
const pluralEn = (n, one, many) => `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/** The sentence for an ok result. */
export function successSentence(counts, lang = "fr") {
  const { signatures, inclusions, ratifications_matching: r } = counts;
  if (lang === "en") {
    const rat = r === 0 ? "" : `, terms fingerprint matches ${r === 1 ? "the ratification" : `all ${r} ratifications`}`;
    return `Verified in your browser: ${pluralEn(signatures, "signature", "signatures")}, ${pluralEn(inclusions, "inclusion proof", "inclusion proofs")}${rat}.`;
  }
  const rat = r === 0 ? "" : `, empreinte des termes conforme ${r === 1 ? "à la ratification" : `aux ${r} ratifications`}`;
  return `Vérifié dans votre navigateur : ${plural(signatures, "signature", "signatures")}, ${plural(inclusions, "preuve d'inclusion", "preuves d'inclusion")}${rat}.`;
}

/** {message_fr, message_en} for a failure code, with the event it concerns and a detail. */
export function failureMessages(code, { position, event, detail } = {}) {
  const [fr, en] = FAILURES[code] || ["La vérification a échoué.", "Verification failed."];
  let whereFr = "", whereEn = "";
  if (event) {
    whereFr = ` Événement : ${event.stream} version ${event.version} (${event.type}, par ${event.actor}), position ${position}.`;
    whereEn = ` Event: ${event.stream} version ${event.version} (${event.type}, by ${event.actor}), position ${position}.`;
  } else if (position !== undefined && position !== null) {
    whereFr = ` Position ${position} du journal.`;
    whereEn = ` Log position ${position}.`;
  }
  const tail = detail ? ` (${detail})` : "";
  return { message_fr: `Échec de la vérification : ${fr}${whereFr}${tail}`, message_en: `Verification failed: ${en}${whereEn}${tail}` };
}

export const FAILURE_CODES = Object.keys(FAILURES);
