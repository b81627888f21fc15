"""The demo's scenario done entirely through the workspace (``/espace``) in a real
chromium: three organizations, each in its own browser context with its own key (two
made in the page, one loaded from the PEM file ``ledger keygen`` writes), go through the
six stages to the ratification of the terms by all three, then record a fulfilment (its
evidence hashed in the page), confirm it and measure an indicator. The log is then
exported and ``ledger audit verify`` passes on it.

Why the comparison with the CLI demo is honest: the state hash (docs/PROTOCOL.md Part IV,
``ledger/domain/state_hash.py``) covers the terms only — the agreement's id, title,
vision and nature, the parties and their porteurs' person ids, the expectations, the
accepted roles with their person ids, the commitments with the values declared on both
sides, the indicators, and the terms version (the count of terms events) — and no time,
key, signature, position or progress event. The page is given the very inputs
``ledger.demo.run_demo`` gives its clients (the same organization and agreement ids, the
same person ids from ``ledger.demo._person``, the same texts and amounts, the events in
the same order), on a ledger of its own (``blank_site``), while ``cli_demo`` runs
``run_demo`` itself through ``ledger.client`` on another: equal hashes then mean the
page built, for each form, the same terms as the Python client — not that one side
copied the other's hash (the page's ratification recomputes it from the history the
browser verified, and a differing hash would be refused or would leave the agreement
not in force).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import pytest_asyncio

from ledger.demo import AGREEMENT, ORGS, DemoResult, _person, run_demo
from tests.conftest import database_from_template

from .conftest import Site, serving
from .test_workspace import Workspace, _keygen

pytestmark = [pytest.mark.pg, pytest.mark.browser, pytest.mark.timeout(600)]

CA, TF, FR = list(ORGS)
YEAR = {"period_start": "2027-01-01", "period_end": "2027-12-31"}
JANUARY = {"period_start": "2027-01-04", "period_end": "2027-01-29"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli_demo(pg_admin_dsn: str, template_database: str,
                   tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Future[DemoResult]]:
    """``run_demo`` through ``ledger.client`` on a ledger of its own, running in a thread
    while the browser works (the test waits for its result at the end)."""
    home = tmp_path_factory.mktemp("browser-cli-demo-home")
    async with database_from_template(pg_admin_dsn, template_database,
                                      prefix="ledger_browser_cli") as dsn:
        with serving(dsn, home) as (url, _env), ThreadPoolExecutor(1) as pool:
            done = pool.submit(run_demo, url)
            yield done
            done.result(timeout=120)  # finished before its server stops


def _ok(ws: Workspace, form: str, **fields: Any) -> dict[str, Any]:
    """One step that must be recorded; the statement the page signed."""
    done = ws.step(form, **fields)
    assert "Inscrit au journal" in done and "inclusion vérifiée" in done, (ws.org, form, done)
    return ws.shown


def _cli(site: Site, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(site.env, LEDGER_TOKEN=token) if token else site.env
    return subprocess.run([sys.executable, "-m", "ledger", *args], env=env, text=True,
                          capture_output=True, timeout=120)


def test_the_demo_scenario_through_the_workspace(blank_site, cli_demo, browser, tmp_path):
    url = blank_site.url
    ws = {org: Workspace(blank_site, browser, org) for org in ORGS}
    ca, tf, fr = ws[CA], ws[TF], ws[FR]
    try:
        # Keys: made in the page for two, loaded from `ledger keygen`'s file for one.
        for org in (CA, FR):
            ws[org].page.get_by_role("button", name="Créer une nouvelle clé").click()
        _keygen(blank_site, tmp_path / f"{TF}.pem")
        tf.page.set_input_files("#ws-key-file", str(tmp_path / f"{TF}.pem"))
        for w in ws.values():
            w.page.wait_for_function(
                "() => document.getElementById('ws-key-status').innerText.includes('Clé chargée')")
        for org, name in ORGS.items():
            _ok(ws[org], "register", name=name, region="Capitale-Nationale", sector="culture")
            ws[org].set_agreement(AGREEMENT)

        _ok(ca, "draft", title="Mutualisation des Rives 2027",
            purpose=("Partager une comptable, des locaux et une campagne de financement "
                     "pour faire mieux à plusieurs, sans diluer l'identité de chacun."),
            invited=f"{TF}, {FR}", public=True, binding=False)
        _ok(tf, "join")
        _ok(fr, "join")
        for org in ORGS:
            _ok(ws[org], "porteur", person_id=_person(org, "porteur"))
        for stage in ("know_yourself", "get_acquainted", "common_desire"):
            _ok(ca, "stage", stage=stage)
            for org in ORGS:
                _ok(ws[org], "stageack", stage=stage)

        _ok(tf, "expect", expectation_id="rapports-mensuels",
            text="Recevoir un rapport financier mensuel avant le 10 de chaque mois.")
        _ok(fr, "expect", expectation_id="visibilite-partagee",
            text="Que chaque organisme apparaisse à parts égales dans la campagne commune.")
        for eid, holder in (("rapports-mensuels", TF), ("visibilite-partagee", FR)):
            for org in ORGS:
                if org != holder:
                    _ok(ws[org], "ack", expectation_id=eid)

        _ok(ca, "stage", stage="framework")
        _ok(ca, "role", role_id="coordination-campagne", name="Coordination de la campagne",
            description="Coordonner le calendrier et les communications de la campagne.",
            assignee=FR)
        _ok(fr, "roleaccept", role_id="coordination-campagne",
            person_id=_person(FR, "coordination"))

        offered = _ok(ca, "offer", commitment_id="comptable-partagee",
                      category="function_accounting",
                      description="Comptable partagée, une journée par semaine.",
                      quantity_amount="384", quantity_unit="hour", **YEAR, receiver=TF,
                      value_amount="18000", value_unit="CAD",
                      fair_amount="21000", fair_unit="CAD", fair_method="market")
        assert offered["data"]["fair_value"] == {"amount": "21000", "unit": "CAD",
                                                 "method": "market"}
        _ok(tf, "received", commitment_id="comptable-partagee",
            value_amount="24000", value_unit="CAD")
        _ok(tf, "offer", commitment_id="salle-repetition", category="premises",
            description="Salle de répétition, deux soirs par semaine.",
            quantity_amount="100", quantity_unit="evening", **YEAR, receiver=FR,
            value_amount="6000", value_unit="CAD")
        _ok(fr, "offer", commitment_id="campagne-commune", category="fundraising",
            description="Organisation d'une campagne de financement commune.",
            quantity_amount="1", quantity_unit="campaign", **YEAR, receiver="collective",
            value_amount="120", value_unit="hour")

        _ok(ca, "stage", stage="plan")
        _ok(ca, "stage", stage="indicators")
        _ok(tf, "indicator", indicator_id="heures-comptables",
            name="Heures de comptabilité reçues", unit="hour",
            method="Somme des heures confirmées par le théâtre.", target="384")

        version = httpx.get(f"{url}/v1/agreements/{AGREEMENT}", timeout=10).json()[
            "terms_version"]
        for org in ORGS:
            _ok(ws[org], "ratify", version=str(version))
        view = httpx.get(f"{url}/v1/agreements/{AGREEMENT}", timeout=10).json()
        assert view["in_force"] and view["in_force_version"] == version

        sheet = tmp_path / "feuille-de-temps-janvier-2027.txt"
        sheet.write_bytes(b"feuille-de-temps-janvier-2027")
        recorded = _ok(ca, "fulfil", fulfilment_id="compta-janvier",
                       commitment_id="comptable-partagee", quantity_amount="32",
                       quantity_unit="hour", **JANUARY, evidence=sheet)
        # The evidence's hash, computed in the page, is the demo's.
        assert recorded["data"]["evidence_sha256"] == hashlib.sha256(
            b"feuille-de-temps-janvier-2027").hexdigest()
        _ok(tf, "confirm", fulfilment_id="compta-janvier", comment="Rapport reçu le 5 février.")
        statement = tmp_path / "releve-janvier-2027.txt"
        statement.write_bytes(b"releve-janvier-2027")
        measured = _ok(tf, "measure", measurement_id="heures-janvier",
                       indicator_id="heures-comptables", **JANUARY, value="32",
                       evidence=statement)
        assert measured["data"]["evidence_sha256"] == hashlib.sha256(
            b"releve-janvier-2027").hexdigest()

        final = httpx.get(f"{url}/v1/agreements/{AGREEMENT}", timeout=10).json()
        assert final["status"] == "active" and final["in_force"]
        # The agreement the page made is the one the CLI demo made: the same terms hash.
        demo = cli_demo.result(timeout=120)
        assert demo.agreement_id == AGREEMENT
        assert final["state_hash"] == demo.state_hash
        assert final["in_force_version"] == demo.in_force_version

        # The auditor's export verifies offline and names the same hash.
        vkey = httpx.get(f"{url}/v1/log/key", timeout=10).text.strip()
        bundle = tmp_path / "bundle.jsonl"
        exported = _cli(blank_site, "export", "--url", url, "--out", str(bundle), "--json",
                        token=blank_site.token("auditor", "audit-espace"))
        assert exported.returncode == 0, exported.stderr
        verified = _cli(blank_site, "audit", "verify", str(bundle), "--log-key", vkey, "--json")
        report = json.loads(verified.stdout)
        assert report["ok"], report["failure"]
        assert report["agreements"][AGREEMENT] == demo.state_hash
        for w in ws.values():
            assert w.tab.errors == []
    finally:
        for w in ws.values():
            w.tab.close()
