"""The answers every handler shares: OAuth errors as the specs define them (RFC 6749 §5.2,
RFC 6750 §3), JSON bodies, and the checks on form parameters and redirect URIs that more than one
endpoint makes."""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from collections.abc import Mapping

    from werkzeug.wrappers import Request

    from ..core.directory import Client

__all__ = [
    "CORS",
    "FORM",
    "NO_STORE",
    "OAuthError",
    "check_form",
    "form_post",
    "from_http_exception",
    "json_response",
    "quoted",
    "redirect_uri",
    "refuse_repeats",
    "scope_set",
]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: Endpoints a browser app calls directly answer any origin (the provider is a test double).
CORS = {"Access-Control-Allow-Origin": "*"}
FORM = "application/x-www-form-urlencoded"


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


def json_response(body: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status=status, headers=headers, content_type="application/json")


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


def refuse_repeats(params: Any) -> None:
    for name, values in params.lists():
        if len(values) > 1:  # RFC 6749 §3.1, §3.2: parameters must not be repeated
            raise OAuthError("invalid_request", f"parameter {name!r} is repeated")


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


def form_post(target: str, params: Mapping[str, str]) -> Response:
    """OAuth 2.0 Form Post Response Mode: a page that posts the parameters back."""
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items()
    )
    page = (
        "<!doctype html><html><head><title>mockidp</title></head>"
        '<body onload="document.forms[0].submit()">'
        f'<form method="post" action="{escape(target)}">{fields}'
        "<noscript><button>Continue</button></noscript></form></body></html>"
    )
    return Response(page, content_type="text/html; charset=utf-8", headers=NO_STORE)
