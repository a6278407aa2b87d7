"""The parameters of an authorization request, wherever they came from: the query or form
as sent, a request object (RFC 9101 JAR: by value in ``request``, by reference in
``request_uri``), or a pushed authorization request (RFC 9126 PAR: ``request_uri`` of the
form ``urn:ietf:params:oauth:request_uri:...``).

RFC 9101 §6.3 and RFC 9126 §4: when a request object or a pushed request is used, only its
parameters count; of the outer ones only ``client_id`` is read, and it must be the same. A
request object is a JWT the client signed with its registered keys (``jwks`` / ``jwks_uri``,
or its secret for HS*), with, if present, ``exp`` in the future, ``iss`` = the client,
``aud`` = this issuer and ``client_id`` = the client (RFC 9101 §4, §6.1, §10.8: ``iss`` and
``aud`` are a SHOULD, ``exp`` optional; requests_oauth2client's signed requests carry neither
``iss`` nor ``aud``, pyoidc's carry no ``exp``). ``alg`` ``none`` only for a client that
registered ``request_object_signing_alg`` ``none``. (FAPI 2.0 profiles require ``exp``; no
profile here is FAPI's.)

Errors found here are answered directly (400 JSON), not at the redirect URI: the redirect URI
is one of the parameters being resolved."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import MultiDict

from ..core.fetch import FetchError
from ..core.jws import MalformedJWS, parse_compact
from ..core.requests import REQUEST_URI_PREFIX
from .clientauth import verify_assertion
from .responses import OAuthError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.directory import Client
    from ..core.issuer import Issuer

__all__ = ["authorization_parameters", "request_object_parameters"]

#: Claims of the JWT itself, not authorization request parameters.
_JWT_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti", "sub"})


def _as_params(claims: Mapping[str, Any]) -> MultiDict[str, str]:
    """A request object's claims as request parameters (RFC 9101 §4: they are the
    authorization request's parameters, §6.3 refuses an object that does not hold them):
    strings as they are; besides, ``max_age`` may be an integer (its text), ``claims`` an
    object (OIDC Core §5.5, its JSON text) and ``resource`` a list of strings (RFC 8707, a
    repeated parameter). Any other value is ``invalid_request_object``: stringified, a
    ``null`` nonce would become the nonce ``"null"``."""
    params: MultiDict[str, str] = MultiDict()
    for name, value in claims.items():
        if name in _JWT_CLAIMS:
            continue
        if isinstance(value, str):
            params.add(name, value)
        elif name == "resource" and isinstance(value, list) and all(
                isinstance(v, str) for v in value):
            for item in value:
                params.add(name, item)
        elif name == "max_age" and isinstance(value, int) and not isinstance(value, bool):
            params.add(name, str(value))
        elif name == "claims" and isinstance(value, dict):
            params.add(name, json.dumps(value))
        else:
            raise OAuthError("invalid_request_object", f"the request object's {name} must be "
                             f"{_SHAPES.get(name, 'a string')}, not {_json_type(value)} "
                             "(RFC 9101 §4, §6.3)")
    return params


#: What a request-object member may be besides a string (see :func:`_as_params`).
_SHAPES = {"max_age": "a string or an integer", "claims": "a string or a JSON object",
           "resource": "a string or a list of strings"}


def _json_type(value: object) -> str:
    """The JSON type of a parsed ``value``, as an error message names it."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return {int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__)


def request_object_parameters(issuer: Issuer, client: Client, request_object: str
                              ) -> tuple[MultiDict[str, str], bool]:
    """The parameters of a request object from ``client`` (see the module docstring), and
    whether it was signed (not ``alg`` ``none``); ``invalid_request_object`` if it does not
    hold."""
    try:
        header, claims, _, _ = parse_compact(request_object)
    except MalformedJWS as exc:
        raise OAuthError("invalid_request_object", f"the request object is not a JWS: "
                         f"{exc}") from None
    registered = client.request_object_signing_alg
    alg = header.get("alg")
    if registered is not None and alg != registered:
        raise OAuthError("invalid_request_object", f"the client registered "
                         f"request_object_signing_alg {registered}, not {alg}")
    verify_assertion(issuer, request_object, client, subject=None,
                     error="invalid_request_object", audience=[issuer.issuer],
                     require=tuple(name for name in ("exp", "iss", "aud") if name in claims),
                     allow_none=registered == "none")
    if claims.get("client_id", client.client_id) != client.client_id:
        raise OAuthError("invalid_request_object", "the request object's client_id differs "
                         "from the request's (RFC 9101 §5)")
    if "request" in claims or "request_uri" in claims:
        raise OAuthError("invalid_request_object", "a request object must not contain "
                         "request or request_uri (RFC 9101 §4)")
    params = _as_params(claims)
    params["client_id"] = client.client_id
    return params, alg != "none"


def authorization_parameters(issuer: Issuer, params: MultiDict[str, str], client: Client
                             ) -> MultiDict[str, str]:
    """The request's parameters (see the module docstring). Enforces the client's and the provider's
    ``require_pushed_authorization_requests`` (RFC 9126 §5-6) and the client's
    ``require_signed_request_object`` (RFC 9101 §10.5)."""
    request_uri, request_object = params.get("request_uri"), params.get("request")
    if request_uri is not None and request_object is not None:
        raise OAuthError("invalid_request", "send request or request_uri, not both "
                         "(RFC 9101 §5)")
    pushed = signed = False
    if request_uri is not None and request_uri.startswith(REQUEST_URI_PREFIX):
        entry = issuer.pushed.take(request_uri, issuer.clock.time())
        if entry is None or entry.client_id != client.client_id:
            raise OAuthError("invalid_request_uri", "the request_uri is unknown, used, "
                             "expired or was pushed by another client (RFC 9126 §4)")
        params, pushed, signed = MultiDict(entry.params), True, entry.signed
    elif request_uri is not None:
        if request_uri not in client.request_uris:
            raise OAuthError("invalid_request_uri", f"request_uri {request_uri!r} is not "
                             f"registered for client {client.client_id!r}; mockidp fetches "
                             "only registered ones (RFC 9101 §5.2, §10.4)")
        try:
            request_object = issuer.fetcher.text(request_uri).strip()
        except FetchError as exc:
            raise OAuthError("invalid_request_uri", str(exc)) from None
        params, signed = request_object_parameters(issuer, client, request_object)
    elif request_object is not None:
        params, signed = request_object_parameters(issuer, client, request_object)
    if not pushed and (client.require_pushed_authorization_requests
                       or issuer.require_pushed_authorization_requests):
        raise OAuthError("invalid_request", "this client must push its authorization "
                         "requests to the PAR endpoint (require_pushed_authorization_requests, "
                         "RFC 9126 §5)")
    if client.require_signed_request_object and not signed:
        raise OAuthError("invalid_request", "this client must send a signed request object "
                         "(require_signed_request_object, RFC 9101 §10.5)")
    return params
