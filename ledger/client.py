"""The Python client: an organization records and signs its statements.

The client holds the organization's private key; the server never sees it. It builds
statements with the same domain rules the server runs (``ledger.domain.decide``), signs
them locally, submits them, and retries idempotently on network errors (a retry of the
same signed event returns the original receipt). On a version conflict it re-reads the
stream's head and reports it: re-signing on top of the new head is the caller's choice.

Before it signs a ratification, the client verifies the agreement's whole history
itself — every signature against keys replayed from the signers' own ``org/`` streams,
every stream version and ``prev`` link — folds it with its own copy of the rules and
computes the state hash: an organization never signs a hash only because the server
said so.

HTTP uses the standard library only, so the client adds no dependency.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import b64
from .admission import Head, Receipt, _check_chain, verify_candidate_signatures
from .domain import AgreementState, RatifyAgreement, decide, evolve, fact_from_statement
from .domain import initial_state as initial_agreement_state
from .domain.state_hash import state_hash
from .envelope import Envelope, decode_envelope
from .errors import LedgerError, Unavailable, VerificationFailed
from .registry import KeyRecord, Registry, check_org_statement
from .signer import Signer
from .statement import Statement, event_hash, parse_statement

__all__ = ["ClientError", "Conflict", "LedgerClient", "VerifiedStream"]


class ClientError(LedgerError):
    """The server answered with a problem (RFC 9457); ``problem`` holds it."""

    code = "client-error"
    title = "The ledger refused the request"

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        super().__init__(detail, index=problem.get("index"), field=problem.get("field"))
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", ""))

    @property
    def problem_code(self) -> str:
        """The problem's stable code: the last segment of its ``type`` URI
        (``not-found``, ``token-missing``, …), or ``client-error`` if it has none."""
        code = self.type.rstrip("/").rsplit("/", 1)[-1]
        return code if self.type and code else "client-error"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(code=self.problem_code, status=self.status,
                   title=str(self.problem.get("title") or self.title))
        return out

    def diagnostics(self) -> str:
        where = f" (event #{self.index})" if self.index is not None else ""
        field = f", field {self.field!r}" if self.field else ""
        return f"HTTP {self.status} {self.problem.get('title', '')}{where}{field}: {self.detail}"


class Conflict(ClientError):
    """The stream moved on (409). ``head`` is the stream's head, re-read after the 409."""

    code = "conflict"
    title = "Stream version conflict"

    def __init__(self, status: int, problem: dict[str, Any], head: Head) -> None:
        super().__init__(status, problem)
        self.head = head


@dataclass(slots=True)
class VerifiedStream:
    """A stream read from the server and verified by the client."""

    stream: str
    head: Head
    statements: list[tuple[int, str, Statement]]  # (position, recorded_at, statement)


class LedgerClient:
    """A client of one ledger server, optionally signing as one organization."""

    def __init__(self, url: str, *, token: str | None = None, signer: Signer | None = None,
                 timeout: float = 15.0, retries: int = 4) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.signer = signer
        self.timeout = timeout
        self.retries = retries
        self._origin: str | None = None

    # --- HTTP ------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None,
                 query: dict[str, Any] | None = None, accept: str = "application/json",
                 token: str | None = None) -> tuple[int, bytes]:
        url = self.url + urllib.parse.quote(path, safe="/:@")
        if query:
            url += "?" + urllib.parse.urlencode(
                {k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Accept": accept}
        if data is not None:
            headers["Content-Type"] = "application/json"
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        delay = 0.2
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                payload = exc.read()
                if exc.code == 503 and attempt < self.retries:
                    time.sleep(delay)
                    delay *= 2
                    continue
                return exc.code, payload
            except (urllib.error.URLError, OSError) as exc:
                # Network trouble: the request may or may not have reached the server.
                # Retrying is safe: a stored event is answered with its original receipt.
                if attempt >= self.retries:
                    raise Unavailable(f"{method} {url}: {exc}") from exc
                time.sleep(delay)
                delay *= 2
        raise Unavailable(f"{method} {url}: no answer")  # pragma: no cover

    def _json(self, method: str, path: str, body: Any = None,
              query: dict[str, Any] | None = None) -> Any:
        status, payload = self._request(method, path, body, query)
        if status >= 400:
            raise ClientError(status, _problem(payload, status))
        return json.loads(payload) if payload else None

    def text(self, path: str) -> str:
        status, payload = self._request("GET", path, accept="text/plain")
        if status >= 400:
            raise ClientError(status, _problem(payload, status))
        return payload.decode("utf-8")

    # --- reads -----------------------------------------------------------------------

    def origin(self) -> str:
        """The ledger id (log origin) the server's statements must name."""
        if self._origin is None:
            vkey = self.text("/v1/log/key").strip()
            self._origin = vkey.split("+", 1)[0]
        return self._origin

    def organization(self, org_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/v1/organizations/{org_id}")
        return result

    def head(self, stream: str) -> Head:
        info = self._json("GET", f"/v1/streams/{stream}")
        return Head(info["version"], info["head_hash"])

    def stream_events(self, stream: str) -> list[dict[str, Any]]:
        """Every event of a stream: ``{"position", "recorded_at", "envelope"}``."""
        out: list[dict[str, Any]] = []
        while True:
            page = self._json("GET", f"/v1/streams/{stream}/events",
                              query={"after": len(out), "limit": 1000})
            out.extend(page["events"])
            if not page["events"] or len(out) >= page["version"]:
                return out

    def agreement(self, agreement_id: str, **query: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/v1/agreements/{agreement_id}",
                                            query=query or None)
        return result

    def document(self, agreement_id: str, lang: str = "fr") -> str:
        status, payload = self._request("GET", f"/v1/agreements/{agreement_id}/document",
                                        query={"lang": lang}, accept="text/markdown")
        if status >= 400:
            raise ClientError(status, _problem(payload, status))
        return payload.decode("utf-8")

    # --- verification ----------------------------------------------------------------

    def verified_stream(self, stream: str) -> VerifiedStream:
        """Read a stream and verify it: signatures against keys replayed from each
        signer's own ``org/`` stream, versions, ``prev`` chain and ledger id."""
        origin = self.origin()
        raw = self.stream_events(stream)
        parsed: list[tuple[int, str, Envelope, bytes, Statement]] = []
        for item in raw:
            env, payload = decode_envelope(item["envelope"])
            st = parse_statement(payload)
            if st.ledger != origin or st.stream != stream:
                raise VerificationFailed(f"event at position {item['position']} is not of "
                                         f"{stream} in {origin}")
            parsed.append((item["position"], item["recorded_at"], env, payload, st))
        registry = self._registry({st.actor for *_, st in parsed})
        head = Head(0, None)
        out = []
        for position, recorded_at, env, payload, st in parsed:
            _check_chain(st, head)
            record = registry.signer_key(st, position)
            verify_candidate_signatures(env, payload, st, _only(record))
            head = Head(st.version, event_hash(payload))
            out.append((position, recorded_at, st))
        return VerifiedStream(stream, head, out)

    def _registry(self, orgs: set[str]) -> Registry:
        """Replay the key history of ``orgs`` from their own, verified, org streams."""
        registry = Registry()
        events = []
        for org in sorted(orgs):
            for item in self.stream_events(f"org/{org}"):
                env, payload = decode_envelope(item["envelope"])
                events.append((item["position"], env, payload, parse_statement(payload)))
        head: dict[str, Head] = {}
        for position, env, payload, st in sorted(events, key=lambda e: e[0]):
            _check_chain(st, head.get(st.stream, Head(0, None)))
            record = registry.signer_key(st, position)
            verify_candidate_signatures(env, payload, st, _only(record))
            check_org_statement(st, registry, position)
            registry.apply(st, position)
            head[st.stream] = Head(st.version, event_hash(payload))
        return registry

    def agreement_state(self, agreement_id: str) -> tuple[AgreementState, Head]:
        """The agreement's state folded locally from its verified history."""
        verified = self.verified_stream(f"agreement/{agreement_id}")
        state = initial_agreement_state()
        for position, recorded_at, st in verified.statements:
            state = evolve(state, fact_from_statement(st, position=position,
                                                      recorded_at=recorded_at))
        return state, verified.head

    # --- writes ----------------------------------------------------------------------

    def submit(self, envelopes: list[Envelope], token: str | None = None) -> list[Receipt]:
        """POST the envelopes; one receipt each. Raises Conflict (with the re-read head)
        on 409, ClientError on any other refusal. ``token`` replaces the client's own
        bearer token for this request (a registration token)."""
        body = {"events": [e.to_json() for e in envelopes]}
        status, payload = self._request("POST", "/v1/events", body, token=token)
        if status == 409:
            problem = _problem(payload, status)
            stream = problem.get("stream") or _stream_of(envelopes, problem.get("index"))
            head = self.head(stream) if stream else Head(
                problem.get("current_version", 0), problem.get("head_hash"))
            raise Conflict(status, problem, head)
        if status >= 400:
            raise ClientError(status, _problem(payload, status))
        return [Receipt(r["position"], r["stream"], r["version"], r["event_hash"],
                        r["recorded_at_us"])
                for r in json.loads(payload)["receipts"]]

    def _require_signer(self) -> Signer:
        if self.signer is None:
            raise LedgerError("this client has no organization key to sign with")
        return self.signer

    def register(self, name: str, registration_token: str | None = None,
                 **profile: Any) -> Receipt:
        """Register the signer's organization (self-signed, first key), admitted by the
        operator's single-use ``registration_token`` (``ledger token create
        --registration``) unless the ledger's registration is open. ``profile``: the
        members of the organization profile (docs/EVENTS.md)."""
        signer = self._require_signer()
        signer.ledger_id = self.origin()
        [receipt] = self.submit([signer.registration(name, **profile)],
                                token=registration_token)
        return receipt

    def act(self, agreement_id: str, command: Any) -> list[Receipt]:
        """Decide ``command`` on the locally verified state, sign the events on top of
        the verified head, and submit them. ``command.actor`` must be the signer."""
        return self.act_with(agreement_id, lambda _state: command)

    def act_with(self, agreement_id: str,
                 build: Callable[[AgreementState], Any]) -> list[Receipt]:
        """As ``act``, with the command built from the locally verified state (for
        members the signer computes itself, such as an expectation's content hash)."""
        signer = self._require_signer()
        signer.ledger_id = self.origin()
        state, head = self.agreement_state(agreement_id)
        command = build(state)
        new = decide(command, state)
        if not new:
            return []
        stream = f"agreement/{agreement_id}"
        envelopes = []
        version, prev = head.version, head.hash
        for event in new:
            env = signer.event(stream, version + 1, prev, event.type, event.data,
                               issued_at=getattr(command, "at", None))
            envelopes.append(env)
            version, prev = version + 1, event_hash(env.payload_bytes())
        return self.submit(envelopes)

    def ratify(self, agreement_id: str, at: str | None = None) -> list[Receipt]:
        """Ratify the agreement's current terms, with the state hash computed here from
        the verified history (never taken from the server), on the very state the
        ratification is signed on top of (one read of the history, not two)."""
        signer = self._require_signer()
        when = at or signer.now()
        return self.act_with(agreement_id, lambda state: RatifyAgreement(
            terms_version=state.terms_version, state_hash=state_hash(state),
            actor=signer.org_id, at=when))


def _only(record: KeyRecord) -> Callable[[str], bytes | None]:
    """A key lookup that knows only the one key valid for this signer at this position
    (co-signatures are not accepted by the client's verification)."""
    def lookup(kid: str) -> bytes | None:
        return record.public_key if kid == record.key_id else None
    return lookup


def _problem(payload: bytes, status: int) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {"title": f"HTTP {status}", "detail": payload[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"detail": str(value)}


def _stream_of(envelopes: list[Envelope], index: Any) -> str | None:
    if not isinstance(index, int) or not 0 <= index < len(envelopes):
        return None
    try:
        payload = b64.decode(envelopes[index].payload)
        return str(json.loads(payload)["stream"])
    except (ValueError, KeyError):
        return None
