"""Messages in the user's words (issue #15.3), each by its exact input, through the real
``ledger`` command against a real server: what is expected, with an example, in French
or English after the locale; never an exception's name, a regular expression or a
traceback; ``--json`` errors carry the stable code."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.api.test_serve import _free_port
from tests.cli.conftest import LEDGER, Cli

pytestmark = pytest.mark.pg

FR = "fr_CA.UTF-8"
INTERNALS = ("Traceback", "Error:", "codec", "regex", "\\Z", "^[", "PEM", "client-error")


def _clean(out: subprocess.CompletedProcess[str]) -> str:
    """The one error line, checked free of Python internals."""
    assert out.returncode != 0
    text = out.stderr.strip()
    for word in INTERNALS:
        assert word not in text, text
    return text


def _agreement(cli: Cli, org: str, key: str, *extra: str, public: bool = True) -> str:
    """A fresh agreement drafted by ``org`` (public unless asked: no token to read)."""
    extra = (*extra, "--public") if public else extra
    agreement = f"ag-{uuid.uuid4().hex[:8]}"
    cli.ok("agreement", "draft", "--org", org, "--key", key, "--id", agreement,
           "--title", "Fête", "--purpose", "Partager", *extra)
    return agreement


def _commit(cli: Cli, org: str, key: str, agreement: str, *changes: str,
            lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    base = {"--start": "2027-01-01", "--end": "2027-12-31", "--quantity": "384",
            "--value": "18000"}
    for flag, value in zip(changes[::2], changes[1::2], strict=True):
        base[flag] = value
    args = ["commit", "--org", org, "--key", key, "--agreement", agreement,
            "--id", f"c-{uuid.uuid4().hex[:6]}", "--category", "human_resources",
            "--description", "Comptabilité", "--unit", "hour", "--receiver", "collective"]
    for flag, value in base.items():
        args += [flag, value]
    return cli.run(*args, lang=lang)


def test_an_agreement_id_with_accents_says_what_an_id_is(cli: Cli) -> None:
    org, key = cli.org("centre")
    args = ("agreement", "draft", "--org", org, "--key", key, "--id", "fête-2027",
            "--title", "Fête", "--purpose", "Partager")
    en = _clean(cli.run(*args))
    assert "“fête-2027” is not a valid id" in en and "e.g. fete-2027" in en
    fr = _clean(cli.run(*args, lang=FR))
    assert "« fête-2027 » n'est pas un identifiant valide" in fr and "ex. fete-2027" in fr


def test_an_organization_id_with_accents_says_what_it_is(cli: Cli) -> None:
    _, key = cli.org("centre")
    en = _clean(cli.run("agreement", "join", "anything", "--org", "café-été", "--key", key))
    assert "“café-été” is not a valid organization id" in en and "e.g. cafe-ete" in en
    fr = _clean(cli.run("org", "register", "--org", "café-été", "--key", key, "--name", "C",
                        lang=FR))
    assert "n'est pas un identifiant d'organisation valide" in fr


def test_a_date_not_written_year_month_day_shows_the_form(cli: Cli) -> None:
    org, key = cli.org("centre")
    agreement = _agreement(cli, org, key)
    en = _clean(_commit(cli, org, key, agreement, "--start", "01/02/2027"))
    assert "“01/02/2027” is not a date: write it YYYY-MM-DD (e.g. 2027-02-01)" in en
    fr = _clean(_commit(cli, org, key, agreement, "--start", "01/02/2027", lang=FR))
    assert "écrivez-la AAAA-MM-JJ (ex. 2027-02-01)" in fr
    assert "is not a date" in _clean(_commit(cli, org, key, agreement, "--end", "2027-02-30"))


def test_a_decimal_comma_is_read_as_a_point(cli: Cli) -> None:
    org, key = cli.org("centre")
    agreement = _agreement(cli, org, key)
    out = _commit(cli, org, key, agreement, "--value", "12,50", "--quantity", "3,5")
    assert out.returncode == 0, out.stderr
    state = json.loads(cli.ok("agreement", "show", agreement, "--json").stdout)["state"]
    [commitment] = state["commitments"].values()
    assert commitment["value"]["amount"] == "12.50"
    assert commitment["quantity"]["amount"] == "3.5"
    bad = _clean(_commit(cli, org, key, agreement, "--value", "12 500 $"))
    assert "is not an amount" in bad and "12.50" in bad


def test_registering_again_says_already_registered(cli: Cli) -> None:
    org, key = cli.org("centre")
    again = ("org", "register", "--org", org, "--key", key, "--name", "Centre")
    en = _clean(cli.run(*again))
    assert en == f"error: organization {org} is already registered on this ledger"
    assert "déjà inscrite" in _clean(cli.run(*again, lang=FR))
    out = cli.run(*again, "--json")
    assert json.loads(out.stdout)["error"]["code"] == "already-registered"


def test_a_file_that_is_not_a_key_says_so(cli: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("compte rendu de l'atelier\n")
    args = ("org", "register", "--org", "centre-x", "--key", str(notes), "--name", "C")
    en = _clean(cli.run(*args))
    assert en == f"error: {notes} is not an Ed25519 private key made by `ledger keygen`"
    fr = _clean(cli.run(*args, lang=FR))
    assert "n'est pas une clé privée Ed25519 faite par « ledger keygen »" in fr
    missing = _clean(cli.run("org", "register", "--org", "centre-x", "--key",
                             str(tmp_path / "absent.pem"), "--name", "C"))
    assert "no key file" in missing


def test_a_url_without_scheme_or_without_server_says_which(cli: Cli) -> None:
    bare = cli.url.removeprefix("http://")
    en = _clean(cli.run("agreement", "show", "x", "--url", bare))
    assert f"“{bare}” is not a server URL: write it with http://" in en
    nobody = f"http://127.0.0.1:{_free_port()}"
    out = cli.run("agreement", "show", "x", "--url", nobody)
    en = _clean(out)
    assert en == f"error: nothing answers at {nobody}: is `ledger serve` running there?"
    assert "unavailable" not in en.lower()
    fr = _clean(cli.run("agreement", "show", "x", "--url", nobody, lang=FR))
    assert f"rien ne répond à {nobody}" in fr


def test_an_invited_organization_joins_a_private_agreement(cli: Cli) -> None:
    a, key_a = cli.org("centre")
    b, key_b = cli.org("theatre")
    agreement = _agreement(cli, a, key_a, "--invite", b, public=False)
    join = ("agreement", "join", agreement, "--org", b, "--key", key_b)
    message = _clean(cli.run(*join))
    assert f"Ask the ledger's operator to run `ledger token create --org {b}`" in message
    assert "LEDGER_TOKEN" in message
    assert json.loads(cli.run(*join, "--json").stdout)["error"]["code"] == "token-missing"
    # Following the message works: the operator creates the token, the party joins.
    token = cli.ok("token", "create", "--org", b).stdout.splitlines()[0]
    cli.ok(*join, env={"LEDGER_TOKEN": token})
    shown = cli.ok("agreement", "show", agreement, "--json", env={"LEDGER_TOKEN": token})
    assert b in json.loads(shown.stdout)["state"]["parties"]


def test_json_errors_carry_the_stable_code(cli: Cli) -> None:
    for args in (("agreement", "show", "nowhere-1", "--json"),
                 ("--json", "agreement", "show", "nowhere-1")):
        out = cli.run(*args)
        assert out.returncode == 1
        error = json.loads(out.stdout)["error"]
        assert error["code"] == "not-found" and error["status"] == 404
    usage = cli.run("--json", "agreement", "show", "fête-2027")
    assert usage.returncode == 2 and usage.stderr == ""
    assert json.loads(usage.stdout)["error"]["code"] == "usage"


def test_a_reader_that_goes_away_is_not_an_error(cli: Cli) -> None:
    org, key = cli.org("centre")
    agreement = _agreement(cli, org, key)
    env = dict(cli.env, LEDGER_URL=cli.url, LC_ALL="C.UTF-8")
    # The reader is gone before the first line is written (as `| head -1` after it read
    # its line): writing must not print a traceback nor change the exit status.
    proc = subprocess.Popen([LEDGER, "agreement", "history", agreement, "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""
    piped = subprocess.run(f"'{LEDGER}' agreement history {agreement} | head -1", shell=True,
                           env=env, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout.startswith("version")


def test_a_local_command_with_another_home_does_not_create_a_ledger(
        cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    env = {k: v for k, v in cli.env.items() if k != "DATABASE_URL"}
    env.update(LEDGER_HOME=str(other), LC_ALL="C.UTF-8")
    for args in (("token", "create", "--org", "centre"), ("token", "list"),
                 ("projections", "status"), ("log", "key"), ("log", "checkpoint")):
        out = subprocess.run([LEDGER, *args], env=env, text=True, capture_output=True,
                             timeout=120)
        message = _clean(out)
        assert message.startswith(f"error: no ledger in {other} (LEDGER_HOME)"), message
        assert "ledger serve" in message
        assert out.stdout == ""
    assert not other.exists()


def test_a_malformed_member_names_its_option_not_a_pattern(cli: Cli) -> None:
    org, key = cli.org("centre")
    agreement = _agreement(cli, org, key)
    empty = _clean(cli.run("expectation", "state", agreement, "--org", org, "--key", key,
                           "--id", "e1", "--text", ""))
    assert empty == "error: refused by the agreement rules: --text cannot be empty"
    spaced = _clean(_commit(cli, org, key, agreement, "--unit", " hour"))
    assert "--unit: a unit without spaces at either end (e.g. hour)" in spaced
    long = _clean(cli.run("role", "propose", agreement, "--org", org, "--key", key,
                          "--id", "r1", "--name", "x" * 300, "--description", "d",
                          "--assignee", org, lang=FR))
    assert "--name : au plus 200 caractères" in long and "refusé par les règles" in long
    at = _clean(cli.run("agreement", "show", agreement, "--at", "yesterday"))
    assert "“yesterday” is not a UTC time: write it YYYY-MM-DDTHH:MM:SSZ" in at


def test_prose_follows_the_locale(cli: Cli, tmp_path: Path) -> None:
    key = str(tmp_path / "k.pem")
    assert cli.ok("keygen", "--out", key, lang=FR).stdout.startswith(f"clé écrite dans {key}")
    again = _clean(cli.run("keygen", "--out", key, lang=FR))
    assert again == f"error: {key} existe déjà ; une clé n'est jamais écrasée"
    assert _clean(cli.run("keygen", "--out", key, lang="en_CA.UTF-8")).endswith(
        "refusing to overwrite a key")
    # LC_ALL wins over LANG, as POSIX says.
    out = cli.run("keygen", "--out", key, env={"LC_ALL": "fr_FR.UTF-8", "LANG": "C"})
    assert "existe déjà" in out.stderr


def test_a_write_that_lost_the_race_says_to_run_it_again() -> None:
    from argparse import Namespace

    from ledger.admission import Head
    from ledger.cli.failures import explain
    from ledger.client import Conflict

    problem = {"type": "https://mutualisation-ledger.org/problems/stream-version-conflict",
               "title": "Stream version conflict", "detail": "version 4 is taken"}
    message, detail = explain(Conflict(409, problem, Head(4, "ab" * 32)), Namespace())
    assert message.startswith("another write got in first") and "run the" in message
    assert detail["code"] == "stream-version-conflict" and detail["status"] == 409
