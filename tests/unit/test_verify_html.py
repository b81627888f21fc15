"""``api/web/static/verify.html`` (the standalone verifier, one file) is exactly what
``api/web/static/js/verify/make_html.py`` writes from the modules beside it: a change to
a module without regenerating the file fails here."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "api" / "web" / "static" / "js" / "verify" / "make_html.py"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_verify_html", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_verify_html_is_the_generated_one() -> None:
    committed = (ROOT / "api" / "web" / "static" / "verify.html").read_text()
    assert committed == generator().render(), (
        "verify.html is stale: run python api/web/static/js/verify/make_html.py")


def test_every_module_is_inlined_once() -> None:
    """Every module but page.js (the register pages' entry, which verify.html's own
    form replaces) is in the file, once."""
    page = generator().render()
    modules = sorted(p.name for p in GENERATOR.parent.glob("*.js") if p.name != "page.js")
    inlined = sorted(re.findall(r'^__modules\["([a-z0-9_]+\.js)"\] = ', page, re.M))
    assert inlined == modules


def test_the_generator_refuses_what_it_cannot_inline(tmp_path: Path, monkeypatch) -> None:
    """A form of import it does not rewrite stops it, rather than ship a broken page."""
    gen = generator()
    (tmp_path / "a.js").write_text('import * as b from "./b.js";\nexport const a = 1;\n')
    monkeypatch.setattr(gen, "HERE", tmp_path)
    try:
        gen._wrap("a.js")
    except SystemExit as exc:
        assert "cannot inline" in str(exc)
    else:
        raise AssertionError("the generator inlined an import it does not rewrite")
