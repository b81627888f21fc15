"""``/v1/provenance/...``: who asserted what, when, with which key, anchored in the log.

For data trusts and auditors only (``trust`` and ``auditor`` tokens). Every answer is
computed from the events themselves (``ledger.provenance``, pure), read from the
agreement's own stream — never the whole log — with:

* the key history of each signer, folded from its ``org/<id>`` stream and cached per
  organization (refreshed when that stream grows: one index probe per organization);
* the latest signed checkpoint, given once at the top, and for each event an RFC 9162
  inclusion proof of its leaf against it, all proofs' tree nodes fetched in one query.

``?format=prov-json`` (``application/json``) and ``?format=provn``
(``text/provenance-notation``) give the same answer as a W3C PROV document.

**Consent.** A ``trust`` token (its subject is the trust's id) receives an agreement's
events only from organizations whose ``consent.given`` to that trust is in force on the
request date and whose scope names the event's family (``ledger.provenance.consent``);
the answer says what was withheld and why. When the subject of a query itself is not
covered (the commitment's provider, the expectation's holder...), the request is refused
with ``403 .../problems/consent-missing`` naming the organization and the reason
(``missing``, ``withdrawn``, ``expired``, ``out-of-scope``). Auditors are not subject
to consent.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import PathParameter, QueryParameter

from ledger import merkle
from ledger.domain.values import CATEGORIES, ID_PATTERN, ORG_PATTERN
from ledger.errors import NotFound
from ledger.leaf import from_micros
from ledger.provenance import (
    CheckpointInfo,
    ConsentView,
    Entry,
    Evidence,
    OrgKeys,
    Walk,
    agreement_answer,
    apply_org_entry,
    build_prov,
    checkpoint_json,
    commitment_answer,
    dumps_json,
    everything,
    expectation_answer,
    indicator_answer,
    organization_answer,
    parse_bound,
    proof_positions,
    role_answer,
    search_answer,
    to_provn,
    walk,
    window,
)
from ledger.provenance.answers import Visible, item_positions
from ledger.runtime import Ledger
from ledger.statement import Statement, format_time
from ledger.store import PostgresStore

from ..auth import Principal, principal_of, require_kinds
from ..problems import Forbidden, RequestMalformed, problem_responses

__all__ = ["ConsentMissing", "ProvenanceController", "clock"]

#: The server's clock for the consent date (tests replace it).
clock: Callable[[], float] = time.time

PROVN = "text/provenance-notation"
MAX_ITEMS = 1000

Format = Annotated[str, QueryParameter(pattern="^(json|prov-json|provn)$",
                                       description="json (default), prov-json or provn")]
AgreementId = Annotated[str, PathParameter(pattern=ID_PATTERN[:-2] + "$",
                                           description="agreement id")]
ItemId = Annotated[str, PathParameter(pattern=ID_PATTERN[:-2] + "$", description="item id")]
OrgId = Annotated[str, PathParameter(pattern=ORG_PATTERN[:-2] + "$",
                                     description="organization id")]
Bound = Annotated[str | None, QueryParameter(max_length=40)]
Year = Annotated[str | None, QueryParameter(max_length=4, description="YYYY")]
From = Annotated[str | None, QueryParameter(name="from", max_length=10,
                                            description="YYYY-MM-DD")]
To = Annotated[str | None, QueryParameter(max_length=10, description="YYYY-MM-DD")]


@dataclass
class ProvenanceOperation(Operation):
    """The OpenAPI operation of a provenance route: its 200 answer is JSON (the answer
    or PROV-JSON) or PROV-N text, depending on ``format``."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            content = dict(ok.content or {})
            content.setdefault("application/json",
                               OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT)))
            content[PROVN] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
            ok.content = content


class ConsentMissing(Forbidden):
    """A trust asked for data no consent in force covers."""

    code = "consent-missing"
    title = "No consent in force covers this data"


# --- reading -------------------------------------------------------------------------

_COLUMNS = ("e.position, e.recorded_at_us, e.stream, e.version, e.event_hash, e.payload, "
            "e.leaf_hash")
_decode = msgspec.json.Decoder(Statement)


def _entry(r: asyncpg.Record) -> Entry:
    st = _decode.decode(r["payload"])
    return Entry(r["position"], format_time(from_micros(r["recorded_at_us"])), r["stream"],
                 r["version"], bytes(r["event_hash"]).hex(), st.type, st.data, st.actor,
                 st.key, st.issued_at, bytes(r["leaf_hash"]))


async def _stream(pool: asyncpg.Pool, stream: str) -> list[Entry]:
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM events e WHERE stream = $1 "
                            "ORDER BY version", stream)
    return [_entry(r) for r in rows]


async def _streams(pool: asyncpg.Pool, streams: Sequence[str]) -> dict[str, list[Entry]]:
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM events e WHERE stream = ANY($1::text[]) "
                            "ORDER BY stream, version", list(streams))
    out: dict[str, list[Entry]] = {s: [] for s in streams}
    for r in rows:
        out[r["stream"]].append(_entry(r))
    return out


async def _agreement(ledger: Ledger, agreement_id: str) -> list[Entry]:
    entries = await _stream(ledger.pool, f"agreement/{agreement_id}")
    if not entries:
        raise NotFound(f"no agreement {agreement_id!r}", field="agreement_id")
    return entries


class KeyCache:
    """Key histories by organization, each folded from ``org/<id>`` up to a version and
    caught up from there when that stream has grown."""

    def __init__(self) -> None:
        self.orgs: dict[str, OrgKeys] = {}

    async def refresh(self, conn: asyncpg.Pool, heads: dict[str, int]) -> dict[str, OrgKeys]:
        stale = [(org, self.orgs[org].version if org in self.orgs else 0)
                 for org, version in heads.items()
                 if org not in self.orgs or self.orgs[org].version < version]
        if stale:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM events e "
                "JOIN unnest($1::text[], $2::int[]) AS w(stream, after) "
                "ON e.stream = w.stream AND e.version > w.after ORDER BY e.stream, e.version",
                [f"org/{o}" for o, _ in stale], [v for _, v in stale])
            for org, _ in stale:
                self.orgs.setdefault(org, OrgKeys(org))
            for r in rows:
                entry = _entry(r)
                apply_org_entry(self.orgs[entry.stream_key], entry)
        return {org: self.orgs.get(org, OrgKeys(org)) for org in heads}


_CACHES: weakref.WeakKeyDictionary[PostgresStore, KeyCache] = weakref.WeakKeyDictionary()

_CONTEXT_SQL = """
SELECT cp.size, cp.root_hash, cp.note,
       (SELECT coalesce(array_agg(row(h.stream, h.version)), '{}')
        FROM unnest($1::text[]) AS s(stream)
        CROSS JOIN LATERAL (SELECT e.stream, e.version FROM events e
                            WHERE e.stream = s.stream ORDER BY e.version DESC LIMIT 1) h
       ) AS heads
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (SELECT size, root_hash, note FROM checkpoints
                   ORDER BY size DESC LIMIT 1) cp ON true
"""


async def _evidence(ledger: Ledger, orgs: Iterable[str], entries: Iterable[Entry],
                    *, proofs: bool) -> Evidence:
    """Key histories of ``orgs``, the latest checkpoint and (if ``proofs``) the inclusion
    proof of each of ``entries`` against it: at most three queries."""
    wanted = sorted(set(orgs))
    row = await ledger.pool.fetchrow(_CONTEXT_SQL, [f"org/{o}" for o in wanted])
    heads = {stream.split("/", 1)[1]: version for stream, version in row["heads"]}
    cache = _CACHES.get(ledger.store)
    if cache is None:
        cache = _CACHES[ledger.store] = KeyCache()
    keys = await cache.refresh(ledger.pool, heads)
    checkpoint = None
    if row["size"] is not None:
        checkpoint = CheckpointInfo(row["size"], bytes(row["root_hash"]), row["note"])
    found: dict[int, list[bytes]] = {}
    if proofs and checkpoint is not None:
        positions = proof_positions(entries, checkpoint)
        specs = {p: merkle.inclusion_proof_nodes(p, checkpoint.size) for p in positions}
        ids = merkle.spec_node_ids(s for spec in specs.values() for s in spec)
        if ids:
            rows = await ledger.pool.fetch(
                "SELECT n.level, n.idx, n.hash FROM merkle_nodes n "
                "JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) "
                "ON n.level = w.level AND n.idx = w.idx",
                [i.level for i in ids], [i.index for i in ids])
            nodes = {(r["level"], r["idx"]): bytes(r["hash"]) for r in rows}
            for p, spec in specs.items():
                try:
                    found[p] = merkle.build_proof(spec, lambda lv, ix: nodes[(lv, ix)])
                except KeyError:  # a node missing: the answer says "proof unavailable"
                    continue
    return Evidence(keys, checkpoint, found)


# --- consent -------------------------------------------------------------------------


def today() -> str:
    return datetime.fromtimestamp(clock(), UTC).date().isoformat()


def _consent_view(request: Request[Any, Any, Any], w: Walk) -> ConsentView | None:
    principal: Principal = principal_of(request)
    if principal.kind != "trust":
        return None
    return ConsentView(w.state, principal.subject, today())


def _refuse(view: ConsentView, orgs: Iterable[str], family: str, what: str,
            agreement_id: str) -> None:
    """Raise ConsentMissing unless one of ``orgs`` covers ``family`` for the trust."""
    checks = [view.check(org, family) for org in sorted(set(orgs))]
    if any(c.ok for c in checks) or not checks:
        return
    reasons = "; ".join(f"{c.org}: {c.reason} ({c.detail})" for c in checks)
    first = checks[0]
    raise ConsentMissing(
        f"{what}: no consent to {view.trust_id} in force on {view.today} covers "
        f"{family} data — {reasons}",
        organization=first.org, reason=first.reason, family=family,
        agreement_id=agreement_id, trust_id=view.trust_id,
        organizations=[c.to_json() for c in checks])


def _consent_json(view: ConsentView | None, entries: Iterable[Entry]) -> dict[str, Any]:
    if view is None:
        return {"applies": False,
                "note": "auditors read under their own mandate; consent does not apply"}
    return {"applies": True, **view.summary(entries)}


# --- answering -----------------------------------------------------------------------


def _respond(fmt: str, answer: Callable[[], dict[str, Any]],
             streams: Callable[[], list[list[Entry]]], evidence: Evidence,
             include: Visible) -> Response[Any]:
    if fmt == "json":
        return Response(answer())
    doc = build_prov(streams(), evidence, include=include)
    if fmt == "provn":
        return Response(to_provn(doc).encode(), media_type=PROVN)
    return Response(dumps_json(doc).encode(), media_type="application/json")


def _head(query: dict[str, Any], evidence: Evidence, consent: dict[str, Any]
          ) -> dict[str, Any]:
    return {
        "query": query,
        "checkpoint": checkpoint_json(evidence.checkpoint),
        "verify": "check the checkpoint note with the log key (GET /v1/log/key), then each "
                  "event's inclusion proof (RFC 9162) of leaf_hash at leaf_index against "
                  "the note's root",
        "consent": consent,
    }


def _bad(message: str, field: str) -> RequestMalformed:
    return RequestMalformed(message, field=field)


def _and(a: Visible, b: Callable[[Entry], bool]) -> Visible:
    return lambda e: a(e) and b(e)


class ProvenanceController(Controller):
    path = "/v1/provenance"
    tags = ("provenance",)
    guards = [require_kinds("trust", "auditor")]  # noqa: RUF012

    async def _item(self, request: Request[Any, Any, Any], ledger: Ledger,
                    agreement_id: str, kind: str, item_id: str, fmt: str,
                    family: str, owner: Callable[[Walk], str | None],
                    answer: Callable[[Walk, Evidence, Visible], dict[str, Any] | None],
                    extra_family: str | None = None, query: dict[str, Any] | None = None,
                    ) -> Response[Any]:
        entries = await _agreement(ledger, agreement_id)
        w = walk(entries)
        who = owner(w)
        if who is None:
            raise NotFound(f"agreement {agreement_id} has no {kind} {item_id!r}",
                           field=f"{kind}_id")
        view = _consent_view(request, w)
        visible: Visible = everything if view is None else view.visible
        if view is not None:
            _refuse(view, [who], family, f"{kind} {item_id} of {agreement_id}", agreement_id)
            if extra_family is not None:
                _refuse(view, [who], extra_family, f"{kind} {item_id} of {agreement_id}",
                        agreement_id)
        chain = item_positions(w, kind, item_id)
        mine = [e for e in entries if e.position in chain]
        evidence = await _evidence(ledger, {e.actor for e in mine}, mine,
                                   proofs=fmt == "json")

        def full() -> dict[str, Any]:
            body = answer(w, evidence, visible)
            assert body is not None
            q = {"agreement_id": agreement_id, f"{kind}_id": item_id, **(query or {})}
            return _head(q, evidence, _consent_json(view, mine)) | body

        return _respond(fmt, full, lambda: [entries], evidence,
                        _and(visible, lambda e: e.position in chain))

    @get("/agreements/{agreement_id:str}", operation_id="GetAgreementProvenance",
         summary="The events behind an agreement's current value, ratifications, membership",
         description="Generation, each new terms version and its state hash, status "
                     "changes and termination; what each party ratified (terms version, "
                     "state hash, position, key) and whether all ratified the same hash; "
                     "who joined and withdrew when; ?at=DATE: the parties at that date. "
                     "The PROV export covers the agreement's whole history.",
         operation_class=ProvenanceOperation,
         responses=problem_responses(400, 401, 403, 404, 503))
    async def agreement(self, request: Request[Any, Any, Any], ledger: NamedDependency[Ledger],
                        agreement_id: AgreementId, at: Bound = None,
                        format: Format = "json") -> Response[Any]:
        if at is not None:
            try:
                parse_bound(at, name="at", end=True)
            except ValueError as exc:
                raise _bad(str(exc), "at") from None
        entries = await _agreement(ledger, agreement_id)
        w = walk(entries, hashes=True)
        view = _consent_view(request, w)
        visible: Visible = everything if view is None else view.visible
        if view is not None:
            members = set(w.state.parties) | set(w.state.former)
            _refuse(view, members, "agreement", f"agreement {agreement_id}", agreement_id)
        evidence = await _evidence(ledger, {e.actor for e in entries}, entries,
                                   proofs=format == "json")

        def full() -> dict[str, Any]:
            return _head({"agreement_id": agreement_id, "at": at}, evidence,
                         _consent_json(view, entries)) | agreement_answer(
                             w, evidence, at=at, visible=visible)

        return _respond(format, full, lambda: [entries], evidence, visible)

    async def _commitment(self, request: Request[Any, Any, Any], ledger: Ledger,
                          agreement_id: str, commitment_id: str, year: str | None,
                          from_: str | None, to: str | None, fmt: str) -> Response[Any]:
        try:
            win = window(year, from_, to)
        except ValueError as exc:
            raise _bad(str(exc), "year" if year is not None else "from") from None

        def owner(w: Walk) -> str | None:
            cm = w.state.commitments.get(commitment_id)
            return None if cm is None else cm.provider

        return await self._item(
            request, ledger, agreement_id, "commitment", commitment_id, fmt, "commitment",
            owner, lambda w, ev, vis: commitment_answer(w, ev, commitment_id, window=win,
                                                         visible=vis),
            extra_family="fulfilment" if win is not None else None,
            query={"window": None if win is None else win.to_json()})

    @get("/agreements/{agreement_id:str}/commitments/{commitment_id:str}",
         operation_id="GetCommitmentProvenance",
         summary="A commitment's versions, declared values, fulfilments; a reported total",
         description="Generation, amendments, withdrawal; the value each side declared "
                     "(who, what, when); each fulfilment with who recorded, confirmed or "
                     "contested it. ?year=YYYY or ?from=&to= adds a reported total: the "
                     "fulfilments behind it, who confirmed each, and each party's own "
                     "declared value, never added together.",
         operation_class=ProvenanceOperation,
         responses=problem_responses(400, 401, 403, 404, 503))
    async def commitment(self, request: Request[Any, Any, Any],
                         ledger: NamedDependency[Ledger], agreement_id: AgreementId,
                         commitment_id: ItemId, year: Year = None, from_: From = None,
                         to: To = None, format: Format = "json") -> Response[Any]:
        return await self._commitment(request, ledger, agreement_id, commitment_id, year,
                                      from_, to, format)

    @get("/commitments/{agreement_id:str}/{commitment_id:str}",
         operation_id="GetCommitmentProvenanceShort",
         summary="The same as /agreements/{agreement_id}/commitments/{commitment_id}",
         operation_class=ProvenanceOperation,
         responses=problem_responses(400, 401, 403, 404, 503))
    async def commitment_short(self, request: Request[Any, Any, Any],
                               ledger: NamedDependency[Ledger], agreement_id: AgreementId,
                               commitment_id: ItemId, year: Year = None, from_: From = None,
                               to: To = None, format: Format = "json") -> Response[Any]:
        return await self._commitment(request, ledger, agreement_id, commitment_id, year,
                                      from_, to, format)

    @get("/agreements/{agreement_id:str}/expectations/{expectation_id:str}",
         operation_id="GetExpectationProvenance",
         summary="An expectation's statement, revisions, withdrawal, acknowledgements",
         operation_class=ProvenanceOperation,
         responses=problem_responses(400, 401, 403, 404, 503))
    async def expectation(self, request: Request[Any, Any, Any],
                          ledger: NamedDependency[Ledger], agreement_id: AgreementId,
                          expectation_id: ItemId,
                          format: Format = "json") -> Response[Any]:
        def owner(w: Walk) -> str | None:
            x = w.state.expectations.get(expectation_id)
            return None if x is None else x.holder

        return await self._item(
            request, ledger, agreement_id, "expectation", expectation_id, format,
            "expectation", owner,
            lambda w, ev, vis: expectation_answer(w, ev, expectation_id, visible=vis))

    @get("/agreements/{agreement_id:str}/roles/{role_id:str}",
         operation_id="GetRoleProvenance",
         summary="A role's proposal, acceptance, refusal, relinquishment or end",
         operation_class=ProvenanceOperation,
         responses=problem_responses(400, 401, 403, 404, 503))
    async def role(self, request: Request[Any, Any, Any], ledger: NamedDependency[Ledger],
                   agreement_id: AgreementId, role_id: ItemId,
                   format: Format = "json") -> Response[Any]:
        def owner(w: Walk) -> str | None:
            r = w.state.roles.get(role_id)
            return None if r is None else r.proposed_by

        return await self._item(
            request, ledger, agreement_id, "role", role_id, format, "role", owner,
            lambda w, ev, vis: role_answer(w, ev, role_id, visible=vis))

    @get("/agreements/{agreement_id:str}/indicators/{indicator_id:str}",
         operation_id="GetIndicatorProvenance",
         summary="An indicator's definition and each measure, with who measured when",
         operation_class=ProvenanceOperation,
         responses=problem_responses(400, 401, 403, 404, 503))
    async def indicator(self, request: Request[Any, Any, Any],
                        ledger: NamedDependency[Ledger], agreement_id: AgreementId,
                        indicator_id: ItemId,
                        format: Format = "json") -> Response[Any]:
        def owner(w: Walk) -> str | None:
            i = w.state.indicators.get(indicator_id)
            return None if i is None else i.defined_by

        return await self._item(
            request, ledger, agreement_id, "indicator", indicator_id, format, "indicator",
            owner, lambda w, ev, vis: indicator_answer(w, ev, indicator_id, visible=vis))

    @get("/organizations/{org_id:str}", operation_id="GetOrganizationProvenance",
         summary="Everything an organization asserted in a period; compromised-key report",
         description="Its statements in every stream (recorded between from and to, "
                     "dates or RFC 3339 times, inclusive, by the ledger's time), with "
                     "positions, keys and proofs; and those signed with one of its keys "
                     "that was revoked later, with the revocation position and reason.",
         operation_class=ProvenanceOperation,
         responses=problem_responses(400, 401, 403, 404, 503))
    async def organization(self, request: Request[Any, Any, Any],
                           ledger: NamedDependency[Ledger], org_id: OrgId,
                           from_: Annotated[str | None, QueryParameter(
                               name="from", max_length=40)] = None,
                           to: Bound = None,
                           limit: Annotated[int, QueryParameter(ge=1, le=MAX_ITEMS)] = MAX_ITEMS,
                           format: Format = "json") -> Response[Any]:
        try:
            lo = parse_bound(from_, name="from", end=False) if from_ else None
            hi = parse_bound(to, name="to", end=True) if to else None
        except ValueError as exc:
            raise _bad(str(exc), "from") from None
        rows = await ledger.pool.fetch(
            f"SELECT {_COLUMNS} FROM events e WHERE actor = $1 "
            "AND ($2::timestamptz IS NULL OR recorded_at >= $2) "
            "AND ($3::timestamptz IS NULL OR recorded_at <= $3) "
            "ORDER BY position LIMIT $4",
            org_id, _ts(lo), _ts(hi), limit)
        mine = [_entry(r) for r in rows]
        registered = await ledger.pool.fetchval(
            "SELECT 1 FROM events WHERE stream = $1 LIMIT 1", f"org/{org_id}")
        if registered is None and not mine:
            raise NotFound(f"no organization {org_id!r}", field="org_id")
        agreements = sorted({e.stream for e in mine if e.stream_kind == "agreement"})
        needs_streams = format != "json" or principal_of(request).kind == "trust"
        streams = await _streams(ledger.pool, agreements) if needs_streams else {}
        visible: Visible = everything
        consent: dict[str, Any] = _consent_json(None, [])
        if principal_of(request).kind == "trust":
            views = {s: ConsentView(walk(streams[s]).state, principal_of(request).subject,
                                    today()) for s in agreements}
            visible = lambda e: e.stream_kind != "agreement" or views[e.stream].visible(e)  # noqa: E731
            shared = [e for e in mine if e.stream_kind == "agreement"]
            if shared and not any(visible(e) for e in shared):
                checks = [views[s].check(org_id, "agreement") for s in agreements]
                raise ConsentMissing(
                    f"organization {org_id}: none of its statements in {len(agreements)} "
                    f"agreement(s) is covered by a consent to {principal_of(request).subject}"
                    f" in force on {today()}",
                    organization=org_id, reason=checks[0].reason,
                    trust_id=principal_of(request).subject,
                    organizations=[c.to_json() | {"agreement_id": s.split('/', 1)[1]}
                                   for c, s in zip(checks, agreements, strict=True)])
            consent = {"applies": True, "trust_id": principal_of(request).subject,
                       "date": today(),
                       "withheld": [views[s].check(org_id, fam).to_json()
                                    | {"agreement_id": s.split("/", 1)[1], "events": n}
                                    for (s, fam), n in sorted(_count_hidden(
                                        mine, visible).items())]}
        evidence = await _evidence(ledger, [org_id], mine, proofs=format == "json")
        chosen = {e.position for e in mine}

        def full() -> dict[str, Any]:
            q = {"org_id": org_id, "from": from_, "to": to, "limit": limit,
                 "truncated": len(mine) == limit}
            return _head(q, evidence, consent) | organization_answer(
                org_id, mine, evidence, visible=visible)

        def all_streams() -> list[list[Entry]]:
            own = [e for e in mine if e.stream_kind == "org"]
            return [streams[s] for s in agreements] + ([own] if own else [])

        return _respond(format, full, all_streams, evidence,
                        _and(visible, lambda e: e.position in chosen))

    @get("/search", operation_id="SearchCommitmentProvenance",
         summary="Commitments by resource category, organization and period overlap",
         description="category: a resource category; org: provider or on the receiving "
                     "side; from/to: dates, commitments whose period overlaps. Scans at "
                     "most `limit` agreements after `after` (an agreement id); `next` "
                     "continues.",
         operation_class=ProvenanceOperation,
         responses=problem_responses(400, 401, 403, 503))
    async def search(self, request: Request[Any, Any, Any], ledger: NamedDependency[Ledger],
                     category: Annotated[str | None, QueryParameter(max_length=64)] = None,
                     org: Annotated[str | None, QueryParameter(max_length=64)] = None,
                     from_: Annotated[str | None, QueryParameter(name="from",
                                                                 max_length=10)] = None,
                     to: Annotated[str | None, QueryParameter(max_length=10)] = None,
                     after: Annotated[str | None, QueryParameter(max_length=140)] = None,
                     limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
                     format: Format = "json") -> Response[Any]:
        if category is not None and category not in CATEGORIES:
            raise _bad(f"unknown category {category!r}; one of {', '.join(CATEGORIES)}",
                       "category")
        try:
            win = window(None, from_, to)
        except ValueError as exc:
            raise _bad(str(exc), "from") from None
        rows = await ledger.pool.fetch(
            """
            SELECT DISTINCT e.stream FROM events e
            WHERE e.type IN ('commitment.offered', 'commitment.amended')
              AND ($1::text IS NULL OR e.statement->'data'->>'category' = $1)
              AND ($2::text IS NULL OR e.stream IN (
                    SELECT a.stream FROM events a
                    WHERE a.actor = $2 AND a.stream LIKE 'agreement/%'))
              AND ($3::text IS NULL OR e.stream > $3)
            ORDER BY e.stream LIMIT $4
            """, category, org, None if after is None else f"agreement/{after}", limit + 1)
        names = [r["stream"] for r in rows[:limit]]
        more = len(rows) > limit
        streams = await _streams(ledger.pool, names)
        walks = {s.split("/", 1)[1]: walk(streams[s]) for s in names}
        trust = principal_of(request).kind == "trust"
        views = {aid: ConsentView(w.state, principal_of(request).subject, today())
                 for aid, w in walks.items()} if trust else {}

        def allowed(aid: str, provider: str) -> bool:
            return views[aid].check(provider, "commitment").ok

        items, withheld = search_answer(walks, category=category, org=org, window=win,
                                        allowed=allowed if trust else None)
        found = {(i["agreement_id"], i["commitment_id"]) for i in items}
        chosen: set[int] = set()
        for aid, cid in found:
            chosen |= item_positions(walks[aid], "commitment", cid)
        picked = [e for s in names for e in streams[s] if e.position in chosen]
        evidence = await _evidence(ledger, {e.actor for e in picked}, [], proofs=False)
        consent = ({"applies": True, "trust_id": principal_of(request).subject,
                    "date": today(), "withheld_commitments": withheld} if trust
                   else _consent_json(None, []))

        def full() -> dict[str, Any]:
            q = {"category": category, "org": org, "from": from_, "to": to, "after": after,
                 "limit": limit}
            return _head(q, evidence, consent) | {
                "commitments": items,
                "next": names[-1].split("/", 1)[1] if more and names else None,
                "note": "each commitment's chain, values and fulfilments, with proofs: "
                        "GET /v1/provenance/agreements/{agreement_id}/commitments/{id}"}

        visible: Visible = everything
        if trust:
            visible = lambda e: views[e.stream_key].visible(e)  # noqa: E731
        return _respond(format, full, lambda: [streams[s] for s in names], evidence,
                        _and(visible, lambda e: e.position in chosen))


def _ts(bound: str | None) -> datetime | None:
    """A sortable instant (``YYYY-MM-DDTHH:MM:SS.ffffff``) as an aware datetime."""
    if bound is None:
        return None
    return datetime.fromisoformat(bound).replace(tzinfo=UTC)


def _count_hidden(entries: Iterable[Entry], visible: Visible) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for e in entries:
        if not visible(e):
            counts[(e.stream, e.family)] = counts.get((e.stream, e.family), 0) + 1
    return counts

