"""What consumers fetch to learn about the provider: the metadata document (OIDC Discovery 1.0
§3, RFC 8414 §2), the JWKS (RFC 7517 §5), the certificate map, and the attacker's keys that the
jku / x5u faults point at.

The metadata and the JWKS are served as ready bytes: the JWKS is the key ring's own, and the
metadata is serialized again only when the keys or the issuer change.
"""

from __future__ import annotations

import json
import weakref
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import NotFound
from werkzeug.http import http_date as _format_date
from werkzeug.wrappers import Response

from ..core import jwa
from ..core.directory import AUTH_METHODS, served_grant_types
from ..core.dpop import DPOP_ALGS
from ..core.flows import PKCE_METHODS
from . import front_channel
from .authorize import RESPONSE_MODES
from .clientauth import CLIENT_SECRET_JWT_ALGS, PRIVATE_KEY_JWT_ALGS
from .responses import CORS, json_response
from .sessions import SCOPE_CLAIMS

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from ..core.issuer import Issuer

__all__ = ["INTROSPECTION_AUTH_METHODS", "http_date", "jwks_headers", "metadata",
           "metadata_bytes"]

#: RFC 7662 §2.1: introspection must be authorized, so a public client's bare ``client_id``
#: (``none``) is not listed; a bearer access token is also taken, but has no method name in
#: the IANA registry RFC 8414 §2 draws these values from.
INTROSPECTION_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]
#: The ``alg`` values a client assertion may use, for ``private_key_jwt`` and
#: ``client_secret_jwt`` alike (RFC 8414 §2 has one list per endpoint for both).
CLIENT_ASSERTION_ALGS = [*PRIVATE_KEY_JWT_ALGS, *CLIENT_SECRET_JWT_ALGS]

_documents: weakref.WeakKeyDictionary[Issuer, tuple[object, bytes]] = \
    weakref.WeakKeyDictionary()
def http_date(now: float) -> str:
    """An HTTP date (RFC 9110 §5.6.7) for the provider's clock, formatted once per second
    (and per second ``Expires`` names, which alternates with ``Date`` on every JWKS answer)."""
    return _formatted(int(now))


@lru_cache(maxsize=8)
def _formatted(second: int) -> str:
    return _format_date(second)


def metadata(issuer: Issuer) -> dict[str, Any]:
    """Provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2), advertising only what is
    served and exactly the algorithms the key ring signs with.

    RFC 8414 §2: an endpoint whose auth methods list ``private_key_jwt`` or
    ``client_secret_jwt`` MUST list the assertion algorithms too, so each of the three has its
    ``*_auth_signing_alg_values_supported``. Request objects (RFC 9101) are served by value
    and by reference; a ``request_uri`` is either one the PAR endpoint issued (RFC 9126) or a
    URL the client registered (``require_request_uri_registration``, OIDC Discovery §3). They
    may be signed with any algorithm a client assertion may use, or be unsigned (``none``) for
    a client that registered that. JARM responses are signed with the provider's default
    algorithm.

    OIDC Discovery §3: ``id_token_signing_alg_values_supported`` MUST include RS256, and the
    issuer always has an RS256 key. The signing algorithms listed for ID tokens and for
    userinfo are those of the ring's published and active asymmetric keys: each can be
    registered by a client (``id_token_signed_response_alg``, ``userinfo_signed_response_alg``)
    and is then served; registering another adds its key, and so its name here."""
    signing = [alg for alg in issuer.keys.algorithms() if jwa.get(alg).asymmetric]
    return {
        "issuer": issuer.issuer,
        "authorization_endpoint": issuer.url_for("authorize"),
        "token_endpoint": issuer.token_endpoint,
        "userinfo_endpoint": issuer.url_for("userinfo"),
        "introspection_endpoint": issuer.url_for("introspect"),
        "revocation_endpoint": issuer.url_for("revoke"),
        "end_session_endpoint": issuer.url_for("end-session"),
        "device_authorization_endpoint": issuer.url_for("device"),
        "jwks_uri": issuer.jwks_uri,
        "scopes_supported": ["openid", *SCOPE_CLAIMS],
        "response_types_supported": list(front_channel.served(issuer)),
        "response_modes_supported": list(RESPONSE_MODES),
        # with implicit: the tokens the authorization endpoint returns itself (OIDC Core §3.2,
        # §3.3); a code_only profile serves neither it nor password (OAuth 2.1)
        "grant_types_supported": list(served_grant_types(issuer.profile.code_only)),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing,
        "userinfo_signing_alg_values_supported": signing,
        "code_challenge_methods_supported": list(PKCE_METHODS),
        "dpop_signing_alg_values_supported": list(DPOP_ALGS),  # RFC 9449 §5.1
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": INTROSPECTION_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,
        "request_object_signing_alg_values_supported": [*CLIENT_ASSERTION_ALGS, "none"],
        "pushed_authorization_request_endpoint": issuer.url_for("par"),
        "require_pushed_authorization_requests": issuer.require_pushed_authorization_requests,
        "authorization_signing_alg_values_supported": [issuer.keys.default_alg],
        "registration_endpoint": issuer.url_for("register"),
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": True,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "acr", "amr", "nonce",
            "azp",
            "at_hash", "c_hash", "name", "given_name", "family_name", "preferred_username",
            "email", "email_verified", "locale", "zoneinfo",
        ],
        **issuer.profile.metadata,
    }


def metadata_bytes(issuer: Issuer) -> bytes:
    """The serialized metadata, rebuilt only when the keys, the issuer or the PAR
    requirement change."""
    cache_key = (issuer.keys.version, issuer.issuer,
                 issuer.require_pushed_authorization_requests)
    cached_key, body = _documents.get(issuer, (None, b""))
    if cached_key != cache_key:
        body = json.dumps(metadata(issuer), separators=(",", ":")).encode()
        _documents[issuer] = (cache_key, body)
    return body


def jwks_headers(issuer: Issuer, now: float) -> dict[str, str]:
    max_age = issuer.jwks_max_age
    return {**CORS, "Cache-Control": f"public, max-age={max_age}",
            "Expires": http_date(now + max_age)}


def discovery(issuer: Issuer, request: Request) -> Response:
    return json_response(metadata_bytes(issuer), headers=CORS)


def jwks(issuer: Issuer, request: Request) -> Response:
    return json_response(issuer.keys.jwks_bytes,
                         headers=jwks_headers(issuer, issuer.clock.time()))


def certs(issuer: Issuer, request: Request) -> Response:
    """The published keys' certificates as ``{kid: PEM}`` (Google's ``/oauth2/v1/certs``
    format, read by google-auth and firebase-admin), with the JWKS's cache headers."""
    certificates = {key.kid: key.certificate_pem for key in issuer.keys.published()}
    return json_response(json.dumps(certificates).encode(),
                         headers=jwks_headers(issuer, issuer.clock.time()))


def attacker_jwks(issuer: Issuer, request: Request) -> Response:
    return json_response(issuer.attacker.jwks_bytes())


def attacker_certificate(issuer: Issuer, request: Request, kid: str) -> Response:
    pem = issuer.attacker.certificate_pem(kid)
    if pem is None:
        raise NotFound()
    return Response(pem, content_type="application/x-pem-file")
