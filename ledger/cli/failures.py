"""What went wrong, in the user's words: one line (French or English) and a stable code.

Why one place: every command meets the same few failures (no server at the URL, a
private agreement read without a token, a key file that is not a key, a refusal of
the server). Each is worded here once, saying what to do next, and carries the
server's stable problem code (``not-found``, ``token-missing``, …) for ``--json``;
never an exception's class name, a regular expression or a traceback.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..client import ClientError, Conflict
from ..errors import LedgerError, Rejected, Unavailable
from .lang import say

__all__ = ["Refusal", "explain"]


class Refusal(Exception):
    """A failure the CLI has already worded for the user, with its stable code."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.message, **self.extra}


def explain(exc: BaseException, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The one line to print and the JSON ``error`` object for ``exc``."""
    if isinstance(exc, Refusal):
        return exc.message, exc.to_dict()
    if isinstance(exc, ClientError):
        message = _client_error(exc, args)
        return message, {**exc.to_dict(), "detail": message}
    if isinstance(exc, Unavailable) and getattr(args, "url", None):  # a client command
        url = args.url
        message = say(f"rien ne répond à {url} : « ledger serve » y tourne-t-il ?",
                      f"nothing answers at {url}: is `ledger serve` running there?")
        return message, {"code": "unavailable", "detail": message, "url": url}
    if isinstance(exc, Rejected):
        message = say("refusé par les règles de l'entente : ",
                      "refused by the agreement rules: ") + (_malformed(exc) or exc.detail)
        return message, {**exc.to_dict(), "detail": message}
    if isinstance(exc, LedgerError):
        return exc.diagnostics(), exc.to_dict()
    if isinstance(exc, FileNotFoundError):
        message = say(f"aucun fichier {exc.filename}", f"no such file: {exc.filename}")
        return message, {"code": "file-not-found", "detail": message}
    if isinstance(exc, FileExistsError):
        return str(exc), {"code": "file-exists", "detail": str(exc)}
    if isinstance(exc, PermissionError):
        message = say(f"accès refusé à {exc.filename}", f"permission denied: {exc.filename}")
        return message, {"code": "permission-denied", "detail": message}
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}{exc.strerror or exc}"
        return message, {"code": "os-error", "detail": message}
    return str(exc), {"code": "invalid", "detail": str(exc)}


def _client_error(exc: ClientError, args: argparse.Namespace) -> str:
    code = exc.problem_code
    org = getattr(args, "org", None) or "VOTRE-ORG"
    if isinstance(exc, Conflict):
        return say("une autre écriture est passée juste avant (la version visée est prise) : "
                   "relancez la commande, elle repartira de l'état à jour",
                   "another write got in first (the version aimed at is taken): run the "
                   "command again; it starts from the updated state")
    if code == "token-missing":
        return say(
            f"cette ressource n'est pas publique : il faut un jeton de lecture. Demandez à "
            f"l'exploitant du registre « ledger token create --org {org} », puis "
            "export LEDGER_TOKEN=<le jeton>",
            f"this is not public: reading it needs a token. Ask the ledger's operator to run "
            f"`ledger token create --org {org}`, then export LEDGER_TOKEN=<the token>")
    if code == "token-invalid":
        return say(
            "le jeton de LEDGER_TOKEN est inconnu ou révoqué : demandez-en un nouveau à "
            f"l'exploitant du registre (« ledger token create --org {org} »)",
            "the token in LEDGER_TOKEN is unknown or revoked: ask the ledger's operator for "
            f"a new one (`ledger token create --org {org}`)")
    if code == "forbidden":
        return say(f"ce jeton ne permet pas de lire ceci : {exc.detail}",
                   f"this token may not read this: {exc.detail}")
    if code == "not-found":
        return say(f"introuvable : {exc.detail}", f"not found: {exc.detail}")
    return exc.diagnostics()


#: The option that gives an event member, where it is not ``--`` + the member's name.
FLAG_OF = {"quantity.unit": "--unit", "quantity.amount": "--quantity",
           "value.unit": "--value-unit", "value.amount": "--value",
           "fair_value.unit": "--fair-value-unit", "fair_value.amount": "--fair-value",
           "org": "--invitee", "person_id": "--person", "addressed_to": "--to",
           "trust_id": "--trust"}


def _malformed(exc: Rejected) -> str | None:
    """A malformed member (the domain's wording names types and patterns) in words."""
    if exc.rule != "event.malformed" or not exc.field:
        return None
    field = exc.field
    flag = FLAG_OF.get(field, "--" + field.rsplit(".", 1)[-1].replace("_", "-"))
    if m := re.search(r"length >= (\d+)", exc.detail):
        n = int(m.group(1))
        return (say(f"{flag} ne peut pas être vide", f"{flag} cannot be empty") if n == 1
                else say(f"{flag} : au moins {n} caractères", f"{flag}: at least {n} characters"))
    if m := re.search(r"length <= (\d+)", exc.detail):
        n = int(m.group(1))
        return say(f"{flag} : au plus {n} caractères", f"{flag}: at most {n} characters")
    if "regex" in exc.detail and field.endswith("unit"):
        return say(f"{flag} : une unité sans espace au début ni à la fin (ex. hour)",
                   f"{flag}: a unit without spaces at either end (e.g. hour)")
    return say(f"{flag} n'a pas la forme attendue (voir --help)",
               f"{flag} is not in the expected form (see --help)")
