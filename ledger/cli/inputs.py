"""Argument types of the CLI: each value checked as the user typed it, refused in words.

Why here rather than letting the domain refuse: the domain's refusals name a regular
expression (the contract of the signed bytes), which means nothing to a person at a
terminal. Each converter says what is expected, with an example, in the user's
language (``lang.say``); a decimal comma (``12,50``) is accepted as the obvious
``12.50``. The patterns are the domain's own (``ledger.domain.values``), so the CLI can
refuse nothing the ledger would accept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import urllib.parse

from ..domain.values import AMOUNT_PATTERN, DATE_PATTERN, HEX64_PATTERN, ID_PATTERN, ORG_PATTERN
from .lang import say

__all__ = ["amount", "date", "hex64", "ident", "instant", "org_id", "server_url"]


def _bad(fr: str, en: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(say(fr, en))


def ident(text: str) -> str:
    """An id of an agreement, commitment, role, expectation, … (ASCII, no spaces)."""
    if re.match(ID_PATTERN, text):
        return text
    return _raise(_bad(
        f"« {text} » n'est pas un identifiant valide : lettres sans accents, chiffres et "
        "« . _ : - » seulement, 128 caractères au plus (ex. fete-2027)",
        f"“{text}” is not a valid id: unaccented letters, digits and “. _ : -” only, "
        "at most 128 characters (e.g. fete-2027)"))


def org_id(text: str) -> str:
    """An organization id: lower-case ASCII letters, digits and inner hyphens."""
    if re.match(ORG_PATTERN, text):
        return text
    return _raise(_bad(
        f"« {text} » n'est pas un identifiant d'organisation valide : minuscules sans "
        "accents, chiffres et traits d'union, 64 caractères au plus (ex. cafe-ete)",
        f"“{text}” is not a valid organization id: unaccented lower-case letters, digits "
        "and hyphens, at most 64 characters (e.g. cafe-ete)"))


def date(text: str) -> str:
    """A calendar date written ``YYYY-MM-DD``."""
    if re.match(DATE_PATTERN, text):
        try:
            dt.date.fromisoformat(text)
            return text
        except ValueError:
            pass
    return _raise(_bad(
        f"« {text} » n'est pas une date : écrivez-la AAAA-MM-JJ (ex. 2027-02-01)",
        f"“{text}” is not a date: write it YYYY-MM-DD (e.g. 2027-02-01)"))


def amount(text: str) -> str:
    """A non-negative decimal amount; a decimal comma is read as a point."""
    normal = text.strip().replace(",", ".") if text.count(",") == 1 else text.strip()
    if re.match(AMOUNT_PATTERN, normal):
        return normal
    return _raise(_bad(
        f"« {text} » n'est pas un montant : un nombre positif, au plus 6 décimales, sans "
        "espace ni symbole (ex. 12.50 ou 12,50)",
        f"“{text}” is not an amount: a non-negative number, at most 6 decimals, without "
        "spaces or symbols (e.g. 12.50)"))


def instant(text: str) -> str:
    """A UTC time written ``YYYY-MM-DDTHH:MM:SSZ`` (RFC 3339), as the ledger keeps it."""
    if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z\Z",
                text):
        try:
            dt.datetime.fromisoformat(text.removesuffix("Z"))
            return text
        except ValueError:
            pass
    return _raise(_bad(
        f"« {text} » n'est pas une heure UTC : écrivez-la AAAA-MM-JJTHH:MM:SSZ "
        "(ex. 2027-02-01T12:00:00Z)",
        f"“{text}” is not a UTC time: write it YYYY-MM-DDTHH:MM:SSZ "
        "(e.g. 2027-02-01T12:00:00Z)"))


def hex64(text: str) -> str:
    """A SHA-256 written as 64 lower-case hexadecimal digits."""
    if re.match(HEX64_PATTERN, text):
        return text
    return _raise(_bad(
        f"« {text} » n'est pas une empreinte SHA-256 (64 chiffres hexadécimaux en minuscules)",
        f"“{text}” is not a SHA-256 digest (64 lower-case hexadecimal digits)"))


def server_url(text: str) -> str:
    """An ``http://`` or ``https://`` URL with a host."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme in ("http", "https") and parts.hostname:
        try:
            _ = parts.port
            return text
        except ValueError:
            pass
    return _raise(_bad(
        f"« {text} » n'est pas l'adresse d'un serveur : écrivez-la avec http:// ou https:// "
        "(ex. http://127.0.0.1:8000)",
        f"“{text}” is not a server URL: write it with http:// or https:// "
        "(e.g. http://127.0.0.1:8000)"))


def _raise(error: argparse.ArgumentTypeError) -> str:
    raise error
