"""Client metadata as clients register it: dynamic client registration (RFC 7591 §2, with
the OpenID Connect Dynamic Client Registration 1.0 §2 additions and those of RFC 9101 §10.5,
RFC 9126 §6 and RFC 9449 §5.2) and client ID metadata documents (the OAuth client ID metadata
document draft that MCP adopted). One reading of the metadata, two ways it arrives: both end in
the options of :meth:`~mockidp.core.directory.Clients.add`.

A problem is a :class:`RegistrationError` whose ``error`` is one of RFC 7591 §3.2.2
(``invalid_redirect_uri``, ``invalid_client_metadata``, ``invalid_software_statement``); the
web face answers it with 400 and that body."""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from . import jwa
from .directory import (
    AUTH_METHODS,
    redirect_uri_problem,
    served_grant_types,
    served_response_types,
)
from .fetch import is_loopback

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .directory import Client, ClientOptions

__all__ = ["REGISTRATION_LIMIT", "STRING_LIMIT", "VALUE_LIMIT", "RegistrationError",
           "Registrations", "client_metadata", "document_options", "registration_options"]

#: Registered metadata echoed back as given (RFC 7591 §2 human-readable and informational
#: fields, checked to be of the right JSON type).
_STRINGS = ("client_name", "client_uri", "logo_uri", "scope", "tos_uri", "policy_uri",
            "software_id", "software_version")
_BOOLEANS = ("require_pushed_authorization_requests", "require_signed_request_object",
             "dpop_bound_access_tokens")


#: The most characters one string in client metadata may have: a URI or a name is far
#: shorter; an ``x5c`` certificate of an RSA-4096 key is about 2,600.
STRING_LIMIT = 4 * 1024
#: The most JSON values (objects, arrays, member names, strings, numbers...) client metadata
#: may have: a client with a few redirect URIs and keys has well under a hundred. With the
#: registration endpoint's body limit this bounds what each registered client keeps.
VALUE_LIMIT = 256


class RegistrationError(Exception):
    """Client metadata the provider cannot register: ``error`` is the RFC 7591 §3.2.2 code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def _invalid(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


def _string_list(metadata: Mapping[str, Any], name: str, default: list[str]) -> list[str]:
    value = metadata.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _invalid(f"{name} must be an array of strings")
    return value


def _check_size(metadata: Mapping[str, Any]) -> None:
    """At most :data:`VALUE_LIMIT` JSON values, no string over :data:`STRING_LIMIT`: the
    provider keeps what it registers, up to :data:`REGISTRATION_LIMIT` clients, so each
    must be small (RFC 7591 §3.2.2 ``invalid_client_metadata`` otherwise)."""
    count, pending = 0, [metadata]
    while pending:
        value = pending.pop()
        count += 1
        if count > VALUE_LIMIT:
            raise _invalid(f"the client metadata may have at most {VALUE_LIMIT} JSON values")
        if isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and len(value) > STRING_LIMIT:
            raise _invalid(f"a client metadata string may have at most {STRING_LIMIT} "
                           "characters")


def registration_options(metadata: Mapping[str, Any], *, code_only: bool = False
                         ) -> tuple[ClientOptions, str]:
    """The :meth:`~mockidp.core.directory.Clients.add` options for RFC 7591 metadata, and the
    ``token_endpoint_auth_method`` (default ``client_secret_basic``, §2). Checks its size,
    each field and their consistency (§2.1: ``authorization_code`` goes with ``code``), and
    that it asks only for what is served (``code_only``: a profile without implicit)."""
    if not isinstance(metadata, dict):
        raise _invalid("the client metadata must be a JSON object")
    _check_size(metadata)
    if "software_statement" in metadata:
        raise RegistrationError("invalid_software_statement", "software statements are not "
                                "accepted by this provider")
    method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise _invalid(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
    grant_types = _string_list(metadata, "grant_types", ["authorization_code"])
    unknown = sorted(set(grant_types) - set(served_grant_types(code_only)))
    if unknown:
        raise _invalid(f"grant_types {', '.join(unknown)} are not served")
    response_types = _string_list(metadata, "response_types",
                                  ["code"] if "authorization_code" in grant_types else [])
    types = served_response_types(code_only)
    served = {frozenset(response_type.split()) for response_type in types}
    if any(frozenset(response_type.split()) not in served for response_type in response_types):
        raise _invalid(f"response_types may only be {', '.join(types)}")
    values = [set(response_type.split()) for response_type in response_types]
    if any("code" in v for v in values) != ("authorization_code" in grant_types):
        raise _invalid("response_types with code and grant_types authorization_code go "
                       "together (RFC 7591 §2.1)")
    if any(v & {"token", "id_token"} for v in values) and "implicit" not in grant_types:
        raise _invalid("response_types with token or id_token need grant_types implicit "
                       "(RFC 7591 §2.1)")
    redirect_uris = _string_list(metadata, "redirect_uris", [])
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise RegistrationError("invalid_redirect_uri", problem)
    # RP-Initiated Logout 1.0 §3.1: where end-session may send the client's user back
    post_logout = _string_list(metadata, "post_logout_redirect_uris", [])
    for uri in post_logout:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise _invalid(f"post_logout_redirect_uris: {problem}")
    if "authorization_code" in grant_types and not redirect_uris:
        raise RegistrationError("invalid_redirect_uri", "redirect_uris is required for the "
                                "authorization_code grant (RFC 7591 §2)")
    for name in _STRINGS:
        if name in metadata and not isinstance(metadata[name], str):
            raise _invalid(f"{name} must be a string")
    for name in _BOOLEANS:
        if name in metadata and not isinstance(metadata[name], bool):
            raise _invalid(f"{name} must be true or false")
    contacts = _string_list(metadata, "contacts", [])
    jwks, jwks_uri = metadata.get("jwks"), metadata.get("jwks_uri")
    if jwks is not None and jwks_uri is not None:
        raise _invalid("jwks and jwks_uri must not both be present (RFC 7591 §2)")
    if method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise _invalid("private_key_jwt needs jwks or jwks_uri")
    if jwks_uri is not None and (not isinstance(jwks_uri, str)
                                 or urlsplit(jwks_uri).scheme not in ("http", "https")):
        raise _invalid("jwks_uri must be an http(s) URL")
    for name in ("id_token_signed_response_alg", "userinfo_signed_response_alg",
                 "request_object_signing_alg"):
        alg = metadata.get(name)
        if alg is None or (alg == "none" and name == "request_object_signing_alg"):
            continue
        try:
            jwa.get(alg)
        except ConfigurationError as exc:
            raise _invalid(f"{name}: {exc}") from None
    public = method == "none"
    options: ClientOptions = {
        "redirect_uris": redirect_uris, "grant_types": grant_types, "public": public,
        "id_token_signed_response_alg": metadata.get("id_token_signed_response_alg"),
        "userinfo_signed_response_alg": metadata.get("userinfo_signed_response_alg"),
        "request_object_signing_alg": metadata.get("request_object_signing_alg"),
        "request_uris": _string_list(metadata, "request_uris", []),
        "require_pushed_authorization_requests":
            metadata.get("require_pushed_authorization_requests", False),
        "require_signed_request_object": metadata.get("require_signed_request_object", False),
        "dpop_bound_access_tokens": metadata.get("dpop_bound_access_tokens", False),
        "token_endpoint_auth_method": method,
        "metadata": {
            **{name: metadata[name] for name in (*_STRINGS, *_BOOLEANS) if name in metadata},
            **({"contacts": contacts} if contacts else {}),
            **({"post_logout_redirect_uris": post_logout} if post_logout else {}),
            "token_endpoint_auth_method": method, "grant_types": grant_types,
            "response_types": response_types,
        },
    }
    if public and (jwks is not None or jwks_uri is not None):
        raise _invalid("a client with token_endpoint_auth_method none has no keys")
    options["jwks"], options["jwks_uri"] = jwks, jwks_uri
    return options, method


def document_options(url: str, document: Any) -> dict[str, Any]:
    """The :meth:`~mockidp.core.directory.Clients.add` arguments for a client ID metadata
    document served at ``url``: its ``client_id`` must be ``url``, an https URL with a path
    (http only on loopback, for tests), and it may not use a shared secret (no
    ``client_secret*`` method, no ``client_secret``), as the draft requires. A problem is a
    :class:`~mockidp.ConfigurationError` that names it."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or not (parts.scheme == "https" or is_loopback(url)) or not parts.netloc \
            or parts.path in ("", "/") or parts.fragment:
        raise ConfigurationError(f"a client ID metadata document's URL is an https URL with a "
                                 f"path (http on loopback), not {url!r}")
    if not isinstance(document, dict) or document.get("client_id") != url:
        raise ConfigurationError(f"the document's client_id must be its URL {url!r}")
    if "client_secret" in document or str(document.get(
            "token_endpoint_auth_method", "none")).startswith("client_secret"):
        raise ConfigurationError("a client ID metadata document may not use a shared secret "
                                 "(client_secret*, no client_secret)")
    try:
        options, _ = registration_options({"token_endpoint_auth_method": "none", **document})
    except RegistrationError as exc:
        raise ConfigurationError(f"client ID metadata document {url}: {exc}") from None
    return {"client_id": url, **options}


def client_metadata(client: Client) -> dict[str, Any]:
    """What RFC 7591 §3.2.1 answers about a registered client: its id, secret (with
    ``client_secret_expires_at`` 0, it never expires) and every metadata field as
    registered."""
    body: dict[str, Any] = {"client_id": client.client_id}
    if client.client_secret is not None:
        body["client_secret"] = client.client_secret
        body["client_secret_expires_at"] = 0
    body["redirect_uris"] = list(client.redirect_uris)
    for name in ("id_token_signed_response_alg", "userinfo_signed_response_alg",
                 "request_object_signing_alg", "jwks_uri"):
        value = getattr(client, name)
        if value is not None:
            body[name] = value
    if client.jwks is not None:
        body["jwks"] = client.jwks
    if client.request_uris:
        body["request_uris"] = list(client.request_uris)
    body.update(client.metadata)
    return body


#: Clients the registration endpoint may add between resets: each is kept in the directory,
#: so an open endpoint on ``mockidp serve`` must not grow it without bound.
REGISTRATION_LIMIT = 1_000


class _Registration(NamedTuple):
    token: str
    #: The very client registered (or last updated through RFC 7592 §2.2): a client removed
    #: and added again under the same id is another client, which the token does not manage.
    client: Client
    #: ``client_id_issued_at`` (RFC 7591 §3.2.1): when the client was registered, in whole
    #: seconds of the provider's clock; the same in every later answer about it.
    issued_at: int


class Registrations:
    """The registration endpoint's state: the initial access token it requires
    (``None``: open registration, RFC 7591 §3), and each registered client's registration
    access token for the management endpoint (RFC 7592 §3) and issue time."""

    def __init__(self) -> None:
        #: The bearer token a registration request must carry (RFC 7591 §3), or ``None``.
        self.initial_access_token: str | None = None
        #: How many clients the endpoint may still add before a reset.
        self.limit = REGISTRATION_LIMIT
        self._registered: dict[str, _Registration] = {}

    def issue(self, client: Client, now: float) -> str:
        """A new registration access token for ``client``, registered at ``now`` (RFC
        7592 §3: a new one may be issued on each read or update; here one per
        registration)."""
        token = secrets.token_urlsafe(32)
        self._registered[client.client_id] = _Registration(token, client, int(now))
        return token

    def authorized(self, client_id: str, token: str) -> bool:
        registration = self._registered.get(client_id)
        return registration is not None and hmac.compare_digest(
            registration.token.encode(), token.encode())

    def manages(self, client: Client) -> bool:
        """Whether ``client`` is the very client registered under its id (RFC 7592 §3): a
        client removed and added again under the same id is not, and an old registration
        access token must not manage it."""
        registration = self._registered.get(client.client_id)
        return registration is not None and registration.client is client

    def update(self, client: Client) -> None:
        """Keep ``client``, which replaced the registered one by an update (RFC 7592 §2.2),
        as the client its registration access token manages."""
        registration = self._registered[client.client_id]
        self._registered[client.client_id] = registration._replace(client=client)

    def issued_at(self, client_id: str) -> int:
        """When ``client_id`` was registered (``client_id_issued_at``, RFC 7591 §3.2.1)."""
        return self._registered[client_id].issued_at

    def forget(self, client_id: str) -> None:
        self._registered.pop(client_id, None)

    @property
    def full(self) -> bool:
        return len(self._registered) >= self.limit

    def clear(self) -> None:
        self._registered.clear()
