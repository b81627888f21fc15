"""The workshop from the command line: one sub-command per event an organization signs.

Why a table: the domain already declares each event's data (``domain.catalogue``) and
the command that decides it (``domain.commands``). Each sub-command here is one row
(group, action, command class, what it does in French and English); its options are
derived from the command's own members, through one table of how each member is asked
for (``FIELDS``: flag, converter, example). So every command takes the same flag for
the same thing, its ``--help`` shows a generated example, and a member added to an
event shows up as an option instead of being forgotten.

Members the organization computes itself are never asked for: the content hash of an
acknowledged expectation comes from the locally verified history (as the state hash
of a ratification does), and ``--evidence FILE`` is hashed here (the file never leaves
this machine; only its SHA-256 is signed).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from .. import domain as d
from ..domain.state import AgreementState
from ..domain.state_hash import expectation_hash
from ..domain.values import CATEGORIES, FAMILIES, STAGES, FairValue, Period, Quantity
from . import inputs
from .failures import Refusal
from .lang import say
from .session import add_common, client_of, print_receipts

__all__ = ["COMMANDS", "FIELDS", "Row", "register", "register_agreement_actions"]

EXAMPLE_ORG = "centre-arts"
EXAMPLE_AGREEMENT = "compta-2027"


@dataclass(frozen=True)
class Ask:
    """How one member of a command is asked for on the command line.

    ``add`` puts its argument(s) on a parser (required or not); ``value`` reads the
    member back from the parsed arguments (None: absent, the event's default applies);
    ``example`` is what the generated example passes.
    """

    add: Callable[[argparse.ArgumentParser, bool], None]
    value: Callable[[argparse.Namespace], Any]
    example: tuple[str, ...]


def _plain(flag: str, dest: str, example: str, help: str, *, type: Any = str,
           choices: Any = None, metavar: str | None = None) -> Ask:
    def add(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument(flag, dest=dest, required=required, type=type, choices=choices,
                       metavar=metavar, help=help)
    return Ask(add, lambda a: getattr(a, dest), (flag, example))


def _many(flag: str, dest: str, example: str, help: str, *, type: Any = str,
          choices: Any = None) -> Ask:
    def add(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument(flag, dest=dest, required=required, type=type, choices=choices,
                       action="append", help=help + " (repeat for several)")
    return Ask(add, lambda a: getattr(a, dest) or None, (flag, example))


def _flag(flag: str, dest: str, help: str) -> Ask:
    def add(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument(flag, dest=dest, action="store_true", help=help)
    return Ask(add, lambda a: bool(getattr(a, dest)), ())


def _quantity(flag: str, unit_flag: str, example: str, unit_example: str,
              unit_default: str | None, help: str) -> Ask:
    dest, unit_dest = flag.lstrip("-").replace("-", "_"), unit_flag.lstrip("-").replace("-", "_")

    def add(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument(flag, dest=dest, required=required, type=inputs.amount,
                       help=help + ", e.g. 12.50 (12,50 is read as 12.50)")
        p.add_argument(unit_flag, dest=unit_dest, required=required and unit_default is None,
                       default=unit_default, help="its unit, e.g. hour, m2, seat, CAD"
                       + (" (default %(default)s)" if unit_default else ""))

    def value(a: argparse.Namespace) -> Quantity | None:
        amount = getattr(a, dest)
        if amount is None:
            return None
        unit = getattr(a, unit_dest)
        if unit is None:
            raise Refusal("missing-unit", say(f"{flag} demande aussi {unit_flag}",
                                              f"{flag} needs {unit_flag} too"))
        return Quantity(amount=amount, unit=unit)

    example_args = (flag, example) if unit_default else (flag, example, unit_flag, unit_example)
    return Ask(add, value, example_args)


def _period() -> Ask:
    def add(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--start", required=required, type=inputs.date,
                       help="first day, YYYY-MM-DD")
        p.add_argument("--end", required=required, type=inputs.date,
                       help="last day, YYYY-MM-DD")

    def value(a: argparse.Namespace) -> Period | None:
        if a.start is None and a.end is None:
            return None
        return Period(start=a.start, end=a.end)
    return Ask(add, value, ("--start", "2027-01-01", "--end", "2027-12-31"))


def _fair_value() -> Ask:
    def add(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--fair-value", type=inputs.amount,
                       help="an estimate for funders, e.g. 21000")
        p.add_argument("--fair-value-unit", default="CAD", help="its unit (default CAD)")
        p.add_argument("--fair-value-method", choices=("market", "appraisal", "cost"),
                       default="market", help="how it was estimated (default market)")

    def value(a: argparse.Namespace) -> FairValue | None:
        if a.fair_value is None:
            return None
        return FairValue(amount=a.fair_value, unit=a.fair_value_unit,
                         method=a.fair_value_method)
    return Ask(add, value, ())


def _evidence() -> Ask:
    def add(p: argparse.ArgumentParser, required: bool) -> None:
        g = p.add_mutually_exclusive_group(required=required)
        g.add_argument("--evidence", type=Path, metavar="FILE",
                       help="the evidence file, hashed here (it never leaves this machine)")
        g.add_argument("--evidence-sha256", type=inputs.hex64, metavar="HEX",
                       help="or the evidence's SHA-256, if hashed elsewhere")

    def value(a: argparse.Namespace) -> str | None:
        if a.evidence is not None:
            return _sha256_of(a.evidence)
        return a.evidence_sha256  # type: ignore[no-any-return]
    return Ask(add, value, ("--evidence", "rapport-2027.pdf"))


def _visibility() -> Ask:
    def add(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("visibility", choices=("public", "private"),
                       help="public (readable by anyone) or private (its organizations)")
    return Ask(add, lambda a: a.visibility == "public", ("public",))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: How each member of a command is asked for. The main id of a command (its
#: ``PRIMARY`` member) is asked as ``--id`` instead.
FIELDS: dict[str, Ask] = {
    "title": _plain("--title", "title", "Comptabilité partagée", "the agreement's title"),
    "purpose": _plain("--purpose", "purpose", "Partager une comptable",
                      "the shared vision / purpose"),
    "binding": _flag("--binding", "binding", "a binding convention"),
    "public": _visibility(),
    "reason": _plain("--reason", "reason", "Fin du projet", "why"),
    "org": _plain("--invitee", "invitee", "theatre-nord", "the organization to invite",
                  type=inputs.org_id),
    "effective_on": _plain("--effective-on", "effective_on", "2027-06-30",
                           "the last day you are bound (the notice), YYYY-MM-DD",
                           type=inputs.date),
    "person_id": _plain("--person", "person_id", "p-0042",
                        "a person's pseudonymous id (never a name or an e-mail)",
                        type=inputs.ident),
    "name": _plain("--name", "name", "Tenue de livres", "its name"),
    "description": _plain("--description", "description", "Une comptable, 2 jours/semaine",
                          "what it is"),
    "assignee": _plain("--assignee", "assignee", "theatre-nord",
                       "the organization asked to hold it", type=inputs.org_id),
    "text": _plain("--text", "text", "Répondre aux courriels en 48 h",
                   "the expectation, in the parties' words"),
    "addressed_to": _many("--to", "addressed_to", "theatre-nord",
                          "an organization it is addressed to (default: all parties)",
                          type=inputs.org_id),
    "category": _plain("--category", "category", "human_resources", "the kind of resource",
                       choices=sorted(CATEGORIES)),
    "quantity": _quantity("--quantity", "--unit", "384", "hour", None, "how much"),
    "period": _period(),
    "receiver": _plain("--receiver", "receiver", "collective",
                       "the receiving organization, or collective", type=inputs.org_id),
    "conditions": _plain("--conditions", "conditions", "Locaux fournis",
                         "conditions, if any"),
    "fair_value": _fair_value(),
    "note": _plain("--note", "note", "Premier trimestre", "a note"),
    "comment": _plain("--comment", "comment", "Reçu, merci", "a comment"),
    "evidence_sha256": _evidence(),
    "stage": _plain("--stage", "stage", "know_yourself", "the stage of the démarche",
                    choices=STAGES),
    "unit": _plain("--unit", "unit", "hour", "the indicator's unit"),
    "method": _plain("--method", "method", "Feuilles de temps", "how it is measured"),
    "target": _plain("--target", "target", "384", "the target, e.g. 384",
                     type=inputs.amount),
    "trust_id": _plain("--trust", "trust_id", "fiducie-qc", "the data trust",
                       type=inputs.ident),
    "scope": _many("--scope", "scope", "commitment", "an event family it covers",
                   choices=FAMILIES),
    "licence": _plain("--licence", "licence", "CC-BY-4.0", "the licence of the shared data"),
    "expires_on": _plain("--expires-on", "expires_on", "2028-12-31",
                         "when the consent ends, YYYY-MM-DD", type=inputs.date),
    "commitment_id": _plain("--commitment", "commitment_id", "c-compta",
                            "the commitment", type=inputs.ident),
    "indicator_id": _plain("--indicator", "indicator_id", "heures",
                           "the indicator", type=inputs.ident),
}

#: Values that differ by command although the member's name is the same.
VALUE_AS_QUANTITY = _quantity("--value", "--value-unit", "18000", "CAD", "CAD",
                              "the value you give it")
VALUE_AS_AMOUNT = _plain("--value", "value", "96", "the measured value, e.g. 96",
                         type=inputs.amount)

#: The member asked as ``--id``: the first of these the command has.
PRIMARY = ("measurement_id", "expectation_id", "role_id", "fulfilment_id", "commitment_id",
           "indicator_id", "consent_id")

#: Members computed here from the verified history, never asked for.
DERIVED: dict[str, Callable[[AgreementState, dict[str, Any]], Any]] = {
    "content_hash": lambda state, members: (
        expectation_hash(state.expectations[members["expectation_id"]])
        if members["expectation_id"] in state.expectations else "0" * 64),
}


@dataclass(frozen=True)
class Row:
    """One sub-command: ``ledger <group> <action> AGREEMENT …``."""

    group: str
    action: str
    command: type[Any]
    fr: str
    en: str


COMMANDS: tuple[Row, ...] = (
    Row("agreement", "revise", d.ReviseAgreement, "réviser le titre, la vision, la portée",
        "revise the title, purpose and binding"),
    Row("agreement", "invite", d.InviteParty, "inviter une organisation",
        "invite an organization"),
    Row("agreement", "withdraw", d.WithdrawFromAgreement, "se retirer, avec préavis",
        "withdraw, with notice"),
    Row("agreement", "suspend", d.SuspendAgreement, "suspendre l'entente",
        "suspend the agreement"),
    Row("agreement", "resume", d.ResumeAgreement, "reprendre l'entente suspendue",
        "resume the suspended agreement"),
    Row("agreement", "terminate", d.TerminateAgreement, "mettre fin à l'entente",
        "terminate the agreement"),
    Row("agreement", "visibility", d.ChangeVisibility, "rendre l'entente publique ou privée",
        "make the agreement public or private"),
    Row("agreement", "porteur", d.NamePorteur, "nommer la personne porteuse de votre "
        "organisation", "name your organization's porteur (the person carrying it)"),
    Row("expectation", "state", d.StateExpectation, "énoncer une attente",
        "state an expectation"),
    Row("expectation", "revise", d.ReviseExpectation, "réviser votre attente",
        "revise your expectation"),
    Row("expectation", "withdraw", d.WithdrawExpectation, "retirer votre attente",
        "withdraw your expectation"),
    Row("expectation", "acknowledge", d.AcknowledgeExpectation,
        "prendre acte d'une attente (son texte actuel)",
        "acknowledge an expectation (its current text)"),
    Row("role", "propose", d.ProposeRole, "proposer un rôle à une organisation",
        "propose a role to an organization"),
    Row("role", "accept", d.AcceptRole, "accepter un rôle proposé", "accept a proposed role"),
    Row("role", "decline", d.DeclineRole, "décliner un rôle proposé",
        "decline a proposed role"),
    Row("role", "relinquish", d.RelinquishRole, "quitter un rôle tenu",
        "relinquish a role you hold"),
    Row("commitment", "offer", d.OfferCommitment, "engager une ressource",
        "commit a resource"),
    Row("commitment", "amend", d.AmendCommitment, "modifier votre engagement (termes complets)",
        "amend your commitment (its whole terms)"),
    Row("commitment", "withdraw", d.WithdrawCommitment, "retirer votre engagement",
        "withdraw your commitment"),
    Row("commitment", "declare-value", d.DeclareReceivedValue,
        "déclarer la valeur que vous donnez à ce que vous recevez",
        "declare the value you give to what you receive"),
    Row("fulfilment", "record", d.RecordFulfilment, "consigner une réalisation",
        "record a fulfilment"),
    Row("fulfilment", "confirm", d.ConfirmFulfilment, "confirmer une réalisation reçue",
        "confirm a fulfilment you received"),
    Row("fulfilment", "contest", d.ContestFulfilment, "contester une réalisation",
        "contest a fulfilment"),
    Row("stage", "start", d.StartStage, "commencer une étape de la démarche",
        "start a stage of the démarche"),
    Row("stage", "complete", d.AcknowledgeStageCompletion,
        "reconnaître qu'une étape est achevée", "acknowledge a stage's completion"),
    Row("indicator", "define", d.DefineIndicator, "définir un indicateur",
        "define an indicator"),
    Row("indicator", "measure", d.RecordMeasurement, "consigner une mesure (preuve hachée ici)",
        "record a measurement (evidence hashed here)"),
    Row("consent", "give", d.GiveConsent, "consentir au partage avec une fiducie de données",
        "consent to sharing with a data trust"),
    Row("consent", "withdraw", d.WithdrawConsent, "retirer votre consentement",
        "withdraw your consent"),
)

GROUPS: dict[str, tuple[str, str]] = {
    "expectation": ("attentes partagées : énoncer, réviser, retirer, prendre acte",
                    "shared expectations: state, revise, withdraw, acknowledge"),
    "role": ("rôles : proposer, accepter, décliner, quitter",
             "roles: propose, accept, decline, relinquish"),
    "commitment": ("engagements : offrir, modifier, retirer, déclarer la valeur reçue",
                   "commitments: offer, amend, withdraw, declare received value"),
    "fulfilment": ("réalisations : consigner, confirmer, contester",
                   "fulfilments: record, confirm, contest"),
    "stage": ("étapes de la démarche : commencer, reconnaître l'achèvement",
              "stages of the démarche: start, acknowledge completion"),
    "indicator": ("indicateurs : définir, mesurer", "indicators: define, measure"),
    "consent": ("consentements au partage : donner, retirer",
                "consent to share: give, withdraw"),
}


def _asks(row: Row) -> list[tuple[str, Ask, bool]]:
    """(member, how it is asked, required) for each member the user gives."""
    fields = [f for f in msgspec.structs.fields(row.command) if f.name not in ("actor", "at")]
    names = {f.name for f in fields}
    primary = next((n for n in PRIMARY if n in names), None)
    out = []
    for f in fields:
        if f.name in DERIVED:
            continue
        required = f.required
        if f.name == primary:
            ask = _plain("--id", f.name, f"{f.name.removesuffix('_id')[:3]}-1",
                         f"the {f.name.removesuffix('_id')}'s id", type=inputs.ident,
                         metavar="ID")
        elif f.name == "value":
            ask = VALUE_AS_QUANTITY if "Quantity" in str(f.type) else VALUE_AS_AMOUNT
        else:
            ask = FIELDS[f.name]
        out.append((f.name, ask, required))
    return out


def example(row: Row) -> str:
    """The ``--help`` example: every required member, with sample values."""
    words = ["ledger", row.group, row.action, EXAMPLE_AGREEMENT, "--org", EXAMPLE_ORG,
             "--key", f"{EXAMPLE_ORG}.pem"]
    for _, ask, required in _asks(row):
        if required or ask is FIELDS["evidence_sha256"]:
            words.extend(ask.example)
    return " ".join(f'"{w}"' if " " in w else w for w in words)


def _add(sub: Any, row: Row) -> None:
    p = sub.add_parser(row.action, help=say(row.fr, row.en),
                       description=f"{row.fr}\n{row.en}",
                       epilog=f"exemple / example:\n  {example(row)}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("agreement", type=inputs.ident, metavar="AGREEMENT",
                   help="the agreement's id")
    add_common(p, signing=True)
    for _, ask, required in _asks(row):
        ask.add(p, required)
    p.set_defaults(handler=lambda args: _run(row, args))


def _run(row: Row, args: argparse.Namespace) -> int:
    client = client_of(args)
    members = {name: value for name, ask, _ in _asks(row)
               if (value := ask.value(args)) is not None}
    at = client._require_signer().now()

    def build(state: AgreementState) -> Any:
        derived = {name: compute(state, members) for name, compute in DERIVED.items()
                   if name in row.command.__struct_fields__}
        return row.command(**members, **derived, actor=args.org, at=at)

    return print_receipts(args, client.act_with(args.agreement, build))


def register_agreement_actions(asub: Any) -> None:
    """The agreement-wide actions, under ``ledger agreement``."""
    for row in COMMANDS:
        if row.group == "agreement":
            _add(asub, row)


def register(sub: Any) -> None:
    for group, (fr, en) in GROUPS.items():
        g = sub.add_parser(group, help=say(fr, en), description=f"{fr}\n{en}")
        gsub = g.add_subparsers(dest=f"{group}_command", metavar="ACTION", required=True)
        for row in COMMANDS:
            if row.group == group:
                _add(gsub, row)
