"""Value types shared by the event catalogue, the commands and the state.

Why a module of its own: the same few shapes (ids, dates, decimal quantities, the
workshop's vocabularies) appear in many events, and one definition keeps the catalogue,
the documentation and the state hash in step. Every pattern is a full-string match
(``\\Z``, not ``$``, which would let a trailing newline through).

No floats anywhere: quantities and values are decimal *strings* with a unit, summed with
``decimal.Decimal``. People appear only as pseudonymous ids (``person_id``), whose
pattern admits no space and no ``@`` so that neither a name nor an e-mail fits.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final, Literal, get_args

import msgspec

__all__ = [
    "AMOUNT_PATTERN",
    "CATEGORIES",
    "COLLECTIVE",
    "DATE_PATTERN",
    "FAMILIES",
    "HEX64_PATTERN",
    "ID_PATTERN",
    "MAX_VERSION",
    "ORG_PATTERN",
    "STAGES",
    "Amount",
    "Category",
    "Date",
    "FairValue",
    "FairValueMethod",
    "Family",
    "Hex64",
    "Id",
    "LongText",
    "Note",
    "OrgId",
    "Period",
    "PersonId",
    "Quantity",
    "StageName",
    "Title",
    "Unit",
    "amount_of",
]

ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z"
ORG_PATTERN: Final = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\Z"
DATE_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"
AMOUNT_PATTERN: Final = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?\Z"
HEX64_PATTERN: Final = r"^[0-9a-f]{64}\Z"
MAX_VERSION: Final = 2**53 - 1

#: The receiver of a commitment made to the group as a whole; reserved, never a party.
COLLECTIVE: Final = "collective"

Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
OrgId = Annotated[str, msgspec.Meta(pattern=ORG_PATTERN)]
PersonId = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
Date = Annotated[str, msgspec.Meta(pattern=DATE_PATTERN)]
Amount = Annotated[str, msgspec.Meta(pattern=AMOUNT_PATTERN)]
Hex64 = Annotated[str, msgspec.Meta(pattern=HEX64_PATTERN)]
Unit = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^\S(?:.*\S)?\Z")]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]

#: Resource categories, from the workshop's "on peut tout mutualiser" list.
Category = Literal[
    "human_resources",
    "premises",
    "buildings",
    "equipment",
    "technology",
    "software",
    "function_accounting",
    "function_it",
    "function_communications",
    "group_insurance",
    "services",
    "expertise",
    "fundraising",
    "collective_events",
    "other",
]
CATEGORIES: Final[tuple[str, ...]] = get_args(Category)

#: The six steps of a démarche, in the workshop's order.
StageName = Literal[
    "know_yourself", "get_acquainted", "common_desire", "framework", "plan", "indicators"
]
STAGES: Final[tuple[str, ...]] = get_args(StageName)

FairValueMethod = Literal["market", "appraisal", "cost"]

#: Event families (the first segment of an event type); a consent's scope names these.
Family = Literal[
    "agreement",
    "party",
    "porteur",
    "role",
    "expectation",
    "commitment",
    "fulfilment",
    "stage",
    "indicator",
    "consent",
]
FAMILIES: Final[tuple[str, ...]] = get_args(Family)


class Quantity(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """An amount of something in a unit: ``{"amount": "12.5", "unit": "hour"}``."""

    amount: Amount
    unit: Unit


class FairValue(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """An estimate for funders and financial statements, with how it was made.

    Kept apart from the values the parties declare: barter counts the value the parties
    give to what is exchanged, not its market value.
    """

    amount: Amount
    unit: Unit
    method: FairValueMethod


class Period(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """Inclusive calendar dates ``YYYY-MM-DD``; decide requires ``start <= end``."""

    start: Date
    end: Date


def amount_of(text: str) -> Decimal:
    """The Decimal of an amount string that matched ``AMOUNT_PATTERN``."""
    return Decimal(text)
