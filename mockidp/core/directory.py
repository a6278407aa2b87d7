"""The provider's users and OAuth clients.

Users are made by faker from a seed, so the same seed gives the same people in every run and a
failing test can be replayed. The directory state is two small dicts; snapshot and restore are
copies of them.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypedDict, TypeVar
from urllib.parse import urlsplit

from ..errors import ConfigurationError, UnknownClientError, UnknownUserError
from . import jwa
from .fetch import FetchError, fetch_json, is_loopback

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from typing_extensions import Unpack

__all__ = [
    "ACCESS_TOKEN_TYPES",
    "GRANT_TYPES",
    "SCRIPT_SCHEMES",
    "Client",
    "ClientOptions",
    "Clients",
    "PlannedLogin",
    "UnknownClientError",
    "UnknownUserError",
    "User",
    "Users",
    "jwk_set_problem",
    "redirect_uri_problem",
]

DEFAULT_CLIENT_ID = "mockidp-client"
DEFAULT_CLIENT_SECRET = "mockidp-client-secret"


@dataclass(frozen=True)
class User:
    """A person who can sign in: ``sub`` and the OIDC standard claims (OIDC Core §5.1)."""

    sub: str
    claims: dict[str, Any] = field(default_factory=dict)
    #: For the password grant (RFC 6749 §4.3); never put in a token.
    password: str = field(default="password", repr=False)

    def __getitem__(self, claim: str) -> Any:
        return self.sub if claim == "sub" else self.claims[claim]


class _Snapshot(NamedTuple):
    items: dict[str, Any]
    default: str
    made: int = 0  # users made so far: the faker seed of the next one
    logins: tuple[PlannedLogin, ...] = ()  # what the next authorization requests do


@dataclass(frozen=True)
class PlannedLogin:
    """What the next authorization request does instead of signing in the usual user."""

    sub: str | None  # None: nobody is signed in (login_required)
    deny: bool = False  # the user refuses (access_denied)
    claims: Mapping[str, Any] = field(default_factory=dict)  # added to that login's tokens
    fault: str | None = None  # a sign-in fault of mockidp.LOGIN_FAULTS planted in it


T = TypeVar("T")


class _Registry(Generic[T]):
    """Items by id with a default one; the state is one immutable snapshot, swapped whole."""

    _state: _Snapshot
    _unknown: Callable[[str], Exception]

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def default(self) -> T:
        state = self._state
        return state.items[state.default]  # type: ignore[no-any-return]

    def get(self, key: str) -> T | None:
        return self._state.items.get(key)

    def __getitem__(self, key: str) -> T:
        item = self.get(key)
        if item is None:
            raise self._unknown(key)
        return item

    def __contains__(self, key: object) -> bool:
        return key in self._state.items

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._state.items.values()))

    def __len__(self) -> int:
        return len(self._state.items)

    def snapshot(self) -> object:
        return self._state

    def restore(self, snapshot: object) -> None:
        if not isinstance(snapshot, _Snapshot):
            raise ConfigurationError("restore() takes what snapshot() returned")
        self._state = snapshot


def _profile(faker: Any) -> dict[str, Any]:
    given, family = faker.first_name(), faker.last_name()
    username = f"{given}.{family}".lower()
    return {
        "name": f"{given} {family}",
        "given_name": given,
        "family_name": family,
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "locale": "en-US",
        "zoneinfo": faker.timezone(),
    }


#: The state of a Users whose first user has not been made yet.
_UNMADE = _Snapshot({}, "", -1)


class Users(_Registry[User]):
    """The users the provider knows; the first one is the default subject of every token."""

    _unknown = UnknownUserError
    _first_lock = threading.Lock()

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self._seed = seed
        self._faker: Any = None
        self._first: User | None = None
        self._current = _UNMADE

    # The first user needs faker (tens of milliseconds to import), which a provider that only
    # serves keys never needs: it is made on first use, once, and kept across restores.
    @property
    def _state(self) -> _Snapshot:
        state = self._current
        if state is _UNMADE:
            with self._first_lock:
                if self._first is None:
                    self._first = self._make(None, {}, 0)
            first = self._first
            state = self._current = _Snapshot({first.sub: first}, first.sub, 1)
        return state

    @_state.setter
    def _state(self, state: _Snapshot) -> None:
        self._current = state

    def snapshot(self) -> object:
        return self._current

    def _make(self, sub: str | None, claims: dict[str, Any], index: int,
              password: str = "password") -> User:
        if self._faker is None:
            from faker import Faker

            self._faker = Faker("en_US")
        # Each user is a function of (seed, index) alone, whatever else used faker meanwhile.
        self._faker.seed_instance(self._seed * 1_000_003 + index)
        profile = _profile(self._faker)
        sub = sub if sub is not None else str(self._faker.uuid4())
        if not isinstance(sub, str) or not sub:
            raise ConfigurationError(f"sub must be a non-empty string, not {sub!r}")
        if "sub" in claims:
            raise ConfigurationError("give the subject as sub=..., not as a claim")
        profile.update(claims)
        return User(sub, profile, password)

    def add(self, sub: str | None = None, *, default: bool = False,
            password: str = "password", **claims: Any) -> User:
        """A new user with faker-made profile claims, overridden by ``claims``.

        ``default=True`` makes it the subject of tokens minted without ``sub``; ``password`` is
        what the password grant checks (every user's is ``"password"`` unless set).
        """
        if not isinstance(password, str):
            raise ConfigurationError(f"password must be a string, not {password!r}")
        with self._lock:
            if sub is not None and sub in self._state.items:
                raise ConfigurationError(f"a user with sub {sub!r} already exists")
            state = self._state
            user = self._make(sub, claims, state.made, password)
            self._state = state._replace(
                items={**state.items, user.sub: user},
                default=user.sub if default else state.default,
                made=state.made + 1,
            )
        return user

    def next_login(self, sub: str | User | None = "", *, deny: bool = False,
                   claims: Mapping[str, Any] | None = None, acr: str | None = None,
                   amr: Iterable[str] | None = None, fault: str | None = None) -> None:
        """Decide what the next authorization request does: sign in ``sub`` (a user or its
        sub; default: the default user) with extra ``claims`` in its tokens, find nobody signed
        in (``sub=None``: ``login_required``), or have the user refuse (``deny=True``:
        ``access_denied``). ``acr`` and ``amr`` are the authentication the sign-in achieved
        (OIDC Core §2; an essential ``acr`` asked for and not achieved is
        ``unmet_authentication_requirements``). ``fault`` plants one sign-in fault of
        ``mockidp.LOGIN_FAULTS`` in that sign-in's responses. Calls queue up, one per
        request."""
        if (acr is not None and not isinstance(acr, str)) or isinstance(amr, str):
            raise ConfigurationError("acr is a string and amr a list of strings")
        claims = {**(claims or {}), **({"acr": acr} if acr is not None else {}),
                  **({"amr": list(amr)} if amr is not None else {})}
        if fault is not None:
            from .login_faults import get

            fault = str(get(fault))
        if isinstance(sub, User):
            sub = sub.sub
        if sub == "":
            sub = self.default.sub
        if sub is not None and sub not in self:
            raise UnknownUserError(sub)
        planned = PlannedLogin(sub, deny, dict(claims or {}), fault)
        with self._lock:
            self._state = self._state._replace(logins=(*self._state.logins, planned))

    def take_login(self) -> PlannedLogin | None:
        """The next planned login, if any (the authorization endpoint consumes it)."""
        with self._lock:
            logins = self._state.logins
            if not logins:
                return None
            self._state = self._state._replace(logins=logins[1:])
            return logins[0]

    def find(self, hint: str) -> User | None:
        """The user whose sub, email or preferred_username is ``hint`` (OIDC ``login_hint``)."""
        for user in self:
            if hint in (user.sub, user.claims.get("email"),
                        user.claims.get("preferred_username")):
                return user
        return None


#: Every grant type the token endpoint serves.
#: The client authentication methods the token endpoint serves (``token_endpoint_auth_method``,
#: RFC 7591 §2, OIDC Core §9).
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt",
                "private_key_jwt", "none")
#: The response types the authorization endpoint serves (``response_types_supported``), as
#: OIDC Core §3 writes them; a client registers those it uses (RFC 7591 §2).
RESPONSE_TYPES = ("code", "id_token", "id_token token", "code id_token", "code token",
                  "code id_token token")


def served_response_types(code_only: bool) -> tuple[str, ...]:
    """The response types served: all of :data:`RESPONSE_TYPES`, or ``code`` alone where the
    profile is ``code_only`` (OAuth 2.1 §10.1 has no implicit grant)."""
    return ("code",) if code_only else RESPONSE_TYPES


#: The grants OAuth 2.1 leaves out (§10.1 the implicit grant, §10.2 the resource owner
#: password credentials grant), which a ``code_only`` profile does not serve.
OAUTH21_OMITTED = frozenset({"implicit", "password"})


def served_grant_types(code_only: bool) -> tuple[str, ...]:
    """The grant types served (``grant_types_supported``): all of :data:`GRANT_TYPES`, less
    :data:`OAUTH21_OMITTED` where the profile is ``code_only``."""
    return tuple(g for g in GRANT_TYPES if not (code_only and g in OAUTH21_OMITTED))


GRANT_TYPES = (
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "password",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:device_code",
    "implicit",  # tokens from the authorization endpoint (OIDC Core §3.2, §3.3; RFC 7591 §2)
)


#: URI schemes whose "redirect" runs script or reads local data in the browser that follows it
#: (or posts a form to it: the form_post page would run ``javascript:`` on the provider's
#: origin). None is a redirect URI, whatever the client registered.
SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "filesystem",
                            "about", "view-source", "jar", "livescript", "mocha"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


#: The JWK members that carry secret key material: RSA's private parts (RFC 7518 §6.3.2),
#: EC's and OKP's ``d`` (§6.2.2, RFC 8037 §2) and a symmetric key's ``k`` (§6.4.1).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def jwk_set_problem(jwks: object) -> str | None:
    """What keeps ``jwks`` from being a JWK Set of public keys the provider can read, or
    ``None``: RFC 7517 §5 an object whose ``keys`` is an array of JWKs, each a JSON object with
    a string ``kty`` (§4.1). RFC 7591 §2 makes a client's ``jwks`` its *public* keys, so a
    symmetric (``oct``) key or a private member is refused: the provider would otherwise keep
    and echo a secret (``client_secret_jwt`` uses the client secret, never ``jwks``). Checked
    where a client's keys arrive (``Clients.add``, registration, a ``jwks_uri`` answer) so no
    later check meets a key that is not an object."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        return 'jwks must be a JWK Set: {"keys": [...]} (RFC 7517 §5)'
    for key in jwks["keys"]:
        if not isinstance(key, Mapping) or not isinstance(key.get("kty"), str):
            return "each key of a JWK Set must be a JSON object with a string kty " \
                   "(RFC 7517 §4.1, §5)"
        if key["kty"] == "oct":
            return "a client's jwks holds public keys, not a symmetric (oct) key " \
                   "(RFC 7591 §2); client_secret_jwt uses the client secret"
        private = sorted(_PRIVATE_MEMBERS.intersection(key))
        if private:
            return f"a client's jwks holds public keys: drop the private member(s) " \
                   f"{', '.join(private)} (RFC 7591 §2)"
    return None


def redirect_uri_problem(uri: object) -> str | None:
    """Why ``uri`` cannot be a redirect URI, or ``None`` if it can.

    RFC 6749 §3.1.2: an absolute URI without a fragment. Its scheme is ``http`` or ``https``
    with a host, or a private-use scheme of a native app, which RFC 8252 §7.1 requires to be
    a reverse domain name (``com.example.app:/callback``): the dot also keeps out every scheme
    a browser runs as script or reads locally (:data:`SCRIPT_SCHEMES`), refused by name too.
    """
    if not isinstance(uri, str) or not uri:
        return f"a redirect URI is a non-empty string, not {uri!r}"
    scheme = _SCHEME.match(uri)
    if scheme is None:
        return f"redirect URI {uri!r} is not absolute (RFC 6749 §3.1.2)"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in uri):
        return f"redirect URI {uri!r} contains whitespace or control characters"
    if "#" in uri:
        return f"redirect URI {uri!r} has a fragment (RFC 6749 §3.1.2)"
    name = scheme.group(1).lower()
    if name in SCRIPT_SCHEMES:
        return f"redirect URI {uri!r} has the {name}: scheme, which runs in the browser"
    if name in ("http", "https"):
        rest = uri[scheme.end():]
        if not rest.startswith("//") or rest[2:3] in ("", "/", "?"):
            return f"redirect URI {uri!r} has no host"
        return None
    if "." not in name:
        return (f"redirect URI {uri!r}: besides http(s), only a native app's private-use "
                "scheme in reverse-domain form like com.example.app:/cb (RFC 8252 §7.1)")
    return None


#: The ``typ`` header values an access token from the token endpoint may have: a plain JWT,
#: or the RFC 9068 §2.1 profile (which also puts ``client_id`` in it, §2.2).
ACCESS_TOKEN_TYPES = ("JWT", "at+jwt")


class ClientOptions(TypedDict, total=False):
    """The keyword options of ``idp.clients.add()`` (see :class:`Client` for each)."""

    redirect_uris: Iterable[str]
    public: bool
    grant_types: Iterable[str] | None
    jwks: Mapping[str, Any] | None
    id_token_signed_response_alg: str | None
    userinfo_signed_response_alg: str | None
    access_token_typ: str | None
    jwks_uri: str | None
    request_uris: Iterable[str]
    require_pushed_authorization_requests: bool
    require_signed_request_object: bool
    request_object_signing_alg: str | None
    metadata: Mapping[str, Any] | None
    token_endpoint_auth_method: str | None
    dpop_bound_access_tokens: bool
    dpop_nonce: bool


@dataclass(frozen=True)
class Client:
    """A registered OAuth client (RFC 6749 §2). ``client_secret`` is ``None`` for public ones;
    ``jwks`` holds the public keys a ``private_key_jwt`` client signs its assertions with.

    The signing choices are OpenID Connect Dynamic Client Registration 1.0 §2 metadata, each
    ``None`` for the provider's choice: ``id_token_signed_response_alg`` (the provider's
    default algorithm), ``userinfo_signed_response_alg`` (userinfo answered as plain JSON, not a
    JWT); ``access_token_typ`` picks the token endpoint's access token ``typ`` (``"at+jwt"``:
    RFC 9068), which has no registration name. ``dpop_bound_access_tokens`` (RFC 9449 §5.2):
    its token requests must carry a DPoP proof; ``dpop_nonce``: its proofs must carry the
    provider's nonce (§8), whatever the token endpoint demands of others."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = GRANT_TYPES
    jwks: Mapping[str, Any] | None = None
    id_token_signed_response_alg: str | None = None
    userinfo_signed_response_alg: str | None = None
    access_token_typ: str | None = None
    dpop_bound_access_tokens: bool = False
    dpop_nonce: bool = False
    #: Where the client's public keys are, instead of ``jwks`` (fetched on loopback only).
    jwks_uri: str | None = None
    #: URLs of request objects (RFC 9101 §5.2) the client registered; no other is fetched.
    request_uris: tuple[str, ...] = ()
    #: RFC 9126 §6: only pushed authorization requests; RFC 9101 §10.5: only signed ones.
    require_pushed_authorization_requests: bool = False
    require_signed_request_object: bool = False
    #: RFC 9101 §10.5 / OIDC Registration §2: the one ``alg`` its request objects use
    #: (``"none"`` only if registered so); ``None``: any its keys or secret can verify.
    request_object_signing_alg: str | None = None
    #: Everything else it registered (``client_name``, ``scope``, ...), as RFC 7591 §3.2.1
    #: echoes it back.
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: RFC 7591 §2: the one way it authenticates at the token endpoint (one of
    #: :data:`AUTH_METHODS`), refused any other; ``None``: any its credentials allow.
    token_endpoint_auth_method: str | None = None

    @property
    def public(self) -> bool:
        return self.client_secret is None and self.jwks is None and self.jwks_uri is None


class Clients(_Registry[Client]):
    """The clients the token and authorize endpoints accept: those added, and clients whose
    ``client_id`` is the URL of a client ID metadata document (the OAuth client ID metadata
    document draft MCP adopted): registered with :meth:`add_metadata_document`, or served on
    a loopback URL and fetched when the client shows up (never from beyond the machine)."""

    _unknown = UnknownClientError

    def __init__(self, ensure_key: Callable[[str], object] | None = None,
                 document: Callable[[str, Any], Mapping[str, Any]] | None = None,
                 fetch: Callable[[str], Any] = fetch_json) -> None:
        super().__init__()
        #: Makes the provider able to sign with an algorithm a client registers (the key
        #: ring's ``ensure_active``), so that what the metadata lists is what is served.
        self._ensure_key = ensure_key
        #: A metadata document's ``add()`` options (checked), or a ConfigurationError.
        self._document = document
        #: How a metadata document on loopback is fetched (the issuer's :class:`Fetcher`).
        self._fetch = fetch
        first = Client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        self._state = _Snapshot({first.client_id: first}, first.client_id)

    def get(self, key: str) -> Client | None:
        client = self._state.items.get(key)
        if client is None and self._document is not None and isinstance(key, str) \
                and is_loopback(key):
            try:
                return self.make(**self._document(key, self._fetch(key)))
            except (FetchError, ConfigurationError):
                return None
        return client

    def add_metadata_document(self, url: str, document: Mapping[str, Any]) -> Client:
        """Register the client ID metadata document ``document`` as served at ``url`` (an
        https URL, and the document's ``client_id``): the client that presents ``url`` as its
        ``client_id`` is this one, and nothing is fetched."""
        if self._document is None:
            raise ConfigurationError("this provider has no client ID metadata documents")
        return self.add(**self._document(url, document))

    def add(self, client_id: str | None = None, client_secret: str | None = None,
            **options: Unpack[ClientOptions]) -> Client:
        """Register a client. Confidential clients get a random secret unless given one, or
        authenticate with ``private_key_jwt`` when given ``jwks`` (their public keys) or
        ``jwks_uri``.

        ``id_token_signed_response_alg`` and ``userinfo_signed_response_alg`` (OIDC
        Registration §2) choose how its ID tokens and its userinfo answers (then a JWT, OIDC
        Core §5.3.2) are signed; the provider makes and publishes a key of that algorithm at
        once, so discovery lists it. ``access_token_typ="at+jwt"`` gives it RFC 9068 access
        tokens at the token endpoint (default: the provider's choice). The further options
        (:class:`ClientOptions`) are the :class:`Client` fields of the same names:
        ``dpop_bound_access_tokens=True`` (RFC 9449 §5.2) refuses its token requests without
        a DPoP proof; ``dpop_nonce=True`` has its proofs carry the provider's nonce (§8)."""
        return self.register(self.make(client_id, client_secret, **options))

    def register(self, client: Client) -> Client:
        """Register a :class:`Client` made by :meth:`make` (the registration endpoint checks
        metadata with ``make`` before anything is kept)."""
        with self._lock:
            if client.client_id in self._state.items:
                raise ConfigurationError(f"a client {client.client_id!r} already exists")
            self._state = self._state._replace(items={**self._state.items,
                                                      client.client_id: client})
        if self._ensure_key is not None:
            for alg in (client.id_token_signed_response_alg,
                        client.userinfo_signed_response_alg):
                if alg is not None:
                    self._ensure_key(alg)
        return client

    def remove(self, client_id: str) -> None:
        """Forget a client (RFC 7592 §2.3); the default client stays."""
        with self._lock:
            state = self._state
            if client_id == state.default or client_id not in state.items:
                raise UnknownClientError(client_id)
            self._state = state._replace(items={k: v for k, v in state.items.items()
                                                if k != client_id})

    def replace(self, client: Client) -> None:
        """Put ``client`` in place of the registered client of its id (RFC 7592 §2.2)."""
        with self._lock:
            if client.client_id not in self._state.items:
                raise UnknownClientError(client.client_id)
            self._state = self._state._replace(items={**self._state.items,
                                                      client.client_id: client})

    def make(self, client_id: str | None = None, client_secret: str | None = None,
             **options: Unpack[ClientOptions]) -> Client:
        """A checked :class:`Client`, not registered (see :meth:`add`)."""
        unknown_options = set(options) - set(ClientOptions.__annotations__)
        if unknown_options:
            raise ConfigurationError(f"unknown client option(s) "
                                     f"{', '.join(sorted(unknown_options))}; use: "
                                     f"{', '.join(ClientOptions.__annotations__)}")
        redirect_uris = options.get("redirect_uris", ())
        request_uris = options.get("request_uris", ())
        public = options.get("public", False)
        grant_types = options.get("grant_types")
        jwks, jwks_uri = options.get("jwks"), options.get("jwks_uri")
        id_token_signed_response_alg = options.get("id_token_signed_response_alg")
        userinfo_signed_response_alg = options.get("userinfo_signed_response_alg")
        access_token_typ = options.get("access_token_typ")
        request_object_signing_alg = options.get("request_object_signing_alg")
        signing_algs = [_signing_alg(name, value) for name, value in (
            ("id_token_signed_response_alg", id_token_signed_response_alg),
            ("userinfo_signed_response_alg", userinfo_signed_response_alg))]
        if access_token_typ is not None and access_token_typ not in ACCESS_TOKEN_TYPES:
            raise ConfigurationError(f"access_token_typ must be one of "
                                     f"{', '.join(ACCESS_TOKEN_TYPES)}, not {access_token_typ!r}")
        method = options.get("token_endpoint_auth_method")
        if method is not None and method not in AUTH_METHODS:
            raise ConfigurationError(f"token_endpoint_auth_method must be one of "
                                     f"{', '.join(AUTH_METHODS)}, not {method!r}")
        for name in ("dpop_bound_access_tokens", "dpop_nonce"):
            if not isinstance(options.get(name, False), bool):
                raise ConfigurationError(f"{name} must be true or false, not {options[name]!r}")
        if public and (client_secret is not None or jwks is not None or jwks_uri is not None):
            raise ConfigurationError("a public client has no secret or keys; drop them")
        if jwks is not None and jwks_uri is not None:
            raise ConfigurationError("give jwks or jwks_uri, not both (RFC 7591 §2)")
        for name, uris in (("redirect_uris", redirect_uris), ("request_uris", request_uris)):
            if isinstance(uris, str):
                raise ConfigurationError(f"{name} takes a list of URIs, not one string")
        redirect_uris = tuple(redirect_uris)
        request_uris = tuple(request_uris)
        for uri in redirect_uris:
            problem = redirect_uri_problem(uri)
            if problem is not None:
                raise ConfigurationError(problem)
        for uri in (*request_uris, *([jwks_uri] if jwks_uri is not None else [])):
            if not isinstance(uri, str) or urlsplit(uri).scheme not in ("http", "https"):
                raise ConfigurationError(f"{uri!r} must be an http(s) URL")
        if request_object_signing_alg not in (None, "none"):
            request_object_signing_alg = jwa.get(request_object_signing_alg).name
        problem = jwk_set_problem(jwks) if jwks is not None else None
        if problem is not None:
            raise ConfigurationError(problem)
        if jwks is not None:  # plain dicts: a key object of a JOSE library (jwskate's Jwk is
            # a Mapping) would reach PyJWT, which reads only dicts, at the first assertion
            jwks = {**jwks, "keys": [dict(key) for key in jwks["keys"]]}
        client_id = client_id if client_id is not None else f"client-{secrets.token_hex(6)}"
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError(f"client_id must be a non-empty string, not {client_id!r}")
        if not public and client_secret is None and jwks is None and jwks_uri is None:
            client_secret = secrets.token_urlsafe(24)
        if grant_types is None:
            grant_types = [g for g in GRANT_TYPES if not public or g != "client_credentials"]
        unknown = set(grant_types) - set(GRANT_TYPES)
        if unknown:
            raise ConfigurationError(f"unknown grant type(s) {', '.join(sorted(unknown))}; "
                                     f"use: {', '.join(GRANT_TYPES)}")
        return Client(client_id, client_secret, redirect_uris, tuple(grant_types),
                      jwks, id_token_signed_response_alg=signing_algs[0],
                      userinfo_signed_response_alg=signing_algs[1],
                      access_token_typ=access_token_typ, jwks_uri=jwks_uri,
                      request_uris=request_uris,
                      require_pushed_authorization_requests=bool(
                          options.get("require_pushed_authorization_requests", False)),
                      require_signed_request_object=bool(
                          options.get("require_signed_request_object", False)),
                      request_object_signing_alg=request_object_signing_alg,
                      metadata=dict(options.get("metadata") or {}),
                      token_endpoint_auth_method=method,
                      dpop_bound_access_tokens=options.get("dpop_bound_access_tokens", False),
                      dpop_nonce=options.get("dpop_nonce", False))


def _signing_alg(name: str, alg: str | None) -> str | None:
    """A JWS algorithm a client may register for what the provider signs for it: one whose
    public key the JWKS can publish. ``none`` is not served, and an HMAC algorithm would be
    keyed with the client's secret (OIDC Core §10.1), which the provider does not do."""
    if alg is None:
        return None
    algorithm = jwa.get(alg)
    if not algorithm.asymmetric:
        raise ConfigurationError(f"{name} {alg} is not served: the provider signs for clients "
                                 "with keys its JWKS publishes (RS, PS, ES, EdDSA)")
    return algorithm.name
