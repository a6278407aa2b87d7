"""``Issuer``: everything one issuer is — its keys, users, clients, clock, the OAuth flows in
progress, the endpoint controls, the request log, the token hooks — and what a test does with
it: mint and verify tokens, break endpoints, read what was served, reset.

It is the core the rest is built around. The web face is given an ``Issuer`` and serves it;
drivers (the control API, scenarios, the config file) change it; :class:`~mockidp.MockIdP` is
an ``Issuer`` that also owns a server, and each tenant is an ``Issuer`` below its parent's URL.
Nothing here imports Werkzeug, the web face or the facade: the URL an issuer is reached at comes
in as a function, so the same object serves a bound socket, a proxy's forwarded address or a
path below another issuer.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

from ..errors import ConfigurationError, NotStartedError, ServerError
from . import jwa, profiles
from .checks import whole_number
from .clock import Clock
from .directory import ACCESS_TOKEN_TYPES, Clients, Users
from .dpop import DPoPKey, DPoPState
from .endpoints import ENDPOINTS, EndpointControl, Endpoints
from .fetch import Fetcher
from .flows import FlowState, TokenContext
from .keys import KeyRing
from .recording import LOG_LIMIT, RecordedRequest, RequestLog
from .registration import Registrations, document_options
from .requests import PushedRequests
from .resources import Resources
from .tokens import Audience, Minter

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from typing_extensions import Unpack

    from .endpoints import DiscoveryControl, DPoPControl, JwksControl
    from .faults import Attacker
    from .profiles import Layout, Profile
    from .tokens import IdTokenOptions, TokenOptions

__all__ = ["DEFAULT_AUDIENCE", "TENANT_NAME", "Issuer"]

#: The ``aud`` of access tokens minted without one.
DEFAULT_AUDIENCE = "mockidp-api"
#: Handler tracebacks kept for :meth:`Issuer.check`, the most recent ones, and the characters
#: kept of each (its end, where the error is): ``mockidp serve`` may run for days and nobody
#: calls ``check()`` there, so an unbounded list would grow with every failing request.
HANDLER_ERROR_LIMIT = 100
HANDLER_ERROR_CHARS = 16 * 1024

_LOGIN_MODES = ("auto", "page")


class _Baseline(NamedTuple):
    keys: object
    users: object
    clients: object
    audience: Audience
    login: str
    refresh_token_rotation: bool
    jwks_max_age: int
    resources: object
    require_pushed_authorization_requests: bool
    initial_access_token: str | None
    require_dpop_nonce: bool


class Issuer:
    """One issuer's state and the operations on it. See the module docstring."""

    def __init__(
        self,
        base_url: Callable[[], str | None],
        *,
        alg: str = "RS256",
        audience: Audience | None = None,
        seed: int = 0,
        jwks_max_age: int = 300,
        login: str = "auto",
        log_limit: int = LOG_LIMIT,
        profile: str | Profile = "generic",
        profile_options: Mapping[str, str] | None = None,
        certificates: bool | None = None,
        access_token_typ: str | None = None,
    ) -> None:
        alg = jwa.get(alg).name
        #: The real provider this one is shaped like (:data:`mockidp.PROFILES`).
        self.profile = profiles.get(profile)
        #: Where each endpoint is, below the root URL.
        self.layout: Layout = self.profile.layout(dict(profile_options or {}))
        if self.profile.algorithms and alg not in self.profile.algorithms:
            raise ConfigurationError(
                f"the {self.profile.name} profile signs with {', '.join(self.profile.algorithms)}"
                f", not {alg}; drop alg= (keys.add() still makes any key on purpose)"
            )
        if certificates is None:
            certificates = self.profile.certificates
        if access_token_typ is None:
            access_token_typ = self.profile.access_token_typ
        if access_token_typ not in ACCESS_TOKEN_TYPES:
            raise ConfigurationError(f"access_token_typ must be one of "
                                     f"{', '.join(ACCESS_TOKEN_TYPES)}, not {access_token_typ!r}")
        #: The ``typ`` of the access tokens the token endpoint issues, unless the client
        #: registered another: ``"at+jwt"`` is RFC 9068's profile (with ``client_id``).
        self.access_token_typ = access_token_typ
        if audience is None:
            audience = self.profile.audience or DEFAULT_AUDIENCE
        if login not in _LOGIN_MODES:
            raise ConfigurationError(f"login must be 'auto' (sign in without a page, for "
                                     f"tests) or 'page' (a login page), not {login!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigurationError(f"seed must be an int, not {seed!r}")
        self._base_url = base_url
        #: "auto": the authorization endpoint signs users in without a page; "page": it asks.
        self.login = login
        #: ``Cache-Control: max-age`` of the JWKS, in seconds.
        self.jwks_max_age = whole_number("jwks_max_age", jwks_max_age)
        #: The ``aud`` of access tokens minted without one.
        self.audience = audience
        #: When true, each refresh token works once and its use returns a new one.
        self.refresh_token_rotation = False
        self.clock = Clock()
        self.keys = KeyRing(alg, certificates=bool(certificates))
        self.keys.clock = self.clock.time  # key history on the provider's clock
        # OIDC Discovery 1.0 §3: id_token_signing_alg_values_supported MUST include RS256,
        # so a provider whose default is another algorithm publishes an RS256 key as well,
        # for the clients that register it (OIDC Registration §2's default).
        self.keys.ensure_active("RS256")
        self.users = Users(seed)
        #: What the provider fetches of the documents clients name (off beyond loopback).
        self.fetcher = Fetcher()
        self.clients = Clients(self.keys.ensure_active, document_options, self.fetcher.json)
        #: The resources access tokens may be for (RFC 8707 ``resource``).
        self.resources = Resources()
        #: Pushed authorization requests not yet used (RFC 9126).
        self.pushed = PushedRequests()
        #: RFC 9126 §5: authorization requests only by PAR, for every client.
        self.require_pushed_authorization_requests = self.profile.require_par
        #: RFC 9449 §8, §9: every DPoP proof (token endpoint, userinfo, introspection) must
        #: carry the provider's nonce, for every client. Off, as most providers run.
        self.require_dpop_nonce = False
        #: The dynamic client registration endpoint's state (RFC 7591, RFC 7592).
        self.registrations = Registrations()
        #: The fault controls of every endpoint (``idp.endpoint(name)``).
        self.endpoints = Endpoints(ENDPOINTS)
        self.requests_log = RequestLog(whole_number("log_limit", log_limit, 1))
        #: Codes, refresh tokens, revocations, device and login-page flows in progress.
        self.flows = FlowState()
        #: DPoP (RFC 9449): the proofs seen (against replay) and the nonce secret.
        self.dpop = DPoPState()
        self.minter = Minter(
            self.keys, self.clock, self.users, self.clients,
            issuer=lambda: self.issuer, audience=lambda: self.audience, url_for=self.url_for,
            profile=self.profile, profile_options=self.layout.options,
        )
        #: Tracebacks of request handlers that failed, for :meth:`check` in the test's thread:
        #: the :data:`HANDLER_ERROR_LIMIT` most recent ones.
        self.handler_errors: deque[str] = deque(maxlen=HANDLER_ERROR_LIMIT)
        self._errors_dropped = 0
        self._errors_lock = threading.Lock()
        self._baseline: _Baseline | None = None
        #: The settings a sibling issuer (a tenant) is made with.
        self.settings: dict[str, Any] = {
            "alg": alg, "audience": audience, "seed": seed, "jwks_max_age": jwks_max_age,
            "login": login, "log_limit": log_limit, "profile": self.profile,
            "profile_options": dict(self.layout.options), "certificates": certificates,
            "access_token_typ": access_token_typ,
        }

    # -- URLs ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The root URL the issuer is reached at; the profile's paths are below it."""
        url = self._base_url()
        if url is None:
            raise NotStartedError("the issuer URL")
        return url

    @property
    def issuer(self) -> str:
        """The issuer URL; the ``iss`` of every token. No trailing slash, except in profiles
        of providers whose issuer has one (Auth0)."""
        layout = self.layout
        return self.base_url + layout.issuer + ("/" if layout.issuer_slash else "")

    def url_for(self, endpoint: str) -> str:
        """The absolute URL of an endpoint by name (``"jwks"``, ``"token"``, ...)."""
        return self.base_url + self.layout.path(endpoint)

    @property
    def discovery_url(self) -> str:
        return self.url_for("discovery")

    @property
    def jwks_uri(self) -> str:
        return self.url_for("jwks")

    @property
    def token_endpoint(self) -> str:
        return self.url_for("token")

    @property
    def authorization_endpoint(self) -> str:
        return self.url_for("authorize")

    @property
    def userinfo_endpoint(self) -> str:
        return self.url_for("userinfo")

    @property
    def attacker(self) -> Attacker:
        """The keys the jku / x5u / jwk-injection faults sign with, which no consumer should
        trust; served under ``/_mockidp/attacker/`` so the request log shows who fetched them."""
        return self.minter.attacker

    # -- minting ------------------------------------------------------------------------------

    def token(self, claims: Mapping[str, Any] | None = None,
              **options: Unpack[TokenOptions]) -> str:
        """A signed JWT access token (compact serialization).

        ``idp.token(claims=None, *, sub=None, aud=None, scope=None, alg=None, kid=None,
        expires_in=3600, headers=None, client_id=None, typ="JWT", fault=None)``
        (:class:`~mockidp.core.tokens.TokenOptions`). Signed by the active key of ``alg``
        (default: the provider's default algorithm; a key for another algorithm is made on
        first use) or by the key ``kid`` in any state, revoked included. ``claims`` and
        ``headers`` override or add members; a ``None`` value removes one. ``expires_in`` may
        be negative. ``typ="at+jwt"`` gives the RFC 9068 profile, ``typ=None`` a header
        without typ. ``fault`` names an entry of :data:`mockidp.FAULTS`: the token is then
        wrong in exactly that way and valid in every other. Token hooks (:meth:`on_token`) see
        it first, with ``grant_type`` ``None``.
        """
        return self.minter.access_token(claims, **options)

    def id_token(self, claims: Mapping[str, Any] | None = None,
                 **options: Unpack[IdTokenOptions]) -> str:
        """An OpenID Connect ID token for ``sub`` (default: the default user) with the user's
        profile claims: ``idp.id_token(claims=None, *, sub=None, aud=None, nonce=None,
        alg=None, kid=None, expires_in=3600, headers=None, access_token=None, code=None,
        auth_time=None, fault=None)`` (:class:`~mockidp.core.tokens.IdTokenOptions`).
        ``aud`` defaults to the default client's id; ``access_token`` and ``code`` add
        ``at_hash`` and ``c_hash``."""
        return self.minter.id_token(claims, **options)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` if this provider would accept it now (signed by a published
        key, right issuer, not expired on the provider's clock); raises
        :class:`~mockidp.InvalidTokenError` otherwise."""
        return self.minter.verify(token)

    def on_token(self, hook: Callable[[TokenContext], object]
                 ) -> Callable[[TokenContext], object]:
        """Shape every token before it is signed — those the endpoints issue and those a test
        mints with :meth:`token` / :meth:`id_token`: ``hook(context)`` sees each one
        (``context.kind``, ``.grant_type`` — ``None`` for a token minted directly —,
        ``.client``, ``.user``, ``.scope``) and edits ``context.header`` / ``context.claims``
        in place, or sets ``context.fault``. Hooks run in the order added, until the provider
        is reset. Usable as a decorator."""
        if not callable(hook):
            raise ConfigurationError("on_token() takes a function of the token context")
        self.minter.hooks.append(hook)
        return hook

    def dpop_key(self, alg: str = "ES256") -> DPoPKey:
        """A DPoP holder key (RFC 9449) whose proofs take ``iat`` from this provider's clock:
        ``idp.token(dpop=key)`` binds a token to it (``cnf.jkt``), ``key.proof(method, url,
        access_token=None, nonce=None, fault=None)`` makes a proof, valid or wrong in exactly
        the way a :data:`mockidp.DPOP_FAULTS` entry names."""
        return DPoPKey(alg, clock=self.clock.time)

    def approve_device(self, user_code: str | None = None, *, sub: str | None = None,
                       deny: bool = False) -> str:
        """Decide a pending device authorization (RFC 8628) as the user would on the
        verification page: for ``sub`` (default: the default user), or deny it. Without
        ``user_code``, the latest pending one. Returns the user code decided."""
        for name, value in (("user_code", user_code), ("sub", sub)):
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(f"{name} must be a string, not {value!r}")
        if not isinstance(deny, bool):
            raise ConfigurationError(f"deny must be true or false, not {deny!r}")
        devices = self.flows.devices
        record = devices.by_user_code(user_code)
        if record is None or record.status != "pending":
            which = f" with user code {user_code!r}" if user_code else ""
            raise ConfigurationError(
                f"no pending device authorization{which}; the device must first call the "
                "device authorization endpoint"
            )
        subject = None if deny else (sub if sub is not None else self.users.default.sub)
        devices.decide(record, sub=subject, now=self.clock.time())
        return record.user_code

    # -- faults and recording -----------------------------------------------------------------

    @overload
    def endpoint(self, name: Literal["jwks"]) -> JwksControl: ...
    @overload
    def endpoint(self, name: Literal["discovery", "oauth-metadata"]) -> DiscoveryControl: ...
    @overload
    def endpoint(self, name: Literal["token", "userinfo", "introspect"]) -> DPoPControl: ...
    @overload
    def endpoint(self, name: str) -> EndpointControl: ...

    def endpoint(self, name: str) -> EndpointControl:
        """The fault controls of one endpoint: ``fail``, ``delay``, ``respond``, ``drop``,
        ``redirect``, ``headers``, ``transform``, ``reset`` (and JWKS / discovery specials;
        ``require_dpop_nonce`` where DPoP proofs are taken)."""
        return self.endpoints[name]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request served since the last reset, in order (a copy)."""
        return self.requests_log.entries()

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """The recorded requests one endpoint served."""
        self.endpoints[endpoint]  # an unknown name is an error, not an empty list
        return self.requests_log.to(endpoint)

    def jwks(self) -> dict[str, Any]:
        """Exactly what the JWKS endpoint serves now."""
        return self.keys.jwks()

    def handler_failed(self, detail: str) -> None:
        """Keep a request handler's traceback for :meth:`check` (called by the web face)."""
        if len(detail) > HANDLER_ERROR_CHARS:
            detail = "[...]\n" + detail[-HANDLER_ERROR_CHARS:]
        with self._errors_lock:
            errors = self.handler_errors
            if len(errors) == errors.maxlen:
                self._errors_dropped += 1
            errors.append(detail)

    def check(self) -> None:
        """Raise :class:`~mockidp.ServerError` if a request handler failed since the last
        check/reset.

        The server answers such requests with 500 ``server_error``; this brings the traceback to
        the test thread, where it can fail the test that caused it.
        """
        with self._errors_lock:
            errors, dropped = list(self.handler_errors), self._errors_dropped
            self.handler_errors.clear()
            self._errors_dropped = 0
        if errors:
            detail = "\n".join(errors)
            earlier = f" ({dropped} earlier failures not kept)" if dropped else ""
            raise ServerError(f"a request handler of the mock provider failed{earlier}:\n"
                              f"{detail}")

    # -- the state to go back to --------------------------------------------------------------

    def mark_baseline(self) -> None:
        """Remember the state now as the one :meth:`reset` returns to (after start-up)."""
        self._baseline = _Baseline(self.keys.snapshot(), self.users.snapshot(),
                                   self.clients.snapshot(), self.audience, self.login,
                                   self.refresh_token_rotation, self.jwks_max_age,
                                   self.resources.snapshot(),
                                   self.require_pushed_authorization_requests,
                                   self.registrations.initial_access_token,
                                   self.require_dpop_nonce)

    def reset(self) -> None:
        """Back to the baseline: keys, users, clients, clock, audience, login mode, endpoint
        faults (delayed answers are let go), flows in progress, token hooks, the record of
        tokens minted, handler errors and the request log.

        A restore of a snapshot, not a rebuild: it takes microseconds and keeps the default kids.
        """
        baseline = self._baseline
        if baseline is None:
            raise NotStartedError("the state to reset to")
        self.keys.restore(baseline.keys)
        self.users.restore(baseline.users)
        self.clients.restore(baseline.clients)
        self.audience = baseline.audience
        self.login = baseline.login
        self.clock.reset()
        self.minter.hooks.clear()
        self.minter.minted.clear()
        self.flows.clear()
        self.dpop.clear()
        self.refresh_token_rotation = baseline.refresh_token_rotation
        self.jwks_max_age = baseline.jwks_max_age
        self.resources.restore(baseline.resources)
        self.require_pushed_authorization_requests = \
            baseline.require_pushed_authorization_requests
        self.registrations.initial_access_token = baseline.initial_access_token
        self.require_dpop_nonce = baseline.require_dpop_nonce
        self.registrations.clear()
        self.pushed.clear()
        with self._errors_lock:
            self.handler_errors.clear()
            self._errors_dropped = 0
        self.endpoints.reset()
        self.requests_log.clear()

    def __repr__(self) -> str:
        try:
            where = self.issuer
        except NotStartedError:
            where = "not started"
        return f"<{type(self).__name__} {where} alg={self.keys.default_alg}>"


#: Tenant names: one URL path segment.
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,63}")
