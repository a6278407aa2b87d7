"""The OAuth 2.0 / OpenID Connect endpoints: authorization, token (with its grants), userinfo.

A mixin of the WSGI :class:`~mockidp.app.App`: each ``on_<endpoint>`` method answers one
endpoint, each ``grant_<type>`` one ``grant_type`` of the token endpoint. Errors are raised as
:class:`OAuthError` and answered as the specs define (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from .flows import CODE_LIFETIME, PKCE_METHODS, CodeStore, Grant, pkce_matches
from .tokens import InvalidTokenError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .directory import Client, User
    from .provider import MockIdP

__all__ = ["OAuthEndpoints", "OAuthError", "json_response"]

#: The userinfo claims each scope releases (OIDC Core §5.4).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "preferred_username", "locale",
                "zoneinfo", "picture", "updated_at"),
    "email": ("email", "email_verified"),
}

#: Lifetime of tokens the token endpoint issues, in seconds.
TOKEN_LIFETIME = 3600
RESPONSE_MODES = ("query", "fragment", "form_post")

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
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
        return json_response(body, self.status, {**_NO_STORE, **self.headers})


def json_response(body: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status=status, headers=headers, content_type="application/json")




class OAuthEndpoints:
    """The OAuth/OIDC endpoints of the provider, mixed into the WSGI app."""

    provider: MockIdP

    def __init__(self) -> None:
        self.codes = CodeStore()
        self.grants: dict[str, Callable[[Request, Client], dict[str, Any]]] = {
            "authorization_code": self.grant_authorization_code,
            "client_credentials": self.grant_client_credentials,
        }

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
        return json_response(grant(request, client), headers=_NO_STORE)

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
        user = users.find(login_hint)
        if user is not None:
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
        return json_response(body, headers=_NO_STORE)


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
