"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): a client
posts its metadata and becomes a client of the provider (``idp.clients``, the dashboard and
the control API list it), then reads, updates or deletes its registration with the
registration access token it was given.

RFC 7591 §3: registration is open unless the provider sets an initial access token
(``idp.registrations.initial_access_token``), then it needs that bearer token. §3.2.1: 201
with the client's id, secret (``client_secret_expires_at`` 0: it never expires) and its
metadata as registered; §3.2.2: 400 ``invalid_redirect_uri`` / ``invalid_client_metadata`` /
``invalid_software_statement``. RFC 7592 §2: the registration access token is a bearer token
(RFC 6750): a missing or wrong one is 401 ``invalid_token``; GET answers 200 with the
registration, PUT replaces the metadata (200), DELETE forgets the client (204)."""

from __future__ import annotations

import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from ..core.registration import RegistrationError, client_metadata, registration_options
from ..errors import ConfigurationError
from .responses import CORS, NO_STORE, OAuthError, json_response

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from ..core.directory import Client
    from ..core.issuer import Issuer

__all__ = ["BODY_LIMIT", "client_configuration", "register"]

#: The largest registration or update body taken, in bytes: the provider keeps every client
#: the endpoint registers (up to ``idp.registrations.limit``), so each must be small; real
#: client metadata is a few hundred bytes to a few KiB.
BODY_LIMIT = 16 * 1024


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _invalid_token(description: str) -> OAuthError:
    return OAuthError("invalid_token", description, 401, {
        "WWW-Authenticate": 'Bearer realm="mockidp", error="invalid_token"'})


def _metadata(request: Request) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise OAuthError("invalid_client_metadata", "send the client metadata as "
                         "application/json (RFC 7591 §3.1)")
    data = request.get_data(cache=True)
    if len(data) > BODY_LIMIT:
        raise OAuthError("invalid_client_metadata", f"the client metadata may be at most "
                         f"{BODY_LIMIT} bytes")
    try:
        body = json.loads(data or b"null")
    except (ValueError, RecursionError) as exc:
        raise OAuthError("invalid_client_metadata", f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise OAuthError("invalid_client_metadata", "the client metadata is a JSON object")
    return body


def _client(issuer: Issuer, metadata: dict[str, Any], client_id: str | None,
            secret: str | None) -> Client:
    """The client ``metadata`` describes (not registered yet); §3.2.2 errors."""
    try:
        options, method = registration_options(metadata, code_only=issuer.profile.code_only)
        if method.startswith("client_secret") and secret is None:
            secret = secrets.token_urlsafe(32)
        elif not method.startswith("client_secret"):
            secret = None
        return issuer.clients.make(client_id, secret, **options)
    except RegistrationError as exc:
        raise OAuthError(exc.error, exc.description) from None
    except ConfigurationError as exc:
        raise OAuthError("invalid_client_metadata", str(exc)) from None


def _answer(issuer: Issuer, client: Client, token: str, status: int) -> Response:
    body = {**client_metadata(client),
            "client_id_issued_at": issuer.registrations.issued_at(client.client_id),
            "registration_access_token": token,
            "registration_client_uri": _configuration_uri(issuer, client.client_id)}
    return json_response(body, status, {**NO_STORE, **CORS})


def _configuration_uri(issuer: Issuer, client_id: str) -> str:
    return issuer.url_for("register") + "/" + client_id


def register(issuer: Issuer, request: Request) -> Response:
    """RFC 7591 §3.1-3.2."""
    registrations = issuer.registrations
    expected = registrations.initial_access_token
    if expected is not None:
        given = _bearer(request)
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise _invalid_token("registration needs the initial access token (RFC 7591 §3)")
    metadata = _metadata(request)
    if registrations.full:
        raise OAuthError("invalid_request", f"the provider registered {registrations.limit} "
                         "clients since it was reset, the most it may")
    client = _client(issuer, metadata, f"dcr-{secrets.token_urlsafe(12)}", None)
    issuer.clients.register(client)
    return _answer(issuer, client, registrations.issue(client, issuer.clock.time()), 201)


def client_configuration(issuer: Issuer, request: Request, client_id: str) -> Response:
    """RFC 7592 §2: read (GET), update (PUT) or delete (DELETE) a registration."""
    registrations = issuer.registrations
    token = _bearer(request)
    if token is None or not registrations.authorized(client_id, token):
        raise _invalid_token("a registration access token for this client is required "
                             "(RFC 7592 §3)")
    client = issuer.clients.get(client_id)
    if client is None or not registrations.manages(client):
        # Removed in Python or through the control API (and perhaps added again under its
        # id): its registration is gone with it.
        registrations.forget(client_id)
        raise _invalid_token("the client of this registration no longer exists (RFC 7592 "
                             "§3)")
    if request.method == "DELETE":
        issuer.clients.remove(client_id)
        registrations.forget(client_id)
        return Response(status=204, headers=NO_STORE)
    if request.method == "PUT":
        metadata = _metadata(request)
        if metadata.get("client_id") != client_id:
            raise OAuthError("invalid_request", "the body's client_id must be the client's "
                             "(RFC 7592 §2.2)")
        if "client_secret" in metadata and metadata["client_secret"] != client.client_secret:
            raise OAuthError("invalid_request", "client_secret must be the one issued")
        given = {k: v for k, v in metadata.items()
                 if k not in ("client_id", "client_secret", "registration_access_token",
                              "registration_client_uri", "client_id_issued_at",
                              "client_secret_expires_at")}
        client = _client(issuer, given, client_id, client.client_secret)
        issuer.clients.replace(client)
        registrations.update(client)
    return _answer(issuer, client, token, 200)
