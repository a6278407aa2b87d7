"""The WSGI application: routing, endpoint controls, recording, metadata and keys.

Each endpoint is a small ``on_<name>`` method routed by a Werkzeug ``Map`` (the OAuth ones live
in :mod:`mockidp.web.oauth`). Every failure becomes
a JSON error response with the status the specs define (RFC 6749 §5.2 for the token endpoint);
an exception in a handler becomes a ``server_error`` answer and is kept so that the test thread
can re-raise it (``MockIdP.check()``), instead of a traceback on a socket nobody reads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
import traceback
from contextvars import ContextVar
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import http_date
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..core.endpoints import ENDPOINTS
from ..core.flows import PKCE_METHODS
from ..core.recording import BODY_LIMIT, RecordedRequest, freeze
from .control import ControlAPI
from .oauth import (
    CORS,
    FORM,
    RESPONSE_MODES,
    SCOPE_CLAIMS,
    OAuthEndpoints,
    OAuthError,
    json_response,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ..core.endpoints import Override
    from ..provider import MockIdP

__all__ = ["ENDPOINTS", "App", "OAuthError"]

log = logging.getLogger("mockidp.app")
#: The issuer as the current request's proxy headers give it (``trust_forwarded``).
forwarded_issuer: ContextVar[str | None] = ContextVar("mockidp_forwarded_issuer", default=None)
#: One INFO line per request served (method, path, status, ms); `mockidp serve` prints them.
request_log = logging.getLogger("mockidp.requests")


#: Request bodies larger than this are refused with 413.
MAX_BODY = 1024 * 1024

#: The endpoints the fast path answers.
_STATIC = ("jwks", "discovery", "oauth-metadata")
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CLIENT_ASSERTION_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
                         "ES384", "ES512", "EdDSA"]


def _methods(name: str) -> Iterable[str]:
    return {"control": ["GET", "POST", "DELETE"],
            "token": ["POST"], "introspect": ["POST"], "revoke": ["POST"],
            "device": ["POST"], "device-verification": ["GET", "POST"],
            "authorize": ["GET", "POST"], "userinfo": ["GET", "POST"],
            "end-session": ["GET", "POST"]}.get(name, ["GET"])


@cache
def _url_map(paths: tuple[tuple[str, str], ...]) -> Map:
    """The routing map for a path layout, built once: compiling its rules takes milliseconds.

    A ``Map`` is safe to share: matching binds a fresh adapter per request.
    """
    return Map(
        [Rule(re.sub(r"\{(\w+)(?::(\w+))?\}",
                     lambda m: f"<{m[2] + ':' if m[2] else ''}{m[1]}>", path), endpoint=name,
              methods=[*_methods(name), "OPTIONS"])
         for name, path in paths],
        strict_slashes=False,
    )


class App(OAuthEndpoints):
    """The provider's HTTP face. Reads all state from the ``MockIdP`` it serves."""

    def __init__(self, provider: MockIdP) -> None:
        self.provider = provider
        paths = provider.layout.paths
        #: Path -> name of the endpoints the fast path answers.
        self.static = {paths[name]: name for name in _STATIC}
        self.errors: list[str] = []
        self.control = ControlAPI(provider)
        super().__init__()
        self._errors_lock = threading.Lock()
        self._discovery: tuple[object, bytes] = (None, b"")
        self._date: tuple[int, str] = (-1, "")

    @cached_property
    def url_map(self) -> Map:
        # Built on the first request that needs routing: the fast path never does.
        return _url_map(tuple(self.provider.layout.paths.items()))

    # -- plumbing -----------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        token = forwarded_issuer.set(_forwarded(environ)) if self.provider.trust_forwarded \
            else None
        try:
            return self.serve(environ, start_response)
        except Exception:  # a bug in the plumbing itself: still an OAuth error, never a page
            self.failed(Request(environ))
            response = OAuthError("server_error", "the mock provider failed; see idp.check()",
                                  500).response()
            return response(environ, start_response)
        finally:
            if token is not None:
                forwarded_issuer.reset(token)

    def serve(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        tenants = self.provider.tenants
        if tenants:
            segment, _, rest = environ.get("PATH_INFO", "").lstrip("/").partition("/")
            tenant = tenants.get(segment)
            if tenant is not None:  # served by the tenant's app, below its path
                environ = {**environ, "PATH_INFO": "/" + rest,
                           "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + "/" + segment}
                return tenant.app(environ, start_response)
        answered = self.fast(environ, start_response)
        if answered is not None:
            return answered
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
        if name == "control":  # the test's own calls: neither recorded nor faulted
            return self.control(request)(environ, start_response)
        control = self.provider.endpoints.get(name)
        rule = None
        if control is not None and control.active:
            hold, rule = control.take()
            hold()
        if rule is not None and rule.drop:
            self.record(request, name, None, started, generation)
            return _drop(environ, start_response)
        response = self.dispatch(request, match)
        if rule is not None:
            response = self.override(request, response, rule, name)
        response.headers["Date"] = self.http_date(self.provider.clock.time())
        self.record(request, name, response.status_code, started, generation)
        return response(environ, start_response)

    def dispatch(self, request: Request, match: tuple[str, Mapping[str, Any]] | HTTPException
                 ) -> Response:
        try:
            if isinstance(match, HTTPException):
                raise match
            request.get_data(cache=True)  # kept for the request log; 413 past MAX_BODY
            name, args = match
            if request.method == "OPTIONS":
                return self.preflight(name)
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

    def preflight(self, name: str) -> Response:
        """A CORS preflight answer (Fetch standard), so a browser app can call any endpoint."""
        methods = ", ".join(_methods(name))
        return Response(status=204, headers={
            **CORS, "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": "Authorization, Content-Type, DPoP",
            "Access-Control-Max-Age": "600", "Allow": f"{methods}, OPTIONS",
        })

    def failed(self, request: Request) -> None:
        detail = traceback.format_exc()
        log.error("handler for %s %s failed\n%s", request.method, request.path, detail)
        with self._errors_lock:
            self.errors.append(detail)

    def override(self, request: Request, response: Response, rule: Override,
                 name: str | None) -> Response:
        """The answer an endpoint control asked for instead of (or on top of) ``response``."""
        if rule.redirect is not None:
            location = rule.redirect or f"{self.provider.base_url}/_mockidp/redirected/{name}"
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
        self.log_entry(RecordedRequest(
            method=request.method, path=request.script_root + request.path, endpoint=name,
            headers=freeze(dict(request.headers.items())), query=freeze(request.args.to_dict()),
            form=freeze(form), status=status, time=self.provider.clock.time(),
            duration=time.perf_counter() - started, body=body[:BODY_LIMIT],
        ), request.query_string.decode("latin-1"), generation)

    def log_entry(self, entry: RecordedRequest, query: str, generation: int) -> None:
        if request_log.isEnabledFor(logging.INFO):
            request_log.info("%s %s%s %s %.1f ms", entry.method, entry.path,
                             f"?{redacted(query)}" if query else "",
                             entry.status if entry.status is not None else "dropped",
                             entry.duration * 1000)
        self.provider.requests_log.add(entry, generation)

    def fast(self, environ: WSGIEnvironment, start_response: StartResponse
             ) -> Iterable[bytes] | None:
        """GET or HEAD of the JWKS or the metadata with no fault set on it: the cached bytes,
        without Werkzeug's request and response objects. This is what every consumer calls
        most; the answer is the same as the general path's (``tests/test_app.py`` checks)."""
        name = self.static.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD")
        if name is None or method not in ("GET", "HEAD"):
            return None
        control = self.provider.endpoints.get(name)
        if control is not None and control.active:
            return None
        started = time.perf_counter()
        generation = self.provider.requests_log.generation
        now = self.provider.clock.time()
        if name == "jwks":
            body, extra = self.provider.keys.jwks_bytes, self.jwks_headers(now)
        else:
            body, extra = self.metadata_bytes(), CORS
        start_response("200 OK", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            *extra.items(), ("Date", self.http_date(now)),
        ])
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        query_string = environ.get("QUERY_STRING", "")
        query: dict[str, str] = {}
        for key, value in parse_qsl(query_string, keep_blank_values=True):
            query.setdefault(key, value)
        self.log_entry(RecordedRequest(
            method=method, path=environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"],
            endpoint=name, headers=freeze(headers), query=freeze(query), form=freeze({}),
            status=200, time=now, duration=time.perf_counter() - started,
        ), query_string, generation)
        return [] if method == "HEAD" else [body]

    def http_date(self, now: float) -> str:
        """``Date`` for the provider's clock, formatted once per second."""
        second = int(now)
        cached = self._date
        if cached[0] != second:
            cached = self._date = (second, http_date(second))
        return cached[1]

    on_device = OAuthEndpoints.on_device_authorization

    def on_redirected(self, request: Request, name: str) -> Response:
        """Where ``endpoint(name).redirect()`` sends consumers: the endpoint's usual answer."""
        if name not in ENDPOINTS or "GET" not in _methods(name):
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
            "introspection_endpoint": provider.url_for("introspect"),
            "revocation_endpoint": provider.url_for("revoke"),
            "end_session_endpoint": provider.url_for("end-session"),
            "device_authorization_endpoint": provider.url_for("device"),
            "jwks_uri": provider.jwks_uri,
            "scopes_supported": ["openid", *SCOPE_CLAIMS],
            "response_types_supported": ["code"],
            "response_modes_supported": list(RESPONSE_MODES),
            "grant_types_supported": list(self.grants),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "userinfo_signing_alg_values_supported": ["none"],
            "code_challenge_methods_supported": list(PKCE_METHODS),
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "authorization_response_iss_parameter_supported": True,
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "azp",
                "at_hash", "c_hash", "name", "given_name", "family_name", "preferred_username",
                "email", "email_verified", "locale", "zoneinfo",
            ],
            **provider.profile.metadata,
        }

    def metadata_bytes(self) -> bytes:
        """The serialized metadata, rebuilt only when the keys or the issuer change."""
        provider = self.provider
        cache_key = (provider.keys.version, provider.issuer)
        cached_key, body = self._discovery
        if cached_key != cache_key:
            body = json.dumps(self.metadata(), separators=(",", ":")).encode()
            self._discovery = (cache_key, body)
        return body

    def on_discovery(self, request: Request) -> Response:
        return json_response(self.metadata_bytes(), headers=CORS)

    on_oauth_metadata = on_discovery

    def jwks_headers(self, now: float) -> dict[str, str]:
        max_age = self.provider.jwks_max_age
        return {**CORS, "Cache-Control": f"public, max-age={max_age}",
                "Expires": self.http_date(now + max_age)}

    def on_jwks(self, request: Request) -> Response:
        return json_response(self.provider.keys.jwks_bytes,
                             headers=self.jwks_headers(self.provider.clock.time()))

    def on_certs(self, request: Request) -> Response:
        """The published keys' certificates as ``{kid: PEM}`` (Google's ``/oauth2/v1/certs``
        format, read by google-auth and firebase-admin), with the JWKS's cache headers."""
        certificates = {key.kid: key.certificate_pem for key in self.provider.keys.published()}
        return json_response(json.dumps(certificates).encode(),
                             headers=self.jwks_headers(self.provider.clock.time()))

    def on_attacker_jwks(self, request: Request) -> Response:
        return json_response(self.provider.attacker.jwks_bytes())

    def on_attacker_certificate(self, request: Request, kid: str) -> Response:
        pem = self.provider.attacker.certificate_pem(kid)
        if pem is None:
            raise NotFound()
        return Response(pem, content_type="application/x-pem-file")

#: Query parameters whose values the request log line never shows: secrets and whole tokens.
SENSITIVE = frozenset({
    "access_token", "assertion", "client_assertion", "client_secret", "code", "code_verifier",
    "control_token", "device_code", "id_token", "id_token_hint", "password", "refresh_token",
    "subject_token", "actor_token", "token",
})


def redacted(query: str) -> str:
    """``query`` with the values of :data:`SENSITIVE` parameters replaced by ``***``."""
    parts = []
    for pair in query.split("&"):
        name, sep, _ = pair.partition("=")
        parts.append(f"{name}=***" if sep and name.lower() in SENSITIVE else pair)
    return "&".join(parts)


def _forwarded(environ: WSGIEnvironment) -> str | None:
    """The base URL a proxy says the client used (X-Forwarded-Proto, -Host, -Prefix)."""
    host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
    if not host:
        return None
    proto = environ.get("HTTP_X_FORWARDED_PROTO", "http").split(",")[0].strip().lower()
    prefix = environ.get("HTTP_X_FORWARDED_PREFIX", "").split(",")[0].strip().rstrip("/")
    if proto not in ("http", "https") or not re.fullmatch(r"[\w.:\[\]-]+", host) or (
            prefix and not re.fullmatch(r"(/[\w.~-]+)+", prefix)):
        return None  # a malformed header is ignored, not trusted
    return f"{proto}://{host}{prefix}"


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


