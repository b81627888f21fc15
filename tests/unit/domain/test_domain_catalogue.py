"""The catalogue, the rules registry, docs/EVENTS.md and the tests agree."""

from __future__ import annotations

import importlib
import pathlib
import re

import msgspec

from ledger.domain import COMMANDS, EVENTS, RULES

# the package re-exports the functions decide/evolve under the modules' names
decide_module = importlib.import_module("ledger.domain.decide")
evolve_module = importlib.import_module("ledger.domain.evolve")

ROOT = pathlib.Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "EVENTS.md").read_text(encoding="utf-8")
SOURCES = "\n".join(p.read_text(encoding="utf-8")
                    for p in (ROOT / "ledger" / "domain").glob("*.py"))
TESTS = "\n".join(p.read_text(encoding="utf-8")
                  for p in pathlib.Path(__file__).parent.glob("test_*.py")
                  if p.name != pathlib.Path(__file__).name)


def _sections() -> dict[str, str]:
    parts = re.split(r"^### `([a-z_.]+)`.*$", DOC, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_table_covers_every_type() -> None:
    types = set(EVENTS)
    assert set(COMMANDS) == types
    assert set(evolve_module._APPLIERS) == types
    assert set(decide_module._RULES) == types


def test_type_names_are_dotted_lower_case() -> None:
    for t in EVENTS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+", t), t


def test_data_structs_forbid_unknown_fields_and_omit_defaults() -> None:
    for spec in EVENTS.values():
        config = spec.data.__struct_config__
        assert config.forbid_unknown_fields and config.omit_defaults and config.frozen


def test_commands_are_their_event_data_plus_actor_and_at() -> None:
    for t, cmd in COMMANDS.items():
        data_fields = [f.name for f in msgspec.structs.fields(EVENTS[t].data)]
        assert [f.name for f in msgspec.structs.fields(cmd)] == [*data_fields, "actor", "at"]


def test_docs_describe_every_type_as_the_code_does() -> None:
    sections = _sections()
    assert set(sections) == set(EVENTS), set(sections) ^ set(EVENTS)
    for t, spec in EVENTS.items():
        text = sections[t]
        terms = re.search(r"\*\*Changes the terms:\*\* (yes|no)", text)
        assert terms is not None, t
        assert (terms.group(1) == "yes") == spec.terms, t
        assert ("**Allowed while suspended.**" in text) == spec.while_suspended, t
        assert ("former party" in text.split("**Data:**")[0]) == (
            spec.who == "party-or-former"), t
        same_as = re.search(r"the same members as `([a-z_.]+)`", text)
        described = sections[same_as.group(1)] if same_as else text
        for name in (f.name for f in msgspec.structs.fields(spec.data)):
            assert f"`{name}:" in described, (t, name)


def test_every_rule_code_is_documented_raised_and_tested() -> None:
    raised = set(re.findall(r'reject\(\s*"([a-z.-]+)"', SOURCES))
    raised |= set(re.findall(r'Rejected\(\s*"([a-z.-]+)"', SOURCES))
    assert raised <= set(RULES), raised - set(RULES)
    assert set(RULES) <= raised, set(RULES) - raised
    table = set(re.findall(r"^\| `([a-z-]+\.[a-z-]+)` \|", DOC, flags=re.MULTILINE))
    assert table == set(RULES), table ^ set(RULES)
    untested = {code for code in RULES if f'"{code}"' not in TESTS}
    assert not untested, f"no test exercises {sorted(untested)}"


def test_personal_information_is_addressed_in_the_docs() -> None:
    assert "No personal information" in DOC and "pseudonymous" in DOC


def test_the_package_docstring_example_runs() -> None:
    import doctest

    import ledger.domain

    result = doctest.testmod(ledger.domain)
    assert result.attempted >= 2 and result.failed == 0
