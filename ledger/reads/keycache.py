"""Key histories by organization, kept between requests and caught up when they grow.

Why a cache: a provenance answer needs the key history of every signer; folding each
``org/<id>`` stream from the start on every request would read it whole each time.
One cache per application (kept on its state), never per module.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..lru import LRU
from ..provenance.records import OrgKeys, apply_org_entry
from .reads import Reads

__all__ = ["KeyCache"]


class KeyCache:
    """Key histories by organization, each folded from ``org/<id>`` up to a version and
    caught up from there when that stream has grown; at most ``max_orgs`` of them (the
    least recently used go, and are folded again when next asked for)."""

    def __init__(self, max_orgs: int = 4096) -> None:
        self.orgs: LRU[str, OrgKeys] = LRU(max_orgs)

    async def refresh(self, reads: Reads, heads: Mapping[str, int]) -> dict[str, OrgKeys]:
        """The histories of the organizations in ``heads`` (organization -> the version
        of its stream now), reading only the entries not folded yet."""
        have = {org: keys for org in heads if (keys := self.orgs.get(org)) is not None}
        stale = [(org, have[org].version if org in have else 0)
                 for org, version in heads.items()
                 if org not in have or have[org].version < version]
        if stale:
            entries = await reads.entries_after([(f"org/{o}", v) for o, v in stale])
            for org, _ in stale:
                have.setdefault(org, OrgKeys(org))
            for entry in entries:
                apply_org_entry(have[entry.stream_key], entry)
            for org, _ in stale:
                self.orgs.put(org, have[org])
        return {org: have[org] if org in have else OrgKeys(org) for org in heads}
