"""The one place that knows HTTP for errors: LedgerError classes → RFC 9457 problems.

Every error response of the API is ``application/problem+json``::

    {"type": "https://mutualisation-ledger.org/problems/<code>", "title": ..., "status": ...,
     "detail": ..., "index": ..., "field": ..., <the error's extra members>}

``code`` and ``title`` come from the error class, ``detail`` is for people, ``index`` names
the event of a batch at fault and ``field`` the member that is wrong. Litestar's own
errors (validation, unknown route, body too large) get the same shape. Driver errors that
mean "the database is unreachable" become 503 with ``Retry-After``. Anything else is a
bug: it is logged here and answered with a bare 500 that says nothing about internals.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from ledger import admission, errors
from ledger.errors import LedgerError
from ledger.integrity import HistoryUnprotected
from ledger.log import HistoryMismatch, LogKeyMismatch
from ledger.reads import DATABASE_DOWN, TEXT_NOT_STORABLE, PositionBeyondHead, ReplicaRefused
from ledger.runtime import OriginMismatch
from ledger.store import UNAVAILABLE_DETAIL

from .schemas import Problem

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "Forbidden",
    "NotReady",
    "OutOfRange",
    "RateLimited",
    "RequestMalformed",
    "TokenInvalid",
    "TokenMissing",
    "exception_handlers",
    "problem_for",
    "problem_responses",
    "status_of",
]

PROBLEM_BASE = "https://mutualisation-ledger.org/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 1

_log = logging.getLogger("ledger.api.problems")


# --- errors that exist only at the HTTP edge -----------------------------------------


class RequestMalformed(errors.Malformed):
    """The request itself (not an event in it) cannot be read."""

    code = "request-malformed"
    title = "Malformed request"


class OutOfRange(errors.Malformed):
    """A query names an index or size that does not make sense (e.g. index >= size)."""

    code = "range-invalid"
    title = "Index or size out of range"


class TokenMissing(errors.VerificationFailed):
    code = "token-missing"
    title = "Bearer token required"


class TokenInvalid(errors.VerificationFailed):
    code = "token-invalid"
    title = "Unknown or revoked bearer token"


class Forbidden(LedgerError):
    code = "forbidden"
    title = "This token may not read this resource"


class RateLimited(LedgerError):
    code = "rate-limited"
    title = "Too many writes for this key"


class NotReady(errors.Unavailable):
    code = "not-ready"
    title = "Ledger not ready"


# --- the map -------------------------------------------------------------------------

_STATUS: Mapping[type[LedgerError], int] = {
    LedgerError: 400,
    errors.Malformed: 400,
    errors.ClockSkew: 400,
    errors.BatchTooLarge: 413,
    errors.VerificationFailed: 401,
    errors.RevokedKey: 403,
    errors.ForeignKey: 403,
    Forbidden: 403,
    errors.ConcurrencyConflict: 409,
    errors.Rejected: 422,
    errors.NotFound: 404,
    RateLimited: 429,
    admission.RegistrationRefused: 403,
    admission.RegistrationTokenRequired: 401,
    admission.RegistrationTokenInvalid: 401,
    errors.Unavailable: 503,
    HistoryMismatch: 500,
    HistoryUnprotected: 500,
    LogKeyMismatch: 500,
    OriginMismatch: 500,
    PositionBeyondHead: 409,
    ReplicaRefused: 500,
}

_SIGNATURE_SCHEME = 'DSSE realm="mutualisation-ledger"'
_AUTH_SCHEME: dict[type[LedgerError], str] = {
    TokenMissing: 'Bearer realm="mutualisation-ledger"',
    TokenInvalid: 'Bearer realm="mutualisation-ledger", error="invalid_token"',
    admission.RegistrationTokenRequired: 'Bearer realm="mutualisation-ledger"',
    admission.RegistrationTokenInvalid:
        'Bearer realm="mutualisation-ledger", error="invalid_token"',
}


def status_of(exc: LedgerError) -> int:
    """The HTTP status of a ledger error: the entry of its nearest class in the map."""
    for cls in type(exc).__mro__:
        status = _STATUS.get(cls)
        if status is not None:
            return status
    return 400  # unreachable: LedgerError is in the map


def problem(status: int, code: str, title: str, detail: str, *,
            headers: dict[str, str] | None = None, **members: Any) -> Response[dict[str, Any]]:
    """A problem+json response; ``members`` that are None are left out."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status,
                            "detail": detail}
    body.update({k: v for k, v in members.items() if v is not None})
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _ledger_error(request: Request[Any, Any, Any], exc: LedgerError) -> Response[dict[str, Any]]:
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, errors.Unavailable):
        _log.error("%s %s: %s", request.method, request.url.path, exc.diagnostics())
    headers: dict[str, str] = {}
    if status in (429, 503):
        headers["Retry-After"] = str(exc.extra.get("retry_after", RETRY_AFTER_SECONDS))
    if status == 401:
        headers["WWW-Authenticate"] = _AUTH_SCHEME.get(type(exc), _SIGNATURE_SCHEME)
    extra = {k: v for k, v in exc.extra.items() if k != "retry_after"}
    return problem(status, exc.code, exc.title, exc.detail, headers=headers or None,
                   index=exc.index, field=exc.field, **extra)


_MISSING = re.compile(r"^Missing required (\w+) parameter '([^']+)'")


def _validation_error(request: Request[Any, Any, Any],
                      exc: ValidationException) -> Response[dict[str, Any]]:
    items = exc.extra if isinstance(exc.extra, list) else []
    found = [{"field": i.get("key"), "message": i.get("message"), "source": i.get("source")}
             for i in items if isinstance(i, dict)]
    missing = _MISSING.match(exc.detail or "")
    if not found and missing:  # Litestar names a missing parameter only in its message
        found = [{"field": missing[2], "message": f"missing required {missing[1]} parameter",
                  "source": missing[1]}]
    first = found[0] if found else {}
    detail = str(first.get("message") or exc.detail)
    return problem(400, "request-invalid", "Invalid request parameters or body", detail,
                   field=first.get("field"), errors=found or None)


_HTTP_CODES = {
    400: ("request-malformed", "Malformed request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("request-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status == 503:
        return _unavailable(request, exc)
    if status >= 500:
        return _internal_error(request, exc)
    code, title = _HTTP_CODES.get(status, (f"http-{status}", "Request refused"))
    detail = exc.detail if exc.detail and exc.detail != title else title.capitalize()
    if status == 404:
        from .web.render import not_found_page, wants_page  # the pages use this module

        if wants_page(request):  # a browser on an address that is no page
            return not_found_page(request)  # type: ignore[return-value]
        detail = f"no route {request.url.path}"
    return problem(status, code, title, detail, headers=exc.headers or None)


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    _log.warning("%s %s: database unreachable: %s", request.method, request.url.path, exc)
    return _ledger_error(request, errors.Unavailable(UNAVAILABLE_DETAIL))


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal-error", "Internal server error",
                   "an unexpected error occurred; it has been logged")


def _text_not_storable(request: Request[Any, Any, Any],
                       exc: Exception) -> Response[dict[str, Any]]:
    """PostgreSQL refused a text parameter (a NUL character in a path or query value)."""
    return problem(400, "request-malformed", "Malformed request",
                   "a parameter holds a character that cannot be stored or searched (U+0000)")


def _any_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, DATABASE_DOWN):
        return _unavailable(request, exc)
    return _internal_error(request, exc)




_Handler = Callable[[Request[Any, Any, Any], Any], Response[dict[str, Any]]]


def _handlers() -> dict[type[Exception], _Handler]:
    handlers: dict[type[Exception], _Handler] = {
        LedgerError: _ledger_error,
        ValidationException: _validation_error,
        HTTPException: _http_error,
        Exception: _any_exception,
    }
    for cls in DATABASE_DOWN:
        handlers[cls] = _unavailable
    handlers[TEXT_NOT_STORABLE] = _text_not_storable
    return handlers


_HANDLERS = _handlers()


def exception_handlers() -> ExceptionHandlersMap:
    """Handlers for the app: Litestar looks them up along the exception's MRO."""
    handlers: dict[Any, Any] = {**_HANDLERS, 500: _any_exception}
    return handlers


def problem_for(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """The answer to ``exc``, for code that answers outside Litestar's handler chain
    (the append route's middleware): the handler of the nearest class in the MRO, as
    Litestar picks it for an exception that is not an HTTPException."""
    for cls in type(exc).__mro__:
        handler = _HANDLERS.get(cls)
        if handler is not None:
            return handler(request, exc)
    return _any_exception(request, exc)  # unreachable: Exception is in the map


_DESCRIPTIONS = {
    400: "Malformed request, envelope or statement, or invalid parameters",
    401: "Missing or invalid credentials: bad signature, unknown key, or bad bearer token",
    403: "Revoked key, key of another organization, or a token that may not read this",
    404: "Not found",
    409: "Stream version conflict; carries current_version and head_hash",
    413: "Request body or batch too large",
    422: "Refused by the rules; carries rule",
    429: "Too many writes for a signing key; see Retry-After",
    500: "Internal error (no details)",
    503: "Database unreachable or not migrated; see Retry-After",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI documentation of a handler's problem+json responses (500 always added)."""
    return {
        s: ResponseSpec(data_container=Problem, media_type=PROBLEM_MEDIA_TYPE,
                        description=_DESCRIPTIONS.get(s, "Problem"), generate_examples=False)
        for s in sorted({*statuses, 500})
    }
