"""Client authentication at the token, device, introspection and revocation endpoints:
``client_secret_basic``, ``client_secret_post``, ``private_key_jwt`` and ``client_secret_jwt``
(RFC 7523 §2.2, OIDC Core §9) and, for a public client, its ``client_id`` alone (RFC 6749
§2.3.1). Failures are ``invalid_client`` with 401 and ``WWW-Authenticate``.

Assertions are verified by PyJWT except where PyJWT falls short: the RFC 9864 names
``Ed25519`` / ``Ed448`` (which PyJWT does not know; verified with the same cryptography signer
:mod:`mockidp.core.jwa` signs them with) and HMAC keyed with the client secret (verified with
:mod:`hmac`, because PyJWT warns on a secret shorter than the hash, and a warning is an error
under ``-W error``). Claims are checked by PyJWT on every path."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote_plus

import jwt
from jwt.algorithms import OKPAlgorithm

from ..core import jwa
from ..core.directory import jwk_set_problem
from ..core.fetch import FetchError
from ..core.jws import MalformedJWS, parse_compact
from .responses import OAuthError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from werkzeug.wrappers import Request

    from ..core.directory import Client
    from ..core.issuer import Issuer

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "CLIENT_SECRET_JWT_ALGS",
    "PRIVATE_KEY_JWT_ALGS",
    "authenticate_client",
    "client_keys",
    "verify_assertion",
]

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: ``private_key_jwt``: the asymmetric algorithms a client's registered key may sign with.
PRIVATE_KEY_JWT_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                        "ES512", "EdDSA", "Ed25519", "Ed448"]
#: ``client_secret_jwt`` (RFC 7523 §2.2, OIDC Core §9): HMAC keyed with the client secret.
_HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
CLIENT_SECRET_JWT_ALGS = list(_HMAC_HASHES)
#: RFC 9864: each fully-specified EdDSA name allows exactly one curve.
_EDDSA_CURVES = {"Ed25519": "Ed25519", "Ed448": "Ed448"}
_BASIC = {"WWW-Authenticate": 'Basic realm="mockidp"'}


def _refused(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401, _BASIC)


def authenticate_client(issuer: Issuer, request: Request) -> Client:
    """The client the request authenticates as (see the module docstring), by the method it
    registered if it registered one (``token_endpoint_auth_method``, RFC 7591 §2)."""
    if "client_assertion" in request.form:
        client, method = _authenticate_assertion(issuer, request)
    else:
        client, method = _authenticate_secret(issuer, request)
    registered = client.token_endpoint_auth_method
    if registered is not None and registered != method:
        raise _refused(f"{client.client_id!r} registered token_endpoint_auth_method "
                       f"{registered}; this request used {method} (RFC 7591 §2)")
    return client


def _authenticate_secret(issuer: Issuer, request: Request) -> tuple[Client, str]:
    """``client_secret_basic``, ``client_secret_post``, or a public client's ``client_id``
    (``none``); the client and the method used."""
    client_id, secret, method = _client_credentials(request)
    client = issuer.clients.get(client_id)
    if client is None:
        raise _refused(f"unknown client {client_id!r}")
    if client.public:
        if secret:
            raise _refused(f"{client_id!r} is a public client and has no secret")
        return client, "none"
    if client.client_secret is None:
        raise _refused(f"{client_id!r} authenticates with private_key_jwt (client_assertion)")
    if secret is None or not hmac.compare_digest(secret.encode(), client.client_secret.encode()):
        raise _refused(f"wrong or missing secret for {client_id!r}")
    return client, method


def _authenticate_assertion(issuer: Issuer, request: Request) -> tuple[Client, str]:
    """``private_key_jwt`` (a JWT signed by one of the client's registered keys) or
    ``client_secret_jwt`` (an HS256/384/512 JWT keyed with the client secret), with
    ``iss`` = ``sub`` = the client id and this authorization server as ``aud``; each ``jti``
    once (RFC 7523 §2.2 and §3, OIDC Core §9)."""
    if request.form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise _refused(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}")
    assertion = request.form.get("client_assertion", "")
    try:
        # Our own parser, not PyJWT's: it also refuses JSON nested too deep to decode
        # (a RecursionError) as malformed.
        header, payload, _, _ = parse_compact(assertion)
    except MalformedJWS as exc:
        raise _refused(f"malformed client_assertion: {exc}") from None
    client_id = payload.get("iss")
    client = issuer.clients.get(client_id) if isinstance(client_id, str) else None
    if header.get("alg") in _HMAC_HASHES:
        if client is None or client.client_secret is None:
            raise _refused(f"no client with a secret is {client_id!r} (client_secret_jwt)")
    elif client is None or (client.jwks is None and client.jwks_uri is None):
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
    return client, ("client_secret_jwt" if header.get("alg") in _HMAC_HASHES
                    else "private_key_jwt")


def client_keys(issuer: Issuer, client: Client) -> Mapping[str, Any]:
    """The client's registered public keys: its ``jwks``, or the set at its ``jwks_uri``
    (fetched on loopback only, :mod:`mockidp.core.fetch`); :class:`jwt.InvalidKeyError` if
    there are none to be had."""
    if client.jwks is not None or client.jwks_uri is None:
        return client.jwks or {}
    try:
        keys = issuer.fetcher.json(client.jwks_uri)
    except FetchError as exc:
        raise jwt.InvalidKeyError(f"the client's jwks_uri: {exc}") from None
    problem = jwk_set_problem(keys)
    if problem is not None:
        raise jwt.InvalidKeyError(f"the client's jwks_uri: {problem}")
    return cast("Mapping[str, Any]", keys)  # a JWK Set: jwk_set_problem found none


def verify_assertion(issuer: Issuer, assertion: str, client: Client, *, subject: str | None,
                     error: str, audience: list[str] | None = None,
                     require: tuple[str, ...] = ("exp", "iss", "sub", "aud"),
                     allow_none: bool = False) -> dict[str, Any]:
    """The claims of a JWT the client signed with one of its registered keys, or (an HS*
    ``alg``) with its secret. ``aud`` must name this authorization server: its issuer, or the
    URL of an endpoint that authenticates clients (RFC 7523 §3 leaves the value to the server
    and suggests the token endpoint; clients such as Authlib send the URL they post to; RFC
    9126 §2 makes the PAR endpoint's URL one the server MUST take), or one of ``audience``.
    ``allow_none``: an unsigned JWT (``alg`` ``none``) is taken too, for a client that
    registered it for its request objects (RFC 9101 §10.5). ``iss`` and ``aud`` are checked
    only when in ``require`` (a caller that lets one be absent requires it when present)."""
    status, headers = (401, _BASIC) if error == "invalid_client" else (400, {})
    if audience is None:
        audience = [issuer.issuer, issuer.token_endpoint, *(
            issuer.url_for(name) for name in ("introspect", "revoke", "device", "par"))]
    try:
        header = jwt.get_unverified_header(assertion)
        alg = header.get("alg")
        if alg == "none" and not allow_none:
            raise jwt.InvalidAlgorithmError("alg none is not accepted from this client")
        if alg in _HMAC_HASHES or alg in _EDDSA_CURVES or alg == "none":
            _verify_signature(issuer, assertion, header, client)
            options: dict[str, Any] = {
                "verify_signature": False, "verify_exp": True, "verify_nbf": True,
                "verify_iat": True, "verify_aud": True, "verify_iss": True,
                "verify_sub": True, "verify_jti": True}
            key: Any = None
            algorithms: list[str] | None = None
        else:
            kid = header.get("kid")
            candidates = [k for k in client_keys(issuer, client).get("keys", [])
                          if kid is None or k.get("kid") == kid]
            if not candidates:
                raise jwt.InvalidKeyError(f"no registered key of the client has kid {kid!r}")
            key = jwt.PyJWK(candidates[0])
            algorithms, options = [key.algorithm_name], {}
        options.update(require=list(require), verify_iss="iss" in require,
                       verify_aud="aud" in require)
        claims: dict[str, Any] = jwt.decode(
            assertion, key, algorithms=algorithms, audience=audience,
            issuer=client.client_id, options=options,  # type: ignore[arg-type]
        )
    except jwt.PyJWTError as exc:
        raise OAuthError(error, f"assertion rejected: {exc}", status, headers) from None
    except RecursionError:  # JSON nested deeper than the decoder goes: not a JWT we read
        raise OAuthError(error, "assertion rejected: its JSON is nested too deep", status,
                         headers) from None
    if subject is not None and claims["sub"] != subject:
        raise OAuthError(error, f"assertion sub must be {subject!r}", status, headers)
    return claims


def _verify_signature(issuer: Issuer, assertion: str, header: dict[str, Any],
                      client: Client) -> None:
    """The signature of an assertion PyJWT cannot verify (see the module docstring);
    :class:`jwt.InvalidSignatureError` or :class:`jwt.InvalidKeyError` if it does not hold."""
    alg = header["alg"]
    try:
        _, _, message, signature = parse_compact(assertion)
    except MalformedJWS as exc:
        raise jwt.DecodeError(str(exc)) from None
    if alg == "none":  # RFC 7518 §3.6: the empty signature
        if signature:
            raise jwt.InvalidSignatureError("an unsecured JWT has an empty signature")
        return
    if alg in _HMAC_HASHES:
        secret = client.client_secret
        if secret is None:
            raise jwt.InvalidKeyError(f"{alg} (client_secret_jwt) needs a client secret")
        expected = hmac.new(secret.encode(), message, _HMAC_HASHES[alg]).digest()
        if not hmac.compare_digest(expected, signature):
            raise jwt.InvalidSignatureError("Signature verification failed")
        return
    # RFC 9864 Ed25519 / Ed448: an OKP key of exactly that curve, whose "alg", if the JWK
    # names one, is this one (RFC 7517 §4.4).
    kid = header.get("kid")
    candidates = [k for k in client_keys(issuer, client).get("keys", [])
                  if (kid is None or k.get("kid") == kid) and k.get("kty") == "OKP"
                  and k.get("crv") == _EDDSA_CURVES[alg] and k.get("alg", alg) == alg]
    if not candidates:
        raise jwt.InvalidKeyError(f"no registered {_EDDSA_CURVES[alg]} key of the client "
                                  f"for {alg} has kid {kid!r}")
    try:
        public_key = OKPAlgorithm.from_jwk(candidates[0])
    except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
        raise jwt.InvalidKeyError(f"unusable {alg} key: {exc}") from None
    if not jwa.get(alg).signer.verify(message, public_key, signature):
        raise jwt.InvalidSignatureError("Signature verification failed")


def _client_credentials(request: Request) -> tuple[str, str | None, str]:
    """(client_id, secret, method) from HTTP Basic or the form body; the secret is None if
    not sent."""
    header = request.headers.get("Authorization")
    if header is None:
        client_id = request.form.get("client_id", "")
        if not client_id:
            raise _refused("client authentication is required")
        return client_id, request.form.get("client_secret"), "client_secret_post"
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
    try:
        # RFC 6749 §2.3.1: both were form-urlencoded (Appendix B) before Base64, so "+" is a
        # space and "%2B" a plus; the bytes decoded are UTF-8.
        client_id = unquote_plus(client_id, errors="strict")
        secret = unquote_plus(secret, errors="strict")
    except UnicodeDecodeError:
        raise _refused("malformed Basic credentials: not form-urlencoded UTF-8") from None
    if "client_secret" in request.form:
        raise OAuthError("invalid_request", "use one client authentication method, not two")
    if request.form.get("client_id", client_id) != client_id:
        raise OAuthError("invalid_request", "client_id in the body differs from Basic's")
    return client_id, secret, "client_secret_basic"
