"""The answers every handler shares: OAuth errors as the specs define them (RFC 6749 §5.2,
RFC 6750 §3), JSON bodies, and the checks on form parameters and redirect URIs that more than one
endpoint makes."""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Response

from ..core.resources import resource_problem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from werkzeug.wrappers import Request

    from ..core.directory import Client
    from ..core.issuer import Issuer

__all__ = [
    "CORS",
    "FORM",
    "NOSNIFF",
    "NO_STORE",
    "PAGE_POLICY",
    "BearerChallenge",
    "OAuthError",
    "check_form",
    "form_post",
    "from_http_exception",
    "harden",
    "json_response",
    "known_resources",
    "quoted",
    "redirect_uri",
    "refuse_repeats",
    "scope_set",
]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: Endpoints a browser app calls directly answer any origin (the provider is a test double).
CORS = {"Access-Control-Allow-Origin": "*"}
FORM = "application/x-www-form-urlencoded"
#: On every answer: a browser must take the declared type, never sniff JSON or a PEM as HTML or
#: script (Fetch standard §3.5, "X-Content-Type-Options").
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
#: The policy of an HTML answer that sets none of its own (the signed-out page): no script,
#: nothing loaded, never framed (CSP Level 3; frame-ancestors against clickjacking).
PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
               "frame-ancestors 'none'")


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
        return json_response(body, self.status, {**NO_STORE, **self.headers})


class BearerChallenge(OAuthError):
    """A 401 to a protected resource request without credentials (or with only a scheme the
    resource does not take): ``WWW-Authenticate`` names the scheme and realm, and nothing
    else is said. RFC 6750 §3.1: the resource server SHOULD NOT include an error code or other
    error information then, in the challenge or (so nothing contradicts it) the body, which is
    an empty JSON object: every answer of the provider is JSON."""

    def __init__(self, challenge: str) -> None:
        super().__init__("", "no access token in the request", 401,
                         {"WWW-Authenticate": challenge})

    def response(self) -> Response:
        return json_response(b"{}", 401, {**NO_STORE, **self.headers})


def json_response(body: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status=status, headers={**NOSNIFF, **(headers or {})},
                    content_type="application/json")


def harden(response: Response) -> Response:
    """The headers every answer gets unless its handler (or a test's endpoint override) set
    its own: ``nosniff``, and for HTML a no-script policy that forbids framing."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
    return response


def from_http_exception(exc: HTTPException, path: str, method: str) -> OAuthError:
    """Werkzeug's routing and body errors as OAuth errors: no route (404), a method the route
    does not take (405 with ``Allow``), a body over the limit (413)."""
    if isinstance(exc, NotFound):
        return OAuthError("not_found" if path.startswith("/_mockidp") else "invalid_request",
                          f"nothing is served at {path}", 404)
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(exc.valid_methods or ())
        return OAuthError("invalid_request", f"{method} is not allowed here; use {allowed}",
                          405, {"Allow": allowed})
    return OAuthError("invalid_request", exc.description or exc.name, exc.code or 400)


def scope_set(scope: object) -> set[str]:
    return set(scope.split()) if isinstance(scope, str) else set()


def quoted(text: str) -> str:
    """Text safe inside an RFC 6750 quoted-string (no quotes or backslashes)."""
    return text.replace("\\", "").replace('"', "'")


def check_form(request: Request) -> None:
    """Parameters must come form-encoded (RFC 6749 §3.2), once each; an empty body is fine."""
    if request.get_data(cache=True) and request.mimetype != FORM:
        raise OAuthError("invalid_request", f"send the parameters as {FORM}")
    refuse_repeats(request.form)


#: Parameters a request may repeat: RFC 8707 §2 ``resource``, one per resource.
REPEATABLE = frozenset({"resource"})


def refuse_repeats(params: Any) -> None:
    for name, values in params.lists():
        # RFC 6749 §3.1, §3.2: parameters must not be repeated
        if len(values) > 1 and name not in REPEATABLE:
            raise OAuthError("invalid_request", f"parameter {name!r} is repeated")


def known_resources(issuer: Issuer, resources: list[str],
                    granted: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """RFC 8707 §2: each ``resource`` an absolute URI the provider knows
    (``idp.resources``) and, at the token endpoint, one the grant holds; ``invalid_target``
    otherwise. Without any, the grant's."""
    for resource in resources:
        problem = resource_problem(resource)
        if problem is not None:
            raise OAuthError("invalid_target", problem)
        if resource not in issuer.resources:
            raise OAuthError("invalid_target", f"resource {resource!r} is unknown to this "
                             "provider; register it: idp.resources.add(uri) in Python, "
                             "mockidp serve --resource URI, resources = [...] in its config "
                             "file, or POST /_mockidp/resources {\"uri\": ...}")
        if granted is not None and resource not in granted:
            raise OAuthError("invalid_target", f"resource {resource!r} was not granted "
                             "(RFC 8707 §2.2)")
    return tuple(dict.fromkeys(resources)) or (granted or ())


def redirect_uri(client: Client, given: str | None) -> str:
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


#: The form_post page's one script, allowed by its hash (CSP Level 3 §8.4): the same bytes on
#: every page, unlike the parameters around it, which come from the request.
_AUTO_SUBMIT = "document.forms[0].submit()"
_AUTO_SUBMIT_HASH = base64.b64encode(hashlib.sha256(_AUTO_SUBMIT.encode()).digest()).decode()
_FORM_POST_HEADERS = {
    **NO_STORE, **NOSNIFF, "X-Frame-Options": "DENY",
    "Content-Security-Policy": f"default-src 'none'; script-src 'sha256-{_AUTO_SUBMIT_HASH}'; "
                               "base-uri 'none'; frame-ancestors 'none'",
}


def form_post(target: str, params: Mapping[str, str]) -> Response:
    """OAuth 2.0 Form Post Response Mode: a page that posts the parameters back. Its script
    is a ``<script>`` element allowed by hash, not an ``onload`` attribute, which a policy
    could allow only with ``'unsafe-inline'`` (or ``'unsafe-hashes'``); the policy allows no
    other script, so a parameter that escaped its attribute still could not run."""
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items()
    )
    page = (
        "<!doctype html><html><head><title>mockidp</title></head><body>"
        f'<form method="post" action="{escape(target)}">{fields}'
        "<noscript><button>Continue</button></noscript></form>"
        f"<script>{_AUTO_SUBMIT}</script></body></html>"
    )
    return Response(page, content_type="text/html; charset=utf-8", headers=_FORM_POST_HEADERS)
