"""Provider profiles: the shape of a real identity provider, as data.

Code that accepts tokens is written against one provider: its URL layout (Keycloak's
``/realms/<realm>/protocol/openid-connect/certs``, Okta's ``/oauth2/<server>/v1/keys``), its
claims (Entra ID's ``tid`` and ``ver``, Cognito's ``token_use`` and no ``aud`` on access tokens)
and its key set (RSA only, certificates in the JWKS). A :class:`Profile` holds exactly that and
nothing else: the provider, the app and the minter read it, so a profile never forks the code.

Paths are templates below the server's root URL: ``{issuer}`` is the profile's issuer path and
``{name}`` an option of the profile (``realm``, ``server``, ``tenant_id``...), filled in once
when the provider is made. The figures here follow each provider's public documentation and
discovery documents; they are a likeness for tests, never a claim to be that provider.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ConfigurationError, UnknownEndpointError, UnknownProfileError
from .endpoints import ENDPOINTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from .directory import User

__all__ = [
    "DROP",
    "PROFILES",
    "ClaimContext",
    "Layout",
    "Profile",
    "get",
    "parse_options",
]

class ClaimContext(NamedTuple):
    """What a profile's claim functions may read."""

    options: Mapping[str, str]
    issuer: str
    client_id: str
    scopes: list[str]
    user: User | None


#: A claim value: a constant, or a function of the :class:`ClaimContext`.
Claim = Any
#: As a claim value: leave this default claim out (explicit arguments still set it).
DROP: Any = type("Drop", (), {"__repr__": lambda self: "DROP"})()


def _uuid(*parts: str) -> str:
    """A stable UUID made from ``parts``: the same user gets the same ``oid`` every run."""
    return str(uuid.UUID(bytes=hashlib.sha256("\0".join(parts).encode()).digest()[:16],
                         version=4))


def _user(name: str, default: Any = None) -> Callable[[ClaimContext], Any]:
    return lambda c: c.user.claims.get(name, default) if c.user is not None else default


def _scope_text(c: ClaimContext) -> str:
    return " ".join(c.scopes)


@dataclass(frozen=True)
class Layout:
    """A profile with its options filled in: where each endpoint is, below the root URL."""

    issuer: str
    paths: Mapping[str, str]
    issuer_slash: bool = False
    #: The profile's options with the defaults filled in.
    options: Mapping[str, str] = field(default_factory=dict)
    #: Further paths (below the root URL) that serve an endpoint, path -> endpoint name: the
    #: RFC 8414 §3 location of the metadata when the issuer has a path.
    aliases: Mapping[str, str] = field(default_factory=dict)
    #: The real provider's root URL for these options (``MockIdP(public_url=True)``), or
    #: ``None`` for a provider without one public host (generic, Keycloak).
    public_url: str | None = None
    #: The real provider's other hosts that consumers call by name (Google's keys are on
    #: www.googleapis.com, its issuer is accounts.google.com): intercepted too.
    public_hosts: tuple[str, ...] = ()

    def path(self, endpoint: str) -> str:
        """The path of ``endpoint`` below the root URL."""
        try:
            return self.paths[endpoint]
        except (KeyError, TypeError):
            raise UnknownEndpointError(endpoint, self.paths) from None

    @property
    def reserved(self) -> frozenset[str]:
        """First path segments in use: no tenant may be named after one."""
        return frozenset(path.split("/")[1] for path in self.paths.values())


@dataclass(frozen=True)
class Profile:
    """One provider's shape. Every field has the generic provider's value by default."""

    name: str
    description: str
    #: The issuer's path below the root URL (a template).
    issuer: str = ""
    #: ``True`` for providers whose issuer ends with ``/`` (Auth0).
    issuer_slash: bool = False
    #: Endpoint name -> path template below the root; unnamed endpoints sit below the issuer
    #: at their generic path.
    paths: Mapping[str, str] = field(default_factory=dict)
    #: Option name -> default value (``MockIdP(profile="keycloak", realm="demo")``).
    options: Mapping[str, str] = field(default_factory=dict)
    #: Fields added to (or replacing) the discovery document's.
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: Default claims of access tokens and of ID tokens (constants or functions of the context;
    #: :data:`DROP` leaves a generic claim out). A caller's claims still win.
    access_claims: Mapping[str, Claim] = field(default_factory=dict)
    id_claims: Mapping[str, Claim] = field(default_factory=dict)
    #: The ``aud`` of access tokens minted without one (``None``: the generic default).
    audience: str | None = None
    #: The algorithms the provider signs with (first = default); empty: any.
    algorithms: tuple[str, ...] = ()
    #: Publish ``x5c`` / ``x5t`` / ``x5t#S256`` with each key, as the provider does.
    certificates: bool = False
    #: The ``typ`` of the access tokens its token endpoint issues: ``"JWT"``, or ``"at+jwt"``
    #: for a provider that issues RFC 9068 tokens by default.
    access_token_typ: str = "JWT"
    #: Authorization requests must use PKCE with S256 (OAuth 2.1, the MCP authorization spec).
    require_pkce: bool = False
    #: The authorization endpoint serves (and discovery lists) ``response_type=code`` only: no
    #: implicit or hybrid response types, no ``implicit`` or ``password`` grant (OAuth 2.1
    #: §10.1-10.2, which leaves both grants out).
    code_only: bool = False
    #: Authorization requests only by PAR (RFC 9126 §5 ``require_pushed_authorization_requests``).
    require_par: bool = False
    #: The real provider's root URL: a template of the options, or a function of them.
    public_url: str | Callable[[Mapping[str, str]], str] | None = None
    #: Its other hosts that consumers call by name (see :attr:`Layout.public_hosts`).
    public_hosts: tuple[str, ...] = ()

    def layout(self, options: Mapping[str, str]) -> Layout:
        """The URL layout for ``options`` (checked against the profile's)."""
        unknown = set(options) - set(self.options)
        if unknown:
            choices = ", ".join(self.options) or "none"
            raise ConfigurationError(
                f"profile {self.name!r} has no option(s) {', '.join(sorted(unknown))}; "
                f"its options: {choices}"
            )
        values = {**self.options, **options}
        for name, value in values.items():
            if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9._~-]{1,128}", value):
                raise ConfigurationError(
                    f"profile option {name}={value!r} must be one URL path segment of letters, "
                    "digits and ._~-"
                )
        issuer = self.issuer.format(**values)
        paths = {}
        for name, endpoint in ENDPOINTS.items():
            template = self.paths.get(name)
            if template is not None:
                paths[name] = template.format(issuer=issuer, **values)
            else:
                paths[name] = endpoint.path if endpoint.internal else issuer + endpoint.path
        public_url = (self.public_url(values) if callable(self.public_url)
                      else self.public_url.format(**values) if self.public_url else None)
        return Layout(issuer, MappingProxyType(paths), self.issuer_slash,
                      MappingProxyType(values), MappingProxyType(metadata_aliases(issuer, paths)),
                      public_url, self.public_hosts)

    def claims(self, kind: str, body: dict[str, Any], context: ClaimContext) -> dict[str, Any]:
        """``body`` with this profile's default ``kind`` ("access" or "id") claims applied."""
        table = self.access_claims if kind == "access" else self.id_claims
        for name, value in table.items():
            if value is DROP:
                body.pop(name, None)
                continue
            value = value(context) if callable(value) else value
            if value is not None:
                body[name] = value
        return body


def metadata_aliases(issuer: str, paths: Mapping[str, str]) -> dict[str, str]:
    """RFC 8414 §3: the metadata of an issuer with a path is at
    ``/.well-known/oauth-authorization-server`` *inserted* between the host and that path
    (``https://host/.well-known/oauth-authorization-server/realms/demo``), any terminating
    ``/`` removed first. The appended form (``{issuer}/.well-known/...``), which many clients
    still try, stays the endpoint's own path; for an issuer at the root both are one path."""
    inserted = ENDPOINTS["oauth-metadata"].path + issuer.rstrip("/")
    return {} if inserted == paths["oauth-metadata"] else {inserted: "oauth-metadata"}


_OIDC = "{issuer}/protocol/openid-connect"

#: Every profile by name.
PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in (
    Profile("generic", "mockidp's own layout: every endpoint below the issuer"),
    Profile(
        "keycloak", "Keycloak: one realm, /realms/<realm>/protocol/openid-connect/...",
        issuer="/realms/{realm}", options={"realm": "master"},
        paths={"authorize": _OIDC + "/auth", "token": _OIDC + "/token",
               "userinfo": _OIDC + "/userinfo", "introspect": _OIDC + "/token/introspect",
               "revoke": _OIDC + "/revoke", "end-session": _OIDC + "/logout",
               "device": _OIDC + "/auth/device", "device-verification": "{issuer}/device",
               "jwks": _OIDC + "/certs"},
        audience="account", certificates=True,
        access_claims={
            "typ": "Bearer", "azp": lambda c: c.client_id, "acr": "1",
            "scope": lambda c: _scope_text(c) or "openid profile email",
            "preferred_username": _user("preferred_username"),
            "email_verified": _user("email_verified"),
            "realm_access": lambda c: {"roles": ["offline_access", "uma_authorization",
                                                 f"default-roles-{c.options['realm']}"]},
            "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
        },
        id_claims={"typ": "ID", "acr": "1"},
    ),
    Profile(
        "okta", "Okta custom authorization server: /oauth2/<server>/v1/...",
        issuer="/oauth2/{server}",
        paths={"authorize": "{issuer}/v1/authorize", "token": "{issuer}/v1/token",
               "userinfo": "{issuer}/v1/userinfo", "introspect": "{issuer}/v1/introspect",
               "revoke": "{issuer}/v1/revoke", "end-session": "{issuer}/v1/logout",
               "device": "{issuer}/v1/device/authorize", "jwks": "{issuer}/v1/keys"},
        audience="api://default", algorithms=("RS256",),
        # `org` only names the host of the public URL (https://{org}.okta.com).
        options={"server": "default", "org": "mockidp"},
        public_url="https://{org}.okta.com",
        access_claims={"ver": 1, "cid": lambda c: c.client_id,
                       "uid": lambda c: "00u" + _uuid("uid", c.user.sub if c.user else "")
                       .replace("-", "")[:17],
                       "scp": lambda c: c.scopes or ["openid"]},
        id_claims={"ver": 1, "amr": ["pwd"], "idp": "00o" + "mockidp0000000000",
                   "preferred_username": _user("preferred_username")},
    ),
    Profile(
        "entra", "Microsoft Entra ID (Azure AD) v2.0: /<tenant>/v2.0, tid, ver 2.0, x5c",
        issuer="/{tenant_id}/v2.0",
        options={"tenant_id": "4d6f636b-4964-4000-8000-000000000001"},
        paths={"authorize": "/{tenant_id}/oauth2/v2.0/authorize",
               "token": "/{tenant_id}/oauth2/v2.0/token",
               "end-session": "/{tenant_id}/oauth2/v2.0/logout",
               "device": "/{tenant_id}/oauth2/v2.0/devicecode",
               "jwks": "/{tenant_id}/discovery/v2.0/keys", "userinfo": "/oidc/userinfo"},
        audience="api://mockidp-api", algorithms=("RS256",), certificates=True,
        access_claims={"ver": "2.0", "tid": lambda c: c.options["tenant_id"],
                       "oid": lambda c: _uuid("oid", c.user.sub if c.user else ""),
                       "azp": lambda c: c.client_id, "azpacr": "1",
                       "scp": lambda c: _scope_text(c) or "access_as_user",
                       "name": _user("name"),
                       "preferred_username": _user("email")},
        id_claims={"ver": "2.0", "tid": lambda c: c.options["tenant_id"],
                   "oid": lambda c: _uuid("oid", c.user.sub if c.user else ""),
                   "preferred_username": _user("email")},
        metadata={"cloud_instance_name": "microsoftonline.com", "tenant_region_scope": "NA"},
        public_url="https://login.microsoftonline.com",
    ),
    Profile(
        "auth0", "Auth0: issuer with a trailing slash, /oauth/token, x5c",
        # Auth0's tenant is in the host name (https://{tenant}.auth0.com/): it shapes the
        # public URL (MockIdP(profile="auth0", tenant="acme", public_url=True)) and nothing
        # below the root, which a layout of paths cannot give.
        issuer_slash=True, options={"tenant": "mockidp"},
        public_url="https://{tenant}.auth0.com",
        paths={"token": "/oauth/token", "revoke": "/oauth/revoke",
               "end-session": "/oidc/logout", "device": "/oauth/device/code",
               "device-verification": "/activate"},
        algorithms=("RS256", "PS256"), certificates=True,
        access_claims={"azp": lambda c: c.client_id,
                       "scope": lambda c: _scope_text(c) or None},
    ),
    Profile(
        "google", "Google: /oauth2/v3/certs JWKS and the /oauth2/v1/certs {kid: PEM} map",
        paths={"jwks": "/oauth2/v3/certs", "certs": "/oauth2/v1/certs",
               "authorize": "/o/oauth2/v2/auth", "userinfo": "/v1/userinfo",
               "device": "/device/code"},
        algorithms=("RS256",),
        # The issuer is accounts.google.com; the keys, the token endpoint and userinfo are on
        # other hosts (at the same paths as here), which consumers such as google-auth name.
        public_url="https://accounts.google.com",
        public_hosts=("www.googleapis.com", "oauth2.googleapis.com",
                      "openidconnect.googleapis.com"),
        id_claims={"azp": lambda c: c.client_id, "email": _user("email"),
                   "email_verified": True, "picture": None},
    ),
    Profile(
        "mcp", "An authorization server as an MCP client meets it: PKCE S256 required, "
        "code flow only, dynamic registration and client ID metadata documents, resource "
        "indicators",
        # The MCP authorization spec (2025-06-18 and later): OAuth 2.1 with PKCE S256 (the
        # metadata must list it) and no implicit grant or token-bearing response types, RFC
        # 8414 metadata, RFC 7591 registration or a client ID metadata document, RFC 8707
        # resource on the authorization and token requests, and RFC 9068 access tokens for
        # the resource; RFC 9207 iss comes with every profile.
        require_pkce=True, code_only=True, access_token_typ="at+jwt",
        metadata={"code_challenge_methods_supported": ["S256"]},
    ),
    Profile(
        "cognito", "Amazon Cognito user pool: token_use, no aud on access tokens",
        issuer="/{user_pool}", options={"user_pool": "us-east-1_mockidp"},
        paths={"authorize": "/oauth2/authorize", "token": "/oauth2/token",
               "userinfo": "/oauth2/userInfo", "revoke": "/oauth2/revoke",
               "end-session": "/logout"},
        algorithms=("RS256",),
        # A user pool's id starts with its region (eu-west-1_AbC), as its host name does.
        public_url=lambda o: f"https://cognito-idp.{o['user_pool'].partition('_')[0]}"
                             ".amazonaws.com",
        access_claims={"aud": DROP, "nbf": DROP, "token_use": "access",
                       "client_id": lambda c: c.client_id,
                       "username": lambda c: c.user.sub if c.user else None,
                       "scope": lambda c: _scope_text(c) or "openid"},
        id_claims={"token_use": "id", "nbf": DROP,
                   "cognito:username": lambda c: c.user.sub if c.user else None},
    ),
)})


def parse_options(pairs: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings (command line, ini file) as profile options."""
    options = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise ConfigurationError(f"a profile option is NAME=VALUE, not {pair!r}")
        options[name.strip()] = value.strip()
    return options


def get(profile: str | Profile) -> Profile:
    """The profile named ``profile`` (a :class:`Profile` passes through)."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except (KeyError, TypeError):
        raise UnknownProfileError(profile, PROFILES) from None
