"""The WSGI application of one issuer: routing, endpoint controls, recording.

Each endpoint name of :data:`~mockidp.core.endpoints.ENDPOINTS` is bound to one handler in
:data:`VIEWS`, a function of the issuer and the request grouped by concern in the modules beside
this one (metadata, token, authorize, device, sessions). Every failure becomes a JSON error
response with the status the specs define (RFC 6749 §5.2 for the token endpoint); an exception
in a handler becomes a ``server_error`` answer and is kept on the issuer so that the test thread
can re-raise it (``idp.check()``), instead of a traceback on a socket nobody reads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time
import traceback
from contextvars import ContextVar
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..core.endpoints import ENDPOINTS
from ..core.recording import BODY_LIMIT, RecordedRequest, bounded, entry_size
from . import authorize, control, device, metadata, par, registration, sessions, token
from .http1 import Fields, response_head
from .responses import CORS, FORM, NOSNIFF, OAuthError, from_http_exception, harden
from .server import peer_address

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ..core.endpoints import Override
    from ..core.issuer import Issuer
    from .control import ControlAPI

__all__ = ["VIEWS", "App", "forwarded_base_url", "printable", "redacted"]

log = logging.getLogger("mockidp.app")
#: The base URL as the current request's proxy headers give it (``trust_forwarded``).
forwarded_base_url: ContextVar[str | None] = ContextVar("mockidp_forwarded", default=None)
#: One INFO line per request served (method, path, status, ms); `mockidp serve` prints them.
request_log = logging.getLogger("mockidp.requests")

CONTROL_PREFIX = ENDPOINTS["control"].path.partition("{")[0]
#: How Werkzeug's ``request.args`` decodes an invalid percent-escape (kept as ``%XX``): the
#: fast paths record the query the same way.
WERKZEUG_ERRORS = "werkzeug.url_quote"
#: Request bodies larger than this are refused with 413.
MAX_BODY = 1024 * 1024
#: RFC 8414 §3's well-known suffix, inserted before an issuer's path.
OAUTH_METADATA = ENDPOINTS["oauth-metadata"].path
#: The recorded form of a request without one.
NO_FORM = bounded({})[0]
#: The environ key of the path a request was sent to, when a tenant serves it under another.
REQUEST_PATH = "mockidp.request_path"


def _tenant_metadata(environ: WSGIEnvironment, mounts: Mapping[str, App]
                     ) -> tuple[App, WSGIEnvironment] | None:
    """RFC 8414 §3 for a tenant: its issuer is ``{root}/{name}{issuer path}``, so its
    metadata is at ``{root}/.well-known/oauth-authorization-server/{name}{issuer path}``, at
    the server's root. That request is the tenant's, at the same suffix below its own root
    (where its layout serves the inserted form, or, for an issuer at the tenant's root, the
    appended one: the same path); the log keeps the path the client sent."""
    path = environ.get("PATH_INFO", "")
    if not path.startswith(OAUTH_METADATA + "/"):
        return None
    name, slash, rest = path[len(OAUTH_METADATA) + 1:].partition("/")
    mounted = mounts.get(name)
    if mounted is None:
        return None
    script = environ.get("SCRIPT_NAME", "")
    return mounted, {**environ, "PATH_INFO": OAUTH_METADATA + slash + rest,
                     "SCRIPT_NAME": f"{script}/{name}", REQUEST_PATH: script + path}


def _redirected(issuer: Issuer, request: Request, name: str) -> Response:
    """Where ``endpoint(name).redirect()`` sends consumers: the endpoint's usual answer. Only
    a public GET endpoint without path arguments has one; any other name (``control``,
    ``redirected``, ``attacker-certificate``) is a 404 rather than a handler called without
    its arguments, a 500 any client could cause."""
    endpoint = ENDPOINTS.get(name)
    if (endpoint is None or endpoint.internal or "GET" not in endpoint.methods
            or name not in VIEWS or "{" in endpoint.path):
        raise NotFound()
    return VIEWS[name](issuer, request)


#: The handler of each endpoint (all but ``control``, which the control API answers).
VIEWS: dict[str, Callable[..., Response]] = {
    "discovery": metadata.discovery,
    "oauth-metadata": metadata.discovery,
    "jwks": metadata.jwks,
    "certs": metadata.certs,
    "authorize": authorize.authorize,
    "par": par.pushed_authorization_request,
    "register": registration.register,
    "client-configuration": registration.client_configuration,
    "token": token.token,
    "userinfo": sessions.userinfo,
    "introspect": sessions.introspect,
    "revoke": sessions.revoke,
    "end-session": sessions.end_session,
    "device": device.device_authorization,
    "device-verification": device.verification,
    "attacker-jwks": metadata.attacker_jwks,
    "attacker-certificate": metadata.attacker_certificate,
    "redirected": _redirected,
}


@cache
def _url_map(paths: tuple[tuple[str, str], ...]) -> Map:
    """The one routing map for a path layout — the endpoints where the layout puts them, the
    control API's routes under ``/_mockidp`` — built once: compiling its rules takes
    milliseconds. A ``Map`` is safe to share: matching binds a fresh adapter per request.
    """
    return Map(
        [Rule(re.sub(r"\{(\w+)(?::(\w+))?\}",
                     lambda m: f"<{m[2] + ':' if m[2] else ''}{m[1]}>", path), endpoint=name,
              methods=[*ENDPOINTS[name].methods, "OPTIONS"])
         for name, path in paths if name != "control"] + control.rules(),
        strict_slashes=False,
    )


class App:
    """One issuer's HTTP face; a root app also dispatches its tenants' paths to theirs."""

    def __init__(self, issuer: Issuer, control: ControlAPI, *,
                 mounts: Callable[[], Mapping[str, App]] = dict,
                 trust_forwarded: bool = False) -> None:
        self.issuer = issuer
        self.control = control
        self.mounts = mounts
        #: Behind a proxy: during each request the base URL follows X-Forwarded-*.
        self.trust_forwarded = trust_forwarded
        layout = issuer.layout
        paths = layout.paths
        #: Path -> name of the endpoints the fast path answers (their aliases too).
        self.static = {paths[name]: name for name, e in ENDPOINTS.items() if e.cached}
        self.static.update((path, name) for path, name in layout.aliases.items()
                           if ENDPOINTS[name].cached)
        #: (name, keep-alive, second, max-age) -> (body, encoded head) for static_answer.
        self._heads: dict[tuple[str, bool, int, int], tuple[bytes, bytes]] = {}
        #: (header fields, query, path) -> what the log keeps of them (headers, query,
        #: truncated, the entry's size in the log's budget), for static_answer.
        self._seen: dict[tuple[object, ...], tuple[Mapping[str, str], Mapping[str, str],
                                                   bool, int]] = {}

    @cached_property
    def url_map(self) -> Map:
        # Built on the first request that needs routing: the fast path never does.
        layout = self.issuer.layout
        return _url_map((*layout.paths.items(),
                         *((name, path) for path, name in layout.aliases.items())))

    # -- plumbing -----------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        token = forwarded_base_url.set(_forwarded(environ)) if self.trust_forwarded else None
        try:
            return self.serve(environ, start_response)
        except Exception:  # a bug in the plumbing itself: still an OAuth error, never a page
            self.failed(Request(environ))
            response = OAuthError("server_error", "the mock provider failed; see idp.check()",
                                  500).response()
            return response(environ, start_response)
        finally:
            if token is not None:
                forwarded_base_url.reset(token)

    def serve(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        mounts = self.mounts()
        if mounts:
            segment, _, rest = environ.get("PATH_INFO", "").lstrip("/").partition("/")
            mounted = mounts.get(segment)
            if mounted is not None:  # a tenant: served by its app, below its path
                environ = {**environ, "PATH_INFO": "/" + rest,
                           "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + "/" + segment}
                return mounted.serve(environ, start_response)
            inserted = _tenant_metadata(environ, mounts)
            if inserted is not None:
                return inserted[0].serve(inserted[1], start_response)
        answered = self.fast(environ, start_response)
        if answered is not None:
            return answered
        issuer = self.issuer
        started = time.perf_counter()
        generation = issuer.requests_log.generation
        request = Request(environ)
        request.max_content_length = MAX_BODY
        try:
            match: tuple[str, Mapping[str, Any]] | HTTPException = (
                self.url_map.bind_to_environ(environ).match()
            )
        except HTTPException as exc:  # NotFound, MethodNotAllowed, a redirect for a slash
            match = exc
        name = match[0] if isinstance(match, tuple) else None
        if name.startswith("control:") if name else request.path.startswith(CONTROL_PREFIX):
            # The test's own calls: neither recorded nor faulted.
            return harden(self.control(request, match))(environ, start_response)
        control = issuer.endpoints.get(name)
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
        response.headers["Date"] = metadata.http_date(issuer.clock.time())
        harden(response)
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
                return preflight(name)
            return VIEWS[name](self.issuer, request, **args)
        except OAuthError as exc:
            return exc.response()
        except HTTPException as exc:  # no route, a method it does not take, 413
            return from_http_exception(exc, request.path, request.method).response()
        except RecursionError:
            # JSON (or a form value parsed as JSON) nested thousands deep: the client's input,
            # not a failure of the provider, so a 400 and nothing for idp.check().
            log.warning("%s %s: input nested too deeply", request.method,
                        printable(request.path))
            return OAuthError("invalid_request", "the request is nested too deeply").response()
        except Exception:
            self.failed(request)
            return OAuthError("server_error", "the mock provider failed; see idp.check()",
                              500).response()

    def failed(self, request: Request) -> None:
        detail = traceback.format_exc()
        log.error("handler for %s %s failed\n%s", request.method, request.path, detail)
        self.issuer.handler_failed(detail)

    def override(self, request: Request, response: Response, rule: Override,
                 name: str | None) -> Response:
        """The answer an endpoint control asked for instead of (or on top of) ``response``."""
        if rule.redirect is not None:
            location = rule.redirect or f"{self.issuer.base_url}/_mockidp/redirected/{name}"
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
        headers, cut_headers = bounded(dict(request.headers.items()))
        query, cut_query = bounded(request.args.to_dict())
        kept_form, cut_form = bounded(form)
        resolved, cut_resolved = bounded(request.environ.get(authorize.RESOLVED) or {})
        self.log_entry(RecordedRequest(
            method=request.method,
            path=request.environ.get(REQUEST_PATH) or request.script_root + request.path,
            endpoint=name,
            headers=headers, query=query, form=kept_form, status=status,
            time=self.issuer.clock.time(), duration=time.perf_counter() - started,
            body=body[:BODY_LIMIT], truncated=(cut_headers or cut_query or cut_form
                                                or cut_resolved or len(body) > BODY_LIMIT),
            remote_addr=request.remote_addr or "", authorization=resolved,
        ), request.query_string.decode("latin-1"), generation)

    def log_entry(self, entry: RecordedRequest, query: str, generation: int,
                  size: int | None = None) -> None:
        """Keep ``entry`` (``size``: its ``entry_size`` if known); and print its line, whose
        path and query come from the client: escaped (:func:`printable`), so that
        ``%0d%0a`` cannot forge a line and ESC sequences cannot drive the terminal of
        ``mockidp serve``."""
        if request_log.isEnabledFor(logging.INFO):
            request_log.info("%s %s%s %s %.1f ms", printable(entry.method),
                             printable(entry.path),
                             printable(f"?{redacted(query)}") if query else "",
                             entry.status if entry.status is not None else "dropped",
                             entry.duration * 1000)
        self.issuer.requests_log.add(entry, generation, size)

    def cached(self, path: str) -> str | None:
        """The endpoint served from cached bytes at ``path``, unless a control is set on it
        (a fault sends the request down the general path)."""
        name = self.static.get(path)
        if name is None:
            return None
        control = self.issuer.endpoints.get(name)
        return None if control is not None and control.active else name

    def fast(self, environ: WSGIEnvironment, start_response: StartResponse
             ) -> Iterable[bytes] | None:
        """GET or HEAD of the JWKS or the metadata with no fault set on it: the cached bytes,
        without Werkzeug's request and response objects. This is what every consumer calls
        most; the answer is the same as the general path's (``tests/test_app.py`` checks).
        Over a socket, :meth:`static_answer` usually answers these before any environ."""
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            return None
        name = self.cached(environ.get("PATH_INFO", ""))
        if name is None:
            return None
        issuer = self.issuer
        started = time.perf_counter()
        generation = issuer.requests_log.generation
        now = issuer.clock.time()
        body, headers = self.static_headers(name, now)
        start_response("200 OK", headers)
        recorded = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                    if key.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):  # as Werkzeug's request lists them
            if environ.get(key):
                recorded[key.replace("_", "-").title()] = environ[key]
        self.record_static(method, environ.get(REQUEST_PATH)
                           or environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"],
                           name, recorded, environ.get("QUERY_STRING", ""), now, started,
                           generation, environ.get("REMOTE_ADDR") or "")
        return [] if method == "HEAD" else [body]

    def static_headers(self, name: str, now: float) -> tuple[bytes, list[tuple[str, str]]]:
        """The body and headers of the cached endpoint ``name``'s answer at ``now``."""
        issuer = self.issuer
        if name == "jwks":
            body, extra = issuer.keys.jwks_bytes, metadata.jwks_headers(issuer, now)
        else:
            body, extra = metadata.metadata_bytes(issuer), CORS
        return body, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                      *extra.items(), *NOSNIFF.items(), ("Date", metadata.http_date(now))]

    def record_static(self, method: str, path: str, name: str, headers: dict[str, str],
                      query_string: str, now: float, started: float, generation: int,
                      remote_addr: str) -> None:
        """Record a request the fast path answered, as :meth:`record` would have."""
        query: dict[str, str] = {}
        if query_string:
            for key, value in parse_qsl(query_string, keep_blank_values=True,
                                        errors=WERKZEUG_ERRORS):
                query.setdefault(key, value)
        kept_headers, cut_headers = bounded(headers)
        kept_query, cut_query = bounded(query)
        self.log_entry(RecordedRequest(
            method=method, path=path, endpoint=name, headers=kept_headers, query=kept_query,
            form=bounded({})[0], status=200, time=now, duration=time.perf_counter() - started,
            truncated=cut_headers or cut_query, remote_addr=remote_addr,
        ), query_string, generation)

    def _seen_heads(self, fields: Fields, query: str, path: str,
                    key: tuple[object, ...]
                    ) -> tuple[Mapping[str, str], Mapping[str, str], bool, int]:
        """The recorded headers and query of a request of ``path`` with these header
        ``fields`` and ``query``, as :meth:`fast` reads them from the environ, whether they
        were cut, and the entry's size; kept for the next request with the same head (the
        recorded mappings are read-only, so entries share them).
        Names are title-cased and repeated lines joined with ","; but Content-Type, as the
        handler's environ keeps it, is the last line's and listed last."""
        headers: dict[str, str] = {}
        content_type = None
        for field, value in fields:
            field = field.title()
            if field == "Content-Type":
                content_type = value
            else:
                headers[field] = f"{headers[field]},{value}" if field in headers else value
        if content_type:
            headers["Content-Type"] = content_type
        parsed: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True, errors=WERKZEUG_ERRORS):
            parsed.setdefault(name, value)
        kept_headers, cut_headers = bounded(headers)
        kept_query, cut_query = bounded(parsed)
        if len(self._seen) >= 64:
            self._seen.clear()
        seen = self._seen[key] = (kept_headers, kept_query, cut_headers or cut_query,
                                  entry_size(path, b"", kept_headers, kept_query))
        return seen

    def static_answer(self, method: str, path: str, query: str,
                      fields: Fields, keep_alive: bool,
                      script: str = "") -> bytes | None:
        """The connection's fast lane (:mod:`mockidp.web.http1`): the whole response to a
        bodiless GET or HEAD of ``path`` (``PATH_INFO``, below ``script``) if :meth:`fast`
        would answer it — the same bytes :meth:`fast` has the handler write and the same
        record — or None for the WSGI app. ``fields`` are the request's header fields as
        received. The head is encoded once per second and connection mode."""
        if self.trust_forwarded:  # the metadata follows each request's proxy headers
            return None
        mounts = self.mounts()
        if mounts:
            segment, _, rest = path[1:].partition("/")
            mounted = mounts.get(segment)
            if mounted is not None:
                return mounted.static_answer(method, "/" + rest, query, fields, keep_alive,
                                             f"{script}/{segment}")
            if path.startswith(OAUTH_METADATA + "/"):  # perhaps a tenant's (RFC 8414 §3)
                return None
        name = self.cached(path)
        if name is None:
            return None
        issuer = self.issuer
        started = time.perf_counter()
        generation = issuer.requests_log.generation
        now = issuer.clock.time()
        body = issuer.keys.jwks_bytes if name == "jwks" else metadata.metadata_bytes(issuer)
        key = (name, keep_alive, int(now), issuer.jwks_max_age)
        cached = self._heads.get(key)
        if cached is None or cached[0] is not body:
            body, headers = self.static_headers(name, now)
            cached = (body, response_head("200 OK", headers, len(body), keep_alive))
            if len(self._heads) > 16:
                self._heads.clear()
            self._heads[key] = cached
        if script:
            path = script + path
        head = (fields, query, path)
        seen = self._seen.get(head)
        if seen is None:
            seen = self._seen_heads(fields, query, path, head)
        kept_headers, kept_query, truncated, size = seen
        self.log_entry(RecordedRequest(
            method, path, name, kept_headers, kept_query, NO_FORM, 200, now,
            time.perf_counter() - started, b"", truncated, peer_address()),
            query, generation, size)
        return cached[1] if method == "HEAD" else cached[1] + body


def preflight(name: str) -> Response:
    """A CORS preflight answer (Fetch standard), so a browser app can call any endpoint."""
    methods = ", ".join(ENDPOINTS[name].methods)
    return Response(status=204, headers={
        **CORS, "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Authorization, Content-Type, DPoP",
        "Access-Control-Max-Age": "600", "Allow": f"{methods}, OPTIONS",
    })


#: Query parameters whose values the request log line never shows: secrets, whole tokens, and
#: what identifies a person or approves a device (RFC 8628 §3.3's user code).
SENSITIVE = frozenset({
    "access_token", "assertion", "client_assertion", "client_secret", "code", "code_verifier",
    "control_token", "device_code", "id_token", "id_token_hint", "password", "refresh_token",
    "subject_token", "actor_token", "token", "user_code", "login_hint",
})


def redacted(query: str) -> str:
    """``query`` with the values of :data:`SENSITIVE` parameters replaced by ``***``.

    A parameter is judged by its name as the app reads it: percent-decoded, ``+`` as a space
    (the form encoding, WHATWG URL §5.1), so ``client%5Fsecret`` or ``pass%77ord`` — the
    same parameters to the handlers — are redacted too."""
    parts = []
    for pair in query.split("&"):
        name, sep, _ = pair.partition("=")
        decoded = unquote_plus(name, errors="replace").lower()
        parts.append(f"{name}=***" if sep and decoded in SENSITIVE else pair)
    return "&".join(parts)


#: C0 and C1 controls, DEL, and the Unicode line and paragraph separators and bidirectional
#: overrides, which a terminal or log viewer acts on instead of showing.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character as a ``\\xNN`` / ``\\uNNNN`` escape, so that
    what a client sent cannot end a log line, begin a forged one, or send a terminal escape
    sequence (CWE-117). Idempotent: the escapes themselves are printable."""
    return _UNPRINTABLE.sub(
        lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


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
