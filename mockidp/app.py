"""The WSGI application: routing, the OAuth/OIDC endpoints and their error responses.

Each endpoint is a small ``on_<name>`` method routed by a Werkzeug ``Map``. Every failure becomes
a JSON error response with the status the specs define (RFC 6749 §5.2 for the token endpoint);
an exception in a handler becomes a ``server_error`` answer and is kept so that the test thread
can re-raise it (``MockIdP.check()``), instead of a traceback on a socket nobody reads.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import traceback
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .provider import MockIdP

__all__ = ["ENDPOINTS", "App", "OAuthError"]

log = logging.getLogger("mockidp.app")

#: Endpoint name -> path below the issuer.
ENDPOINTS: dict[str, str] = {
    "discovery": "/.well-known/openid-configuration",
    "oauth-metadata": "/.well-known/oauth-authorization-server",
    "jwks": "/.well-known/jwks.json",
    "token": "/token",
}

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CORS = {"Access-Control-Allow-Origin": "*"}


class OAuthError(Exception):
    """An error answered as ``{"error": ..., "error_description": ...}`` (RFC 6749 §5.2)."""

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {"error": self.error, "error_description": self.description}
        return _json(body, self.status, {**_NO_STORE, **self.headers})


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status=status, headers=headers, content_type="application/json")


class App:
    """The provider's HTTP face. Reads all state from the ``MockIdP`` it serves."""

    def __init__(self, provider: MockIdP) -> None:
        self.provider = provider
        self.url_map = Map(
            [Rule(path, endpoint=name, methods=self._methods(name))
             for name, path in ENDPOINTS.items()],
            strict_slashes=False,
        )
        self.errors: list[str] = []
        self._errors_lock = threading.Lock()
        self._discovery: tuple[object, bytes] = (None, b"")

    @staticmethod
    def _methods(name: str) -> Iterable[str]:
        return ["POST"] if name == "token" else ["GET"]

    # -- plumbing -----------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            name, args = adapter.match()
            response: Response = getattr(self, "on_" + name.replace("-", "_"))(request, **args)
        except OAuthError as exc:
            return exc.response()
        except NotFound:
            return OAuthError("invalid_request", f"no endpoint at {request.path}", 404).response()
        except MethodNotAllowed as exc:
            allowed = ", ".join(exc.valid_methods or ())
            return OAuthError(
                "invalid_request", f"{request.method} is not allowed here; use {allowed}",
                405, {"Allow": allowed},
            ).response()
        except HTTPException as exc:  # e.g. 413 from Werkzeug's form parser
            code = exc.code or 400
            return OAuthError("invalid_request", exc.description or exc.name, code).response()
        except Exception:
            detail = traceback.format_exc()
            log.error("handler for %s %s failed\n%s", request.method, request.path, detail)
            with self._errors_lock:
                self.errors.append(detail)
            return OAuthError("server_error", "the mock provider failed; see idp.check()",
                              500).response()
        return response

    # -- metadata and keys --------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """Provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2), advertising only what is
        served and exactly the algorithms the key ring signs with."""
        provider = self.provider
        algs = provider.keys.algorithms()
        return {
            "issuer": provider.issuer,
            "token_endpoint": provider.token_endpoint,
            "jwks_uri": provider.jwks_uri,
            "scopes_supported": ["openid", "profile", "email"],
            "response_types_supported": ["code", "id_token", "token id_token"],
            "grant_types_supported": ["client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "azp",
                "at_hash", "c_hash", "name", "given_name", "family_name", "preferred_username",
                "email", "email_verified", "locale", "zoneinfo",
            ],
        }

    def on_discovery(self, request: Request) -> Response:
        provider = self.provider
        cache_key = (provider.keys.version, provider.issuer)
        cached_key, body = self._discovery
        if cached_key != cache_key:
            body = json.dumps(self.metadata(), separators=(",", ":")).encode()
            self._discovery = (cache_key, body)
        return _json(body, headers=_CORS)

    on_oauth_metadata = on_discovery

    def on_jwks(self, request: Request) -> Response:
        max_age = self.provider.jwks_max_age
        headers = {**_CORS, "Cache-Control": f"public, max-age={max_age}"}
        return _json(self.provider.keys.jwks_bytes, headers=headers)

    # -- token endpoint -----------------------------------------------------------------------

    def authenticate_client(self, request: Request) -> str:
        """The client's id after ``client_secret_basic`` or ``client_secret_post`` (RFC 6749
        §2.3.1); ``invalid_client`` with 401 and ``WWW-Authenticate`` otherwise (§5.2)."""
        challenge = {"WWW-Authenticate": 'Basic realm="mockidp"'}
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                raise OAuthError("invalid_client", "use HTTP Basic client authentication",
                                 401, challenge)
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "malformed Basic credentials",
                                 401, challenge) from None
            client_id, sep, secret = decoded.partition(":")
            if not sep:
                raise OAuthError("invalid_client", "Basic credentials need id:secret",
                                 401, challenge)
            client_id, secret = unquote(client_id), unquote(secret)
            if "client_secret" in request.form:
                raise OAuthError("invalid_request", "use one client authentication method")
        else:
            client_id = request.form.get("client_id", "")
            secret = request.form.get("client_secret", "")
            if not client_id:
                raise OAuthError("invalid_client", "client authentication is required",
                                 401, challenge)
        client = self.provider.clients.get(client_id)
        if client is None or client.client_secret is None or client.client_secret != secret:
            raise OAuthError("invalid_client", f"unknown client or wrong secret for {client_id!r}",
                             401, challenge)
        return client_id

    def on_token(self, request: Request) -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request",
                             "send the parameters as application/x-www-form-urlencoded")
        for name, values in request.form.lists():
            if len(values) > 1:  # RFC 6749 §3.2: parameters must not be repeated
                raise OAuthError("invalid_request", f"parameter {name!r} is repeated")
        grant_type = request.form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        client_id = self.authenticate_client(request)
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not served")
        client = self.provider.clients[client_id]
        if grant_type not in client.grant_types:
            raise OAuthError("unauthorized_client",
                             f"client {client_id!r} may not use {grant_type}")
        scope = request.form.get("scope")
        expires_in = 3600
        token = self.provider.token(
            sub=client_id, client_id=client_id, scope=scope, expires_in=expires_in
        )
        body: dict[str, Any] = {
            "access_token": token, "token_type": "Bearer", "expires_in": expires_in,
        }
        if scope:
            body["scope"] = scope
        return _json(body, headers=_NO_STORE)
