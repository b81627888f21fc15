"""Key histories by organization, kept between requests and caught up when they grow.

Why a cache: a provenance answer needs the key history of every signer; folding each
``org/<id>`` stream from the start on every request would read it whole each time.
One cache per application (kept on its state), never per module.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..provenance.records import OrgKeys, apply_org_entry
from .reads import Reads

__all__ = ["KeyCache"]


class KeyCache:
    """Key histories by organization, each folded from ``org/<id>`` up to a version and
    caught up from there when that stream has grown."""

    def __init__(self) -> None:
        self.orgs: dict[str, OrgKeys] = {}

    async def refresh(self, reads: Reads, heads: Mapping[str, int]) -> dict[str, OrgKeys]:
        """The histories of the organizations in ``heads`` (organization -> the version
        of its stream now), reading only the entries not folded yet."""
        stale = [(org, self.orgs[org].version if org in self.orgs else 0)
                 for org, version in heads.items()
                 if org not in self.orgs or self.orgs[org].version < version]
        if stale:
            entries = await reads.entries_after([(f"org/{o}", v) for o, v in stale])
            for org, _ in stale:
                self.orgs.setdefault(org, OrgKeys(org))
            for entry in entries:
                apply_org_entry(self.orgs[entry.stream_key], entry)
        return {org: self.orgs.get(org, OrgKeys(org)) for org in heads}
