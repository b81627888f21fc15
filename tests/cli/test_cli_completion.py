"""``ledger completion bash|zsh``: the bash script, sourced in a real bash, completes
commands, actions, options and choices of the parser the CLI runs; ``--json`` is
accepted on either side of the sub-command."""

from __future__ import annotations

import subprocess

from tests.cli.conftest import LEDGER

COMPLETE = """
source <("$LEDGER" completion bash)
c() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
      COMPREPLY=(); _shtab_ledger 2>/dev/null; echo "${COMPREPLY[*]}"; }
c ledger expectation ''
c ledger ag
c ledger indicator measure x --ev
c ledger stage start x --stage ''
c ledger role ''
"""


def test_bash_completes_commands_actions_options_and_choices() -> None:
    out = subprocess.run(["bash", "-c", COMPLETE], env={"LEDGER": LEDGER, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines == [
        "state revise withdraw acknowledge",
        "agreement",
        "--evidence --evidence-sha256",
        "know_yourself get_acquainted common_desire framework plan indicators",
        "propose accept decline relinquish",
    ]


def test_zsh_script_names_every_command() -> None:
    out = subprocess.run([LEDGER, "completion", "zsh"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("#compdef ledger")
    for word in ("expectation", "acknowledge", "declare-value", "--evidence", "completion"):
        assert word in out.stdout
    bad = subprocess.run([LEDGER, "completion", "fish"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
