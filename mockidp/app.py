"""The WSGI application: routing, the OAuth/OIDC endpoints and their error responses.

Each endpoint is a small ``on_<name>`` method routed by a Werkzeug ``Map``. Every failure becomes
a JSON error response with the status the specs define (RFC 6749 §5.2 for the token endpoint);
an exception in a handler becomes a ``server_error`` answer and is kept so that the test thread
can re-raise it (``MockIdP.check()``), instead of a traceback on a socket nobody reads.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import logging
import re
import socket
import threading
import time
import traceback
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import http_date
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .flows import CODE_LIFETIME, PKCE_METHODS, CodeStore, Grant, pkce_matches
from .recording import BODY_LIMIT, RecordedRequest, freeze
from .tokens import InvalidTokenError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .directory import Client, User
    from .endpoints import Override
    from .provider import MockIdP

__all__ = ["ENDPOINTS", "App", "OAuthError"]

log = logging.getLogger("mockidp.app")

#: Endpoint name -> path below the issuer.
ENDPOINTS: dict[str, str] = {
    "discovery": "/.well-known/openid-configuration",
    "oauth-metadata": "/.well-known/oauth-authorization-server",
    "jwks": "/.well-known/jwks.json",
    "authorize": "/authorize",
    "token": "/token",
    "userinfo": "/userinfo",
    # Served for the jku / x5u faults: a consumer that fetches these trusted a token header.
    "attacker-jwks": "/_mockidp/attacker/jwks.json",
    "attacker-certificate": "/_mockidp/attacker/{kid}.pem",
    "redirected": "/_mockidp/redirected/{name}",
}

#: The userinfo claims each scope releases (OIDC Core §5.4).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "preferred_username", "locale",
                "zoneinfo", "picture", "updated_at"),
    "email": ("email", "email_verified"),
}

#: Lifetime of tokens the token endpoint issues, in seconds.
TOKEN_LIFETIME = 3600
RESPONSE_MODES = ("query", "fragment", "form_post")

#: Request bodies larger than this are refused with 413.
MAX_BODY = 1024 * 1024
FORM = "application/x-www-form-urlencoded"

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CORS = {"Access-Control-Allow-Origin": "*"}
_BASIC = {"WWW-Authenticate": 'Basic realm="mockidp"'}


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
            [Rule(re.sub(r"\{(\w+)\}", r"<\1>", path), endpoint=name,
                  methods=self._methods(name))
             for name, path in ENDPOINTS.items()],
            strict_slashes=False,
        )
        self.errors: list[str] = []
        self.codes = CodeStore()
        self.grants: dict[str, Callable[[Request, Client], dict[str, Any]]] = {
            "authorization_code": self.grant_authorization_code,
            "client_credentials": self.grant_client_credentials,
        }
        self._errors_lock = threading.Lock()
        self._discovery: tuple[object, bytes] = (None, b"")

    @staticmethod
    def _methods(name: str) -> Iterable[str]:
        return {"token": ["POST"], "authorize": ["GET", "POST"],
                "userinfo": ["GET", "POST"]}.get(name, ["GET"])

    # -- plumbing -----------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        generation = self.provider.requests_log.generation
        request = Request(environ)
        request.max_content_length = MAX_BODY
        try:
            match: tuple[str, Mapping[str, Any]] | HTTPException = (
                self.url_map.bind_to_environ(environ).match()
            )
        except HTTPException as exc:  # NotFound, MethodNotAllowed, a redirect for a slash
            match = exc
        name = match[0] if isinstance(match, tuple) else None
        control = self.provider.endpoints.get(name)
        rule = None
        if control is not None and control.active:
            delay, rule = control.take()
            if delay:
                control.wait(delay)
        if rule is not None and rule.drop:
            self.record(request, name, None, started, generation)
            return _drop(environ, start_response)
        response = self.dispatch(request, match)
        if rule is not None:
            response = self.override(request, response, rule, name)
        response.headers["Date"] = http_date(self.provider.clock.time())
        self.record(request, name, response.status_code, started, generation)
        return response(environ, start_response)

    def dispatch(self, request: Request, match: tuple[str, Mapping[str, Any]] | HTTPException
                 ) -> Response:
        try:
            if isinstance(match, HTTPException):
                raise match
            request.get_data(cache=True)  # kept for the request log; 413 past MAX_BODY
            name, args = match
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
        except HTTPException as exc:  # e.g. 413 for a body over MAX_BODY
            code = exc.code or 400
            return OAuthError("invalid_request", exc.description or exc.name, code).response()
        except Exception:
            self.failed(request)
            return OAuthError("server_error", "the mock provider failed; see idp.check()",
                              500).response()
        return response

    def failed(self, request: Request) -> None:
        detail = traceback.format_exc()
        log.error("handler for %s %s failed\n%s", request.method, request.path, detail)
        with self._errors_lock:
            self.errors.append(detail)

    def override(self, request: Request, response: Response, rule: Override,
                 name: str | None) -> Response:
        """The answer an endpoint control asked for instead of (or on top of) ``response``."""
        if rule.redirect is not None:
            location = rule.redirect or f"{self.provider.issuer}/_mockidp/redirected/{name}"
            return Response(status=rule.status or 302, headers={"Location": location})
        if rule.body is not None:
            response = Response(rule.body, content_type=rule.content_type)
        elif rule.transform is not None:
            try:
                document = rule.transform(json.loads(response.get_data()))
            except Exception:  # a transform the test wrote does not fit this answer
                self.failed(request)
                return OAuthError("server_error", f"the transform set on {name} failed; see "
                                  "idp.check()", 500).response()
            response.set_data(json.dumps(document, separators=(",", ":")))
        if rule.status is not None:
            response.status_code = rule.status
        response.headers.update(rule.headers)
        return response

    def record(self, request: Request, name: str | None, status: int | None,
               started: float, generation: int) -> None:
        try:
            body = request.get_data(cache=True)
            form = request.form.to_dict() if request.mimetype == FORM else {}
        except HTTPException:  # a body over MAX_BODY: answered 413, not kept
            body, form = b"", {}
        self.provider.requests_log.add(RecordedRequest(
            method=request.method, path=request.path, endpoint=name,
            headers=freeze(dict(request.headers.items())), query=freeze(request.args.to_dict()),
            form=freeze(form), status=status, time=self.provider.clock.time(),
            duration=time.perf_counter() - started, body=body[:BODY_LIMIT],
        ), generation)

    def on_redirected(self, request: Request, name: str) -> Response:
        """Where ``endpoint(name).redirect()`` sends consumers: the endpoint's usual answer."""
        if name not in ENDPOINTS or "GET" not in self._methods(name):
            raise NotFound()
        handler: Callable[[Request], Response] = getattr(self, "on_" + name.replace("-", "_"))
        return handler(request)

    # -- metadata and keys --------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """Provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2), advertising only what is
        served and exactly the algorithms the key ring signs with."""
        provider = self.provider
        algs = provider.keys.algorithms()
        return {
            "issuer": provider.issuer,
            "authorization_endpoint": provider.url_for("authorize"),
            "token_endpoint": provider.token_endpoint,
            "userinfo_endpoint": provider.url_for("userinfo"),
            "jwks_uri": provider.jwks_uri,
            "scopes_supported": ["openid", *SCOPE_CLAIMS],
            "response_types_supported": ["code"],
            "response_modes_supported": list(RESPONSE_MODES),
            "grant_types_supported": list(self.grants),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "userinfo_signing_alg_values_supported": ["none"],
            "code_challenge_methods_supported": list(PKCE_METHODS),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none",
            ],
            "authorization_response_iss_parameter_supported": True,
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
        headers = {**_CORS, "Cache-Control": f"public, max-age={max_age}",
                   "Expires": http_date(self.provider.clock.time() + max_age)}
        return _json(self.provider.keys.jwks_bytes, headers=headers)

    def on_attacker_jwks(self, request: Request) -> Response:
        return _json(self.provider.attacker.jwks_bytes())

    def on_attacker_certificate(self, request: Request, kid: str) -> Response:
        pem = self.provider.attacker.certificate_pem(kid)
        if pem is None:
            raise NotFound()
        return Response(pem, content_type="application/x-pem-file")

    # -- token endpoint -----------------------------------------------------------------------

    def authenticate_client(self, request: Request) -> Client:
        """The client, authenticated by ``client_secret_basic``, ``client_secret_post`` or, for
        a public client, its ``client_id`` alone (RFC 6749 §2.3.1); ``invalid_client`` with 401
        and ``WWW-Authenticate`` otherwise (§5.2)."""
        client_id, secret = _client_credentials(request)
        client = self.provider.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", f"unknown client {client_id!r}", 401, _BASIC)
        if client.public:
            if secret:
                raise OAuthError("invalid_client", f"{client_id!r} is a public client and has "
                                 "no secret", 401, _BASIC)
        elif secret is None or not hmac.compare_digest(
            secret.encode(), (client.client_secret or "").encode()
        ):
            raise OAuthError("invalid_client", f"wrong or missing secret for {client_id!r}",
                             401, _BASIC)
        return client

    def on_token(self, request: Request) -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request",
                             "send the parameters as application/x-www-form-urlencoded")
        _refuse_repeats(request.form)
        grant_type = request.form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        client = self.authenticate_client(request)
        grant = self.grants.get(grant_type)
        if grant is None:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not served")
        if grant_type not in client.grant_types:
            raise OAuthError("unauthorized_client",
                             f"client {client.client_id!r} may not use {grant_type}")
        return _json(grant(request, client), headers=_NO_STORE)

    def issue(self, client: Client, sub: str, scope: str | None,
              grant: Grant | None = None) -> dict[str, Any]:
        """The token response (RFC 6749 §5.1), with an ID token when ``openid`` is in scope."""
        provider = self.provider
        access = provider.token(sub=sub, client_id=client.client_id, scope=scope or None,
                                expires_in=TOKEN_LIFETIME)
        body: dict[str, Any] = {
            "access_token": access, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
        }
        if scope:
            body["scope"] = scope
        if grant is not None and "openid" in scope_set(scope):
            body["id_token"] = provider.id_token(
                sub=sub, aud=client.client_id, nonce=grant.nonce, access_token=access,
                auth_time=grant.auth_time, expires_in=TOKEN_LIFETIME,
            )
        return body

    def grant_client_credentials(self, request: Request, client: Client) -> dict[str, Any]:
        if client.public:
            raise OAuthError("unauthorized_client", "a public client cannot use "
                             "client_credentials (RFC 6749 §4.4)")
        return self.issue(client, client.client_id, request.form.get("scope"))

    def grant_authorization_code(self, request: Request, client: Client) -> dict[str, Any]:
        """RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5-4.6)."""
        code = request.form.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is required")
        grant = self.codes.redeem(code, self.provider.clock.time())
        if grant is None:
            raise OAuthError("invalid_grant", "the code is unknown, used or expired")
        if grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the code was issued to another client")
        expected_uri = grant.redirect_uri
        if expected_uri is not None and request.form.get("redirect_uri") != expected_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization "
                             "request's")
        verifier = request.form.get("code_verifier")
        if grant.code_challenge is None:
            if verifier is not None:
                raise OAuthError("invalid_grant", "code_verifier given, but the authorization "
                                 "request had no code_challenge")
        elif verifier is None:
            raise OAuthError("invalid_grant", "code_verifier is required (PKCE)")
        elif not pkce_matches(verifier, grant.code_challenge, grant.code_challenge_method):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        return self.issue(client, grant.sub, grant.scope, grant)

    # -- authorization endpoint ---------------------------------------------------------------

    def on_authorize(self, request: Request) -> Response:
        """OIDC Core §3.1.2: signs in the default (or ``login_hint``) user without a page and
        redirects back with a code. Errors about the client or redirect URI are answered
        directly; all others are sent to the redirect URI (RFC 6749 §4.1.2.1)."""
        params = request.values
        _refuse_repeats(params)
        client_id = params.get("client_id")
        if not client_id:
            raise OAuthError("invalid_request", "client_id is required")
        client = self.provider.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_request", f"unknown client {client_id!r}")
        given_uri = params.get("redirect_uri")
        redirect_uri = _redirect_uri(client, given_uri)
        state = params.get("state")
        response_mode = params.get("response_mode", "query")
        if response_mode not in RESPONSE_MODES:
            response_mode = "query"
            return self.redirect(redirect_uri, response_mode, state, error=(
                "invalid_request", f"response_mode must be one of {', '.join(RESPONSE_MODES)}"))
        try:
            grant = self.authorization_grant(params, client, given_uri)
        except OAuthError as exc:
            return self.redirect(redirect_uri, response_mode, state,
                                 error=(exc.error, exc.description))
        code = self.codes.issue(grant)
        return self.redirect(redirect_uri, response_mode, state, code=code)

    def authorization_grant(self, params: Mapping[str, str], client: Client,
                            redirect_uri: str | None) -> Grant:
        response_type = params.get("response_type")
        if not response_type:
            raise OAuthError("invalid_request", "response_type is required")
        if response_type != "code":
            raise OAuthError("unsupported_response_type",
                             f"response_type {response_type!r} is not served; use code")
        if "authorization_code" not in client.grant_types:
            raise OAuthError("unauthorized_client",
                             f"client {client.client_id!r} may not use authorization_code")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method", "plain")
        if challenge is None:
            if client.public:
                raise OAuthError("invalid_request", "public clients must send a code_challenge "
                                 "(PKCE, RFC 7636)")
        elif method not in PKCE_METHODS:
            raise OAuthError("invalid_request", f"code_challenge_method {method!r} is not "
                             f"supported; use {' or '.join(PKCE_METHODS)}")
        elif not 43 <= len(challenge) <= 128:
            raise OAuthError("invalid_request", "code_challenge must be 43 to 128 characters")
        user = self.signed_in_user(params.get("login_hint"))
        now = self.provider.clock.time()
        return Grant(
            client_id=client.client_id, redirect_uri=redirect_uri,
            scope=params.get("scope", ""), sub=user.sub, auth_time=now,
            expires_at=now + CODE_LIFETIME, nonce=params.get("nonce"),
            code_challenge=challenge, code_challenge_method=method,
        )

    def signed_in_user(self, login_hint: str | None) -> User:
        users = self.provider.users
        if login_hint is None:
            return users.default
        for user in users:
            if login_hint in (user.sub, user.claims.get("email"),
                              user.claims.get("preferred_username")):
                return user
        raise OAuthError("login_required", f"no user matches login_hint {login_hint!r}")

    def redirect(self, redirect_uri: str, response_mode: str, state: str | None, *,
                 code: str | None = None, error: tuple[str, str] | None = None) -> Response:
        """The authorization response (RFC 6749 §4.1.2), with ``iss`` (RFC 9207)."""
        params: dict[str, str] = {}
        if code is not None:
            params["code"] = code
        if error is not None:
            params["error"], params["error_description"] = error
        if state is not None:
            params["state"] = state
        params["iss"] = self.provider.issuer
        if response_mode == "form_post":
            return _form_post(redirect_uri, params)
        parts = urlsplit(redirect_uri)
        if response_mode == "fragment":
            location = urlunsplit(parts._replace(fragment=urlencode(params)))
        else:
            query = urlencode([*parse_qsl(parts.query, keep_blank_values=True),
                               *params.items()])
            location = urlunsplit(parts._replace(query=query))
        return Response(status=302, headers={"Location": location, **_NO_STORE})

    # -- userinfo -----------------------------------------------------------------------------

    def on_userinfo(self, request: Request) -> Response:
        """OIDC Core §5.3, with bearer-token errors as RFC 6750 §3 defines them."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise OAuthError("invalid_request", "send the access token as "
                             "'Authorization: Bearer <token>'", 401,
                             {"WWW-Authenticate": 'Bearer realm="mockidp"'})
        try:
            claims = self.provider.verify(token.strip())
        except InvalidTokenError as exc:
            raise OAuthError("invalid_token", str(exc), 401, {
                "WWW-Authenticate": f'Bearer realm="mockidp", error="invalid_token", '
                                    f'error_description="{_quoted(str(exc))}"'}) from None
        scopes = scope_set(claims.get("scope"))
        if "scope" in claims and "openid" not in scopes:
            raise OAuthError("insufficient_scope", "the token's scope lacks openid", 403, {
                "WWW-Authenticate": 'Bearer realm="mockidp", error="insufficient_scope", '
                                    'scope="openid"'})
        sub = claims.get("sub")
        body: dict[str, Any] = {"sub": sub}
        user = self.provider.users.get(sub) if isinstance(sub, str) else None
        if user is not None:
            released = set(user.claims) if "scope" not in claims else {
                name for scope in scopes for name in SCOPE_CLAIMS.get(scope, ())}
            body.update((k, v) for k, v in user.claims.items() if k in released)
        return _json(body, headers=_NO_STORE)


def _client_credentials(request: Request) -> tuple[str, str | None]:
    """(client_id, secret) from HTTP Basic or the form body; the secret is None if not sent."""
    header = request.headers.get("Authorization")
    if header is None:
        client_id = request.form.get("client_id", "")
        if not client_id:
            raise OAuthError("invalid_client", "client authentication is required", 401, _BASIC)
        return client_id, request.form.get("client_secret")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "use HTTP Basic client authentication", 401, _BASIC)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed Basic credentials", 401, _BASIC) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Basic credentials need id:secret", 401, _BASIC)
    client_id, secret = unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1 form-encodes
    if "client_secret" in request.form:
        raise OAuthError("invalid_request", "use one client authentication method, not two")
    if request.form.get("client_id", client_id) != client_id:
        raise OAuthError("invalid_request", "client_id in the body differs from Basic's")
    return client_id, secret


def _drop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Close the connection without an answer (``endpoint(...).drop()``)."""
    sock = environ.get("werkzeug.socket")
    if sock is None:  # an in-process client (werkzeug.test.Client) has no socket to close
        return OAuthError("server_error", "connection dropped", 502).response()(
            environ, start_response)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    start_response("500 Connection Dropped", [("Content-Length", "0")])
    return []


def scope_set(scope: object) -> set[str]:
    return set(scope.split()) if isinstance(scope, str) else set()


def _quoted(text: str) -> str:
    """Text safe inside an RFC 6750 quoted-string (no quotes or backslashes)."""
    return text.replace("\\", "").replace('"', "'")


def _refuse_repeats(params: Any) -> None:
    for name, values in params.lists():
        if len(values) > 1:  # RFC 6749 §3.1, §3.2: parameters must not be repeated
            raise OAuthError("invalid_request", f"parameter {name!r} is repeated")


def _redirect_uri(client: Client, given: str | None) -> str:
    """The redirect URI to answer on (RFC 6749 §3.1.2): a registered one, or for a client with
    none registered, any absolute http(s) URI. Errors here are never redirected."""
    if client.redirect_uris:
        if given is None:
            if len(client.redirect_uris) == 1:
                only: str = client.redirect_uris[0]
                return only
            raise OAuthError("invalid_request", "redirect_uri is required: the client has "
                             "several registered")
        if given not in client.redirect_uris:
            raise OAuthError("invalid_request", f"redirect_uri {given!r} is not registered "
                             f"for client {client.client_id!r}")
        return given
    if given is None:
        raise OAuthError("invalid_request", "redirect_uri is required")
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise OAuthError("invalid_request", f"redirect_uri {given!r} must be an absolute "
                         "http(s) URI without a fragment")
    return given


def _form_post(redirect_uri: str, params: Mapping[str, str]) -> Response:
    """OAuth 2.0 Form Post Response Mode: a page that posts the parameters back."""
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items()
    )
    page = (
        "<!doctype html><html><head><title>mockidp</title></head>"
        '<body onload="document.forms[0].submit()">'
        f'<form method="post" action="{escape(redirect_uri)}">{fields}'
        "<noscript><button>Continue</button></noscript></form></body></html>"
    )
    return Response(page, content_type="text/html; charset=utf-8", headers=_NO_STORE)
