"""The JavaScript verifier of the register's pages passes every vector of
``tests/vectors/`` and its own adversarial tests (``node --test tests/js``): one contract
(docs/PROTOCOL.md), two implementations, held to the same bytes in CI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


def node_major() -> int:
    assert NODE is not None
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().lstrip("v").split(".")[0])


@pytest.mark.skipif(NODE is None, reason="node (>= 20) is not installed: the JavaScript "
                    "verifier's tests cannot run here")
@pytest.mark.timeout(300)
def test_node_test_runner_passes_tests_js() -> None:
    assert node_major() >= 20, "the verifier needs Node 20 or later (WebCrypto Ed25519)"
    done = subprocess.run([NODE, "--test", "tests/js/"], cwd=ROOT, capture_output=True,
                          text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
