"""The user's language for the CLI's prose: French or English, from the locale.

Why not ``gettext``: the CLI prints a few dozen sentences, each written in both
languages next to each other (``say("…", "…")``) so that neither can drift from the
other; catalogues would add a build step for no gain. The language follows the POSIX
precedence ``LC_ALL`` > ``LC_MESSAGES`` > ``LANG``: a value starting with ``fr`` gives
French, anything else (``C``, ``en_CA.UTF-8``, unset) English.
"""

from __future__ import annotations

import os

__all__ = ["french", "say"]


def french() -> bool:
    """True when the user's locale asks for French messages."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return value.lower().startswith("fr")
    return False


def say(fr: str, en: str) -> str:
    """The sentence in the user's language."""
    return fr if french() else en
