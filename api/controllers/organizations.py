"""``GET /v1/organizations/{org_id}``: profile and keys, folded from ``org/<id>``.

The fold is ``ledger.orghistory``'s, the same one admission, provenance and the client
use: the profile is the registration's ``name`` and ``profile`` updated by each
``organization.profile_updated``; each key comes with its validity range as log
positions, its label and its revocation reason.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from ledger import b64
from ledger.errors import NotFound
from ledger.reads import Reads
from ledger.statement import ORG_ID_PATTERN

from ..problems import problem_responses
from ..schemas import KeyInfo, Organization

__all__ = ["OrganizationsController"]


async def load_organization(reads: Reads, org_id: str) -> Organization:
    """The organization as its stream says (``ledger.orghistory``); raises NotFound."""
    history = await reads.organization(org_id)
    if history is None:
        raise NotFound(f"no organization {org_id!r} is registered", field="org_id")
    keys = [
        KeyInfo(k.key_id, b64.encode(k.public_key), k.valid_from, k.revoked_at,
                k.label or None, k.revocation_reason if k.revoked_at is not None else None)
        for k in history.keys.values()
    ]
    return Organization(org_id, history.name, history.profile, history.registered_at or 0,
                        history.version, history.head_hash, keys)


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
