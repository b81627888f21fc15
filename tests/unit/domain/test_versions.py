"""What changed between two versions of the terms, item by item and member by member:
a commitment amended (its quantity), a role accepted, a party gone, the binding flag."""

from __future__ import annotations

from typing import Any

from ledger.domain.versions import Change, ItemChange, terms_changes


def _terms(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Salle", "purpose": "Partager", "binding": False,
        "parties": [{"org": "a", "porteur": None}, {"org": "b", "porteur": None}],
        "expectations": [], "roles": [], "indicators": [],
        "commitments": [{"id": "c1", "provider": "a", "receiver": "b", "category": "locaux",
                         "quantity": {"amount": "10", "unit": "h"}, "conditions": ""}],
    }
    return base | over


def test_items_added_removed_and_changed_by_member():
    before = _terms()
    after = _terms(
        binding=True,
        parties=[{"org": "a", "porteur": None}],
        roles=[{"id": "r1", "name": "Trésorerie", "assignee": "a"}],
        commitments=[{**before["commitments"][0], "quantity": {"amount": "12", "unit": "h"}}])
    changes = terms_changes(1, before, 3, after)
    assert changes.scalars == (Change("binding", False, True),)
    sections = dict(changes.sections)
    assert sections["parties"] == (ItemChange("removed", "b", {"org": "b", "porteur": None}),)
    assert [(i.kind, i.key) for i in sections["roles"]] == [("added", "r1")]
    [amended] = sections["commitments"]
    assert amended.kind == "changed" and amended.key == "c1"
    assert amended.changes == (Change("quantity", {"amount": "10", "unit": "h"},
                                      {"amount": "12", "unit": "h"}),)
    assert sections["expectations"] == () and not changes.empty
    assert terms_changes(3, after, 3, after).empty
