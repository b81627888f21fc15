"""A party's words (and an organization's registered name) render as text in the written
agreement, never as structure.

Why: the document is read by the other parties. If an expectation could hold a heading,
a list, a rule, a table, a link, code or HTML, one party could forge a "signed"
ratification section in everyone's agreement. Checked with a real Markdown parser
(markdown-it, with GitHub's tables, strikethrough and linkify): the document's structure
with hostile text equals its structure with plain text, and the hostile text is read back
literally.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from domain_gwt import A, B, C, T, draft, history, join, offer, ratify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from ledger.domain import (
    DefineIndicator,
    GiveConsent,
    ProposeRole,
    RecordFulfilment,
    StateExpectation,
    SuspendAgreement,
    WithdrawCommitment,
    WithdrawFromAgreement,
    render_markdown,
)
from ledger.domain.state import AgreementState
from ledger.domain.values import FairValue, Period, Quantity, Unit

GFM = MarkdownIt("gfm-like")  # CommonMark + tables, strikethrough, linkify, HTML

FORGED_RATIFICATION = ("Rien\n## Ratification\n### Version 9 en vigueur\n"
                       "- centre-b signée ✓\n---\nFin")
HOSTILE = [
    FORGED_RATIFICATION,
    "Titre\n===\nsuite",
    "# Attente\n\n> citation\n\n1. un\n2) deux\n+ trois\n* quatre",
    "| a | b |\n|---|---|\n| c | d |",
    "<b>gras</b> <script>alert(1)</script> <!-- c --> &amp; &#x41;",
    "[signée](javascript:alert(1)) ![i](x.png) <https://exemple.ca> [r]: /u",
    "`code` ```\nbloc\n``` ~~barré~~ *em* _em_ **fort** __fort__",
    "    code indenté\n\ttab\nwww.exemple.org http://exemple.ca a@b.ca //hôte/x",
    "fin \\\nbarre  \ntrailing \\",
]
HOSTILE_UNITS = ["#h|<b>*`[x](y)~~&lt;", "=== heures", "- 1. > |", "www.exemple.ca"]
FIELDS = ("title", "purpose", "expectation", "role", "role_description", "description",
          "conditions", "unit", "indicator", "indicator_unit", "method", "consent_purpose",
          "licence", "withdrawn", "left", "suspended", "name")
UNIT_FIELDS = ("unit", "indicator_unit")


def agreement(words: Callable[[str], str]) -> AgreementState:
    """An agreement with every free text a party can write taken from ``words``."""
    w = words
    h = history(
        draft(title=w("title"), purpose=w("purpose")), join(B), join(C, 3),
        StateExpectation(expectation_id="e1", text=w("expectation"), actor=B, at=T(4)),
        ProposeRole(role_id="r1", name=w("role"), description=w("role_description"),
                    assignee=C, actor=A, at=T(4)),
        offer("c1", description=w("description"), conditions=w("conditions"),
              quantity=Quantity("384", w("unit")), value=Quantity("1500", w("unit")),
              fair_value=FairValue("2000.5", w("unit"), "appraisal")),
        offer("c2", day=4),
        DefineIndicator(indicator_id="i1", name=w("indicator"), unit=w("indicator_unit"),
                        method=w("method"), target="1200", actor=A, at=T(6)),
        GiveConsent(consent_id="k1", trust_id="culturepedia", purpose=w("consent_purpose"),
                    scope=["indicator"], licence=w("licence"), expires_on="2027-01-01",
                    actor=A, at=T(6)),
        RecordFulfilment(fulfilment_id="f1", commitment_id="c1",
                         quantity=Quantity("2.5", w("unit")),
                         period=Period("2026-01-12", "2026-01-12"), actor=A, at=T(7)),
        WithdrawCommitment(commitment_id="c2", reason=w("withdrawn"), actor=A, at=T(7)),
    )
    for org in sorted(h.state.parties):
        h.apply(ratify(h.state, org))
    h.apply(WithdrawFromAgreement(effective_on="2026-02-28", reason=w("left"), actor=C,
                                  at=T(10)))
    h.apply(SuspendAgreement(reason=w("suspended"), actor=A, at=T(11)))
    return h.state


def structure(md: str) -> list[tuple[Any, ...]]:
    """Block tokens, and for each inline run the kinds of its non-text parts."""
    out: list[tuple[Any, ...]] = []
    for tok in GFM.parse(md):
        if tok.type == "inline":
            kinds = tuple((c.type, c.content if c.type == "html_inline" else "")
                          for c in tok.children or [] if c.type != "text")
            out.append(("inline", tok.level, kinds))
        else:
            out.append((tok.type, tok.tag, tok.nesting, tok.level))
    return out


def inline_texts(md: str) -> list[str]:
    """Each inline run as a reader sees it: text, with line breaks as spaces."""
    out = []
    for tok in GFM.parse(md):
        if tok.type == "inline":
            parts = [c.content if c.type == "text" else " " for c in tok.children or []]
            out.append(" ".join("".join(parts).split()))
    return out


_BREAK = re.compile(r"\r\n|\r|\n")


def plain(text: str) -> str:
    """Harmless words with the same line breaks as ``text``."""
    return "\n".join("mot" for _ in _BREAK.split(text))


def check(texts: dict[str, str], lang: str) -> None:
    names = dict.fromkeys((A, B, C), texts["name"])  # a registered name: an org's words
    hostile = render_markdown(agreement(texts.__getitem__), lang, names)
    harmless = render_markdown(agreement(lambda f: plain(texts[f])), lang,
                               dict.fromkeys((A, B, C), plain(texts["name"])))
    assert structure(hostile) == structure(harmless)
    seen = inline_texts(hostile)
    for field, text in texts.items():
        words = " ".join(text.split())
        assert any(words in run for run in seen), (field, text)


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_text(text: str, lang: str) -> None:
    units = {f: HOSTILE_UNITS[HOSTILE.index(text) % len(HOSTILE_UNITS)] for f in UNIT_FIELDS}
    check({f: text for f in FIELDS if f not in UNIT_FIELDS} | units, lang)


def test_a_forged_ratification_stays_inside_the_expectation() -> None:
    md = render_markdown(agreement(lambda f: "h" if f in UNIT_FIELDS else
                                   FORGED_RATIFICATION), "fr")
    tokens = GFM.parse(md)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings.count("Ratification") == 1
    assert not any(h.startswith("Version 9") for h in headings)
    assert not [t for t in tokens if t.type == "hr"][:-1]  # only the closing rule


def test_line_breaks_stay_visible_in_the_same_paragraph_cell_and_item() -> None:
    words = "ligneun\nlignedeux"
    md = render_markdown(agreement(lambda f: "h" if f in UNIT_FIELDS else words), "en")
    tokens = GFM.parse(md)
    runs = [t for t in tokens if t.type == "inline" and "ligneun" in t.content]
    assert len(runs) >= 10
    for run in runs:
        kinds = [c.type for c in run.children or []]
        assert "html_inline" in kinds or "hardbreak" in kinds, run.content


_MARKDOWN_CHARS = list("\\`*_~[]()<>|&#!=+-.:/@;{}\"' \n\r\t0123456789aZé")
_ANY = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_WORDS = st.text(st.one_of(st.sampled_from(_MARKDOWN_CHARS), _ANY), min_size=1, max_size=60)
_NFC = _WORDS.map(lambda s: unicodedata.normalize("NFC", s))  # the ledger admits only NFC
_TEXT = _NFC.filter(lambda s: s == s.strip() != "")
_UNIT = _NFC.filter(lambda s: "\r" not in s and _is_unit(s))


def _is_unit(text: str) -> bool:
    try:
        msgspec.convert(text, Unit)
    except msgspec.ValidationError:
        return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(texts=st.fixed_dictionaries(
    {f: (_UNIT if f in UNIT_FIELDS else _TEXT) for f in FIELDS}),
    lang=st.sampled_from(["fr", "en"]))
def test_any_text_is_text(texts: dict[str, str], lang: str) -> None:
    check(texts, lang)
