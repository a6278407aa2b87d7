"""State of the OAuth flows between requests: authorization codes (RFC 6749 §4.1), refresh
tokens (§6), PKCE (RFC 7636), revoked tokens (RFC 7009), and the hooks that shape the tokens
the endpoints issue.

A code or refresh token is a random string standing for one :class:`Grant`: who signed in, for
which client, with which scope and nonce. Codes are single use and short-lived (RFC 6749 §4.1.2
recommends at most ten minutes; one minute here, on the provider's clock).

Everything here is kept in an :class:`ExpiringStore`: a long-running ``mockidp serve`` answers
requests nobody finishes (codes never redeemed, login pages never submitted, devices that never
poll), so each store forgets what expired, on the provider's clock, whenever something is added,
and holds at most ``limit`` entries, forgetting the oldest first. The limits are far above what
a test suite holds at once; each store's ``limit`` can be changed on the instance.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from .directory import Client, User

__all__ = [
    "CODE_LIFETIME",
    "PKCE_METHODS",
    "REFRESH_LIFETIME",
    "DeviceAuthorization",
    "DeviceAuthorizations",
    "ExpiringStore",
    "FlowState",
    "Grant",
    "GrantTokens",
    "PendingLogin",
    "RevokedTokens",
    "TicketStore",
    "TokenContext",
    "pkce_matches",
]

CODE_LIFETIME = 60.0
REFRESH_LIFETIME = 30 * 24 * 3600.0
PKCE_METHODS = ("S256", "plain")

#: How many of each the provider keeps at most (oldest forgotten first). Codes live a minute,
#: so a thousand outstanding is far more than any client has; refresh tokens live 30 days.
CODE_LIMIT = 1_000
REFRESH_LIMIT = 10_000
PENDING_LOGIN_LIMIT = 1_000
DEVICE_LIMIT = 1_000
USED_ASSERTION_LIMIT = 10_000
REVOKED_LIMIT = 100_000
#: Access tokens whose grant asked for userinfo claims by name (OIDC Core §5.5).
USERINFO_CLAIMS_LIMIT = 10_000
#: New users the login page's "new user" field may add between resets: each is listed on
#: every later login page, so without a bound the page (and the time to render it) grows with
#: every sign-in a long-running server sees.
LOGIN_PAGE_USER_LIMIT = 100


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
    #: The ``acr`` values asked for, most preferred first, and whether one is essential
    #: (OIDC Core §3.1.2.1 ``acr_values``, §5.5.1.1 the ``claims`` parameter).
    acr_values: tuple[str, ...] = ()
    acr_essential: bool = False
    #: The claims the ``claims`` parameter's ``userinfo`` member names (OIDC Core §5.5): the
    #: userinfo endpoint releases them, besides the scopes', to the grant's access tokens.
    userinfo_claims: tuple[str, ...] = ()
    #: The subjects the ``id_token`` member's ``sub`` value(s) allow (§5.5); empty: any.
    subjects: tuple[str, ...] = ()
    #: The resources (RFC 8707) the grant's access tokens may be for: their ``aud``.
    resources: tuple[str, ...] = ()
    #: The sign-in fault (``mockidp.LOGIN_FAULTS``) planted in this sign-in's tokens, if any.
    fault: str | None = None
    #: One authorization grant, kept through :meth:`renewed` (refresh, rotation): the access
    #: tokens issued under it are revoked with its refresh token (RFC 7009 §2.1).
    grant_id: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    #: The DPoP key (RFC 7638 thumbprint) the code (``dpop_jkt``, RFC 9449 §10) or a public
    #: client's refresh token (§5) is bound to: the token request's proof must be of it.
    dpop_jkt: str | None = None

    def renewed(self, expires_at: float, scope: str | None = None,
                dpop_jkt: str | None = None) -> Grant:
        return replace(self, expires_at=expires_at, scope=self.scope if scope is None else scope,
                       redirect_uri=None, code_challenge=None, dpop_jkt=dpop_jkt, fault=None)


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636 §4.6: does ``verifier`` answer ``challenge``?"""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(verifier.encode(), challenge.encode())


V = TypeVar("V")


class ExpiringStore(Generic[V]):
    """Values by key, each with the time it expires on the provider's clock; thread-safe.

    Adding (:meth:`put`, :meth:`add_new`) sweeps: entries expired at ``now`` go, then, past
    ``limit``, the oldest. Entries are kept in the order added, and within one store they
    mostly expire in that order (one lifetime each), so the sweep stops at the first live
    entry: adding is O(1) amortized. Only a store over its limit scans all entries once for
    expired ones before it forgets live ones. Reading never sweeps, so a caller can still tell
    "expired" from "unknown" (RFC 8628 §3.5 ``expired_token``) until the next addition.
    """

    def __init__(self, limit: int) -> None:
        #: The most entries kept; the oldest are forgotten first.
        self.limit = limit
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def put(self, key: str, value: V, expires_at: float, now: float | None = None) -> None:
        """Keep ``value`` under ``key`` until ``expires_at``; sweep as of ``now`` (if known)."""
        with self._lock:
            self._items[key] = (expires_at, value)
            self._items.move_to_end(key)
            self._sweep(now)

    def add_new(self, key: str, value: V, expires_at: float, now: float | None = None) -> bool:
        """:meth:`put` unless ``key`` is already kept (checked and added at once, so two
        concurrent requests cannot both be first); whether it was added."""
        with self._lock:
            if key in self._items:
                return False
            self._items[key] = (expires_at, value)
            self._sweep(now)
            return True

    def _sweep(self, now: float | None) -> None:
        items = self._items
        if now is not None:
            while items:
                expires_at, _ = next(iter(items.values()))
                if expires_at > now:
                    break
                items.popitem(last=False)
        if len(items) > self.limit:
            if now is not None:
                for key in [k for k, (expires_at, _) in items.items() if expires_at <= now]:
                    del items[key]
            while len(items) > self.limit:
                items.popitem(last=False)

    def get(self, key: str) -> V | None:
        """The value under ``key``, expired or not (the caller checks what expiry means)."""
        with self._lock:
            entry = self._items.get(key)
        return entry[1] if entry is not None else None

    def pop(self, key: str) -> V | None:
        with self._lock:
            entry = self._items.pop(key, None)
        return entry[1] if entry is not None else None

    def values(self) -> list[V]:
        """The values, oldest first (a copy)."""
        with self._lock:
            return [value for _, value in self._items.values()]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._items))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class _Bounded:
    """What the stores below share: the :class:`ExpiringStore` that bounds each, its
    ``limit`` (adjustable, e.g. by a test), its size and clearing."""

    _store: ExpiringStore[Any]

    @property
    def limit(self) -> int:
        return self._store.limit

    @limit.setter
    def limit(self, limit: int) -> None:
        self._store.limit = limit

    def __len__(self) -> int:
        return len(self._store)

    def clear(self) -> None:
        self._store.clear()


class TicketStore(_Bounded):
    """Opaque strings standing for grants (codes, refresh tokens). Thread-safe, and bounded
    (see :class:`ExpiringStore`): a grant is forgotten once it expired and something new is
    issued, or when more than ``limit`` are outstanding (the oldest first)."""

    def __init__(self, limit: int = REFRESH_LIMIT) -> None:
        self._store: ExpiringStore[Grant] = ExpiringStore(limit)

    def issue(self, grant: Grant, now: float | None = None) -> str:
        """A new ticket for ``grant``; tickets expired at ``now`` are dropped meanwhile."""
        ticket = secrets.token_urlsafe(32)
        self._store.put(ticket, grant, grant.expires_at, now)
        return ticket

    def peek(self, ticket: str, now: float) -> Grant | None:
        """The grant behind ``ticket`` if it was issued, not revoked and not expired."""
        grant = self._store.get(ticket)
        return grant if grant is not None and grant.expires_at > now else None

    def redeem(self, ticket: str, now: float) -> Grant | None:
        """Like :meth:`peek`, and the ticket is gone afterwards (single use)."""
        grant = self._store.pop(ticket)
        return grant if grant is not None and grant.expires_at > now else None

    def revoke(self, ticket: str) -> bool:
        return self._store.pop(ticket) is not None


class RevokedTokens(_Bounded):
    """The ``jti`` of access tokens revoked at the revocation endpoint (RFC 7009), each kept
    until the token expires: after that the provider refuses the token anyway, so forgetting
    it changes no answer (RFC 7009 §2.2 leaves the tracking to the server). Bounded by
    ``limit`` like an :class:`ExpiringStore`."""

    def __init__(self, limit: int = REVOKED_LIMIT) -> None:
        self._store: ExpiringStore[bool] = ExpiringStore(limit)

    def add(self, jti: str, expires_at: float = math.inf, now: float | None = None) -> None:
        self._store.put(jti, True, expires_at, now)

    def __contains__(self, jti: object) -> bool:
        return jti in self._store


class GrantTokens(_Bounded):
    """The access tokens issued under each grant, by ``jti`` with their ``exp``, so that
    revoking the grant's refresh token revokes them too (RFC 7009 §2.1: the server SHOULD
    also invalidate the access tokens based on the same grant). A registry rather than a claim
    in the token: the tokens a consumer sees carry no provider-private claim.

    A grant is forgotten once its last token expired (swept on the provider's clock when a
    token is recorded), and at most ``limit`` grants are kept, like an :class:`ExpiringStore`.
    """

    def __init__(self, limit: int = REFRESH_LIMIT) -> None:
        self._lock = threading.Lock()
        self._store: ExpiringStore[tuple[tuple[str, float], ...]] = ExpiringStore(limit)

    def record(self, grant_id: str, jti: str, exp: float, now: float) -> None:
        """Remember that the token ``jti`` (expiring at ``exp``) came from ``grant_id``."""
        with self._lock:
            live = tuple(t for t in self._store.get(grant_id) or () if t[1] > now)
            tokens = (*live, (jti, exp))
            self._store.put(grant_id, tokens, max(e for _, e in tokens), now)

    def pop(self, grant_id: str) -> tuple[tuple[str, float], ...]:
        """The ``(jti, exp)`` of the tokens recorded for ``grant_id``, forgotten here."""
        with self._lock:
            return self._store.pop(grant_id) or ()


@dataclass
class TokenContext:
    """What a token hook (``idp.on_token(hook)``) sees for each token an endpoint issues.

    The hook edits ``header`` and ``claims`` in place, or sets ``fault`` to a catalog name.
    ``kind`` is ``"access_token"`` or ``"id_token"``; ``grant_type`` is ``"implicit"`` for a
    token the authorization endpoint returns itself (OIDC Core §3.2, §3.3), ``None`` for a
    token the test minted itself (``idp.token()``, the control API, the CLI); ``client`` is
    the client the token is for (the default client when none is named); ``user`` is ``None``
    when no known user is involved (client credentials).
    """

    kind: str
    grant_type: str | None
    client: Client
    user: User | None
    scope: str
    header: dict[str, Any]
    claims: dict[str, Any]
    fault: str | None = field(default=None)
    #: The form fields of the token request (empty for a token the test minted itself).
    form: Mapping[str, str] = field(default_factory=dict)


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


class DeviceAuthorizations(_Bounded):
    """Pending and decided device authorizations. In tests, ``approve()`` stands in for the
    user who types the code on another device.

    A device that never polls again would otherwise stay forever: each record is kept one
    more lifetime after it expires (so a late poll still gets ``expired_token``, RFC 8628
    §3.5, rather than "unknown"), and at most ``limit`` records are kept (an
    :class:`ExpiringStore`, swept when a device starts)."""

    def __init__(self, limit: int = DEVICE_LIMIT) -> None:
        self._lock = threading.Lock()
        self._store: ExpiringStore[DeviceAuthorization] = ExpiringStore(limit)


    def start(self, client_id: str, scope: str, now: float) -> DeviceAuthorization:
        letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
        record = DeviceAuthorization(
            device_code=secrets.token_urlsafe(32), user_code=f"{letters[:4]}-{letters[4:]}",
            client_id=client_id, scope=scope, expires_at=now + DEVICE_LIFETIME,
        )
        self._store.put(record.device_code, record, record.expires_at + DEVICE_LIFETIME,
                            now)
        return record

    def by_device_code(self, device_code: str) -> DeviceAuthorization | None:
        return self._store.get(device_code)

    def by_user_code(self, user_code: str | None) -> DeviceAuthorization | None:
        """The authorization for ``user_code`` (case and dashes ignored), or with ``None`` the
        latest one still pending."""
        records = self._store.values()
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
        self._store.pop(record.device_code)

    def __len__(self) -> int:
        return len(self._store)

    def clear(self) -> None:
        self._store.clear()


@dataclass(frozen=True)
class PendingLogin:
    """An authorization request waiting on the login page for the user's choice."""

    grant: Grant  # everything but who signs in
    redirect_uri: str
    response_mode: str
    state: str | None
    expires_at: float
    #: The response type asked for (OIDC Core §3: ``code``, ``id_token``, ``code id_token``...).
    response_type: str = "code"


class FlowState:
    """Everything the OAuth endpoints remember between requests, for one issuer: codes,
    refresh tokens, revoked access tokens, the access tokens of each grant, the userinfo
    claims each access token's grant asked for, device authorizations, sign-ins waiting on
    the login page, the ``jti`` of client assertions already used (RFC 7523 §3) and how many
    users the login page added. Owned by the core
    :class:`~mockidp.core.issuer.Issuer`; the endpoints read and write it, and a reset clears
    it. Each store is bounded (see the module docstring)."""

    def __init__(self) -> None:
        self.codes = TicketStore(CODE_LIMIT)
        self.refresh_tokens = TicketStore(REFRESH_LIMIT)
        self.revoked = RevokedTokens(REVOKED_LIMIT)
        #: The access tokens each grant issued, revoked with its refresh token (RFC 7009).
        self.grant_tokens = GrantTokens(REFRESH_LIMIT)
        self.devices = DeviceAuthorizations(DEVICE_LIMIT)
        self.pending_logins: ExpiringStore[PendingLogin] = ExpiringStore(PENDING_LOGIN_LIMIT)
        #: ``jti`` -> ``True`` until the assertion's ``exp``: a replay is refused while the
        #: assertion could still be accepted, and forgotten once it could not (RFC 7523 §3).
        self.used_assertions: ExpiringStore[bool] = ExpiringStore(USED_ASSERTION_LIMIT)
        #: The sign-in fault planted in the userinfo answers of each access token (by ``jti``),
        #: until the token expires (``idp.users.next_login(fault=...)``).
        self.planted: ExpiringStore[str] = ExpiringStore(CODE_LIMIT)
        #: The ``userinfo`` claims (OIDC Core §5.5) each access token's grant asked for (by
        #: ``jti``), until the token expires: kept here, not in the token a consumer decodes.
        self.userinfo_claims: ExpiringStore[tuple[str, ...]] = ExpiringStore(
            USERINFO_CLAIMS_LIMIT)
        #: Users the login page's "new user" field added since the last reset, and how many
        #: it may add (:data:`LOGIN_PAGE_USER_LIMIT`).
        self.login_page_users = 0
        self.login_page_user_limit = LOGIN_PAGE_USER_LIMIT

    def clear(self) -> None:
        self.codes.clear()
        self.refresh_tokens.clear()
        self.revoked.clear()
        self.grant_tokens.clear()
        self.devices.clear()
        self.pending_logins.clear()
        self.used_assertions.clear()
        self.planted.clear()
        self.userinfo_claims.clear()
        self.login_page_users = 0
