"""The agreement's page, version by version of the terms (no browser): the ratification
of each terms version by each of its parties (ratified or not, when, with which key),
and what changed between two chosen versions — expectations, indicators and the
agreement's own members added, removed or changed — in French and in English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import body
from tests.helpers import hash_of, org

pytestmark = pytest.mark.pg

ID = "salle-versions"


def _rows(html: str, version: int) -> dict[str, str]:
    """The ratification table's rows for one terms version: party -> the row's text."""
    group = re.search(rf'<tbody data-terms-version="{version}">(.*?)</tbody>', html, re.S)
    assert group, f"no rows for terms version {version}"
    return {m.group(1): re.sub(r"<[^>]+>", " ", m.group(2))
            for m in re.finditer(r'<tr data-party="([^"]+)">(.*?)</tr>', group.group(1), re.S)}


def _changes(html: str) -> str:
    table = re.search(r'<table id="terms-changes".*?</table>', html, re.S)
    return table.group(0) if table else ""


async def test_ratification_per_version_and_what_changed(client):
    a, b, c = org("versions-a"), org("versions-b"), org("versions-c")
    r = await client.post("/v1/events", json=body(*(o.registration(o.org_id) for o in (a, b, c))))
    assert r.status_code == 201, r.text
    head: dict[str, Any] = {"version": 0, "hash": None}

    async def add(signer, type, data):
        env = signer.event(f"agreement/{ID}", head["version"] + 1, head["hash"], type, data)
        r = await client.post("/v1/events", json=body(env))
        assert r.status_code == 201, r.text
        head.update(version=head["version"] + 1, hash=hash_of(env))

    async def ratify(*signers):
        view = (await client.get(f"/v1/agreements/{ID}")).json()
        for s in signers:
            await add(s, "agreement.ratified", {"terms_version": view["terms_version"],
                                                "state_hash": view["state_hash"]})
        return view["terms_version"]

    await add(a, "agreement.drafted", {"agreement_id": ID, "title": "Salle partagée",
                                       "purpose": "Partager une salle.", "binding": False,
                                       "public": True, "invited": [b.org_id, c.org_id]})
    await add(b, "party.joined", {})
    await add(c, "party.joined", {})
    await add(a, "expectation.stated", {"expectation_id": "cles", "text": "Rendre les clés."})
    first = await ratify(a, b, c)
    await add(a, "expectation.revised", {"expectation_id": "cles",
                                         "text": "Rendre les clés le soir même."})
    await add(b, "expectation.stated", {"expectation_id": "menage", "text": "Faire le ménage."})
    await add(a, "indicator.defined", {"indicator_id": "heures", "name": "Heures d'occupation",
                                       "unit": "h", "method": "Registre des réservations."})
    await add(a, "agreement.revised", {"title": "Salle partagée 2027",
                                       "purpose": "Partager une salle.", "binding": False})
    second = await ratify(a)
    assert second > first

    page = await client.get(f"/agreements/{ID}")
    assert page.status_code == 200, page.text
    html = page.text
    # Every party of each version, ratified or not, when and with which key.
    old = _rows(html, first)
    assert set(old) == {a.org_id, b.org_id, c.org_id}
    for signer in (a, b, c):
        assert "ratifiée" in old[signer.org_id] and "non ratifiée" not in old[signer.org_id]
        assert signer.key_id[:16] in old[signer.org_id]
    assert "en vigueur" in old[a.org_id]
    now = _rows(html, second)
    assert "actuelle" in now[a.org_id]
    assert a.key_id[:16] in now[a.org_id] and "non ratifiée" not in now[a.org_id]
    for signer in (b, c):
        assert "non ratifiée" in now[signer.org_id] and signer.key_id[:16] not in now[signer.org_id]

    # What changed, by default from the version last ratified to the current one.
    changes = _changes(html)
    assert f"Termes, version {first} → version {second}" in changes
    assert re.search(r'class="changed" data-item="cles".*?texte \(modifié\).*?'
                     r'<del>Rendre les clés\.</del>.*?<ins>Rendre les clés le soir même\.</ins>',
                     changes, re.S), changes
    assert re.search(r'class="added" data-item="menage".*?Faire le ménage\.', changes, re.S)
    assert re.search(r'data-section="indicators".*?class="added" data-item="heures"'
                     r".*?Heures d&#39;occupation", changes, re.S), changes
    assert re.search(r"titre \(modifié\).*?<del>Salle partagée</del>.*?"
                     r"<ins>Salle partagée 2027</ins>", changes, re.S)
    assert 'data-item="versions-' not in changes  # the parties did not change

    # Backwards, in English: what was added is now removed.
    back = await client.get(f"/agreements/{ID}", params={"ta": second, "tb": first,
                                                         "lang": "en"})
    changes = _changes(back.text)
    assert "What changed between two versions of the terms" in back.text
    assert f"Terms, version {second} → version {first}" in changes
    assert re.search(r'class="removed" data-item="menage".*?\(removed\)', changes, re.S)
    assert "text (changed)" in changes
    assert "Ratification per terms version" in back.text
    assert "not ratified" in _rows(back.text, second)[b.org_id]

    # One version against itself: nothing changed; a version that is no number: a page.
    same = await client.get(f"/agreements/{ID}", params={"ta": first, "tb": first,
                                                                  "lang": "fr"})
    assert _changes(same.text) == "" and "Les termes sont les mêmes" in same.text
    bad = await client.get(f"/agreements/{ID}", params={"ta": "deux"})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
