"""State of the OAuth flows between requests: authorization codes (RFC 6749 §4.1), refresh
tokens (§6), PKCE (RFC 7636), revoked tokens (RFC 7009), and the hooks that shape the tokens
the endpoints issue.

A code or refresh token is a random string standing for one :class:`Grant`: who signed in, for
which client, with which scope and nonce. Codes are single use and short-lived (RFC 6749 §4.1.2
recommends at most ten minutes; one minute here, on the provider's clock).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .directory import Client, User

__all__ = [
    "CODE_LIFETIME",
    "PKCE_METHODS",
    "REFRESH_LIFETIME",
    "DeviceAuthorization",
    "DeviceAuthorizations",
    "FlowState",
    "Grant",
    "PendingLogin",
    "RevokedTokens",
    "TicketStore",
    "TokenContext",
    "pkce_matches",
]

CODE_LIFETIME = 60.0
REFRESH_LIFETIME = 30 * 24 * 3600.0
PKCE_METHODS = ("S256", "plain")


@dataclass(frozen=True)
class Grant:
    """What a user (or client) was granted: the facts a code or refresh token stands for."""

    client_id: str
    sub: str
    scope: str
    auth_time: float
    expires_at: float
    redirect_uri: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str = "plain"
    #: Extra claims for this sign-in's tokens (the login page's claim editor, next_login()).
    claims: Mapping[str, Any] | None = None

    def renewed(self, expires_at: float, scope: str | None = None) -> Grant:
        return replace(self, expires_at=expires_at, scope=self.scope if scope is None else scope,
                       redirect_uri=None, code_challenge=None)


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636 §4.6: does ``verifier`` answer ``challenge``?"""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(verifier.encode(), challenge.encode())


class TicketStore:
    """Opaque strings standing for grants (codes, refresh tokens). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: dict[str, Grant] = {}

    def issue(self, grant: Grant) -> str:
        ticket = secrets.token_urlsafe(32)
        with self._lock:
            self._tickets[ticket] = grant
        return ticket

    def peek(self, ticket: str, now: float) -> Grant | None:
        """The grant behind ``ticket`` if it was issued, not revoked and not expired."""
        with self._lock:
            grant = self._tickets.get(ticket)
        return grant if grant is not None and grant.expires_at > now else None

    def redeem(self, ticket: str, now: float) -> Grant | None:
        """Like :meth:`peek`, and the ticket is gone afterwards (single use)."""
        with self._lock:
            grant = self._tickets.pop(ticket, None)
            # Expired tickets are dropped as they are met, so the store cannot grow without
            # bound from tickets nobody redeems.
            for stale in [t for t, g in self._tickets.items() if g.expires_at <= now]:
                del self._tickets[stale]
        return grant if grant is not None and grant.expires_at > now else None

    def revoke(self, ticket: str) -> bool:
        with self._lock:
            return self._tickets.pop(ticket, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._tickets.clear()


class RevokedTokens:
    """The ``jti`` of access tokens revoked at the revocation endpoint (RFC 7009)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jtis: set[str] = set()

    def add(self, jti: str) -> None:
        with self._lock:
            self._jtis.add(jti)

    def __contains__(self, jti: object) -> bool:
        return jti in self._jtis

    def clear(self) -> None:
        with self._lock:
            self._jtis.clear()


@dataclass
class TokenContext:
    """What a token hook (``idp.on_token(hook)``) sees for each token an endpoint issues.

    The hook edits ``header`` and ``claims`` in place, or sets ``fault`` to a catalog name.
    ``kind`` is ``"access_token"`` or ``"id_token"``; ``grant_type`` is ``None`` for a token the
    test minted itself (``idp.token()``, the control API, the CLI); ``client`` is the client the
    token is for (the default client when none is named); ``user`` is ``None`` when no known
    user is involved (client credentials).
    """

    kind: str
    grant_type: str | None
    client: Client
    user: User | None
    scope: str
    header: dict[str, Any]
    claims: dict[str, Any]
    fault: str | None = field(default=None)



#: RFC 8628 §6.1: user codes from an alphabet without vowels or look-alikes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
DEVICE_LIFETIME = 600.0
DEVICE_INTERVAL = 5


@dataclass
class DeviceAuthorization:
    """One device authorization request (RFC 8628 §3.1-3.2) and how far it got."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: int = DEVICE_INTERVAL
    status: str = "pending"  # "pending", "approved", "denied"
    sub: str | None = None
    auth_time: float = 0.0
    last_poll: float | None = None


class DeviceAuthorizations:
    """Pending and decided device authorizations. In tests, ``approve()`` stands in for the
    user who types the code on another device."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_device: dict[str, DeviceAuthorization] = {}

    def start(self, client_id: str, scope: str, now: float) -> DeviceAuthorization:
        letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
        record = DeviceAuthorization(
            device_code=secrets.token_urlsafe(32), user_code=f"{letters[:4]}-{letters[4:]}",
            client_id=client_id, scope=scope, expires_at=now + DEVICE_LIFETIME,
        )
        with self._lock:
            self._by_device[record.device_code] = record
        return record

    def by_device_code(self, device_code: str) -> DeviceAuthorization | None:
        with self._lock:
            return self._by_device.get(device_code)

    def by_user_code(self, user_code: str | None) -> DeviceAuthorization | None:
        """The authorization for ``user_code`` (case and dashes ignored), or with ``None`` the
        latest one still pending."""
        with self._lock:
            records = list(self._by_device.values())
        if user_code is None:
            pending = [r for r in records if r.status == "pending"]
            return pending[-1] if pending else None
        wanted = user_code.replace("-", "").upper()
        return next((r for r in records if r.user_code.replace("-", "") == wanted), None)

    def decide(self, record: DeviceAuthorization, *, sub: str | None, now: float) -> None:
        with self._lock:
            record.status = "denied" if sub is None else "approved"
            record.sub, record.auth_time = sub, now

    def finish(self, record: DeviceAuthorization) -> None:
        with self._lock:
            self._by_device.pop(record.device_code, None)

    def clear(self) -> None:
        with self._lock:
            self._by_device.clear()


@dataclass(frozen=True)
class PendingLogin:
    """An authorization request waiting on the login page for the user's choice."""

    grant: Grant  # everything but who signs in
    redirect_uri: str
    response_mode: str
    state: str | None
    expires_at: float


class FlowState:
    """Everything the OAuth endpoints remember between requests, for one issuer: codes,
    refresh tokens, revoked access tokens, device authorizations, sign-ins waiting on the login
    page and the ``jti`` of client assertions already used (RFC 7523 §3). Owned by the core
    :class:`~mockidp.core.issuer.Issuer`; the endpoints read and write it, and a reset clears
    it."""

    def __init__(self) -> None:
        self.codes = TicketStore()
        self.refresh_tokens = TicketStore()
        self.revoked = RevokedTokens()
        self.devices = DeviceAuthorizations()
        self.pending_logins: dict[str, PendingLogin] = {}
        self.used_assertions: set[str] = set()

    def clear(self) -> None:
        self.codes.clear()
        self.refresh_tokens.clear()
        self.revoked.clear()
        self.devices.clear()
        self.pending_logins.clear()
        self.used_assertions.clear()
