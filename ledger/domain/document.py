"""The written agreement: a readable Markdown rendering of an agreement's state.

Why: the workshop's winning condition is to "document every phase, up to clear written
agreements, for internal and even external reference". This renders what the ledger
holds, in French or English, for people; the signatures section names each ratification's
signing key and log position so a reader can check them against the log. It prints only
pseudonymous person ids. A party's words always render as text (see ``_text``): no
heading, list, rule, table, link, code or HTML can come from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal

from .labels import CURRENCIES, LABELS, UNITS
from .state import (
    AgreementState,
    Commitment,
    Ratification,
    addressees,
    in_force,
    is_shared,
    receiving_orgs,
    terms_pending,
)
from .state_hash import state_hash
from .values import COLLECTIVE, STAGES, Quantity

__all__ = ["mentioned_orgs", "render_markdown"]

#: Characters with a meaning anywhere in a line: escapes, code, emphasis, strikethrough,
#: links and images, autolinks and HTML, table cells, entities, headings' closing ``#``,
#: e-mail autolinks. CommonMark lets a backslash escape any ASCII punctuation.
_INLINE = re.compile(r"[\\`*_~\[\]<>|&#@]"
                     # what a GitHub-style linkifier would turn into a link:
                     # "exemple.ca", "http://…", "//hôte"
                     r"|\.(?=\w)|:(?=/)|/(?=/)")
#: What would open a block at the start of a line: a list item ("-", "+", "1.", "1)"),
#: a quote, a heading, a rule, a setext underline, a fence.
_LEADING = re.compile(r"^(?:[-+=>#*_~`]|[0-9]{1,9}(?=[.)]))")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _text(text: str) -> str:
    """A party's words as Markdown *text*, whatever they hold.

    Why one function for every interpolated string: an expectation, a title or a unit
    comes from one party and is read by the others; no heading, list, rule, table, link,
    code or HTML may come from it, or a party could forge a "signed" section in the
    others' document. Line breaks stay visible as ``<br>`` (the one break that holds in
    a paragraph, a list item, a heading and a table cell alike), so the text never
    starts a line of its own; a leading character that would open a block is escaped
    all the same.
    """
    lines = [_INLINE.sub(lambda m: "\\" + m.group(), line.strip())
             for line in _LINE_BREAK.split(text.strip())]
    out = "<br>".join(lines)
    lead = _LEADING.match(out)
    if lead is not None:
        out = (out[:lead.end()] + "\\" + out[lead.end():] if lead.group()[0].isdigit()
               else "\\" + out)
    return out


def _number(amount: str, lang: str) -> str:
    whole, _, frac = amount.partition(".")
    if not whole.isdigit():  # not an amount the rules admit; show it as it is
        return _text(amount)
    sep = "\u00a0" if lang == "fr" else ","
    groups = f"{int(whole):,}".replace(",", sep)
    if not frac:
        return groups
    return groups + ("," if lang == "fr" else ".") + frac


def _plural(amount: str | int, lang: str) -> bool:
    """French puts the plural from 2 on (« 1,5 heure »), English on all but one."""
    try:
        n = Decimal(str(amount))
    except ArithmeticError:
        return True
    return abs(n) >= 2 if lang == "fr" else n != 1


class _Words:
    """The document's words in one language: labels, organizations by their registered
    name, quantities with their unit translated and in the right number."""

    def __init__(self, lang: str, names: Mapping[str, str]) -> None:
        self.lang = lang if lang in LABELS else "fr"
        self.words = LABELS[self.lang]
        self.names = names

    def __call__(self, key: str, **fields: object) -> str:
        word = self.words.get(key, key)
        return word.format(**fields) if fields else word

    def colon(self, key: str, **fields: object) -> str:
        return self(key, **fields) + self("colon")

    def count(self, key: str, n: int) -> str:
        """``key.none``, ``key.one`` or ``key.many`` for ``n`` things."""
        form = "none" if n == 0 else "many" if _plural(n, self.lang) else "one"
        return self(f"{key}.{form}", n=n)

    def org(self, org_id: str) -> str:
        """« Centre des arts (centre-arts) »: the registered name, with the id that the
        signatures and the log use; the id alone when the caller knows no name."""
        name = self.names.get(org_id, "").strip()
        return f"{_text(name)} ({_text(org_id)})" if name else _text(org_id)

    def orgs(self, org_ids: Iterator[str] | list[str]) -> str:
        return ", ".join(self.org(o) for o in org_ids)

    def unit(self, unit: str, amount: str | int = 2) -> str:
        forms = UNITS[self.lang].get(unit)
        if forms is None:
            return _text(unit)
        return forms[1] if _plural(amount, self.lang) else forms[0]

    def qty(self, amount: str, unit: str) -> str:
        """« 384 heures », « 1 hour », « 1 500 $ », « $1,500 »; an unknown unit as
        written."""
        number = _number(amount, self.lang)
        symbol = CURRENCIES.get(unit)
        if symbol is not None:
            return f"{number}\u00a0{symbol}" if self.lang == "fr" else f"{symbol}{number}"
        return f"{number} {self.unit(unit, amount)}"

    def quantity(self, q: Quantity | None) -> str:
        return self("value.none") if q is None else self.qty(q.amount, q.unit)


def _when(ts: str) -> str:
    return f"{ts[:10]} {ts[11:16]} UTC" if len(ts) >= 16 else _text(ts)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


def _status(s: AgreementState, t: _Words) -> str:
    """Where the agreement stands, in words: being drafted (nothing ratified yet), in
    force, suspended or terminated."""
    if s.status == "active":
        status = t("status.in_force" if in_force(s) else "status.draft")
    else:
        status = t(f"status.{s.status}")
    if s.status in ("suspended", "terminated") and s.status_reason:
        status += f" ({_text(s.status_reason)})"
    return status


def _summary(s: AgreementState, t: _Words) -> list[str]:
    version = s.terms_version
    terms = t("terms.pending" if terms_pending(s) else "terms.ratified", v=version)
    if in_force(s):
        force = t("force.yes", since=_when(s.in_force_since or ""), v=s.in_force_version)
    elif s.in_force_version is not None:  # ratified once, now suspended or terminated
        force = t(f"force.{s.status}", v=s.in_force_version)
    else:
        force = t("force.no")
    rows = [
        [t("id"), f"`{s.agreement_id}`"],
        [t("nature"), t(f"binding.{str(s.binding).lower()}")],
        [t("status"), _status(s, t)],
        [t("force"), force],
        [t("terms"), terms],
        [t("hash"), f"`{state_hash(s)}`"],
        [t("visibility"), t(f"visibility.{str(s.public).lower()}")],
        [t("drafted"), f"{t.org(s.drafted_by)}, {t('on')} {_when(s.drafted_at)}"],
    ]
    return [f"## {t('summary')}", "", *_table(["", ""], rows)]


def _parties(s: AgreementState, t: _Words) -> list[str]:
    rows = [[t.org(org), f"`{p.porteur}`" if p.porteur else t("none"), _when(p.since)]
            for org, p in sorted(s.parties.items())]
    out = [f"## {t('parties')}", "", *_table([t("org"), t("porteur"), t("since")], rows)]
    if s.invited:
        out += [t.colon("invited") + t.orgs(sorted(s.invited)), ""]
    if s.former:
        out += [f"### {t('former')}", ""]
        out += _table([t("org"), t("effective_on"), t("reason")],
                      [[t.org(f.org), _text(f.effective_on), _text(f.reason)]
                       for _, f in sorted(s.former.items())])
    return out


def _expectations(s: AgreementState, t: _Words) -> list[str]:
    out = [f"## {t('expectations')}", "", t("expectations.intro"), ""]
    live = [e for _, e in sorted(s.expectations.items()) if not e.withdrawn]
    if not live:
        return [*out, t("expectations.none"), ""]
    for holder in sorted({e.holder for e in live}):
        out += [f"### {t.org(holder)}", ""]
        for e in (e for e in live if e.holder == holder):
            to = (t("addressed.all") if e.addressed_to == "all"
                  else t.orgs(sorted(e.addressed_to)))
            acked = ", ".join(f"{t.org(o)} ({_text(e.acks[o][:10])})"
                              for o in sorted(e.acks)) or t("none")
            missing = [o for o in addressees(s, e) if o not in e.acks]
            shared = (t("shared.yes") if is_shared(s, e)
                      else t("shared.no", who=t.orgs(missing)))
            out += [f"- **{_text(e.id)}** — {_text(e.text)}",
                    f"  - {t.colon('addressed')}{to}",
                    f"  - {t.colon('acked')}{acked}",
                    f"  - {shared}"]
        out.append("")
    return out


def _roles(s: AgreementState, t: _Words) -> list[str]:
    out = [f"## {t('roles')}", ""]
    if not s.roles:
        return [*out, t("roles.none"), ""]
    rows = [[_text(r.name), _text(r.description), t.org(r.assignee),
             f"`{r.person}`" if r.person else t("none"), t.org(r.proposed_by),
             t(f"role.{r.status}")]
            for _, r in sorted(s.roles.items())]
    head = [t("role"), t("description"), t("org"), t("person"), t("proposed_by"), t("state")]
    return out + _table(head, rows)


def _commitment(s: AgreementState, cm: Commitment, t: _Words) -> list[str]:
    receiver = t("collective") if cm.receiver == COLLECTIVE else t.org(cm.receiver)
    out = [f"### {_text(cm.id)} — {t('cat.' + cm.category)}", "",
           f"- {t.colon('provider')}{t.org(cm.provider)} → {t.colon('receiver')}{receiver}",
           f"- {t.colon('description')}{_text(cm.description)}",
           f"- {t.colon('quantity')}{t.quantity(cm.quantity)}",
           f"- {t.colon('period')}"
           + t("period.fmt", start=_text(cm.period.start), end=_text(cm.period.end))]
    if cm.conditions:
        out.append(f"- {t.colon('conditions')}{_text(cm.conditions)}")
    out.append(f"- {t.colon('value.provider', org=t.org(cm.provider))}"
               f"{t.quantity(cm.value)}")
    for org in sorted(set(receiving_orgs(s, cm)) | set(cm.receiver_values)):
        value = t.quantity(cm.receiver_values.get(org))
        out.append(f"- {t.colon('value.receiver', org=t.org(org))}{value}")
    if cm.fair_value is not None:
        fv = cm.fair_value
        out.append(f"- {t.colon('fair_value')}{t.qty(fv.amount, fv.unit)} "
                   f"({t('method.' + fv.method)})")
    done = [f for f in s.fulfilments.values() if f.commitment_id == cm.id]
    if done:
        total = sum((Decimal(f.quantity.amount) for f in done), Decimal(0))
        kinds = [p.kind for f in done for p in f.positions.values()]
        text = t("fulfilments.fmt", recorded=t.count("fulfilments.recorded", len(done)),
                 total=t.qty(format(total, "f"), cm.quantity.unit),
                 confirmed=t.count("fulfilments.confirmed", kinds.count("confirmed")),
                 contested=t.count("fulfilments.contested", kinds.count("contested")))
        out.append(f"- {t.colon('fulfilments')}{text}")
    if cm.withdrawn:
        out.append(f"- **{t('commitment.withdrawn')}** — {_text(cm.reason)}")
    return [*out, ""]


def _commitments(s: AgreementState, t: _Words) -> list[str]:
    out = [f"## {t('commitments')}", "", t("commitments.intro"), ""]
    if not s.commitments:
        return [*out, t("commitments.none"), ""]
    for _, cm in sorted(s.commitments.items()):
        out += _commitment(s, cm, t)
    return out


def _indicators(s: AgreementState, t: _Words) -> list[str]:
    out = [f"## {t('indicators')}", ""]
    if not s.indicators:
        return [*out, t("indicators.none"), ""]
    rows = []
    for _, ind in sorted(s.indicators.items()):
        ms = [m for m in s.measures.values() if m.indicator_id == ind.id]
        last = max(ms, key=lambda m: (m.period.end, m.at), default=None)
        latest = t("none") if last is None else t(
            "measure.fmt", value=t.qty(last.value, ind.unit), start=_text(last.period.start),
            end=_text(last.period.end), by=t.org(last.by))
        target = t("none") if ind.target is None else t.qty(ind.target, ind.unit)
        rows.append([_text(ind.name), t.unit(ind.unit), _text(ind.method), target, latest])
    head = [t("indicator"), t("unit"), t("method"), t("target"), t("latest")]
    return out + _table(head, rows)


def _stage_state(s: AgreementState, name: str, t: _Words) -> str:
    """A stage's state, saying why one is not complete: who has yet to acknowledge its
    end, or that the agreement was suspended or terminated before it ended."""
    st = s.stages[name]
    if st.completed_at:
        state = t("stage.complete", on=_when(st.completed_at))
    else:
        acked = sum(1 for o in s.parties if o in st.acks)
        waiting = t.orgs([o for o in sorted(s.parties) if o not in st.acks])
        key = {"suspended": "stage.paused", "terminated": "stage.interrupted"}.get(
            s.status, "stage.in_progress")
        state = t(key, n=acked, m=len(s.parties), who=waiting or t("none"))
    if st.round > 1:
        state += t("stage.round", r=st.round)
    return state


def _stages(s: AgreementState, t: _Words) -> list[str]:
    rows = []
    for name in STAGES:
        st = s.stages.get(name)
        if st is None:
            rows.append([t(f"st.{name}"), t("stage.not_started"), t("none")])
        else:
            rows.append([t(f"st.{name}"), _stage_state(s, name, t), _when(st.started_at)])
    head = [t("stage"), t("state"), t("stage.started")]
    return [f"## {t('stages')}", "", t("stages.intro"), "", *_table(head, rows)]


def _about(s: AgreementState, kind: str, detail: str, t: _Words) -> str:
    """What a milestone is about, by the name the document gives it elsewhere."""
    family = kind.partition("_")[0]
    if family == "stage":
        return t(f"st.{detail}")
    if family == "role" and detail in s.roles:
        return _text(s.roles[detail].name)
    if family == "commitment" and detail in s.commitments:
        cm = s.commitments[detail]
        return f"{_text(detail)} ({t('cat.' + cm.category)})"
    if family == "fulfilment" and detail in s.fulfilments:
        ful = s.fulfilments[detail]
        return (f"{_text(detail)} ({t.quantity(ful.quantity)}, "
                f"{t('fulfilment.of')} {_text(ful.commitment_id)})")
    if family == "indicator" and detail in s.indicators:
        return _text(s.indicators[detail].name)
    if family == "porteur":
        return f"`{detail}`" if "`" not in detail else _text(detail)
    return _text(detail)


def _timeline(s: AgreementState, t: _Words) -> list[str]:
    out = [f"## {t('timeline')}", ""]
    for m in s.timeline:
        out.append(f"- {_when(m.at)} — " + t(f"ms.{m.kind}", actor=t.org(m.actor),
                                               detail=_about(s, m.kind, m.detail, t)))
    return [*out, ""]


def _consents(s: AgreementState, t: _Words) -> list[str]:
    out = [f"## {t('consents')}", ""]
    if not s.consents:
        return [*out, t("consents.none"), ""]
    rows = [[t.org(c.org), _text(c.trust_id), _text(c.purpose), ", ".join(c.scope),
             _text(c.licence), _text(c.expires_on),
             t("consent.active") if c.withdrawn_at is None
             else t("consent.withdrawn", on=_when(c.withdrawn_at))]
            for _, c in sorted(s.consents.items())]
    head = [t("org"), t("trust"), t("purpose"), t("scope"), t("licence"), t("expires_on"),
            t("state")]
    return out + _table(head, rows)


def _signature_row(org: str, sig: Ratification | None, v: int, t: _Words) -> list[str]:
    if sig is None or sig.terms_version != v:
        return [t.org(org), str(v), t("unsigned"), t("none"), t("none"), t("none")]
    pos = t("none") if sig.position is None else str(sig.position)
    key = f"`{sig.key}`" if sig.key else t("none")
    return [t.org(org), str(v), f"`{sig.state_hash}`", key, pos, _when(sig.at)]


def _ratification(s: AgreementState, t: _Words) -> list[str]:
    out = [f"## {t('ratification')}", ""]
    head = [t("org"), t("version"), t("hash"), t("key"), t("position"), t("signed_on")]
    if s.in_force_version is None:
        out += [t("ratification.none"), ""]
    else:
        v = s.in_force_version
        out += [f"### {t('ratification.in_force', v=v)}", ""]
        out += _table(head, [_signature_row(x.org, x, v, t) for x in s.in_force_signatures])
    if terms_pending(s):
        v = s.terms_version
        out += [f"### {t('ratification.pending', v=v)}", ""]
        out += _table(head, [_signature_row(o, s.signatures.get(o), v, t)
                             for o in sorted(s.parties)])
    return out


def mentioned_orgs(state: AgreementState) -> set[str]:
    """Every organization the written agreement names: the ids whose registered names a
    caller may look up and pass to ``render_markdown`` (the domain reads no database)."""
    s = state
    out = {s.drafted_by, *s.parties, *s.invited, *s.former}
    for e in s.expectations.values():
        out |= {e.holder, *e.acks}
        if e.addressed_to != "all":
            out |= set(e.addressed_to)
    for r in s.roles.values():
        out |= {r.assignee, r.proposed_by}
    for cm in s.commitments.values():
        out |= {cm.provider, cm.receiver, *cm.receiver_values}
    out |= {m.by for m in s.measures.values()} | {c.org for c in s.consents.values()}
    out |= {m.actor for m in s.timeline} | {x.org for x in s.in_force_signatures}
    return {o for o in out if o and o != COLLECTIVE}


def render_markdown(state: AgreementState, lang: str = "fr",
                    names: Mapping[str, str] | None = None) -> str:
    """The agreement as a Markdown document in ``lang`` ("fr" or "en"; other values
    fall back to French, the agreements' usual language).

    ``names``: organization id -> registered name (``organization.registered`` and
    ``organization.profile_updated`` hold it, outside this agreement's stream), for the
    ids of ``mentioned_orgs``; an organization without a name is shown by its id."""
    t = _Words(lang, names or {})
    s = state
    lines = [f"# {t('doc.title')} — {_text(s.title)}", "", *_summary(s, t),
             f"## {t('vision')}", "", _text(s.purpose), "",
             *_parties(s, t), *_expectations(s, t), *_roles(s, t),
             *_commitments(s, t), *_indicators(s, t), *_stages(s, t),
             *_timeline(s, t), *_consents(s, t), *_ratification(s, t),
             "---", "", f"*{t('privacy')}*", ""]
    return "\n".join(lines)
