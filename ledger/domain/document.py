"""The written agreement: a readable Markdown rendering of an agreement's state.

Why: the workshop's winning condition is to "document every phase, up to clear written
agreements, for internal and even external reference". This renders what the ledger
holds, in French or English, for people; the signatures section names each ratification's
signing key and log position so a reader can check them against the log. It prints only
pseudonymous person ids. User text is escaped so it cannot inject HTML or break tables.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from .labels import LABELS
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

__all__ = ["render_markdown"]

_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})

_T = Callable[..., str]


def _esc(text: str) -> str:
    return text.translate(_ESCAPES)


def _cell(text: str) -> str:
    return " ".join(_esc(text).split())


def _number(amount: str, lang: str) -> str:
    whole, _, frac = amount.partition(".")
    if not whole.isdigit():  # not an amount the rules admit; show it as it is
        return _esc(amount)
    sep = "\u00a0" if lang == "fr" else ","
    groups = f"{int(whole):,}".replace(",", sep)
    if not frac:
        return groups
    return groups + ("," if lang == "fr" else ".") + frac


def _qty(q: Quantity | None, lang: str, t: _T) -> str:
    return t("value.none") if q is None else f"{_number(q.amount, lang)} {_esc(q.unit)}"


def _when(ts: str) -> str:
    return f"{ts[:10]} {ts[11:16]} UTC" if len(ts) >= 16 else _esc(ts)


def _colon(t: _T, key: str, **fields: object) -> str:
    return t(key, **fields) + t("colon")


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


def _summary(s: AgreementState, t: _T) -> list[str]:
    version = s.terms_version
    terms = t("terms.pending" if terms_pending(s) else "terms.ratified", v=version)
    force = (t("force.yes", since=_when(s.in_force_since or ""), v=s.in_force_version)
             if in_force(s) else t("force.no"))
    status = t(f"status.{s.status}")
    if s.status in ("suspended", "terminated") and s.status_reason:
        status += f" ({_cell(s.status_reason)})"
    rows = [
        [t("id"), f"`{s.agreement_id}`"],
        [t("nature"), t(f"binding.{str(s.binding).lower()}")],
        [t("status"), status],
        [t("force"), force],
        [t("terms"), terms],
        [t("hash"), f"`{state_hash(s)}`"],
        [t("visibility"), t(f"visibility.{str(s.public).lower()}")],
        [t("drafted"), f"{s.drafted_by}, {t('on')} {_when(s.drafted_at)}"],
    ]
    return [f"## {t('summary')}", "", *_table(["", ""], rows)]


def _parties(s: AgreementState, t: _T) -> list[str]:
    rows = [[org, f"`{p.porteur}`" if p.porteur else t("none"), _when(p.since)]
            for org, p in sorted(s.parties.items())]
    out = [f"## {t('parties')}", "", *_table([t("org"), t("porteur"), t("since")], rows)]
    if s.invited:
        out += [_colon(t, "invited") + ", ".join(sorted(s.invited)), ""]
    if s.former:
        out += [f"### {t('former')}", ""]
        out += _table([t("org"), t("effective_on"), t("reason")],
                      [[f.org, f.effective_on, _cell(f.reason)]
                       for _, f in sorted(s.former.items())])
    return out


def _expectations(s: AgreementState, t: _T) -> list[str]:
    out = [f"## {t('expectations')}", "", t("expectations.intro"), ""]
    live = [e for _, e in sorted(s.expectations.items()) if not e.withdrawn]
    if not live:
        return [*out, t("expectations.none"), ""]
    for holder in sorted({e.holder for e in live}):
        out += [f"### {holder}", ""]
        for e in (e for e in live if e.holder == holder):
            to = (t("addressed.all") if e.addressed_to == "all"
                  else ", ".join(sorted(e.addressed_to)))
            acked = ", ".join(f"{o} ({e.acks[o][:10]})" for o in sorted(e.acks)) or t("none")
            missing = [o for o in addressees(s, e) if o not in e.acks]
            shared = (t("shared.yes") if is_shared(s, e)
                      else t("shared.no", who=", ".join(missing)))
            out += [f"- **{e.id}** — {_esc(e.text)}",
                    f"  - {_colon(t, 'addressed')}{to}",
                    f"  - {_colon(t, 'acked')}{acked}",
                    f"  - {shared}"]
        out.append("")
    return out


def _roles(s: AgreementState, t: _T) -> list[str]:
    out = [f"## {t('roles')}", ""]
    if not s.roles:
        return [*out, t("roles.none"), ""]
    rows = [[_cell(r.name), _cell(r.description), r.assignee,
             f"`{r.person}`" if r.person else t("none"), r.proposed_by, t(f"role.{r.status}")]
            for _, r in sorted(s.roles.items())]
    head = [t("role"), t("description"), t("org"), t("person"), t("proposed_by"), t("state")]
    return out + _table(head, rows)


def _commitment(s: AgreementState, cm: Commitment, lang: str, t: _T) -> list[str]:
    receiver = t("collective") if cm.receiver == COLLECTIVE else cm.receiver
    out = [f"### {cm.id} — {t('cat.' + cm.category)}", "",
           f"- {_colon(t, 'provider')}{cm.provider} → {_colon(t, 'receiver')}{receiver}",
           f"- {_colon(t, 'description')}{_cell(cm.description)}",
           f"- {_colon(t, 'quantity')}{_qty(cm.quantity, lang, t)}",
           f"- {_colon(t, 'period')}"
           + t("period.fmt", start=cm.period.start, end=cm.period.end)]
    if cm.conditions:
        out.append(f"- {_colon(t, 'conditions')}{_cell(cm.conditions)}")
    out.append(f"- {_colon(t, 'value.provider')}{_qty(cm.value, lang, t)}")
    for org in sorted(set(receiving_orgs(s, cm)) | set(cm.receiver_values)):
        value = _qty(cm.receiver_values.get(org), lang, t)
        out.append(f"- {_colon(t, 'value.receiver', org=org)}{value}")
    if cm.fair_value is not None:
        fv = cm.fair_value
        out.append(f"- {_colon(t, 'fair_value')}{_number(fv.amount, lang)} {_esc(fv.unit)} "
                   f"({t('method.' + fv.method)})")
    done = [f for f in s.fulfilments.values() if f.commitment_id == cm.id]
    if done:
        total = sum((Decimal(f.quantity.amount) for f in done), Decimal(0))
        kinds = [p.kind for f in done for p in f.positions.values()]
        text = t("fulfilments.fmt", n=len(done),
                 total=f"{_number(format(total, 'f'), lang)} {_esc(cm.quantity.unit)}",
                 confirmed=kinds.count("confirmed"), contested=kinds.count("contested"))
        out.append(f"- {_colon(t, 'fulfilments')}{text}")
    if cm.withdrawn:
        out.append(f"- **{t('commitment.withdrawn')}** — {_cell(cm.reason)}")
    return [*out, ""]


def _commitments(s: AgreementState, lang: str, t: _T) -> list[str]:
    out = [f"## {t('commitments')}", "", t("commitments.intro"), ""]
    if not s.commitments:
        return [*out, t("commitments.none"), ""]
    for _, cm in sorted(s.commitments.items()):
        out += _commitment(s, cm, lang, t)
    return out


def _indicators(s: AgreementState, lang: str, t: _T) -> list[str]:
    out = [f"## {t('indicators')}", ""]
    if not s.indicators:
        return [*out, t("indicators.none"), ""]
    rows = []
    for _, ind in sorted(s.indicators.items()):
        ms = [m for m in s.measures.values() if m.indicator_id == ind.id]
        last = max(ms, key=lambda m: (m.period.end, m.at), default=None)
        latest = t("none") if last is None else t(
            "measure.fmt", value=_number(last.value, lang), start=last.period.start,
            end=last.period.end, by=last.by)
        target = t("none") if ind.target is None else _number(ind.target, lang)
        rows.append([_cell(ind.name), _cell(ind.unit), _cell(ind.method), target, latest])
    head = [t("indicator"), t("unit"), t("method"), t("target"), t("latest")]
    return out + _table(head, rows)


def _stages(s: AgreementState, t: _T) -> list[str]:
    rows = []
    for name in STAGES:
        st = s.stages.get(name)
        if st is None:
            rows.append([t(f"st.{name}"), t("stage.not_started"), t("none")])
            continue
        acked = sum(1 for o in s.parties if o in st.acks)
        state = (t("stage.complete", on=_when(st.completed_at)) if st.completed_at
                 else t("stage.in_progress", n=acked, m=len(s.parties)))
        rows.append([t(f"st.{name}"), state, _when(st.started_at)])
    head = [t("stage"), t("state"), t("stage.started")]
    return [f"## {t('stages')}", "", *_table(head, rows)]


def _timeline(s: AgreementState, t: _T) -> list[str]:
    out = [f"## {t('timeline')}", ""]
    for m in s.timeline:
        detail = t(f"st.{m.detail}") if m.kind.startswith("stage_") else _cell(m.detail)
        out.append(f"- {_when(m.at)} — " + t(f"ms.{m.kind}", actor=m.actor, detail=detail))
    return [*out, ""]


def _consents(s: AgreementState, t: _T) -> list[str]:
    out = [f"## {t('consents')}", ""]
    if not s.consents:
        return [*out, t("consents.none"), ""]
    rows = [[c.org, c.trust_id, _cell(c.purpose), ", ".join(c.scope), _cell(c.licence),
             c.expires_on, t("consent.active") if c.withdrawn_at is None
             else t("consent.withdrawn", on=_when(c.withdrawn_at))]
            for _, c in sorted(s.consents.items())]
    head = [t("org"), t("trust"), t("purpose"), t("scope"), t("licence"), t("expires_on"),
            t("state")]
    return out + _table(head, rows)


def _signature_row(org: str, sig: Ratification | None, v: int, t: _T) -> list[str]:
    if sig is None or sig.terms_version != v:
        return [org, str(v), t("unsigned"), t("none"), t("none"), t("none")]
    pos = t("none") if sig.position is None else str(sig.position)
    key = f"`{sig.key}`" if sig.key else t("none")
    return [org, str(v), f"`{sig.state_hash}`", key, pos, _when(sig.at)]


def _ratification(s: AgreementState, t: _T) -> list[str]:
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


def render_markdown(state: AgreementState, lang: str = "fr") -> str:
    """The agreement as a Markdown document in ``lang`` ("fr" or "en"; other values
    fall back to French, the agreements' usual language)."""
    words = LABELS.get(lang, LABELS["fr"])
    lang = lang if lang in LABELS else "fr"

    def t(key: str, **fields: object) -> str:
        word = words.get(key, key)
        return word.format(**fields) if fields else word

    s = state
    lines = [f"# {t('doc.title')} — {_cell(s.title)}", "", *_summary(s, t),
             f"## {t('vision')}", "", _esc(s.purpose), "",
             *_parties(s, t), *_expectations(s, t), *_roles(s, t),
             *_commitments(s, lang, t), *_indicators(s, lang, t), *_stages(s, t),
             *_timeline(s, t), *_consents(s, t), *_ratification(s, t),
             "---", "", f"*{t('privacy')}*", ""]
    return "\n".join(lines)
