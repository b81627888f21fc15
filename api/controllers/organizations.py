"""``GET /v1/organizations/{org_id}``: profile and keys, folded from ``org/<id>``.

The profile is the registration's ``name`` and ``profile``, then each
``organization.profile_updated`` in order: a new ``name`` replaces the old one, and the
``profile`` members it carries replace those of the same name (a member set to null
removes it). Keys come from the store's key history, with validity ranges as log
positions, plus the label and revocation reason their events carry.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from ledger import b64
from ledger.errors import NotFound
from ledger.reads import Reads
from ledger.registry import ORG_KEY_ADDED, ORG_KEY_REVOKED, ORG_PROFILE_UPDATED, ORG_REGISTERED
from ledger.statement import ORG_ID_PATTERN

from ..problems import problem_responses
from ..schemas import KeyInfo, Organization

__all__ = ["OrganizationsController"]

_PAGE = 1000


def _key_id(public_key_b64: str) -> str:
    return hashlib.sha256(b64.decode(public_key_b64)).hexdigest()


async def load_organization(reads: Reads, org_id: str) -> Organization:
    """Fold the organization's stream and key history; raises NotFound."""
    events = await reads.read_whole_stream(f"org/{org_id}", page=_PAGE)
    if not events:
        raise NotFound(f"no organization {org_id!r} is registered", field="org_id")
    name, profile, registered_at = "", {}, events[0].position
    labels: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for event in events:
        st = event.statement()
        data: dict[str, Any] = st.data
        if st.type == ORG_REGISTERED:
            name, profile = data["name"], dict(data.get("profile", {}))
        elif st.type == ORG_PROFILE_UPDATED:
            if data.get("name") is not None:
                name = data["name"]
            for key, value in data.get("profile", {}).items():
                if value is None:
                    profile.pop(key, None)
                else:
                    profile[key] = value
        elif st.type == ORG_KEY_ADDED and data.get("label"):
            labels[_key_id(data["public_key"])] = data["label"]
        elif st.type == ORG_KEY_REVOKED:
            reasons[data["key_id"]] = data["reason"]
    keys = [
        KeyInfo(k.key_id, b64.encode(k.public_key), k.added_at, k.revoked_at,
                labels.get(k.key_id), reasons.get(k.key_id) if k.revoked_at is not None else None)
        for k in await reads.keys_of(org_id)
    ]
    head = events[-1]
    return Organization(org_id, name, profile, registered_at, head.version, head.event_hash, keys)


class OrganizationsController(Controller):
    path = "/v1/organizations"
    tags = ("organizations",)

    @get(
        "/{org_id:str}",
        operation_id="GetOrganization",
        summary="An organization's profile and keys",
        description=(
            "Public, no token needed: anyone verifying a signed agreement needs its "
            "signers' keys, so the register of organizations and keys is public (it "
            "holds organizations, never persons). Key "
            "validity is given as log positions: a key signs events at positions from "
            "added_at up to revoked_at (inclusive) or forever."
        ),
        responses=problem_responses(400, 404, 503),
    )
    async def get_organization(
        self,
        reads: NamedDependency[Reads],
        org_id: Annotated[str, PathParameter(pattern=ORG_ID_PATTERN,
                                         description="organization id")],
    ) -> Organization:
        return await load_organization(reads, org_id)
