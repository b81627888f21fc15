"""Write ``api/web/static/verify.html``: the standalone verifier, one self-contained file.

Why one file: it must work opened from disk, so that nobody has to trust the JavaScript a
server sends; a page of several modules does not load from ``file://``. The modules of
this folder are inlined into one script, each in its own function scope (their imports
become reads of the modules already evaluated), in dependency order; nothing else is
changed in them. ``tests/unit/test_verify_html.py`` checks that the committed file is
what this writes.

    python api/web/static/js/verify/make_html.py           # rewrite verify.html
    python api/web/static/js/verify/make_html.py --check   # exit 1 if it is stale
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "verify.html"
ENTRY = "standalone.js"

IMPORT = re.compile(r'^import \{([^}]*)\} from "\./([a-z0-9_]+\.js)";\n', re.M)
EXPORT_DECL = re.compile(
    r"^export (?:async )?(?:function\*? |class |const |let )([A-Za-z_$][\w$]*)", re.M)
EXPORT_LIST = re.compile(r"^export \{([^}]*)\};\n", re.M)


def _names(group: str) -> list[tuple[str, str]]:
    """``a, b as c`` -> [("a", "a"), ("b", "c")]."""
    out = []
    for part in group.split(","):
        part = part.strip()
        if part:
            name, _, alias = part.partition(" as ")
            out.append((name.strip(), (alias or name).strip()))
    return out


def _order(entry: str) -> list[str]:
    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen:
            return
        for _, dep in IMPORT.findall((HERE / name).read_text()):
            visit(dep)
        seen.append(name)

    visit(entry)
    return seen


def _wrap(name: str) -> str:
    src = (HERE / name).read_text()
    imports = [f"const {{ {', '.join(f'{a}: {b}' if a != b else a for a, b in _names(g))} }} "
               f'= __modules["{dep}"];' for g, dep in IMPORT.findall(src)]
    src = IMPORT.sub("", src)
    exported = EXPORT_DECL.findall(src) + [a for g in EXPORT_LIST.findall(src)
                                           for a, _ in _names(g)]
    src = EXPORT_LIST.sub("", src)
    src = EXPORT_DECL.sub(lambda m: m.group(0)[len("export "):], src)
    left = [line for line in src.splitlines() if re.match(r"\s*(import|export)\b", line)]
    if left:
        raise SystemExit(f"{name}: import or export the generator cannot inline: {left[0]}")
    body = "\n".join([*imports, src.rstrip("\n"), f"return {{ {', '.join(exported)} }};"])
    return f'__modules["{name}"] = (() => {{\n// --- {name}\n{body}\n}})();\n'


def script() -> str:
    """The one inline script: every module in dependency order, the API on globalThis."""
    parts = ["const __modules = {};\n"]
    parts += [_wrap(name) for name in _order(ENTRY)]
    parts.append('globalThis.MutualisationVerify = __modules["verify.js"];\n')
    return "".join(parts)


def script_hash(text: str) -> str:
    """The CSP source of the inline script (its content between the tags)."""
    digest = hashlib.sha256(text.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def render() -> str:
    body = "\n" + script() + "\n"  # what stands between <script type="module"> and </script>
    template = (HERE / "verify.template.html").read_text()
    page = template.replace("{{SCRIPT_HASH}}", script_hash(body))
    return page.replace("\n{{SCRIPT}}\n", body)


def main(argv: list[str]) -> int:
    page = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != page:
            print(f"{OUT} is stale: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(page)
    print(f"wrote {OUT} ({len(page.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
