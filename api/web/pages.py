"""The register's pages: ``/`` (the register), ``/organizations/{id}``,
``/agreements/{id}`` (with ``/print``), ``/log``, ``/provenance`` and the
organization's workspace ``/espace`` (also ``/workspace``).

Every page reads through the API's own functions, with the request's own token: the
list's scope (``list_scope``), the agreement's grant (``authorize``, the one reading
policy of ``ledger.access``), the organization's fold, the portfolio's agreements
(``portfolio_states``) and the log's disclosure (``disclosed``). A page therefore never
shows more than the API answers the same token, and a refusal is the API's refusal,
rendered as a page. The token comes as ``Authorization: Bearer`` — the pages' script
sends the one kept in the browser's session (``static/js/page.js``).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from decimal import Decimal
from typing import Any

import segno
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from markdown_it import MarkdownIt

from ledger import b64, merkle
from ledger.domain import AgreementState, fact_from_stored, render_markdown, state_hash
from ledger.domain.document import mentioned_orgs
from ledger.domain.state import in_force, is_shared, receiving_orgs, stage_complete
from ledger.domain.values import CATEGORIES, COLLECTIVE, STAGES
from ledger.domain.versions import TermsChanges, terms_changes, terms_history
from ledger.errors import LedgerError, NotFound
from ledger.reads import DATABASE_DOWN, TEXT_NOT_STORABLE, Reads, StoredEvent
from ledger.runtime import Ledger

from ..auth import optional_principal, reader, today
from ..controllers.agreements import (
    authorize,
    current_states,
    list_scope,
    load_agreement,
    registered_names,
    state_at,
    watermark,
)
from ..controllers.log import disclosed
from ..controllers.organizations import load_organization
from ..controllers.portfolio import (
    Portfolio,
    fulfilment_totals,
    portfolio_of,
    portfolio_states,
)
from ..problems import OutOfRange
from . import charts
from .i18n import Words
from .render import Page, error_page, page_of

__all__ = ["PAGES"]

PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
TIMELINE = 200  # signed events shown on an agreement's page (the latest)
#: Who reads the log's signed checkpoints, entries and proofs (``/v1/log/...``); anyone
#: reads its size and the latest checkpoint's size (``/readyz``, ``/metrics``).
AUDIT_KINDS = ("auditor", "trust")
STATUSES = ("draft", "in_force", "suspended", "terminated")  # the read model's

#: What a page answers as a page: the API's refusals and absences, the database down, a
#: value PostgreSQL cannot hold (anything else is a bug: the app's 500).
PAGE_FAILURES: tuple[type[BaseException], ...] = (LedgerError, *DATABASE_DOWN,
                                                  TEXT_NOT_STORABLE)

_md = MarkdownIt("commonmark", {"html": False}).enable("table")

Req = Request[Any, Any, Any]


def _int(text: str | None, field: str, default: int | None = None) -> int | None:
    if text is None or text == "":
        return default
    if not text.isdigit():
        raise OutOfRange(f"{field} must be a whole number", field=field)
    return int(text)


def _opt(text: str | None, limit: int = 64) -> str | None:
    text = (text or "").strip()
    return text[:limit] or None


# --- the register ------------------------------------------------------------------


async def _organizations(reads: Reads) -> list[tuple[str, str]]:
    names = []
    for org_id in await reads.organization_ids():
        history = await reads.organization(org_id)
        if history is not None:
            names.append((org_id, history.name))
    return names


@get("/", include_in_schema=False)
async def register(request: Req, reads: NamedDependency[Reads]) -> Response[bytes]:
    """The register: organizations, the agreements the token may list, the log."""
    try:
        q = request.query_params
        limit = min(_int(q.get("limit"), "limit", PAGE_SIZE) or PAGE_SIZE, MAX_PAGE_SIZE)
        status = _opt(q.get("status"), 32)
        if status is not None and status not in STATUSES:
            status = None
        filters = {"q": _opt(q.get("q"), 100), "category": _opt(q.get("category")),
                   "org": _opt(q.get("org")), "status": status}
        public_only, visible_to = await list_scope(request)
        rows = await reads.register(
            after=_opt(q.get("after"), 200), status=status, party=filters["org"],
            category=filters["category"], search=filters["q"], public_only=public_only,
            visible_to=visible_to, limit=limit + 1)
        checkpoints = await reads.checkpoints(1)
        principal = await optional_principal(request)
        return page_of(request, "register.html", {
            "audit": principal is not None and principal.kind in AUDIT_KINDS,
            "rows": rows[:limit], "next": rows[limit - 1].agreement_id
            if len(rows) > limit else None, "filters": filters, "limit": limit,
            "organizations": await _organizations(reads),
            "categories": CATEGORIES, "statuses": STATUSES,
            "size": await reads.size(),
            "checkpoint": checkpoints[0] if checkpoints else None})
    except PAGE_FAILURES as exc:
        return error_page(request, exc)


# --- an organization ----------------------------------------------------------------


@get("/organizations/{org_id:str}", include_in_schema=False)
async def organization(request: Req, reads: NamedDependency[Reads],
                       org_id: FromPath[str]) -> Response[bytes]:
    """Profile, keys with their validity, agreements, portfolio."""
    try:
        org = await load_organization(reads, org_id)
        entries = await reads.entries(f"org/{org_id}")
        times = {e.position: e.recorded_at for e in entries}
        keys = [{"key": k, "from_at": times.get(k.added_at, times.get(k.added_at - 1)),
                 "until_at": times.get(k.revoked_at) if k.revoked_at is not None else None}
                for k in org.keys]
        public_only, visible_to = await list_scope(request)
        agreements = await reads.register(
            after=None, status=None, party=org_id, category=None, search=None,
            public_only=public_only, visible_to=visible_to, limit=MAX_PAGE_SIZE)
        principal = await optional_principal(request)
        guarded = principal is not None and principal.can_read_org(org_id)
        states = await portfolio_states(reads, current_states(request), await reader(request),
                                        today(), org_id,
                                        guarded=guarded)
        folio = portfolio_of(org_id, states)
        units = sorted(set(folio.totals.given) | set(folio.totals.received))
        by_category = _by_category(folio, org_id)
        page_t = _words(request)
        chart = charts.bars(page_t("org.portfolio.chart"), [
            charts.Bar(f"{page_t.category(cat)} ({page_t.unit(unit)})", given, received)
            for (cat, unit), (given, received) in by_category.items()],
            page_t("org.portfolio.given"), page_t("org.portfolio.received")) \
            if by_category else None
        return page_of(request, "organization.html", {
            "org": org, "keys": keys, "agreements": agreements, "portfolio": folio,
            "units": units, "by_category": by_category, "chart": chart,
            "guarded": guarded,
            # what the page shows, for the in-browser verifier to hold the stream to
            "head": (entries[-1].version, entries[-1].event_hash) if entries else None})
    except PAGE_FAILURES as exc:
        return error_page(request, exc)


def _by_category(folio: Portfolio, org_id: str) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(category, unit) -> (declared as given, declared as received): the portfolio's
    own rule (each side's own declarations, commitments not withdrawn) by category."""
    sums: defaultdict[tuple[str, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0)])
    for c in folio.given:
        if not c.withdrawn and c.provider_value is not None:
            sums[c.category, c.provider_value.unit][0] += Decimal(c.provider_value.amount)
    for c in folio.received:
        own = c.receiver_values.get(org_id)
        if not c.withdrawn and own is not None:
            sums[c.category, own.unit][1] += Decimal(own.amount)
    return {k: (v[0], v[1]) for k, v in sorted(sums.items())}


def _words(request: Req) -> Words:
    """The request's words, for what is drawn before the template (charts)."""
    return Page(request).t


# --- an agreement -------------------------------------------------------------------


def _timeline(events: list[StoredEvent]) -> list[dict[str, Any]]:
    rows = []
    for e in events[-TIMELINE:]:
        st = e.statement()
        changed = sorted(k for k in st.data if k not in ("agreement_id",))
        rows.append({"version": e.version, "position": e.position, "at": e.recorded_at,
                     "type": st.type, "actor": st.actor, "key": st.key,
                     "changed": ", ".join(changed[:6])})
    return list(reversed(rows))


def _commitments(state: AgreementState) -> list[dict[str, Any]]:
    out = []
    for cm in state.commitments.values():
        out.append({"cm": cm, "receivers": receiving_orgs(state, cm),
                    "collective": cm.receiver == COLLECTIVE,
                    "fulfilment": fulfilment_totals(state, cm)})
    return out


def _indicators(state: AgreementState, t: Words) -> list[dict[str, Any]]:
    by: defaultdict[str, list[Any]] = defaultdict(list)
    for m in state.measures.values():
        by[m.indicator_id].append(m)
    out = []
    for ind in state.indicators.values():
        measures = sorted(by[ind.id], key=lambda m: (m.period.start, m.at))
        points = [charts.Point(t.date(m.period.end), v) for m in measures
                  if (v := charts.to_decimal(m.value)) is not None]
        chart = charts.line(t("agreement.indicator.chart", name=ind.name), points,
                            charts.to_decimal(ind.target)) if points else None
        out.append({"ind": ind, "measures": measures, "chart": chart})
    return out


def _stages(state: AgreementState) -> list[dict[str, Any]]:
    n = len(state.parties)
    out = []
    for name in STAGES:
        stage = state.stages.get(name)
        acked = 0 if stage is None else sum(1 for o in state.parties if o in stage.acks)
        out.append({"name": name, "stage": stage, "complete": stage_complete(state, name),
                    "acked": acked, "parties": n})
    return out


def _document_html(state: AgreementState, lang: str, names: dict[str, str],
                   shift: int) -> str:
    """The written agreement (the API's Markdown), as HTML: raw HTML in it is escaped,
    and its headings go ``shift`` levels down, to sit in order under the page's."""
    tokens = _md.parse(render_markdown(state, lang=lang, names=names))
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(int(tok.tag[1:]) + shift, 6)}"
    html = str(_md.renderer.render(tokens, _md.options, {}))
    # wide tables scroll in their own box on a phone (the text's own "<" is escaped,
    # so these are the renderer's tags only)
    return html.replace("<table>", '<div class="scroll" tabindex="0"><table>').replace(
        "</table>", "</table></div>")


async def _diff(request: Req, reads: Reads, agreement_id: str, a: int, b: int, lang: str,
                names: dict[str, str]) -> list[tuple[str, str]]:
    """The written agreement's lines that differ between stream versions a and b (each
    state from the nearest snapshot, as the API's ``?version=``)."""
    texts = [render_markdown(await state_at(request, reads, agreement_id, v), lang=lang,
                             names=names).splitlines() for v in (a, b)]
    out = []
    for line in difflib.unified_diff(texts[0], texts[1], lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "ins", "-": "del", "@": "hunk"}.get(line[:1], "same")
        out.append((kind, line[1:] if kind != "hunk" else "…"))
    return out


def _shown(value: Any, t: Words) -> str:
    """A member's value of the terms in words: a quantity as amount and unit, a period
    as its two dates, a list joined, a yes or no."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return t("agreement.changes.yes" if value else "agreement.changes.no")
    if isinstance(value, list):
        return ", ".join(_shown(v, t) for v in value) or "—"
    if isinstance(value, dict):
        if "amount" in value and "unit" in value:
            extra = [_shown(value[k], t) for k in value if k not in ("amount", "unit")]
            return t.amount(str(value["amount"]), str(value["unit"])) + (
                f" ({', '.join(extra)})" if extra else "")
        if set(value) == {"start", "end"}:
            return f"{t.date(value['start'])} → {t.date(value['end'])}"
        return "; ".join(f"{t('member.' + k)} : {_shown(v, t)}" if t.lang == "fr"
                         else f"{t('member.' + k)}: {_shown(v, t)}" for k, v in value.items())
    return str(value)


def _summary(item: dict[str, Any]) -> str:
    """What names an item of the terms beside its id."""
    for member in ("name", "text", "description", "org"):
        if isinstance(item.get(member), str) and item[member]:
            return str(item[member])
    return ""


def _terms_versions(events: list[StoredEvent], ta: str | None, tb: str | None,
                    t: Words) -> dict[str, Any]:
    """The ratification of each terms version by each of its parties, and what changed
    between terms versions ``ta`` and ``tb`` (by default: the latest version ratified
    before the current one, else the first, and the current one). One fold."""
    asked = (_int(ta, "ta"), _int(tb, "tb"))
    history = terms_history((fact_from_stored(e) for e in events),
                            {v for v in (*asked, 1) if v is not None})
    current = history.current
    if current < 1:
        return {"terms_versions": history.versions, "terms_current": 0, "changes": None}
    earlier = [v.terms_version for v in history.versions
               if v.terms_version < current and any(r for _, r in v.ratified)]
    a = asked[0] if asked[0] is not None else earlier[0] if earlier else 1
    b = asked[1] if asked[1] is not None else current
    a, b = min(max(a, 1), current), min(max(b, 1), current)
    changes: TermsChanges = terms_changes(a, history.terms[a], b, history.terms[b])
    shown = {
        "scalars": [(t("member." + c.member), _shown(c.before, t), _shown(c.after, t))
                    for c in changes.scalars],
        "sections": [(name, [{"kind": i.kind, "key": i.key, "summary": _summary(i.item),
                              "changes": [(t("member." + c.member), _shown(c.before, t),
                                           _shown(c.after, t)) for c in i.changes]}
                             for i in items])
                     for name, items in changes.sections if items],
        "empty": changes.empty}
    return {"terms_versions": history.versions, "terms_current": current,
            "terms_from": a, "terms_to": b, "changes": shown}


async def _agreement_context(request: Req, reads: Reads, agreement_id: str,
                             lang: str, shift: int) -> dict[str, Any]:
    current = await current_states(request).get(reads, agreement_id, watermark(request))
    # the same grant as GET /v1/agreements/{id}: the whole agreement, or its refusal
    await authorize(request, reads, current.state, whole=True)
    state = current.state
    events = await load_agreement(reads, agreement_id)
    names = await registered_names(reads, mentioned_orgs(state))
    return {"state": state, "events": events, "names": names, "version": current.version,
            # what the page shows, for the in-browser verifier to hold the stream to
            "head": (events[-1].version, events[-1].event_hash) if events else None,
            "state_hash": state_hash(state), "in_force": in_force(state),
            "pending": state.terms_version != state.in_force_version
            and state.status != "absent",
            "document": _document_html(state, lang, names, shift)}


@get("/agreements/{agreement_id:str}", include_in_schema=False)
async def agreement(request: Req, reads: NamedDependency[Reads],
                    agreement_id: FromPath[str]) -> Response[bytes]:
    """Everything the agreement's state says, its written text and its signed events."""
    try:
        t = _words(request)
        ctx = await _agreement_context(request, reads, agreement_id, t.lang, 2)
        state: AgreementState = ctx["state"]
        events: list[StoredEvent] = ctx["events"]
        q = request.query_params
        ratified = sorted({s.stream_version for s in state.in_force_signatures})
        a = _int(q.get("from"), "from", ratified[-1] if ratified else 1) or 1
        b = _int(q.get("to"), "to", len(events)) or len(events)
        a, b = min(max(a, 1), len(events)), min(max(b, 1), len(events))
        return page_of(request, "agreement.html", {
            **ctx, **_terms_versions(events, q.get("ta"), q.get("tb"), t),
            "timeline": _timeline(events), "earlier": max(len(events) - TIMELINE, 0),
            "commitments": _commitments(state), "indicators": _indicators(state, t),
            "stages": _stages(state),
            "expectations": [(e, is_shared(state, e)) for e in state.expectations.values()],
            "diff": (await _diff(request, reads, agreement_id, a, b, t.lang, ctx["names"])
                     if a != b else []),
            "diff_from": a, "diff_to": b, "versions": len(events)})
    except PAGE_FAILURES as exc:
        return error_page(request, exc)


@get("/agreements/{agreement_id:str}/print", include_in_schema=False)
async def printable(request: Req, reads: NamedDependency[Reads],
                    agreement_id: FromPath[str]) -> Response[bytes]:
    """The written agreement alone, laid out for A4 or Letter paper."""
    try:
        t = _words(request)
        ctx = await _agreement_context(request, reads, agreement_id, t.lang, 0)
        url = str(request.base_url).rstrip("/") + f"/agreements/{agreement_id}"
        # the page's address as a QR code, for a reader of the paper copy to check it
        qr = segno.make(url, error="m").svg_inline(scale=3, title=t("print.qr"))
        return page_of(request, "print.html", {**ctx, "page_url": url, "qr": qr,
                                               "printed": today()})
    except PAGE_FAILURES as exc:
        return error_page(request, exc)


# --- the log ------------------------------------------------------------------------


@get("/log", include_in_schema=False)
async def log(request: Req, reads: NamedDependency[Reads],
              ledger: NamedDependency[Ledger]) -> Response[bytes]:
    """Size and checkpoints for everyone (as ``/readyz`` and ``/metrics`` tell them);
    the signed notes, an entry and its inclusion proof for an auditor or a trust, as
    ``/v1/log/...`` answers them."""
    try:
        principal = await optional_principal(request)
        audit = principal is not None and principal.kind in AUDIT_KINDS
        checkpoints = await reads.checkpoints(50)
        size = await reads.size()
        t = _words(request)
        one_day = len({c.signed_at[:10] for c in checkpoints}) == 1
        points = [charts.Point(c.signed_at[11:16] if one_day else t.date(c.signed_at),
                               Decimal(c.size)) for c in reversed(checkpoints)] if audit else []
        chart = charts.line(t("log.size_over_time"), points, None) if len(points) > 1 \
            else None
        entry = proof = None
        position = _int(request.query_params.get("position"), "position")
        if audit and position is not None and principal is not None:
            if position >= size:
                raise NotFound(f"position {position} is beyond the log, which has {size} "
                               "entries", field="position")
            e = await ledger.store.entry(position)
            shown = await disclosed(request, reads, principal, [e])
            tree = checkpoints[0].size if checkpoints and checkpoints[0].size > position \
                else size
            proof = {"size": tree, "hashes": [
                b64.encode(h) for h in await ledger.store.inclusion_proof(position, tree)]}
            entry = {"position": e.position, "leaf_hash": b64.encode(
                merkle.hash_leaf(e.leaf)), "recorded_at": e.recorded_at,
                "content": e.position in shown, "stream": e.stream if e.position in shown
                else None, "type": e.statement().type if e.position in shown else None}
        return page_of(request, "log.html", {
            "audit": audit, "size": size, "checkpoints": checkpoints if audit
            else checkpoints[:1], "chart": chart, "entry": entry, "proof": proof,
            "position": position})
    except PAGE_FAILURES as exc:
        return error_page(request, exc)


@get("/provenance", include_in_schema=False)
async def provenance(request: Req) -> Response[bytes]:
    """A form; the page's script asks ``/v1/provenance/...`` with the session's token
    and shows the API's answer as it is."""
    return page_of(request, "provenance.html", {})


@get(["/espace", "/workspace"], include_in_schema=False)
async def workspace(request: Req) -> Response[bytes]:
    """The organization's workspace: forms only. Its script (``static/js/workspace.js``)
    holds the organization's key in the browser, builds and signs each statement there
    and sends the envelope to ``POST /v1/events``; the server never sees the key."""
    return page_of(request, "workspace.html", {"categories": CATEGORIES})


PAGES = [register, organization, agreement, printable, log, provenance, workspace]
