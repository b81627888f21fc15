"""The pages' words in French and English, and how dates and amounts are written.

Why one table: a reviewer reads and corrects the vocabulary without touching layout,
and a missing English (or French) word fails a test rather than a page. French is the
default; English is chosen by ``?lang=en`` (kept in a cookie), else by the browser's
``Accept-Language``. The written agreement's own words stay in
``ledger.domain.labels``.

Dates and amounts follow fr-CA and en-CA: ``2026-03-05`` is « 5 mars 2026 » and
"March 5, 2026"; 1500.5 is « 1 500,5 » and "1,500.5"; a currency sign goes after the
amount in French (« 1 500 $ ») and before it in English ("$1,500").
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from ledger.domain.labels import CURRENCIES, LABELS, UNITS

__all__ = ["LANGS", "STRINGS", "Words", "choose_lang", "words"]

LANGS: Final = ("fr", "en")

_FR: Final[dict[str, str]] = {
    "site.title": "Registre des ententes de mutualisation",
    "site.short": "Registre",
    "skip": "Aller au contenu",
    "nav.register": "Registre",
    "nav.log": "Journal",
    "nav.provenance": "Provenance",
    "nav.api": "Documentation de l'API",
    "nav.workspace": "Espace de l'organisme",
    "ws.title": "Espace de l'organisme",
    "ws.intro": "Votre organisme signe ici, dans ce navigateur, avec sa propre clé : "
    "la clé privée ne quitte jamais cet ordinateur, seul l'énoncé signé est envoyé au "
    "registre.",
    "ws.nojs": "L'espace signe dans le navigateur : il demande JavaScript.",
    "ws.identity": "Votre organisme",
    "ws.org": "Identifiant de l'organisme",
    "ws.token": "Jeton d'organisme (ml_…)",
    "ws.session_help": "L'identifiant et les jetons restent dans cet onglet (session du "
    "navigateur) et ne sont envoyés qu'à ce registre.",
    "ws.key": "Clé de signature",
    "ws.key.none": "Aucune clé n'est chargée.",
    "ws.key.ready": "Clé chargée ; son identifiant : {key}",
    "ws.key.generate": "Créer une nouvelle clé",
    "ws.key.download": "Télécharger la clé (fichier PEM) et la garder en lieu sûr",
    "ws.key.file": "Charger un fichier de clé (PEM, « ledger keygen »)",
    "ws.key.forget": "Oublier cette clé",
    "ws.key.help": "La clé reste dans ce navigateur, non exportable ; « Oublier cette "
    "clé » l'efface. Sans le fichier téléchargé, une clé oubliée est perdue.",
    "ws.need_key": "Chargez ou créez d'abord la clé de l'organisme.",
    "ws.need_org": "Saisissez d'abord l'identifiant de l'organisme.",
    "ws.register": "Inscrire l'organisme",
    "ws.regtoken": "Jeton d'inscription (remis par l'exploitant)",
    "ws.name": "Nom de l'organisme",
    "ws.profile": "Profil public (facultatif)",
    "ws.website": "Site web (https://…)",
    "ws.region": "Région",
    "ws.legal_form": "Forme juridique (p. ex. OBNL, coopérative)",
    "ws.sector": "Secteur (p. ex. culture)",
    "ws.agreement": "Entente",
    "ws.agreement_id": "Identifiant de l'entente",
    "ws.draft": "Rédiger une entente",
    "ws.draft.title": "Titre",
    "ws.draft.purpose": "Vision commune, raison d'être",
    "ws.draft.binding": "Entente contraignante",
    "ws.draft.public": "Entente publique (lisible par tous dans le registre)",
    "ws.draft.invited": "Organismes invités (identifiants séparés par des virgules)",
    "ws.join": "Se joindre à l'entente",
    "ws.expect": "Énoncer une attente",
    "ws.expect.id": "Identifiant de l'attente",
    "ws.expect.text": "Texte de l'attente",
    "ws.ack": "Prendre en compte une attente",
    "ws.ratify": "Ratifier une version des termes",
    "ws.ratify.version": "Version des termes (N)",
    "ws.review": "Relire avant de signer",
    "ws.sign": "Signer et envoyer",
    "ws.words": "Ce que vous signez",
    "ws.json": "Le JSON exact qui sera signé",
    "ws.working": "En cours…",
    "ws.receipt": "Inscrit au journal à la position {position} ; inclusion vérifiée "
    "dans un point de contrôle signé (taille {size}).",
    "ws.refused": "Refusé : {message}",
    "ws.attention": "Ce qui demande mon attention",
    "ws.attention.refresh": "Actualiser",
    "ws.attention.none": "Rien n'attend votre organisme dans cette entente.",
    "ws.attention.ack": "Attente « {id} » de {holder} à prendre en compte : {text}",
    "ws.attention.ratify": "Version {version} des termes à ratifier.",
    "ws.attention.join": "Votre organisme est invité à se joindre à l'entente.",
    "ws.attention.fill": "Remplir le formulaire",
    "lang.switch": "English",
    "lang.switch.label": "Read this page in English",
    "token.legend": "Jeton d'accès",
    "token.help": "Les ententes privées demandent un jeton. Il reste dans cet onglet "
    "(session du navigateur) et n'est envoyé qu'à ce registre.",
    "token.label": "Jeton (ml_…)",
    "token.use": "Utiliser",
    "token.forget": "Oublier le jeton",
    "token.active": "Un jeton est utilisé pour cette session.",
    "footer.about": "Registre signé et vérifiable : chaque page est tirée des "
    "événements signés du journal.",
    "register.title": "Registre",
    "register.organizations": "Organismes",
    "register.agreements": "Ententes",
    "register.log": "Journal",
    "register.size": "Taille du journal",
    "register.checkpoint": "Dernier point de contrôle",
    "register.no_checkpoint": "Aucun point de contrôle signé pour l'instant.",
    "register.none": "Aucune entente ne répond à ces critères.",
    "register.more": "Ententes suivantes",
    "register.shown": "{n} ententes affichées",
    "register.shown.one": "Une entente affichée",
    "register.verifier": "Pour vérifier sans faire confiance à ce serveur, ouvrez depuis "
    "votre disque le vérificateur autonome (un seul fichier, avec un export du registre "
    "ou l'adresse de ce registre) :",
    "register.verifier.link": "télécharger verify.html",
    "search.legend": "Rechercher et filtrer",
    "search.q": "Titre ou identifiant",
    "search.category": "Catégorie de ressource",
    "search.org": "Organisme",
    "search.status": "Statut",
    "search.any": "Tous",
    "search.submit": "Filtrer",
    "col.agreement": "Entente",
    "col.status": "Statut",
    "col.stage": "Étape en cours",
    "col.parties": "Parties",
    "col.force": "Vigueur",
    "col.id": "Identifiant",
    "col.name": "Nom",
    "status.active": "Active",
    "status.draft": "En rédaction",
    "status.in_force": "En vigueur",
    "status.suspended": "Suspendue",
    "status.terminated": "Terminée",
    "status.absent": "Non rédigée",
    "force.in_force": "En vigueur (version {v})",
    "force.pending": "En attente de ratification",
    "force.pending_version": "Version {v} en attente de ratification",
    "force.none": "Pas en vigueur",
    "public": "Publique",
    "private": "Privée",
    "org.title": "Organisme",
    "org.profile": "Profil",
    "org.registered_at": "Inscrit à la position",
    "org.keys": "Clés de signature",
    "org.key": "Clé",
    "org.key.label": "Libellé",
    "org.key.from": "Valide dès la position",
    "org.key.until": "Jusqu'à la position",
    "org.key.forever": "toujours valide",
    "org.key.reason": "Motif de révocation",
    "org.agreements": "Ententes",
    "org.portfolio": "Portefeuille",
    "org.portfolio.scope": "Calculé sur les ententes que vous pouvez lire.",
    "org.portfolio.given": "Donne",
    "org.portfolio.received": "Reçoit",
    "org.portfolio.none": "Aucune valeur déclarée.",
    "org.portfolio.chart": "Valeurs déclarées par catégorie et unité : données et reçues",
    "org.portfolio.by_category": "Valeurs déclarées par catégorie",
    "org.portfolio.by_unit": "Totaux par unité",
    "org.portfolio.unit": "Unité",
    "agreement.title": "Entente",
    "agreement.summary": "En bref",
    "agreement.status": "Statut",
    "agreement.in_force": "Version en vigueur",
    "agreement.pending": "Version en attente",
    "agreement.nature": "Nature",
    "agreement.binding": "Convention (engage juridiquement)",
    "agreement.nonbinding": "Protocole d'entente (n'engage pas juridiquement)",
    "agreement.visibility": "Visibilité",
    "agreement.vision": "Vision commune",
    "agreement.parties": "Parties et porteurs de projet",
    "agreement.party": "Partie",
    "agreement.porteur": "Porteur·euse de projet",
    "agreement.since": "Depuis",
    "agreement.invited": "Invité par",
    "agreement.expectations": "Attentes",
    "agreement.expectation": "Attente",
    "agreement.holder": "Énoncée par",
    "agreement.acks": "Reconnue par",
    "agreement.roles": "Rôles",
    "agreement.role": "Rôle",
    "agreement.assignee": "Assumé par",
    "agreement.commitments": "Engagements",
    "agreement.provider": "Fournisseur",
    "agreement.receiver": "Bénéficiaire",
    "agreement.collective": "l'ensemble des parties",
    "agreement.category": "Catégorie",
    "agreement.quantity": "Quantité",
    "agreement.period": "Période",
    "agreement.provider_value": "Valeur déclarée par le fournisseur",
    "agreement.receiver_values": "Valeurs déclarées par les bénéficiaires",
    "agreement.fulfilment": "Réalisation",
    "agreement.fulfilment.fmt": "{n} consignée(s), {c} confirmée(s), {x} contestée(s)",
    "agreement.withdrawn": "retiré",
    "agreement.indicators": "Indicateurs",
    "agreement.indicator.target": "Cible",
    "agreement.indicator.chart": "Mesures de « {name} » au fil du temps, avec la cible",
    "agreement.measure": "Mesure",
    "agreement.stages": "Étapes de la démarche",
    "agreement.stage.done": "Complétée",
    "agreement.stage.progress": "En cours : {n} sur {m}",
    "agreement.stage.todo": "Non amorcée",
    "agreement.ratification": "Ratification par partie",
    "agreement.terms_version": "Version des termes",
    "agreement.signed_at": "Ratifiée le",
    "agreement.key": "Clé",
    "agreement.position": "Position",
    "agreement.not_ratified": "non ratifiée",
    "agreement.document": "L'entente écrite",
    "agreement.document.fr": "En français",
    "agreement.document.en": "In English",
    "agreement.print": "Version imprimable",
    "agreement.timeline": "Événements signés",
    "agreement.when": "Quand",
    "agreement.who": "Qui",
    "agreement.what": "Quoi",
    "agreement.timeline.more": "Les {n} événements précédents ne sont pas affichés.",
    "agreement.diff": "Différence entre deux versions",
    "agreement.diff.from": "De la version (n° d'événement)",
    "agreement.diff.to": "À la version (n° d'événement)",
    "agreement.diff.show": "Comparer",
    "agreement.diff.same": "Aucune différence entre ces deux versions.",
    "agreement.diff.caption": "Texte de l'entente, version {a} → version {b}",
    "agreement.versions": "Ratification par version des termes",
        "agreement.versions.intro": "Chaque version des termes qu'une partie a ratifiée, et la "
    "version actuelle : chaque partie de cette version, ratifiée ou non, quand et avec quelle clé.",
    "agreement.versions.version": "Version {n}",
    "agreement.versions.current": "actuelle",
    "agreement.versions.in_force": "en vigueur",
    "agreement.versions.state": "Ratification",
    "agreement.versions.yes": "ratifiée",
    "agreement.changes": "Ce qui a changé entre deux versions des termes",
    "agreement.changes.from": "De la version des termes",
    "agreement.changes.to": "À la version des termes",
    "agreement.changes.caption": "Termes, version {a} → version {b}",
    "agreement.changes.none": "Les termes sont les mêmes dans ces deux versions.",
    "agreement.changes.terms": "L'entente",
    "agreement.changes.added": "ajouté",
    "agreement.changes.removed": "retiré",
    "agreement.changes.changed": "modifié",
    "agreement.changes.what": "Élément",
    "agreement.changes.before": "Avant",
    "agreement.changes.after": "Après",
    "agreement.changes.yes": "oui",
    "agreement.changes.no": "non",
    "member.title": "titre",
    "member.purpose": "vision commune",
    "member.binding": "engage juridiquement",
    "member.org": "organisme",
    "member.porteur": "porteur·euse",
    "member.id": "identifiant",
    "member.holder": "énoncée par",
    "member.text": "texte",
    "member.addressed_to": "destinataires",
    "member.name": "nom",
    "member.description": "description",
    "member.assignee": "assumé par",
    "member.person": "personne",
    "member.provider": "fournisseur",
    "member.receiver": "bénéficiaire",
    "member.category": "catégorie",
    "member.quantity": "quantité",
    "member.period": "période",
    "member.conditions": "conditions",
    "member.value": "valeur déclarée",
    "member.fair_value": "juste valeur estimée",
    "member.receiver_values": "valeurs déclarées par les bénéficiaires",
    "member.unit": "unité",
    "member.method": "méthode",
    "member.target": "cible",
    "verify.title": "Vérification",
    "verify.pending": "La vérification dans le navigateur démarre…",
    "verify.nojs": "La vérification dans le navigateur demande JavaScript. Les mêmes "
    "données se vérifient hors ligne avec « ledger verify ».",
    "verify.unavailable": "La vérification dans le navigateur n'est pas disponible sur "
    "ce serveur.",
    "verify.failed": "La vérification n'a pas pu se faire : {error}",
    "print.verified": "Résumé de vérification",
    "print.page": "Page de l'entente",
    "print.qr": "Code QR de l'adresse de la page de l'entente",
    "print.hash": "Empreinte de l'état",
    "print.printed": "Imprimé le",
    "print.button": "Imprimer",
    "log.title": "Journal de transparence",
    "log.size": "Taille",
    "log.checkpoints": "Derniers points de contrôle",
    "log.checkpoint": "Point de contrôle",
    "log.size_over_time": "Taille du journal au fil du temps",
    "log.lookup": "Chercher une entrée",
    "log.position": "Position",
    "log.show": "Afficher",
    "log.entry": "Entrée",
    "log.stream": "Flux",
    "log.type": "Type",
    "log.leaf": "Empreinte de feuille",
    "log.proof": "Preuve d'inclusion",
    "log.token_needed": "Les entrées et leurs preuves demandent un jeton d'auditeur ou "
    "de fiducie.",
    "prov.title": "Provenance",
    "prov.intro": "Pour une fiducie ou un auditeur muni d'un jeton : la provenance d'une "
    "entente, d'un engagement ou d'un organisme, telle que l'API la répond.",
    "prov.kind": "Objet",
    "prov.kind.agreement": "Entente",
    "prov.kind.commitment": "Engagement",
    "prov.kind.organization": "Organisme",
    "prov.agreement": "Identifiant de l'entente",
    "prov.commitment": "Identifiant de l'engagement",
    "prov.organization": "Identifiant de l'organisme",
    "prov.ask": "Demander",
    "prov.answer": "Réponse de l'API",
    "prov.nojs": "Cette page envoie votre jeton à l'API : elle demande JavaScript.",
    "error.title": "Erreur",
    "error.404": "Introuvable",
    "error.401": "Jeton nécessaire ou refusé",
    "error.403": "Accès refusé",
    "error.other": "La demande n'a pas abouti",
    "error.back": "Retour au registre",
    "error.token_hint": "Saisissez un jeton qui donne accès à cette page (il reste dans "
    "cet onglet seulement).",
    "units.none": "—",
}

_EN: Final[dict[str, str]] = {
    "site.title": "Register of mutualisation agreements",
    "site.short": "Register",
    "skip": "Skip to content",
    "nav.register": "Register",
    "nav.log": "Log",
    "nav.provenance": "Provenance",
    "nav.api": "API documentation",
    "nav.workspace": "Organization's workspace",
    "ws.title": "Organization's workspace",
    "ws.intro": "Your organization signs here, in this browser, with its own key: the "
    "private key never leaves this computer; only the signed statement is sent to the "
    "register.",
    "ws.nojs": "The workspace signs in the browser: it needs JavaScript.",
    "ws.identity": "Your organization",
    "ws.org": "Organization id",
    "ws.token": "Organization token (ml_…)",
    "ws.session_help": "The id and the tokens stay in this tab (the browser's session) and "
    "are sent to this register only.",
    "ws.key": "Signing key",
    "ws.key.none": "No key is loaded.",
    "ws.key.ready": "Key loaded; its id: {key}",
    "ws.key.generate": "Create a new key",
    "ws.key.download": "Download the key (PEM file) and keep it somewhere safe",
    "ws.key.file": "Load a key file (PEM, \"ledger keygen\")",
    "ws.key.forget": "Forget this key",
    "ws.key.help": "The key stays in this browser, not exportable; \"Forget this key\" "
    "erases it. Without the downloaded file, a forgotten key is lost.",
    "ws.need_key": "Load or create the organization's key first.",
    "ws.need_org": "Type the organization's id first.",
    "ws.register": "Register the organization",
    "ws.regtoken": "Registration token (from the operator)",
    "ws.name": "Organization's name",
    "ws.profile": "Public profile (optional)",
    "ws.website": "Website (https://…)",
    "ws.region": "Region",
    "ws.legal_form": "Legal form (e.g. non-profit, co-operative)",
    "ws.sector": "Sector (e.g. culture)",
    "ws.agreement": "Agreement",
    "ws.agreement_id": "Agreement id",
    "ws.draft": "Draft an agreement",
    "ws.draft.title": "Title",
    "ws.draft.purpose": "Shared vision, purpose",
    "ws.draft.binding": "Binding agreement",
    "ws.draft.public": "Public agreement (anyone reads it in the register)",
    "ws.draft.invited": "Invited organizations (ids separated by commas)",
    "ws.join": "Join the agreement",
    "ws.expect": "State an expectation",
    "ws.expect.id": "Expectation id",
    "ws.expect.text": "Expectation's text",
    "ws.ack": "Acknowledge an expectation",
    "ws.ratify": "Ratify a version of the terms",
    "ws.ratify.version": "Terms version (N)",
    "ws.review": "Review before signing",
    "ws.sign": "Sign and send",
    "ws.words": "What you sign",
    "ws.json": "The exact JSON to be signed",
    "ws.working": "Working…",
    "ws.receipt": "Recorded in the log at position {position}; inclusion verified in a "
    "signed checkpoint (size {size}).",
    "ws.refused": "Refused: {message}",
    "ws.attention": "What needs my attention",
    "ws.attention.refresh": "Refresh",
    "ws.attention.none": "Nothing awaits your organization in this agreement.",
    "ws.attention.ack": "Expectation \"{id}\" of {holder} to acknowledge: {text}",
    "ws.attention.ratify": "Terms version {version} to ratify.",
    "ws.attention.join": "Your organization is invited to join the agreement.",
    "ws.attention.fill": "Fill in the form",
    "lang.switch": "Français",
    "lang.switch.label": "Lire cette page en français",
    "token.legend": "Access token",
    "token.help": "Private agreements need a token. It stays in this tab (the browser "
    "session) and is sent to this register only.",
    "token.label": "Token (ml_…)",
    "token.use": "Use",
    "token.forget": "Forget the token",
    "token.active": "A token is used for this session.",
    "footer.about": "A signed, verifiable register: every page is drawn from the log's "
    "signed events.",
    "register.title": "Register",
    "register.organizations": "Organizations",
    "register.agreements": "Agreements",
    "register.log": "Log",
    "register.size": "Log size",
    "register.checkpoint": "Latest checkpoint",
    "register.no_checkpoint": "No signed checkpoint yet.",
    "register.none": "No agreement matches these criteria.",
    "register.more": "Next agreements",
    "register.shown": "{n} agreements shown",
    "register.shown.one": "One agreement shown",
    "register.verifier": "To verify without trusting this server, open the standalone "
    "verifier from your disk (one file, with an export of the register or this "
    "register's address):",
    "register.verifier.link": "download verify.html",
    "search.legend": "Search and filter",
    "search.q": "Title or id",
    "search.category": "Resource category",
    "search.org": "Organization",
    "search.status": "Status",
    "search.any": "Any",
    "search.submit": "Filter",
    "col.agreement": "Agreement",
    "col.status": "Status",
    "col.stage": "Current stage",
    "col.parties": "Parties",
    "col.force": "In force",
    "col.id": "Id",
    "col.name": "Name",
    "status.active": "Active",
    "status.draft": "Being drafted",
    "status.in_force": "In force",
    "status.suspended": "Suspended",
    "status.terminated": "Terminated",
    "status.absent": "Not drafted",
    "force.in_force": "In force (version {v})",
    "force.pending": "Awaiting ratification",
    "force.pending_version": "Version {v} awaiting ratification",
    "force.none": "Not in force",
    "public": "Public",
    "private": "Private",
    "org.title": "Organization",
    "org.profile": "Profile",
    "org.registered_at": "Registered at position",
    "org.keys": "Signing keys",
    "org.key": "Key",
    "org.key.label": "Label",
    "org.key.from": "Valid from position",
    "org.key.until": "Until position",
    "org.key.forever": "still valid",
    "org.key.reason": "Revocation reason",
    "org.agreements": "Agreements",
    "org.portfolio": "Portfolio",
    "org.portfolio.scope": "Computed over the agreements you may read.",
    "org.portfolio.given": "Gives",
    "org.portfolio.received": "Receives",
    "org.portfolio.none": "No declared value.",
    "org.portfolio.chart": "Declared values by category and unit: given and received",
    "org.portfolio.by_category": "Declared values by category",
    "org.portfolio.by_unit": "Totals by unit",
    "org.portfolio.unit": "Unit",
    "agreement.title": "Agreement",
    "agreement.summary": "Summary",
    "agreement.status": "Status",
    "agreement.in_force": "Version in force",
    "agreement.pending": "Pending version",
    "agreement.nature": "Nature",
    "agreement.binding": "Binding agreement",
    "agreement.nonbinding": "Memorandum of understanding (not legally binding)",
    "agreement.visibility": "Visibility",
    "agreement.vision": "Shared vision",
    "agreement.parties": "Parties and project leads",
    "agreement.party": "Party",
    "agreement.porteur": "Project lead",
    "agreement.since": "Since",
    "agreement.invited": "Invited by",
    "agreement.expectations": "Expectations",
    "agreement.expectation": "Expectation",
    "agreement.holder": "Stated by",
    "agreement.acks": "Acknowledged by",
    "agreement.roles": "Roles",
    "agreement.role": "Role",
    "agreement.assignee": "Held by",
    "agreement.commitments": "Commitments",
    "agreement.provider": "Provider",
    "agreement.receiver": "Receiver",
    "agreement.collective": "all the parties",
    "agreement.category": "Category",
    "agreement.quantity": "Quantity",
    "agreement.period": "Period",
    "agreement.provider_value": "Value declared by the provider",
    "agreement.receiver_values": "Values declared by the receivers",
    "agreement.fulfilment": "Fulfilment",
    "agreement.fulfilment.fmt": "{n} recorded, {c} confirmed, {x} contested",
    "agreement.withdrawn": "withdrawn",
    "agreement.indicators": "Indicators",
    "agreement.indicator.target": "Target",
    "agreement.indicator.chart": "Measures of “{name}” over time, against the target",
    "agreement.measure": "Measure",
    "agreement.stages": "Stages of the process",
    "agreement.stage.done": "Complete",
    "agreement.stage.progress": "In progress: {n} of {m}",
    "agreement.stage.todo": "Not started",
    "agreement.ratification": "Ratification per party",
    "agreement.terms_version": "Terms version",
    "agreement.signed_at": "Ratified on",
    "agreement.key": "Key",
    "agreement.position": "Position",
    "agreement.not_ratified": "not ratified",
    "agreement.document": "The written agreement",
    "agreement.document.fr": "En français",
    "agreement.document.en": "In English",
    "agreement.print": "Printable version",
    "agreement.timeline": "Signed events",
    "agreement.when": "When",
    "agreement.who": "Who",
    "agreement.what": "What",
    "agreement.timeline.more": "The {n} earlier events are not shown.",
    "agreement.diff": "Difference between two versions",
    "agreement.diff.from": "From version (event number)",
    "agreement.diff.to": "To version (event number)",
    "agreement.diff.show": "Compare",
    "agreement.diff.same": "No difference between these two versions.",
    "agreement.diff.caption": "Text of the agreement, version {a} → version {b}",
    "agreement.versions": "Ratification per terms version",
        "agreement.versions.intro": "Each terms version a party ratified, and the current one: "
    "each party of that version, ratified or not, when and with which key.",
    "agreement.versions.version": "Version {n}",
    "agreement.versions.current": "current",
    "agreement.versions.in_force": "in force",
    "agreement.versions.state": "Ratification",
    "agreement.versions.yes": "ratified",
    "agreement.changes": "What changed between two versions of the terms",
    "agreement.changes.from": "From terms version",
    "agreement.changes.to": "To terms version",
    "agreement.changes.caption": "Terms, version {a} → version {b}",
    "agreement.changes.none": "The terms are the same in these two versions.",
    "agreement.changes.terms": "The agreement",
    "agreement.changes.added": "added",
    "agreement.changes.removed": "removed",
    "agreement.changes.changed": "changed",
    "agreement.changes.what": "Item",
    "agreement.changes.before": "Before",
    "agreement.changes.after": "After",
    "agreement.changes.yes": "yes",
    "agreement.changes.no": "no",
    "member.title": "title",
    "member.purpose": "shared vision",
    "member.binding": "legally binding",
    "member.org": "organization",
    "member.porteur": "porteur",
    "member.id": "id",
    "member.holder": "stated by",
    "member.text": "text",
    "member.addressed_to": "addressees",
    "member.name": "name",
    "member.description": "description",
    "member.assignee": "assignee",
    "member.person": "person",
    "member.provider": "provider",
    "member.receiver": "receiver",
    "member.category": "category",
    "member.quantity": "quantity",
    "member.period": "period",
    "member.conditions": "conditions",
    "member.value": "declared value",
    "member.fair_value": "estimated fair value",
    "member.receiver_values": "values declared by the receivers",
    "member.unit": "unit",
    "member.method": "method",
    "member.target": "target",
    "verify.title": "Verification",
    "verify.pending": "Verification in the browser is starting…",
    "verify.nojs": "Verification in the browser needs JavaScript. The same data can be "
    "verified offline with “ledger verify”.",
    "verify.unavailable": "Verification in the browser is not available on this server.",
    "verify.failed": "The verification could not be done: {error}",
    "print.verified": "Verification summary",
    "print.page": "Agreement page",
    "print.qr": "QR code of the agreement page's address",
    "print.hash": "State hash",
    "print.printed": "Printed on",
    "print.button": "Print",
    "log.title": "Transparency log",
    "log.size": "Size",
    "log.checkpoints": "Latest checkpoints",
    "log.checkpoint": "Checkpoint",
    "log.size_over_time": "Log size over time",
    "log.lookup": "Look up an entry",
    "log.position": "Position",
    "log.show": "Show",
    "log.entry": "Entry",
    "log.stream": "Stream",
    "log.type": "Type",
    "log.leaf": "Leaf hash",
    "log.proof": "Inclusion proof",
    "log.token_needed": "Entries and their proofs need an auditor or trust token.",
    "prov.title": "Provenance",
    "prov.intro": "For a trust or an auditor with a token: the provenance of an "
    "agreement, a commitment or an organization, as the API answers it.",
    "prov.kind": "Subject",
    "prov.kind.agreement": "Agreement",
    "prov.kind.commitment": "Commitment",
    "prov.kind.organization": "Organization",
    "prov.agreement": "Agreement id",
    "prov.commitment": "Commitment id",
    "prov.organization": "Organization id",
    "prov.ask": "Ask",
    "prov.answer": "The API's answer",
    "prov.nojs": "This page sends your token to the API: it needs JavaScript.",
    "error.title": "Error",
    "error.404": "Not found",
    "error.401": "Token needed or refused",
    "error.403": "Access refused",
    "error.other": "The request did not succeed",
    "error.back": "Back to the register",
    "error.token_hint": "Enter a token that gives access to this page (it stays in this "
    "tab only).",
    "units.none": "—",
}

STRINGS: Final[dict[str, dict[str, str]]] = {"fr": _FR, "en": _EN}

_MONTHS: Final[dict[str, tuple[str, ...]]] = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def choose_lang(query: str | None, cookie: str | None, accept: str | None) -> str:
    """``?lang=`` first, then the cookie a previous switch left, then the first of
    ``Accept-Language`` that is French or English (by quality), else French."""
    for choice in (query, cookie):
        if choice in LANGS:
            return choice
    best, best_q = "fr", -1.0
    for part in (accept or "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower()[:2]
        if lang not in LANGS:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if q > best_q:
            best, best_q = lang, q
    return best


class Words:
    """The words and formats of one language, as templates use them."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = f"{lang}-CA"
        self._t = STRINGS[lang]

    def __call__(self, key: str, **fmt: object) -> str:
        text = self._t[key]
        return text.format(**fmt) if fmt else text

    def doc(self, key: str) -> str:
        """A word of the written agreement's vocabulary (``ledger.domain.labels``)."""
        return LABELS[self.lang].get(key, key)

    def category(self, category: str) -> str:
        """A resource category's name (as written when the vocabulary lacks it)."""
        return LABELS[self.lang].get(f"cat.{category}", category)

    def number(self, amount: str | int | float) -> str:
        """A decimal string written the fr-CA or en-CA way."""
        text = str(amount)
        sign = "-" if text.startswith("-") else ""
        whole, _, frac = text.lstrip("-").partition(".")
        if not whole.isdigit():
            return text
        sep = "\u00a0" if self.lang == "fr" else ","
        out = f"{int(whole):,}".replace(",", sep)
        if frac:
            out += ("," if self.lang == "fr" else ".") + frac
        return sign + out

    def amount(self, amount: str, unit: str) -> str:
        """An amount with its unit: a currency's sign, or the unit's word."""
        n = self.number(amount)
        sign = CURRENCIES.get(unit)
        if sign is not None:
            return f"{n}\u00a0{sign}" if self.lang == "fr" else f"{sign}{n}"
        try:
            plural = float(amount) >= 2 if self.lang == "fr" else float(amount) != 1
        except ValueError:
            plural = True
        names = UNITS[self.lang].get(unit)
        return f"{n}\u00a0{names[1 if plural else 0] if names else unit}"

    def unit(self, unit: str) -> str:
        if unit in CURRENCIES:
            return unit
        names = UNITS[self.lang].get(unit)
        return names[1] if names else unit

    def date(self, when: str | None) -> str:
        """``YYYY-MM-DD`` or an RFC 3339 time, as a date of this language."""
        if not when:
            return ""
        try:
            day = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return when
        month = _MONTHS[self.lang][day.month - 1]
        if self.lang == "fr":
            return f"{'1er' if day.day == 1 else day.day} {month} {day.year}"
        return f"{month} {day.day}, {day.year}"

    def datetime(self, when: str | None) -> str:
        """A time with its date, to the minute, in UTC (the log's clock)."""
        if not when:
            return ""
        try:
            t = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return when
        hm = f"{t.hour:02d} h {t.minute:02d}" if self.lang == "fr" else \
            f"{t.hour:02d}:{t.minute:02d}"
        return f"{self.date(when)}, {hm} UTC"


def words(lang: str) -> Words:
    return Words(lang if lang in LANGS else "fr")
