"""A real ``ledger serve`` on the suite's PostgreSQL, filled by the demo, and one
Debian ``chromium`` driven by Playwright for the module.

Skips (with the reason) when chromium or Playwright is missing: ``.ci/run`` installs
chromium before the tests. Screenshots go to ``tests/browser/artifacts/`` (git-ignored),
kept as the run's artifacts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ledger.demo import DemoResult, run_demo
from tests.api.test_serve import _free_port, _stop
from tests.conftest import database_from_template
from tests.e2e.test_demo_end_to_end import _wait
from tests.helpers import LEDGER_ID

CHROMIUM = os.environ.get("LEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).with_name("artifacts")
AXE = Path(__file__).with_name("vendor") / "axe.min.js"


def _chromium() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[dev]')")
    return CHROMIUM


class Site:
    """The running server and what the demo recorded on it."""

    def __init__(self, url: str, env: dict[str, str], demo: DemoResult) -> None:
        self.url, self.env, self.demo = url, env, demo

    def token(self, kind: str, subject: str) -> str:
        """A fresh read token, made by the operator's command."""
        made = subprocess.run(
            [sys.executable, "-m", "ledger", "token", "create", f"--{kind}", subject,
             "--json"], env=self.env, text=True, capture_output=True, timeout=60)
        assert made.returncode == 0, made.stderr
        token: str = json.loads(made.stdout)["token"]
        return token


@contextmanager
def serving(dsn: str, home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``ledger serve`` on ``dsn`` with its home in ``home``: its URL and environment,
    stopped on leaving."""
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=dsn, LEDGER_HOME=str(home),
               LEDGER_ORIGIN=LEDGER_ID, LEDGER_CHECKPOINT_INTERVAL="0.2",
               LEDGER_OPEN_REGISTRATION="1")
    log = home / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "serve", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc, log)
        yield url, env
    finally:
        _stop(proc)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(pg_admin_dsn: str, template_database: str,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    _chromium()
    home = tmp_path_factory.mktemp("browser-home")
    async with database_from_template(pg_admin_dsn, template_database,
                                      prefix="ledger_browser") as dsn:
        with serving(dsn, home) as (url, env):
            demo = await asyncio.to_thread(run_demo, url)
            yield Site(url, env, demo)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def blank_site(pg_admin_dsn: str, template_database: str,
                     tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """A running server on an empty ledger (no demo recorded): for scenarios that use the
    demo's own ids."""
    _chromium()
    home = tmp_path_factory.mktemp("browser-blank-home")
    async with database_from_template(pg_admin_dsn, template_database,
                                      prefix="ledger_browser_blank") as dsn:
        with serving(dsn, home) as (url, env):
            yield Site(url, env, DemoResult(""))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = _chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Tab:
    """A fresh browser context and page with axe-core injected by the browser itself
    (an init script, so the pages' own CSP, which forbids inline scripts, stays as
    served), collecting the console's CSP reports and the page's script errors."""

    def __init__(self, browser: Any, **options: Any) -> None:
        options.setdefault("locale", "fr-CA")  # Accept-Language: French, the default
        self.context = browser.new_context(**options)
        self.context.add_init_script(path=str(AXE))
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if "Content Security Policy" in m.text else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def close(self) -> None:
        self.context.close()


#: Beyond WCAG's own rules: headings in order, one h1, one main landmark.
AXE_EXTRA = ("heading-order", "page-has-heading-one", "landmark-one-main",
             "landmark-no-duplicate-banner", "landmark-unique")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A/AA violations on the page as it stands, and those of
    ``AXE_EXTRA``."""
    result: dict[str, Any] = page.evaluate(
        "async (extra) => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, rules: Object.fromEntries("
        "extra.map((r) => [r, {enabled: true}]))})", list(AXE_EXTRA))
    return [{"id": v["id"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]
