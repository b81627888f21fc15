"""docs/API.md catalogues every refusal; this test holds the catalogue to the code.

Both ways: a problem ``type`` or a ``rule`` code the server can answer with must have a
row, and a row must name something the server raises. Codes are collected from the
code itself, not from a list kept by hand:

* problem types: every ``LedgerError`` class (``ledger.errors.error_classes()``, after
  importing every module) that server-side code constructs, with its HTTP status from
  ``ledger.api.problems.status_of``; plus the codes ``api/problems.py`` writes itself (its
  ``problem(status, "code", ...)`` calls and the map of Litestar's HTTP errors);
* rule codes: the literal first argument of every ``Rejected(...)`` and ``reject(...)``
  call; the agreement rules are those of ``ledger.domain.RULES`` (catalogued in
  docs/EVENTS.md, checked by tests/unit/domain/test_domain_catalogue.py), every other
  one must have a row in API.md.

To add a code: raise it, then add its row to the right table of docs/API.md §
"Refusals" (``| `code` | status | meaning | members |``).
"""

from __future__ import annotations

import ast
import gc
import importlib
import pathlib
import pkgutil
import re
from collections import defaultdict

import pytest

from ledger.domain import RULES
from ledger.errors import LedgerError, error_classes

ROOT = pathlib.Path(__file__).resolve().parents[2]
API_DOC = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
EVENTS_DOC = (ROOT / "docs" / "EVENTS.md").read_text(encoding="utf-8")
PACKAGES = ("ledger", "api", "projections")

#: Code that never answers an HTTP request: the client, the offline auditor, the CLI and
#: the demo raise errors of their own (``client-error``, ``ledger-error``...) to their
#: own user, never in a problem document.
CLIENT_SIDE = ("ledger/client.py", "ledger/audit", "ledger/cli/", "ledger/demo.py",
               "ledger/__main__.py")
#: The row for Litestar's HTTP errors that ``api/problems.py`` has no name for.
FALLBACK = "http-<status>"


def _server_sources() -> dict[str, ast.Module]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith(CLIENT_SIDE):
                out[rel] = ast.parse(path.read_text(encoding="utf-8"), rel)
    return out


SOURCES = _server_sources()


def _import_everything() -> None:
    for folder in PACKAGES:  # the folders install as ledger, ledger.api, ledger.projections
        package = folder if folder == "ledger" else f"ledger.{folder}"
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


def _called_name(node: ast.Call) -> str | None:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _calls() -> dict[str, list[tuple[str, ast.Call]]]:
    found: dict[str, list[tuple[str, ast.Call]]] = defaultdict(list)
    for rel, tree in SOURCES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (name := _called_name(node)):
                found[name].append((rel, node))
    return found


CALLS = _calls()


def _table(heading: str) -> dict[str, list[str]]:
    """Rows of the table under ``heading`` in API.md: first cell's code -> other cells."""
    start = API_DOC.index(heading)
    end = API_DOC.find("\n#", start + len(heading))
    rows = {}
    for line in API_DOC[start:end if end > 0 else None].splitlines():
        m = re.match(r"^\| `([^`]+)` \|(.*)\|\s*$", line)
        if m:
            assert m[1] not in rows, f"{m[1]} has two rows under {heading}"
            rows[m[1]] = [c.strip() for c in m[2].split("|")]
    assert rows, f"no table under {heading}"
    return rows


_import_everything()
PROBLEM_ROWS = _table("### Problem types")
RULE_ROWS = _table("### Rule codes of the core")


def raised_problems() -> dict[str, set[int]]:
    """Every problem type the server can answer with, and its status(es)."""
    from ledger.api.problems import _HTTP_CODES, status_of

    found: dict[str, set[int]] = defaultdict(set)
    for code, cls in error_classes().items():
        if cls.__name__ in CALLS:
            instance = cls.__new__(cls)  # status_of looks at the class only
            found[code].add(status_of(instance))
    for status, (code, _) in _HTTP_CODES.items():
        found[code].add(status)
    for rel, node in CALLS.get("problem", []):
        if rel == "api/problems.py" and len(node.args) >= 2:
            number, name = node.args[0], node.args[1]
            if (isinstance(number, ast.Constant) and isinstance(number.value, int)
                    and isinstance(name, ast.Constant) and isinstance(name.value, str)):
                found[name.value].add(number.value)
    return dict(found)


def raised_rules() -> set[str]:
    """The rule code of every Rejected(...) and reject(...) call; each must be literal."""
    codes, dynamic = set(), []
    for name in ("Rejected", "reject"):
        for rel, node in CALLS.get(name, []):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
            elif not (rel == "ledger/domain/rules.py" and name == "Rejected"):
                dynamic.append(f"{rel}:{node.lineno}")  # rules.reject itself is exempt
    assert not dynamic, f"rule codes must be literal strings to be catalogued: {dynamic}"
    return codes


def test_the_problem_catalogue_lists_exactly_what_the_server_answers() -> None:
    raised = raised_problems()
    documented = set(PROBLEM_ROWS) - {FALLBACK}
    missing = sorted(set(raised) - documented)
    assert not missing, f"raised but not in docs/API.md § Problem types: {missing}"
    unused = sorted(documented - set(raised))
    assert not unused, f"in docs/API.md § Problem types but raised nowhere: {unused}"


def test_each_problem_row_gives_the_status_the_server_sends() -> None:
    for code, statuses in raised_problems().items():
        assert len(statuses) == 1, f"{code} is sent with several statuses: {statuses}"
        assert PROBLEM_ROWS[code][0] == str(next(iter(statuses))), (code, PROBLEM_ROWS[code])


def test_the_fallback_row_matches_the_handler() -> None:
    source = (ROOT / "api" / "problems.py").read_text(encoding="utf-8")
    assert 'f"http-{status}"' in source
    assert FALLBACK in PROBLEM_ROWS


def test_every_row_has_a_meaning() -> None:
    for code, cells in {**PROBLEM_ROWS, **RULE_ROWS}.items():
        assert len(cells) >= 2 and all(cells[:2]), (code, cells)


def test_the_rule_catalogue_lists_exactly_the_rules_raised() -> None:
    raised = raised_rules()
    core = set(RULE_ROWS)
    assert not core & set(RULES), f"listed in both API.md and EVENTS.md: {core & set(RULES)}"
    missing = sorted(raised - core - set(RULES))
    assert not missing, f"raised but catalogued nowhere: {missing}"
    unused = sorted((core | set(RULES)) - raised)
    assert not unused, f"catalogued but raised nowhere: {unused}"
    events_table = set(re.findall(r"^\| `([a-z-]+\.[a-z-]+)` \|", EVENTS_DOC, re.MULTILINE))
    assert events_table == set(RULES)


def test_rule_refusals_are_the_rule_violated_type() -> None:
    assert PROBLEM_ROWS["rule-violated"][0] == "422"
    assert "`rule`" in PROBLEM_ROWS["rule-violated"][2]


@pytest.mark.parametrize("code", sorted(error_classes()))
def test_error_codes_are_problem_type_segments(code: str) -> None:
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code), code


def test_a_code_names_one_class() -> None:
    class Twin(LedgerError):
        code = "not-found"

    with pytest.raises(ValueError, match="not-found"):
        error_classes()
    del Twin
    gc.collect()  # a class lives in a reference cycle; the registry must forget it
    assert error_classes()["not-found"].__name__ == "NotFound"
