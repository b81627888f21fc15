"""What an organization publishes about itself: the typed organization profile.

The ledger is public and nothing on it is ever removed, so an organization's
registration (``organization.registered``) and its updates
(``organization.profile_updated``) may carry only the members below, each bounded:
nobody can publish a person's name, e-mail or health in a member the ledger does not
know. ``docs/EVENTS.md`` (Organizations) is the prose version of this module.

Every member is optional; in an update, ``null`` removes the member. ``name`` is the
event data's own ``name`` (not a profile member), checked here with the same bounds.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec

from .errors import MalformedStatement

__all__ = [
    "MAX_DESCRIPTION",
    "OrganizationProfile",
    "ProfileInvalid",
    "check_name",
    "check_profile",
]

MAX_DESCRIPTION = 2000
_ONE_LINE = r"^[^\x00-\x1f\x7f]*\Z"  # no control characters, no line break

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_ONE_LINE)]
Line = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=_ONE_LINE)]
Website = Annotated[str, msgspec.Meta(max_length=200, pattern=r"^https?://[^\s\x00-\x1f\x7f]+\Z")]
RegistryNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=40,
                                             pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./-]*\Z")]
Description = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DESCRIPTION,
                                          pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*\Z")]


class OrganizationProfile(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                          omit_defaults=True):
    """The members of ``data.profile`` (all optional)."""

    website: Website | None = None  # http(s) URL of the organization's site
    region: Line | None = None  # e.g. an administrative region of Québec
    legal_form: Line | None = None  # e.g. OBNL (organisme à but non lucratif), coopérative
    registry_number: RegistryNumber | None = None  # e.g. the NEQ (registraire des entreprises)
    sector: Line | None = None  # e.g. culture, santé communautaire
    description: Description | None = None  # free text, up to 2000 characters, lines allowed


class ProfileInvalid(MalformedStatement):
    """An organization's name or profile the ledger does not publish."""

    code = "organization-profile-invalid"
    title = "Not a valid organization profile"


_AT = re.compile(r" - at `\$((?:\.\w+|\[\d+\])*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`")
_SHAPES = {
    "website": "must be an http:// or https:// address, without spaces",
    "registry_number": "letters, digits, spaces, '.', '/' and '-' only",
    "description": "must not hold control characters (line breaks and tabs are allowed)",
}
_ONE_LINE_SHAPE = "must be one line, without control characters"


def check_profile(value: Any, field: str = "data.profile") -> OrganizationProfile:
    """The profile ``value`` (the event's JSON object), or ProfileInvalid naming the
    member at fault (unknown members are refused)."""
    if not isinstance(value, dict):
        raise ProfileInvalid("the profile must be an object", field=field)
    try:
        return msgspec.convert(value, OrganizationProfile)
    except msgspec.ValidationError as exc:
        text = str(exc)
        at = _AT.search(text)
        member = at.group(1).lstrip(".") if at else ""
        unknown = _UNKNOWN.match(text)
        if unknown:
            raise ProfileInvalid(
                f"unknown member {unknown.group(1)!r}: a profile holds only "
                f"{', '.join(OrganizationProfile.__struct_fields__)} (docs/EVENTS.md)",
                field=f"{field}.{unknown.group(1)}") from None
        detail = _AT.sub("", text)
        if "regex" in detail:
            detail = _SHAPES.get(member, _ONE_LINE_SHAPE)
        raise ProfileInvalid(f"{member or 'profile'}: {detail}",
                             field=f"{field}.{member}" if member else field) from None


def check_name(value: Any, field: str = "data.name") -> None:
    """An organization's name: 1 to 200 characters on one line."""
    try:
        msgspec.convert(value, Name)
    except msgspec.ValidationError as exc:
        detail = _ONE_LINE_SHAPE if "regex" in str(exc) else str(exc)
        raise ProfileInvalid(f"name: {detail}", field=field) from None
