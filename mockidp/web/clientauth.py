"""Client authentication at the token, device, introspection and revocation endpoints:
``client_secret_basic``, ``client_secret_post``, ``private_key_jwt`` (RFC 7523 §2.2) and, for a
public client, its ``client_id`` alone (RFC 6749 §2.3.1). Failures are ``invalid_client`` with
401 and ``WWW-Authenticate``."""

from __future__ import annotations

import base64
import hmac
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import jwt

from ..core.jws import MalformedJWS, parse_compact
from .responses import OAuthError

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from ..core.directory import Client
    from ..core.issuer import Issuer

__all__ = ["CLIENT_ASSERTION_TYPE", "authenticate_client", "verify_assertion"]

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_BASIC = {"WWW-Authenticate": 'Basic realm="mockidp"'}


def _refused(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401, _BASIC)


def authenticate_client(issuer: Issuer, request: Request) -> Client:
    """The client the request authenticates as (see the module docstring)."""
    if "client_assertion" in request.form:
        return _authenticate_assertion(issuer, request)
    client_id, secret = _client_credentials(request)
    client = issuer.clients.get(client_id)
    if client is None:
        raise _refused(f"unknown client {client_id!r}")
    if client.public:
        if secret:
            raise _refused(f"{client_id!r} is a public client and has no secret")
    elif client.client_secret is None:
        raise _refused(f"{client_id!r} authenticates with private_key_jwt (client_assertion)")
    elif secret is None or not hmac.compare_digest(secret.encode(),
                                                   client.client_secret.encode()):
        raise _refused(f"wrong or missing secret for {client_id!r}")
    return client


def _authenticate_assertion(issuer: Issuer, request: Request) -> Client:
    """``private_key_jwt``: a JWT signed by one of the client's registered keys, with
    ``iss`` = ``sub`` = the client id and this token endpoint as ``aud``; each ``jti``
    once (RFC 7523 §3, OIDC Core §9)."""
    if request.form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise _refused(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}")
    assertion = request.form.get("client_assertion", "")
    try:
        # Our own parser, not PyJWT's: it also refuses JSON nested too deep to decode
        # (a RecursionError) as malformed.
        client_id = parse_compact(assertion)[1].get("iss")
    except MalformedJWS as exc:
        raise _refused(f"malformed client_assertion: {exc}") from None
    client = issuer.clients.get(client_id) if isinstance(client_id, str) else None
    if client is None or client.jwks is None:
        raise _refused(f"no client with registered keys is {client_id!r}")
    if request.form.get("client_id", client.client_id) != client.client_id:
        raise _refused("client_id differs from the assertion's iss")
    claims = verify_assertion(issuer, assertion, client, subject=client.client_id,
                              error="invalid_client")
    jti = claims.get("jti")
    # Remembered until 10,000 later assertions pushed it out, not until its exp: PyJWT judges
    # exp on the real clock and the store sweeps on the provider's, which a test moves.
    if not isinstance(jti, str) or not issuer.flows.used_assertions.add_new(jti, True,
                                                                            math.inf):
        raise _refused("client_assertion needs a jti not used before")
    return client


def verify_assertion(issuer: Issuer, assertion: str, client: Client, *, subject: str | None,
                     error: str) -> dict[str, Any]:
    """The claims of a JWT the client signed with one of its registered keys."""
    status, headers = (401, _BASIC) if error == "invalid_client" else (400, {})
    try:
        kid = jwt.get_unverified_header(assertion).get("kid")
        candidates = [k for k in (client.jwks or {}).get("keys", [])
                      if kid is None or k.get("kid") == kid]
        if not candidates:
            raise jwt.InvalidKeyError(f"no registered key of the client has kid {kid!r}")
        key = jwt.PyJWK(candidates[0])
        audience = [issuer.token_endpoint, issuer.issuer]
        claims: dict[str, Any] = jwt.decode(
            assertion, key, algorithms=[key.algorithm_name], audience=audience,
            issuer=client.client_id, options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise OAuthError(error, f"assertion rejected: {exc}", status, headers) from None
    except RecursionError:  # JSON nested deeper than the decoder goes: not a JWT we read
        raise OAuthError(error, "assertion rejected: its JSON is nested too deep", status,
                         headers) from None
    if subject is not None and claims["sub"] != subject:
        raise OAuthError(error, f"assertion sub must be {subject!r}", status, headers)
    return claims


def _client_credentials(request: Request) -> tuple[str, str | None]:
    """(client_id, secret) from HTTP Basic or the form body; the secret is None if not sent."""
    header = request.headers.get("Authorization")
    if header is None:
        client_id = request.form.get("client_id", "")
        if not client_id:
            raise _refused("client authentication is required")
        return client_id, request.form.get("client_secret")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise _refused("use HTTP Basic client authentication")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and a non-ASCII header value
        # (the header is read as latin-1, RFC 9110 §5.5): RFC 6749 §5.2 invalid_client
        raise _refused("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _refused("Basic credentials need id:secret")
    client_id, secret = unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1 form-encodes
    if "client_secret" in request.form:
        raise OAuthError("invalid_request", "use one client authentication method, not two")
    if request.form.get("client_id", client_id) != client_id:
        raise OAuthError("invalid_request", "client_id in the body differs from Basic's")
    return client_id, secret
