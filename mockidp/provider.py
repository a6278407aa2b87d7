"""``MockIdP``: the provider a test talks to, and the composition root. It is an
:class:`~mockidp.core.issuer.Issuer` (keys, users, clients, clock, minting, endpoint controls,
request log) that also owns a server thread, TLS, the web face and its tenants, and resets all of
them to the state they had after start-up."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import ssl
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .core.checks import http_url
from .core.issuer import TENANT_NAME, Issuer
from .core.recording import LOG_LIMIT
from .drivers.scenario import Scenario, ScenarioRun, start
from .errors import ConfigurationError, InterceptError, NotStartedError
from .web.app import App, forwarded_base_url
from .web.control import ControlAPI, ControlSettings, is_loopback
from .web.server import ServerThread, format_host
from .web.tls import TestAuthority

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from types import TracebackType

    from .core.profiles import Profile
    from .core.tokens import Audience

__all__ = ["MockIdP", "Tenant"]


class _Served(Issuer):
    """What a served issuer adds to the core: its web face, and scenarios on its clock."""

    _app: App

    @property
    def app(self) -> App:
        """The WSGI application that serves this issuer, for in-process clients such as
        ``werkzeug.test.Client`` (the issuer still comes from the running server)."""
        return self._app

    def run_scenario(self, scenario: Scenario | str | os.PathLike[str]) -> ScenarioRun:
        """Start a scenario (a :class:`~mockidp.Scenario`, a TOML file or TOML text) on the
        provider's clock: steps at "0s" apply now, later ones as ``idp.clock.advance``
        reaches them (``run.finish()`` applies the rest). A reset stops it."""
        if not isinstance(scenario, Scenario):
            scenario = Scenario.load(os.fspath(scenario))
        return start(self, scenario)


class Tenant(_Served):
    """Another issuer on its parent's server, at ``{parent}/{name}`` (``idp.tenant(name)``):
    keys, users, clients, endpoint controls and request log of its own; the parent's server,
    TLS and control token."""

    def __init__(self, parent: MockIdP, name: str) -> None:
        super().__init__(lambda: f"{parent.base_url}/{name}", **parent.settings)
        self.parent, self.name = parent, name
        self.fetcher.enabled = parent.fetcher.enabled
        self._app = App(self, ControlAPI(self, parent.control_settings, self.reset))
        self.mark_baseline()

    @property
    def running(self) -> bool:
        return self.parent.running

    @property
    def host(self) -> str:
        return self.parent.host

    @property
    def port(self) -> int:
        return self.parent.port

    @property
    def ca_bundle(self) -> str:
        return self.parent.ca_bundle

    def ssl_context(self) -> ssl.SSLContext:
        return self.parent.ssl_context()

    def start(self) -> Tenant:
        raise self._served_by_parent("start()")

    def stop(self) -> None:
        raise self._served_by_parent("stop()")

    def tenant(self, name: str) -> Tenant:
        raise ConfigurationError("tenants do not nest: call tenant() on the main provider")

    @staticmethod
    def _served_by_parent(what: str) -> ConfigurationError:
        return ConfigurationError(f"{what} is for the main provider; a tenant is served by "
                                  "its parent's server")


def _control_hosts(host: object, issuer_url: str | None) -> tuple[frozenset[str], bool]:
    """The ``Host`` names the control API answers besides loopback ones: the bound address
    and the issuer URL's host; and whether the bind is to every address (0.0.0.0, ::)."""
    hosts = set()
    every = False
    if isinstance(host, str) and host:
        with contextlib.suppress(ValueError):  # a name: bound to what it resolves to
            every = ipaddress.ip_address(host).is_unspecified
        if not every:
            hosts.add(host.lower())
    if issuer_url is not None:
        hosts.add((urlsplit(issuer_url).hostname or "").lower())
    return frozenset(hosts - {""}), every


class MockIdP(_Served):
    """A mock OAuth 2.0 / OpenID Connect provider served from a background thread.

    Use it as a context manager (``with MockIdP() as idp:``), through the pytest fixtures
    ``idp`` / ``idp_server``, or with ``start()`` / ``stop()``. It binds to loopback; it is a
    test double and must never stand in for a real identity provider.

    Anything but a loopback ``host`` (``localhost``, 127.0.0.0/8, ::1) needs
    ``allow_remote=True``, as ``mockidp serve`` needs ``--allow-remote``: whoever reaches the
    control API can mint tokens this provider signs. The control API then needs a control
    token; one is generated when none is given (``idp.control_token``).

    ``profile_options`` are the profile's options (``{"realm": "demo"}`` for keycloak);
    they may also be given as keywords (``MockIdP(profile="keycloak", realm="demo")``).

    ``public_url`` is the root URL of the real provider this one stands in for
    (``"https://login.microsoftonline.com"``; ``True``: the profile's real host, with its
    options): the issuer and every advertised URL use it, so tokens carry the real ``iss``, and
    inside ``with idp.intercept():`` connections to that host reach this provider (over TLS
    for an ``https`` URL, with a certificate for that host from the provider's test CA).

    ``access_token_typ`` is the ``typ`` of the access tokens the token endpoint issues:
    ``"JWT"``, or ``"at+jwt"`` for RFC 9068's profile (with ``client_id``, §2.2); default: what
    the profile's provider does. A client may register its own (``clients.add(...,
    access_token_typ=...)``).
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
        allow_remote: bool = False,
        profile: str | Profile = "generic",
        profile_options: Mapping[str, str] | None = None,
        certificates: bool | None = None,
        access_token_typ: str | None = None,
        public_url: str | bool | None = None,
        **options: str,
    ) -> None:
        if profile_options is not None and not isinstance(profile_options, Mapping):
            raise ConfigurationError(f"profile_options takes a mapping of option names to "
                                     f"values, not {profile_options!r}")
        if options:
            _check_keywords(profile, options)
        super().__init__(
            self._url, alg=alg, audience=audience, seed=seed, jwks_max_age=jwks_max_age,
            login=login, log_limit=log_limit, profile=profile, certificates=certificates,
            access_token_typ=access_token_typ,
            profile_options={**(profile_options or {}), **options},
        )
        if issuer_url is not None:
            issuer_url = http_url("issuer_url", issuer_url)
        #: The real provider's root URL (``public_url``), or ``None``.
        self.public_url = self._public_url(public_url, issuer_url)
        if self.public_url is not None:
            issuer_url = self.public_url
            tls = tls or self.public_url.startswith("https:")
        #: Listening beyond loopback (``allow_remote=True``): a control token is required.
        # (a host that is no string, or empty, is the server's to refuse, below)
        self.remote = isinstance(host, str) and bool(host) and not is_loopback(host)
        if self.remote:
            if allow_remote is not True:
                raise ConfigurationError(
                    f"host {host!r} is not a loopback address: anyone who reaches it could "
                    "mint tokens this provider signs; pass allow_remote=True to listen on it "
                    "anyway (the control API then needs a control token, generated when none "
                    "is given: idp.control_token)")
            if control_token is None:
                control_token = secrets.token_urlsafe(24)
            self.fetcher.enabled = False  # see core.fetch.Fetcher
        #: The public URL, when consumers reach the provider through a proxy or a container
        #: name: the issuer and every advertised URL use it instead of the bound address.
        self.issuer_url = issuer_url.rstrip("/") if issuer_url else None
        #: Who may use the control API: its token, browser origins besides the provider's, and
        #: the Host names it answers for besides loopback ones (see ControlSettings).
        self.control_settings = ControlSettings(control_token, control_origins,
                                                *_control_hosts(host, self.issuer_url))
        #: Behind a proxy: during each request the issuer (and so every advertised URL and the
        #: iss of tokens issued over HTTP) follows X-Forwarded-Proto / -Host / -Prefix.
        self.trust_forwarded = bool(trust_forwarded)
        self._tenants: Mapping[str, Tenant] = MappingProxyType({})
        self._baseline_tenants: Mapping[str, Tenant] = self._tenants
        self._tenants_made: dict[str, Tenant] = {}  # kept across resets: keys made once
        self._tenant_apps: Mapping[str, App] = {}
        self._app = App(self, ControlAPI(self, self.control_settings, self.reset),
                        mounts=lambda: self._tenant_apps, trust_forwarded=self.trust_forwarded)
        self._server = ServerThread(self._app, host, port)  # validates host and port
        self._bound: str | None = None
        self._lock = threading.Lock()
        self.tls = bool(tls)
        self._authority: TestAuthority | None = None
        self._ca_bundle: str | None = None

    def _url(self) -> str | None:
        return forwarded_base_url.get() or self._bound

    def _public_url(self, public_url: object, issuer_url: str | None) -> str | None:
        if public_url is None or public_url is False:
            return None
        if public_url is True:
            public_url = self.layout.public_url
            if public_url is None:
                raise ConfigurationError(
                    f"the {self.profile.name} profile has no real host to default to; pass "
                    "public_url='https://...' (the root URL your code is configured with)")
        if issuer_url is not None:
            raise ConfigurationError("public_url and issuer_url both set the issuer's URL; "
                                     "give one (public_url, to intercept its host)")
        return http_url("public_url", public_url, origin=True).rstrip("/")

    @property
    def public_hosts(self) -> tuple[str, ...]:
        """The host names ``intercept()`` answers for: the public URL's and the profile's
        other hosts (empty without a public URL)."""
        if self.public_url is None:
            return ()
        return (urlsplit(self.public_url).hostname or "", *self.layout.public_hosts)

    def intercept(self) -> contextlib.AbstractContextManager[None]:
        """While the block runs, connections to the public URL's host (and the profile's other
        hosts) reach this provider, for every client that resolves names and connects through
        the standard library (urllib, requests, httpx sync and async, aiohttp); TLS to them is
        verified against this provider's test CA, trusted for those names only inside the
        block. Other hosts are untouched; on exit everything is put back and connections made
        through the block are closed. Blocks nest; a host another provider intercepts at the
        moment raises :class:`~mockidp.InterceptError`."""
        from .web.intercept import intercepted

        if self.public_url is None:
            raise InterceptError(
                "intercept() needs the real provider's URL: MockIdP(public_url="
                "'https://login.microsoftonline.com') or public_url=True for the profile's "
                "real host (@pytest.mark.idp(profile=..., intercept=True) sets it)")
        if self._bound is None:
            raise NotStartedError("intercept()")
        parts = urlsplit(self.public_url)
        family, address = self._server.address
        context = None
        if self._authority is not None:
            context = ssl.create_default_context(cadata=self._authority.ca_pem.decode())
            context.set_alpn_protocols(["http/1.1"])
        return intercepted(self, list(self.public_hosts),
                           parts.port or (443 if parts.scheme == "https" else 80),
                           address, family, context)

    @property
    def control_token(self) -> str | None:
        """When set, the control API under /_mockidp/ (tenants' included) needs it as a
        bearer token."""
        return self.control_settings.token

    @control_token.setter
    def control_token(self, token: str | None) -> None:
        if token is None and self.remote:
            raise ConfigurationError("a provider listening beyond loopback needs a control "
                                     "token; set another one instead of None")
        self.control_settings.token = ControlSettings(token, self.control_origins).token

    @property
    def control_origins(self) -> frozenset[str]:
        """Browser origins (besides the provider's own) allowed to call the control API."""
        return frozenset(self.control_settings.origins)

    @control_origins.setter
    def control_origins(self, origins: Collection[str]) -> None:
        self.control_settings.origins = ControlSettings(None, origins).origins

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> MockIdP:
        """Bind a port and serve. The state at this moment is what :meth:`reset` returns to."""
        with self._lock:
            if self._bound is None:
                scheme = "http"
                if self.tls:
                    if self._authority is None:  # made once: restarts reuse it
                        self._authority = TestAuthority((self._server.host, "127.0.0.1",
                                                         "::1", "localhost",
                                                         *self.public_hosts))
                    self._server.ssl_context = self._authority.server_context()
                    self._ca_bundle = self._authority.write_bundle()
                    scheme = "https"
                self._server.start()
                self._bound = self.issuer_url or (
                    f"{scheme}://{format_host(self._server.host)}:{self._server.port}")
                self.mark_baseline()
                for tenant in self._tenants.values():  # set up before start (a config file)
                    tenant.mark_baseline()
                self._baseline_tenants = self._tenants
        return self

    def stop(self) -> None:
        """Stop serving and release the port, threads and sockets. Idempotent."""
        with self._lock:
            self.endpoints.reset()  # let delayed answers go, so their threads can end
            for tenant in self._tenants.values():
                tenant.endpoints.reset()
            self._server.stop()
            self._bound = None
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
        return self._bound is not None

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    def reset(self) -> None:
        """Back to the state right after :meth:`start`: keys, users, clients, clock, audience,
        endpoint faults (delayed answers are let go), flows in progress, token hooks, tenants
        and the request log.

        A restore of a snapshot, not a rebuild: it takes microseconds and keeps the default kids.
        """
        super().reset()
        self._set_tenants(self._baseline_tenants)
        for tenant in self._tenants.values():
            tenant.reset()

    def check(self) -> None:
        """Raise :class:`~mockidp.ServerError` if a request handler failed since the last
        check/reset (here or in a tenant)."""
        for tenant in self._tenants.values():
            tenant.check()
        super().check()

    # -- TLS ----------------------------------------------------------------------------------

    @property
    def ca_bundle(self) -> str:
        """Path of the CA certificate that signed the server's (``MockIdP(tls=True)``): pass it
        as ``verify=`` to requests/httpx, or set ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``."""
        if not self.tls:
            raise ConfigurationError("this provider serves plain HTTP; use MockIdP(tls=True)")
        if self._ca_bundle is None:
            raise NotStartedError("the CA bundle")
        return self._ca_bundle

    def ssl_context(self) -> ssl.SSLContext:
        """A client ``SSLContext`` that trusts the provider's CA (e.g. for
        ``jwt.PyJWKClient(uri, ssl_context=...)``)."""
        return ssl.create_default_context(cafile=self.ca_bundle)

    # -- tenants ------------------------------------------------------------------------------

    def tenant(self, name: str) -> Tenant:
        """Another issuer on the same server at ``{issuer}/{name}``, with its own keys, users,
        clients, endpoint controls and request log (as Keycloak realms, Entra ID or Auth0
        tenants are). Made on first use and kept until the provider is reset."""
        reserved = self.layout.reserved
        if not isinstance(name, str) or not TENANT_NAME.fullmatch(name) or name in reserved:
            raise ConfigurationError(
                f"tenant name {name!r} must be one URL path segment of letters, digits and "
                f"._~- (and none of: {', '.join(sorted(reserved))})"
            )
        with self._lock:
            tenant = self._tenants.get(name)
            if tenant is None:
                tenant = self._tenants_made.get(name)
                if tenant is None:
                    tenant = self._tenants_made[name] = Tenant(self, name)
                else:
                    tenant.reset()
                self._set_tenants({**self._tenants, name: tenant})
        return tenant

    @property
    def tenants(self) -> Mapping[str, Tenant]:
        """The tenants by name (read only)."""
        return self._tenants

    def _set_tenants(self, tenants: Mapping[str, Tenant]) -> None:
        self._tenants = MappingProxyType(dict(tenants))
        self._tenant_apps = {name: tenant.app for name, tenant in tenants.items()}

    def __repr__(self) -> str:
        return f"<MockIdP {self._bound or 'not started'} alg={self.keys.default_alg}>"


def _check_keywords(profile: str | Profile, options: Mapping[str, str]) -> None:
    """The extra keywords of ``MockIdP(...)`` are the profile's options; one that is neither
    an option nor an argument (``algo=``, ``audiance=``) is a typo, said as one, with the
    names it may have meant."""
    import difflib
    import inspect

    from .core import profiles

    known = profile if not isinstance(profile, str) else profiles.get(profile)
    stray = sorted(set(options) - set(known.options))
    if not stray:
        return
    names = [*inspect.signature(MockIdP).parameters, *known.options]
    guesses = {m for name in stray for m in difflib.get_close_matches(name, names, n=2)}
    raise ConfigurationError(
        f"MockIdP() got unknown keyword(s) {', '.join(stray)}: neither an argument of MockIdP "
        f"nor an option of profile {known.name!r} (its options: "
        f"{', '.join(known.options) or 'none'})"
        + (f"; did you mean {' or '.join(sorted(guesses))}?" if guesses else ""))
