"""docs/API.md § 1 lists every route the application serves, and no other.

The app is built (not started: no database is needed) and its routes compared with the
table's rows. A row ending in ``…`` stands for every route under that path.
"""

from __future__ import annotations

import pathlib
import re

from ledger.admission import Limits
from ledger.api.app import create_app
from ledger.config import Settings

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"  # never connected to


def documented() -> list[tuple[str, str]]:
    section = DOC[DOC.index("## 1. Who may call what"):DOC.index("## 2.")]
    return re.findall(r"^\| `(GET|POST) (/[^`]*)` \|", section, flags=re.MULTILINE)


def served(tmp_path: pathlib.Path) -> set[tuple[str, str]]:
    settings = Settings(database_url=NOWHERE, home=tmp_path, origin="example.org/ledger",
                        log_key_path=tmp_path / "log-key.pem", limits=Limits())
    app = create_app(settings, dsn=NOWHERE, background=False)
    return {(method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
            for route in app.routes for method in getattr(route, "methods", ())
            if method not in ("OPTIONS", "HEAD")}


def _covers(row: tuple[str, str], route: tuple[str, str]) -> bool:
    (method, path), (got_method, got_path) = row, route
    if method != got_method:
        return False
    return got_path.startswith(path[:-1]) if path.endswith("…") else got_path == path


def test_every_route_served_is_documented_and_every_row_is_served(
        tmp_path: pathlib.Path) -> None:
    rows, routes = documented(), served(tmp_path)
    assert len(rows) == len(set(rows)), "a route has two rows"
    missing = sorted(r for r in routes if not any(_covers(row, r) for row in rows))
    assert not missing, f"served but not in docs/API.md § 1: {missing}"
    stale = sorted(row for row in rows if not any(_covers(row, r) for r in routes))
    assert not stale, f"in docs/API.md § 1 but not served: {stale}"
