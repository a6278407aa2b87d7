"""Pushed authorization requests (RFC 9126): what a client pushed to the PAR endpoint, kept
under a one-time ``request_uri`` until the authorization endpoint takes it.

Each pushed request lives :data:`PAR_LIFETIME` seconds on the provider's clock (RFC 9126
§2.2: "a short time"; the example's 60 s) and is taken once (§4: the server SHOULD treat a
``request_uri`` as one-time use). The store is bounded like the stores of
:mod:`mockidp.core.flows`: a client that pushes and never comes back costs at most
:data:`PAR_LIMIT` entries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .flows import ExpiringStore, _Bounded

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["PAR_LIFETIME", "PAR_LIMIT", "REQUEST_URI_PREFIX", "PushedRequest",
           "PushedRequests"]

PAR_LIFETIME = 60
PAR_LIMIT = 1_000
#: RFC 9126 §2.2: the ``request_uri`` is a URN of this form (an IANA-registered prefix).
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


@dataclass(frozen=True)
class PushedRequest:
    """One pushed authorization request: who pushed it, and its parameters as validated (a
    request object's claims, if it came as one), in order, a name possibly repeated
    (``resource``)."""

    client_id: str
    params: tuple[tuple[str, str], ...]
    expires_at: float
    #: It came as a signed request object (RFC 9101; ``require_signed_request_object``).
    signed: bool = False


class PushedRequests(_Bounded):
    """The pushed requests not yet taken (see the module docstring)."""

    _store: ExpiringStore[PushedRequest]

    def __init__(self, limit: int = PAR_LIMIT) -> None:
        self._store = ExpiringStore(limit)
        #: Seconds a ``request_uri`` stays valid (``expires_in`` of the PAR answer).
        self.lifetime = PAR_LIFETIME

    def push(self, client_id: str, params: Iterable[tuple[str, str]], now: float, *,
             signed: bool = False) -> str:
        """Keep ``params`` for ``client_id``; the ``request_uri`` that stands for them."""
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        pushed = PushedRequest(client_id, tuple(params), now + self.lifetime, signed)
        self._store.put(request_uri, pushed, pushed.expires_at, now)
        return request_uri

    def take(self, request_uri: str, now: float) -> PushedRequest | None:
        """The pushed request behind ``request_uri`` if it is known and not expired; either
        way it is gone afterwards."""
        pushed = self._store.pop(request_uri)
        return pushed if pushed is not None and pushed.expires_at > now else None
