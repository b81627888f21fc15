"""Rate limits on appends per client address and per bearer token, before the store.

The per-key limiter (``ledger.api.controllers.events.KeyRateLimiter``) counts only writes the
store accepted, so that nobody uses up an organization's allowance with junk under its
key id. It cannot stop a flood of refused or unsigned requests, nor one writer
spreading over many fresh keys: these limits can. Every event of every append request
counts, accepted or not, against the client's address and, when the request carries a
bearer token (a registration token, say), against that token. A request over either
limit is refused with ``429`` and ``Retry-After`` before anything is decoded.

Windows are one second long and counted per process (with ``--workers N`` the limits
are per worker). The address is the TCP peer's: behind a reverse proxy, every client
shares the proxy's address, so raise ``LEDGER_APPENDS_PER_ADDRESS_PER_SECOND`` there
and let the proxy limit per client (``docs/DEPLOYMENT.md``).

``check_append(policy, caller, events)`` is the one call both append paths make (the
controller's handler and the route in front of Litestar, through ``append_events``).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .problems import RateLimited

__all__ = ["Caller", "ClientRateLimiter", "check_append"]

DEFAULT_APPENDS_PER_ADDRESS_PER_SECOND = 5000
DEFAULT_APPENDS_PER_TOKEN_PER_SECOND = 5000


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends a write request: the peer's address and the bearer token, if any."""

    address: str
    token: str | None = None

    @classmethod
    def from_scope(cls, scope: Any) -> Caller:
        """From an ASGI HTTP scope (``client`` and the ``authorization`` header)."""
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        token = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, rest = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and rest.strip():
                    token = rest.strip()
                break
        return cls(address, token)


def _token_key(token: str) -> str:
    """A token is counted under a hash: the limiter never holds a token itself."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]


class ClientRateLimiter:
    """At most ``per_address`` events per second from one address and ``per_token``
    from one bearer token, counted in one-second windows (0 turns a limit off)."""

    def __init__(self, per_address: int = DEFAULT_APPENDS_PER_ADDRESS_PER_SECOND,
                 per_token: int = DEFAULT_APPENDS_PER_TOKEN_PER_SECOND,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_address = per_address
        self.per_token = per_token
        self.clock = clock
        self._window = -1
        self._addresses: Counter[str] = Counter()
        self._tokens: Counter[str] = Counter()

    def _roll(self) -> float:
        now = self.clock()
        window = int(now)
        if window != self._window:
            self._window = window
            self._addresses.clear()
            self._tokens.clear()
        return now

    def take(self, caller: Caller, events: int) -> None:
        """Count ``events`` for the caller, or raise RateLimited (nothing counted)."""
        now = self._roll()
        retry_after = max(1, math.ceil(self._window + 1 - now))
        if self.per_address and self._addresses[caller.address] + events > self.per_address:
            raise RateLimited(
                f"this address is limited to {self.per_address} appended events per second",
                scope="address", limit=self.per_address, retry_after=retry_after)
        token = _token_key(caller.token) if caller.token else None
        if token is not None and self.per_token and \
                self._tokens[token] + events > self.per_token:
            raise RateLimited(
                f"this token is limited to {self.per_token} appended events per second",
                scope="token", limit=self.per_token, retry_after=retry_after)
        self._addresses[caller.address] += events
        if token is not None:
            self._tokens[token] += events


def check_append(limiter: ClientRateLimiter | None, caller: Caller | None, events: int) -> None:
    """The rate-limit step of an append: call it before the store sees the request."""
    if limiter is not None and caller is not None:
        limiter.take(caller, events)
