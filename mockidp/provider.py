"""``MockIdP``: the provider a test talks to. Composes keys, clock, directory, minting, the WSGI
app and the server thread, owns the URLs, and resets to the state it had after start-up."""

from __future__ import annotations

import os
import re
import ssl
import threading
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from .core import jwa, profiles
from .core.clock import Clock
from .core.directory import Clients, Users
from .core.endpoints import ENDPOINTS, EndpointControl, Endpoints
from .core.keys import KeyRing
from .core.recording import LOG_LIMIT, RecordedRequest, RequestLog
from .core.tokens import Audience, Minter
from .errors import ConfigurationError, NotStartedError, ServerError
from .web.app import App, forwarded_issuer
from .web.server import ServerThread, format_host
from .web.tls import TestAuthority

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import timedelta
    from types import TracebackType

    from .core.faults import Attacker
    from .core.flows import TokenContext
    from .core.profiles import Profile
    from .drivers.scenario import Scenario, ScenarioRun

__all__ = ["DEFAULT_AUDIENCE", "MockIdP"]

#: The ``aud`` of access tokens minted without one.
DEFAULT_AUDIENCE = "mockidp-api"


class _Snapshot(NamedTuple):
    keys: object
    users: object
    clients: object
    audience: Audience
    tenants: dict[str, MockIdP]


#: Tenant names: one URL path segment.
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,63}")


class MockIdP:
    """A mock OAuth 2.0 / OpenID Connect provider served from a background thread.

    Use it as a context manager (``with MockIdP() as idp:``), through the pytest fixtures
    ``idp`` / ``idp_server``, or with ``start()`` / ``stop()``. It binds to loopback; it is a
    test double and must never stand in for a real identity provider.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        alg: str = "RS256",
        audience: Audience | None = None,
        seed: int = 0,
        jwks_max_age: int = 300,
        tls: bool = False,
        login: str = "auto",
        issuer_url: str | None = None,
        control_token: str | None = None,
        trust_forwarded: bool = False,
        log_limit: int = LOG_LIMIT,
        control_origins: Sequence[str] = (),
        profile: str | Profile = "generic",
        certificates: bool | None = None,
        **profile_options: str,
    ) -> None:
        alg = jwa.get(alg).name
        #: The real provider this one is shaped like (:mod:`mockidp.core.profiles`).
        self.profile = profiles.get(profile)
        #: Where each endpoint is, below the root URL.
        self.layout = self.profile.layout(profile_options)
        if self.profile.algorithms and alg not in self.profile.algorithms:
            raise ConfigurationError(
                f"the {self.profile.name} profile signs with {', '.join(self.profile.algorithms)}"
                f", not {alg}; drop alg= (keys.add() still makes any key on purpose)"
            )
        if certificates is None:
            certificates = self.profile.certificates
        if audience is None:
            audience = self.profile.audience or DEFAULT_AUDIENCE
        if login not in ("auto", "page"):
            raise ConfigurationError(f"login must be 'auto' (sign in without a page, for "
                                     f"tests) or 'page' (a login page), not {login!r}")
        #: "auto": the authorization endpoint signs users in without a page; "page": it asks.
        self.login = login
        if issuer_url is not None and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?",
                                                       issuer_url):
            raise ConfigurationError(f"issuer_url must be an absolute http(s) URL without query "
                                     f"or fragment, not {issuer_url!r}")
        #: The public URL, when consumers reach the provider through a proxy or a container
        #: name: the issuer and every advertised URL use it instead of the bound address.
        self.issuer_url = issuer_url.rstrip("/") if issuer_url else None
        if control_token is not None and (not isinstance(control_token, str)
                                          or len(control_token) < 16):
            raise ConfigurationError("control_token must be a string of at least 16 characters")
        #: When set, the control API under /_mockidp/ needs it as a bearer token.
        self.control_token = control_token
        if isinstance(control_origins, str) or not all(
                isinstance(o, str) and re.fullmatch(r"https?://[^/?#\s]+", o)
                for o in control_origins):
            raise ConfigurationError("control_origins takes a list of origins like "
                                     f"'http://localhost:3000', not {control_origins!r}")
        #: Browser origins (besides the provider's own) allowed to call the control API.
        self.control_origins = frozenset(control_origins)
        #: Behind a proxy: during each request the issuer (and so every advertised URL and the
        #: iss of tokens issued over HTTP) follows X-Forwarded-Proto / -Host / -Prefix.
        self.trust_forwarded = bool(trust_forwarded)
        if isinstance(jwks_max_age, bool) or not isinstance(jwks_max_age, int) \
                or jwks_max_age < 0:
            raise ConfigurationError(
                f"jwks_max_age must be a whole number of seconds >= 0, not {jwks_max_age!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigurationError(f"seed must be an int, not {seed!r}")
        #: When true, each refresh token works once and its use returns a new one.
        self.refresh_token_rotation = False
        self.endpoints = Endpoints(list(ENDPOINTS))
        if isinstance(log_limit, bool) or not isinstance(log_limit, int) or log_limit < 1:
            raise ConfigurationError(f"log_limit must be a positive int, not {log_limit!r}")
        self.requests_log = RequestLog(log_limit)
        self._app = App(self)
        self._server = ServerThread(self._app, host, port)  # validates host and port
        self.jwks_max_age = jwks_max_age
        self.audience = audience
        self.clock = Clock()
        self.keys = KeyRing(alg, certificates=bool(certificates))
        self.users = Users(seed)
        self.clients = Clients()
        self.minter = Minter(
            self.keys, self.clock, self.users, self.clients,
            issuer=lambda: self.issuer, audience=lambda: self.audience, url_for=self.url_for,
            profile=self.profile, profile_options=self.layout.options,
        )
        self._issuer: str | None = None
        self._baseline: _Snapshot | None = None
        self._lock = threading.Lock()
        self._parent: MockIdP | None = None
        self._tenants: dict[str, MockIdP] = {}
        self._tenants_made: dict[str, MockIdP] = {}  # kept across resets: keys made once
        self._options = {"alg": alg, "audience": audience, "seed": seed,
                         "jwks_max_age": jwks_max_age, "login": login, "profile": self.profile,
                         "certificates": certificates, **profile_options}
        self.tls = bool(tls)
        self._authority: TestAuthority | None = None
        self._ca_bundle: str | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> MockIdP:
        """Bind a port and serve. The state at this moment is what :meth:`reset` returns to."""
        self._not_a_tenant("start()")
        with self._lock:
            if self._issuer is None:
                scheme = "http"
                if self.tls:
                    if self._authority is None:  # made once: restarts reuse it
                        self._authority = TestAuthority((self._server.host, "127.0.0.1",
                                                         "::1", "localhost"))
                    self._server.ssl_context = self._authority.server_context()
                    self._ca_bundle = self._authority.write_bundle()
                    scheme = "https"
                self._server.start()
                self._issuer = self.issuer_url or (
                    f"{scheme}://{format_host(self._server.host)}:{self._server.port}")
                self._baseline = self._snapshot()
        return self

    def stop(self) -> None:
        """Stop serving and release the port, threads and sockets. Idempotent."""
        self._not_a_tenant("stop()")
        with self._lock:
            self.endpoints.reset()  # let delayed answers go, so their threads can end
            self._server.stop()
            self._issuer = None
            if self._ca_bundle is not None:
                os.unlink(self._ca_bundle)
                self._ca_bundle = None

    def __enter__(self) -> MockIdP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._parent.running if self._parent is not None else self._issuer is not None

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(
            self.keys.snapshot(), self.users.snapshot(), self.clients.snapshot(), self.audience,
            dict(self._tenants),
        )

    # -- TLS ----------------------------------------------------------------------------------

    @property
    def ca_bundle(self) -> str:
        """Path of the CA certificate that signed the server's (``MockIdP(tls=True)``): pass it
        as ``verify=`` to requests/httpx, or set ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``."""
        root = self._parent or self
        if not root.tls:
            raise ConfigurationError("this provider serves plain HTTP; use MockIdP(tls=True)")
        if root._ca_bundle is None:
            raise NotStartedError("the CA bundle")
        return root._ca_bundle

    def ssl_context(self) -> ssl.SSLContext:
        """A client ``SSLContext`` that trusts the provider's CA (e.g. for
        ``jwt.PyJWKClient(uri, ssl_context=...)``)."""
        return ssl.create_default_context(cafile=self.ca_bundle)

    # -- tenants ------------------------------------------------------------------------------

    def tenant(self, name: str) -> MockIdP:
        """Another issuer on the same server at ``{issuer}/{name}``, with its own keys, users,
        clients, endpoint controls and request log (as Keycloak realms, Entra ID or Auth0
        tenants are). Made on first use and kept until the provider is reset."""
        if self._parent is not None:
            raise ConfigurationError("tenants do not nest: call tenant() on the main provider")
        reserved = self.layout.reserved
        if not isinstance(name, str) or not _TENANT_NAME.fullmatch(name) or name in reserved:
            raise ConfigurationError(
                f"tenant name {name!r} must be one URL path segment of letters, digits and "
                f"._~- (and none of: {', '.join(sorted(reserved))})"
            )
        with self._lock:
            tenant = self._tenants.get(name)
            if tenant is None:
                tenant = self._tenants_made.get(name)
                if tenant is None:
                    tenant = MockIdP(**self._options)  # type: ignore[arg-type]
                    tenant._parent, tenant._issuer = self, f"/{name}"
                    tenant._baseline = tenant._snapshot()
                    self._tenants_made[name] = tenant
                else:
                    tenant.reset()
                self._tenants = {**self._tenants, name: tenant}
        return tenant

    @property
    def tenants(self) -> Mapping[str, MockIdP]:
        """The tenants by name (read only)."""
        return MappingProxyType(self._tenants)

    def _not_a_tenant(self, what: str) -> None:
        if self._parent is not None:
            raise ConfigurationError(f"{what} is for the main provider; a tenant is served by "
                                     "its parent's server")

    def reset(self) -> None:
        """Back to the state right after :meth:`start`: keys, users, clients, clock, audience,
        endpoint faults (delayed answers are let go) and the request log.

        A restore of a snapshot, not a rebuild: it takes microseconds and keeps the default kids.
        """
        baseline = self._baseline
        if baseline is None:
            raise NotStartedError("the state to reset to")
        self._tenants = dict(baseline.tenants)
        for tenant in self._tenants.values():
            tenant.reset()
        self.keys.restore(baseline.keys)
        self.users.restore(baseline.users)
        self.clients.restore(baseline.clients)
        self.audience = baseline.audience
        self.clock.reset()
        self._app.errors.clear()
        self._app.clear()
        self.refresh_token_rotation = False
        self.login = self._options["login"]  # type: ignore[assignment]
        self.endpoints.reset()
        self.requests_log.clear()

    def check(self) -> None:
        """Raise :class:`ServerError` if a request handler failed since the last check/reset.

        The server answers such requests with 500 ``server_error``; this brings the traceback to
        the test thread, where it can fail the test that caused it.
        """
        for tenant in self._tenants.values():
            tenant.check()
        errors = self._app.errors
        if errors:
            detail = "\n".join(errors)
            errors.clear()
            raise ServerError(f"a request handler of the mock provider failed:\n{detail}")

    # -- URLs ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The server's root URL as consumers reach it (a tenant's: its path below it); the
        profile's paths are below it."""
        if self._issuer is None:
            raise NotStartedError("the issuer URL")
        if self._parent is not None:  # a tenant's _issuer is its path below the parent's
            return self._parent.base_url + self._issuer
        return forwarded_issuer.get() or self._issuer

    @property
    def issuer(self) -> str:
        """The issuer URL; the ``iss`` of every token. No trailing slash, except in profiles
        of providers whose issuer has one (Auth0)."""
        layout = self.layout
        return self.base_url + layout.issuer + ("/" if layout.issuer_slash else "")

    def url_for(self, endpoint: str) -> str:
        """The absolute URL of an endpoint by name (``"jwks"``, ``"token"``, ...)."""
        try:
            return self.base_url + self.layout.paths[endpoint]
        except KeyError:
            raise ConfigurationError(
                f"unknown endpoint {endpoint!r}; use one of: {', '.join(ENDPOINTS)}"
            ) from None

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

    @property
    def app(self) -> App:
        """The WSGI application the server runs, for in-process clients such as
        ``werkzeug.test.Client`` (the issuer still comes from the running server)."""
        return self._app

    @property
    def host(self) -> str:
        return self._parent.host if self._parent is not None else self._server.host

    @property
    def port(self) -> int:
        return self._parent.port if self._parent is not None else self._server.port

    # -- minting ------------------------------------------------------------------------------

    def token(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        sub: str | None = None,
        aud: Audience | None = None,
        scope: str | Sequence[str] | None = None,
        alg: str | None = None,
        kid: str | None = None,
        expires_in: float | timedelta = 3600,
        headers: Mapping[str, Any] | None = None,
        client_id: str | None = None,
        typ: str | None = "JWT",
        fault: str | None = None,
    ) -> str:
        """A signed JWT access token (compact serialization).

        Signed by the active key of ``alg`` (default: the provider's default algorithm; a key
        for another algorithm is made on first use) or by the key ``kid`` in any state, revoked
        included. ``claims`` and ``headers`` override or add members; a ``None`` value removes
        one. ``expires_in`` may be negative. ``typ="at+jwt"`` gives the RFC 9068 profile,
        ``typ=None`` a header without typ.
        ``fault`` names an entry of :data:`mockidp.FAULTS`: the token is then wrong in exactly
        that way and valid in every other.
        """
        return self.minter.access_token(
            claims, sub=sub, aud=aud, scope=scope, alg=alg, kid=kid, expires_in=expires_in,
            headers=headers, client_id=client_id, typ=typ, fault=fault,
        )

    def id_token(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        sub: str | None = None,
        aud: Audience | None = None,
        nonce: str | None = None,
        alg: str | None = None,
        kid: str | None = None,
        expires_in: float | timedelta = 3600,
        headers: Mapping[str, Any] | None = None,
        access_token: str | None = None,
        code: str | None = None,
        auth_time: float | None = None,
        fault: str | None = None,
    ) -> str:
        """An OpenID Connect ID token for ``sub`` (default: the default user) with the user's
        profile claims. ``aud`` defaults to the default client's id; ``access_token`` and
        ``code`` add ``at_hash`` and ``c_hash``."""
        return self.minter.id_token(
            claims, sub=sub, aud=aud, nonce=nonce, alg=alg, kid=kid, expires_in=expires_in,
            headers=headers, access_token=access_token, code=code, auth_time=auth_time,
            fault=fault,
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` if this provider would accept it now (signed by a published
        key, right issuer, not expired on the provider's clock); raises
        :class:`~mockidp.core.tokens.InvalidTokenError` otherwise."""
        return self.minter.verify(token)

    def on_token(self, hook: Callable[[TokenContext], object]) -> Callable[[TokenContext], object]:
        """Shape the tokens the endpoints issue: ``hook(context)`` sees each one before it is
        signed (``context.kind``, ``.grant_type``, ``.client``, ``.user``, ``.scope``) and edits
        ``context.header`` / ``context.claims`` in place, or sets ``context.fault``. Hooks run
        in the order added, until the provider is reset. Usable as a decorator."""
        if not callable(hook):
            raise ConfigurationError("on_token() takes a function of the token context")
        self._app.token_hooks.append(hook)
        return hook

    def approve_device(self, user_code: str | None = None, *, sub: str | None = None,
                       deny: bool = False) -> str:
        """Decide a pending device authorization (RFC 8628) as the user would on the
        verification page: for ``sub`` (default: the default user), or deny it. Without
        ``user_code``, the latest pending one. Returns the user code decided."""
        devices = self._app.devices
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

    def run_scenario(self, scenario: Scenario | str | os.PathLike[str]) -> ScenarioRun:
        """Start a scenario (a :class:`~mockidp.Scenario`, a TOML file or TOML text)
        on the provider's clock: steps at "0s" apply now, later ones as ``idp.clock.advance``
        reaches them (``run.finish()`` applies the rest). A reset stops it."""
        from .drivers.scenario import Scenario, ScenarioRun

        if not isinstance(scenario, Scenario):
            scenario = Scenario.load(os.fspath(scenario))
        run = ScenarioRun(self, scenario, self.clock.time())
        self.clock.listeners.append(run.catch_up)
        run.catch_up(self.clock.time())
        return run

    # -- faults and recording -----------------------------------------------------------------

    def endpoint(self, name: str) -> EndpointControl:
        """The fault controls of one endpoint: ``fail``, ``delay``, ``respond``, ``drop``,
        ``redirect``, ``headers``, ``transform``, ``reset`` (and JWKS / discovery specials)."""
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

    def __repr__(self) -> str:
        where = self._issuer or "not started"
        return f"<MockIdP {where} alg={self.keys.default_alg}>"
