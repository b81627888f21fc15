"""The whole workshop from the command line (issue #15.2): every event an organization
signs, through the real ``ledger`` command against a real server, then the reads
(``agreement list``, ``org show``, ``agreement diff``, ``log checkpoint``/``log proof``),
``--json`` on either side of the sub-command, and each command's ``--help`` example."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import uuid
from pathlib import Path
from typing import Any

import pytest

from ledger.cli import build_parser
from ledger.cli.workshop import COMMANDS, example
from tests.cli.conftest import Cli

pytestmark = pytest.mark.pg


def _state(cli: Cli, agreement: str, **env: str) -> dict[str, Any]:
    out = cli.ok("agreement", "show", agreement, "--json", env=env or None)
    return json.loads(out.stdout)["state"]  # type: ignore[no-any-return]


def test_the_whole_workshop(cli: Cli, tmp_path: Path) -> None:
    a, ka = cli.org("centre")
    b, kb = cli.org("theatre")
    ag = f"atelier-{uuid.uuid4().hex[:6]}"
    A = ("--org", a, "--key", ka)
    B = ("--org", b, "--key", kb)
    cli.ok("agreement", "draft", *A, "--id", ag, "--title", "Atelier", "--purpose", "Partager",
           "--public")
    cli.ok("agreement", "invite", ag, *A, "--invitee", b)
    cli.ok("agreement", "join", ag, *B)

    # expectations
    cli.ok("expectation", "state", ag, *A, "--id", "att-1", "--text", "Répondre en 48 h")
    cli.ok("expectation", "revise", ag, *A, "--id", "att-1", "--text", "Répondre en 24 h",
           "--to", b)
    cli.ok("expectation", "acknowledge", ag, *B, "--id", "att-1")
    cli.ok("expectation", "state", ag, *B, "--id", "att-2", "--text", "Partager les locaux")
    cli.ok("expectation", "withdraw", ag, *B, "--id", "att-2", "--reason", "Réglé")
    # porteur and roles
    cli.ok("agreement", "porteur", ag, *A, "--person", "p-0042")
    cli.ok("role", "propose", ag, *A, "--id", "r-compta", "--name", "Tenue de livres",
           "--description", "Les livres du groupe", "--assignee", b)
    cli.ok("role", "accept", ag, *B, "--id", "r-compta", "--person", "p-0043")
    cli.ok("role", "propose", ag, *A, "--id", "r-com", "--name", "Communications",
           "--description", "Le bulletin", "--assignee", b)
    cli.ok("role", "decline", ag, *B, "--id", "r-com", "--reason", "Pas cette année")
    # commitments
    offer = ("--category", "human_resources", "--description", "Une comptable",
             "--quantity", "384", "--unit", "hour", "--start", "2027-01-01",
             "--end", "2027-12-31", "--receiver", b)
    cli.ok("commitment", "offer", ag, *A, "--id", "c-1", *offer, "--value", "12,50")
    cli.ok("commitment", "amend", ag, *A, "--id", "c-1", *offer, "--value", "18000",
           "--fair-value", "21000")
    cli.ok("commitment", "declare-value", ag, *B, "--id", "c-1", "--value", "15000")
    cli.ok("commitment", "offer", ag, *B, "--id", "c-2", *offer[:-1], a)
    cli.ok("commitment", "withdraw", ag, *B, "--id", "c-2", "--reason", "Plus de budget")
    # fulfilments
    proof = tmp_path / "feuilles.csv"
    proof.write_bytes(b"semaine,heures\n1,16\n")
    digest = hashlib.sha256(proof.read_bytes()).hexdigest()
    period = ("--start", "2027-01-01", "--end", "2027-03-31")
    cli.ok("fulfilment", "record", ag, *A, "--id", "f-1", "--commitment", "c-1",
           "--quantity", "96", "--unit", "hour", *period, "--evidence", str(proof))
    cli.ok("fulfilment", "confirm", ag, *B, "--id", "f-1", "--comment", "Merci")
    cli.ok("fulfilment", "record", ag, *A, "--id", "f-2", "--commitment", "c-1",
           "--quantity", "10", "--unit", "hour", *period)
    cli.ok("fulfilment", "contest", ag, *B, "--id", "f-2", "--reason", "Jamais reçues")
    # stages and indicators
    cli.ok("stage", "start", ag, *A, "--stage", "know_yourself")
    cli.ok("stage", "complete", ag, *A, "--stage", "know_yourself", "--evidence", str(proof))
    cli.ok("indicator", "define", ag, *A, "--id", "heures", "--name", "Heures",
           "--unit", "hour", "--method", "Feuilles de temps", "--target", "384")
    cli.ok("indicator", "measure", ag, *A, "--id", "m-1", "--indicator", "heures", *period,
           "--value", "96,5", "--evidence", str(proof))
    # consent, visibility, ratification, suspension, withdrawal with notice, termination
    cli.ok("consent", "give", ag, *A, "--id", "ok-1", "--trust", "fiducie-qc",
           "--purpose", "Recherche", "--scope", "commitment", "--scope", "fulfilment",
           "--licence", "CC-BY-4.0", "--expires-on", "2028-12-31")
    cli.ok("consent", "withdraw", ag, *A, "--id", "ok-1", "--reason", "Fin du projet")
    cli.ok("agreement", "visibility", ag, *A, "private")
    assert cli.run("agreement", "show", ag).returncode == 1
    token = cli.ok("token", "create", "--org", a).stdout.splitlines()[0]
    cli.ok("agreement", "visibility", ag, *A, "public", env={"LEDGER_TOKEN": token})
    cli.ok("agreement", "revise", ag, *A, "--title", "Atelier 2027", "--purpose", "Partager",
           "--binding")
    state = _state(cli, ag)
    cli.ok("ratify", ag, *A)
    cli.ok("ratify", ag, *B)

    assert state["expectations"]["att-1"]["text"] == "Répondre en 24 h"
    assert b in state["expectations"]["att-1"]["acks"]
    assert state["expectations"]["att-2"]["withdrawn"]
    assert state["parties"][a]["porteur"] == "p-0042"
    assert state["roles"]["r-compta"]["status"] == "accepted"
    commitment = state["commitments"]["c-1"]
    assert commitment["value"]["amount"] == "18000"
    assert commitment["fair_value"]["amount"] == "21000"
    assert state["commitments"]["c-2"]["withdrawn"]
    assert state["fulfilments"]["f-1"]["evidence_sha256"] == digest
    assert state["measures"]["m-1"]["value"] == "96.5"
    assert state["measures"]["m-1"]["evidence_sha256"] == digest
    assert state["consents"]["ok-1"]["withdrawn_at"]
    assert state["title"] == "Atelier 2027" and state["binding"]

    document = cli.ok("agreement", "document", ag).stdout
    assert "Répondre en 24 h" in document and "Aucune attente" not in document

    cli.ok("agreement", "suspend", ag, *A, "--reason", "Pause estivale")
    assert _state(cli, ag)["status"] == "suspended"
    cli.ok("agreement", "resume", ag, *B)
    cli.ok("agreement", "withdraw", ag, *B, "--effective-on", "2099-06-30",
           "--reason", "Déménagement")
    cli.ok("agreement", "terminate", ag, *A, "--reason", "Fin du projet")
    assert _state(cli, ag)["status"] == "terminated"

    # reads
    listed = json.loads(cli.ok("agreement", "list", "--party", a, "--json").stdout)
    assert [x["id"] for x in listed["agreements"]] == [ag]
    assert ag in cli.ok("agreement", "list").stdout
    org = json.loads(cli.ok("--json", "org", "show", a).stdout)
    assert org["id"] == a and org["name"] == "Centre" and len(org["keys"]) == 1
    assert a in cli.ok("org", "show", a).stdout
    diff = json.loads(cli.ok("agreement", "diff", ag, "4", "5", "--json").stdout)
    paths = {c["path"] for c in diff["changes"]}
    assert "expectations.att-1.text" in paths
    table = cli.ok("agreement", "diff", ag, "4", "5").stdout
    assert "expectations.att-1.text" in table and "Répondre en 24 h" in table


def test_log_checkpoint_and_proof_verify_against_the_pinned_key(cli: Cli) -> None:
    cli.org("centre")  # at least one entry in the log
    token = cli.ok("token", "create", "--auditor", "verif").stdout.splitlines()[0]
    vkey = cli.ok("log", "key").stdout.strip()
    env = {"LEDGER_TOKEN": token}
    cp = json.loads(cli.ok("log", "checkpoint", "--url", cli.url, "--vkey", vkey,
                           "--json", env=env).stdout)
    assert cp["verified"] and cp["key_pinned"] and cp["size"] >= 1
    proof = json.loads(cli.ok("--json", "log", "proof", "--index", "0", "--url", cli.url,
                              "--vkey", vkey, env=env).stdout)
    assert proof["verified"] and proof["size"] == cp["size"]
    text = cli.ok("log", "proof", "--index", "0", "--url", cli.url, env=env).stdout
    assert "verified" in text and "not pinned" in text
    other = vkey.rsplit("+", 1)[0] + "+" + "A" * 44
    wrong = cli.run("log", "checkpoint", "--url", cli.url, "--vkey", other, env=env)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    beyond = cli.run("log", "proof", "--index", "999999", "--url", cli.url, env=env)
    assert beyond.returncode == 1 and "not in the signed log" in beyond.stderr


def test_each_command_shows_an_example_that_parses() -> None:
    parser = build_parser()
    for row in COMMANDS:
        words = example(row).split()
        assert words[:3] == ["ledger", row.group, row.action]
        help_text = ""
        for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
            group = action.choices[row.group]  # type: ignore[index]
            for sub in group._subparsers._group_actions:
                help_text = sub.choices[row.action].format_help()
        assert "exemple / example:" in help_text and row.fr in help_text and row.en in help_text
        args = parser.parse_args(shlex.split(example(row))[1:])
        assert args.handler is not None and args.org == "centre-arts"


def test_every_event_has_its_command_in_the_parser_and_in_events_md() -> None:
    from ledger.domain.commands import COMMANDS as BY_TYPE

    doc = (Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md").read_text("utf-8")
    table = dict(re.findall(r"^\| `ledger ([a-z -]+)` \| `([a-z_.]+)` \|$", doc, re.M))
    assert sorted(table.values()) == sorted(BY_TYPE), "EVENTS.md lists each event once"
    parser = build_parser()
    for words in table:
        args = words.split()
        probe = [*args, *(["x"] if args[0] not in ("ratify",) else [])]
        try:
            parser.parse_args([*probe, "--help"])
        except SystemExit as exit_:
            assert exit_.code == 0, words
