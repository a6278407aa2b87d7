"""The OAuth 2.0 / OpenID Connect endpoints: authorization, token (with its grants), userinfo.

A mixin of the WSGI :class:`~mockidp.web.app.App`: each ``on_<endpoint>`` method answers one
endpoint, each ``grant_<type>`` one ``grant_type`` of the token endpoint. Errors are raised as
:class:`OAuthError` and answered as the specs define (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import jwt
from werkzeug.wrappers import Request, Response

from ..core.flows import (
    CODE_LIFETIME,
    PKCE_METHODS,
    REFRESH_LIFETIME,
    DeviceAuthorizations,
    Grant,
    PendingLogin,
    RevokedTokens,
    TicketStore,
    TokenContext,
    pkce_matches,
)
from ..core.tokens import InvalidTokenError
from .pages import device_page, login_page

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..core.directory import Client, User
    from ..provider import MockIdP

__all__ = ["CORS", "OAuthEndpoints", "OAuthError", "json_response"]

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
#: Endpoints a browser app calls directly answer any origin (the provider is a test double).
CORS = {"Access-Control-Allow-Origin": "*"}
FORM = "application/x-www-form-urlencoded"

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
SESSION_COOKIE = "mockidp_session"
LOGIN_PAGE_LIFETIME = 600.0
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
#: RFC 8693 §3 token types a subject_token may have (all are JWTs of this provider).
EXCHANGEABLE = (ACCESS_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:id_token",
                "urn:ietf:params:oauth:token-type:jwt")


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
        self.codes = TicketStore()
        self.refresh_tokens = TicketStore()
        self.revoked = RevokedTokens()
        self.token_hooks: list[Callable[[TokenContext], object]] = []
        self.used_assertions: set[str] = set()
        self.devices = DeviceAuthorizations()
        self.pending_logins: dict[str, PendingLogin] = {}
        self.grants: dict[str, Callable[[Request, Client], dict[str, Any]]] = {
            "authorization_code": self.grant_authorization_code,
            "client_credentials": self.grant_client_credentials,
            "refresh_token": self.grant_refresh_token,
            "password": self.grant_password,
            TOKEN_EXCHANGE: self.grant_token_exchange,
            JWT_BEARER: self.grant_jwt_bearer,
            DEVICE_CODE: self.grant_device_code,
        }

    def clear(self) -> None:
        """Forget codes, refresh tokens, revocations and hooks (the provider's reset)."""
        self.codes.clear()
        self.refresh_tokens.clear()
        self.revoked.clear()
        self.token_hooks.clear()
        self.used_assertions.clear()
        self.devices.clear()
        self.pending_logins.clear()

    # -- client authentication ----------------------------------------------------------------

    def authenticate_client(self, request: Request) -> Client:
        """The client, authenticated by ``client_secret_basic``, ``client_secret_post``,
        ``private_key_jwt`` (RFC 7523 §2.2) or, for a public client, its ``client_id`` alone
        (RFC 6749 §2.3.1); ``invalid_client`` with 401 and ``WWW-Authenticate`` otherwise."""
        if "client_assertion" in request.form:
            return self.authenticate_assertion(request)
        client_id, secret = _client_credentials(request)
        client = self.provider.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", f"unknown client {client_id!r}", 401, _BASIC)
        if client.public:
            if secret:
                raise OAuthError("invalid_client", f"{client_id!r} is a public client and has "
                                 "no secret", 401, _BASIC)
        elif client.client_secret is None:
            raise OAuthError("invalid_client", f"{client_id!r} authenticates with "
                             "private_key_jwt (client_assertion)", 401, _BASIC)
        elif secret is None or not hmac.compare_digest(
            secret.encode(), client.client_secret.encode()
        ):
            raise OAuthError("invalid_client", f"wrong or missing secret for {client_id!r}",
                             401, _BASIC)
        return client

    def authenticate_assertion(self, request: Request) -> Client:
        """``private_key_jwt``: a JWT signed by one of the client's registered keys, with
        ``iss`` = ``sub`` = the client id and this token endpoint as ``aud``; each ``jti``
        once (RFC 7523 §3, OIDC Core §9)."""
        if request.form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise OAuthError("invalid_client", f"client_assertion_type must be "
                             f"{CLIENT_ASSERTION_TYPE}", 401, _BASIC)
        assertion = request.form.get("client_assertion", "")
        try:
            client_id = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_client", f"malformed client_assertion: {exc}",
                             401, _BASIC) from None
        client = self.provider.clients.get(client_id) if isinstance(client_id, str) else None
        if client is None or client.jwks is None:
            raise OAuthError("invalid_client", f"no client with registered keys is "
                             f"{client_id!r}", 401, _BASIC)
        if request.form.get("client_id", client.client_id) != client.client_id:
            raise OAuthError("invalid_client", "client_id differs from the assertion's iss",
                             401, _BASIC)
        claims = self.verify_assertion(assertion, client, subject=client.client_id,
                                       error="invalid_client")
        jti = claims.get("jti")
        if not isinstance(jti, str) or jti in self.used_assertions:
            raise OAuthError("invalid_client", "client_assertion needs a jti not used before",
                             401, _BASIC)
        self.used_assertions.add(jti)
        return client

    def verify_assertion(self, assertion: str, client: Client, *, subject: str | None,
                         error: str) -> dict[str, Any]:
        """The claims of a JWT the client signed with one of its registered keys."""
        status, headers = (401, _BASIC) if error == "invalid_client" else (400, {})
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
            candidates = [k for k in (client.jwks or {}).get("keys", [])
                          if kid is None or k.get("kid") == kid]
            if not candidates:
                raise jwt.InvalidKeyError(f"no registered key of the client has kid {kid!r}")
            key = jwt.PyJWK(candidates[0])
            audience = [self.provider.token_endpoint, self.provider.issuer]
            claims: dict[str, Any] = jwt.decode(
                assertion, key, algorithms=[key.algorithm_name], audience=audience,
                issuer=client.client_id, options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise OAuthError(error, f"assertion rejected: {exc}", status, headers) from None
        if subject is not None and claims["sub"] != subject:
            raise OAuthError(error, f"assertion sub must be {subject!r}", status, headers)
        return claims

    # -- token endpoint -----------------------------------------------------------------------

    def on_token(self, request: Request) -> Response:
        _form(request)
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
        return json_response(grant(request, client), headers={**_NO_STORE, **CORS})

    def mint(self, context: TokenContext) -> str:
        """Sign a token the endpoints issue, after the test's hooks have shaped it."""
        for hook in list(self.token_hooks):
            hook(context)
        minter = self.provider.minter
        kid = context.header.get("kid")
        key = minter.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            key = minter.select_key(None, None)
        return minter.sign(key, context.header, context.claims, context.fault)

    def issue(self, client: Client, grant_type: str, sub: str, scope: str, *,
              grant: Grant | None = None, refresh: bool = False,
              claims: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The token response (RFC 6749 §5.1): an access token; an ID token when a user signed
        in with ``openid`` in scope (OIDC Core §3.1.3.3, §12.2); a refresh token if asked."""
        provider, minter = self.provider, self.provider.minter
        user = provider.users.get(sub)
        key = minter.select_key(None, None)
        extra = {**(grant.claims or {})} if grant is not None else {}
        extra.update(claims or {})
        access_claims = minter.access_claims(extra, sub=sub, client_id=client.client_id,
                                             scope=scope or None, expires_in=TOKEN_LIFETIME)
        access = self.mint(TokenContext(
            "access_token", grant_type, client, user, scope,
            minter.header(key, "JWT", None), access_claims,
        ))
        body: dict[str, Any] = {
            "access_token": access, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
        }
        if scope:
            body["scope"] = scope
        if grant is not None and "openid" in scope_set(scope):
            id_claims = minter.id_claims(
                key, grant.claims, sub=sub, aud=client.client_id, nonce=grant.nonce,
                access_token=access, auth_time=grant.auth_time, expires_in=TOKEN_LIFETIME,
            )
            body["id_token"] = self.mint(TokenContext(
                "id_token", grant_type, client, user, scope, minter.header(key, "JWT", None),
                id_claims,
            ))
        if refresh and grant is not None:
            expires_at = provider.clock.time() + REFRESH_LIFETIME
            body["refresh_token"] = self.refresh_tokens.issue(grant.renewed(expires_at, scope))
        return body

    def grant_client_credentials(self, request: Request, client: Client) -> dict[str, Any]:
        if client.public:
            raise OAuthError("unauthorized_client", "a public client cannot use "
                             "client_credentials (RFC 6749 §4.4)")
        return self.issue(client, "client_credentials", client.client_id,
                          request.form.get("scope", ""))

    def grant_refresh_token(self, request: Request, client: Client) -> dict[str, Any]:
        """RFC 6749 §6; with ``idp.refresh_token_rotation`` each refresh token works once."""
        ticket = request.form.get("refresh_token")
        if not ticket:
            raise OAuthError("invalid_request", "refresh_token is required")
        now = self.provider.clock.time()
        rotate = self.provider.refresh_token_rotation
        grant = (self.refresh_tokens.redeem if rotate else self.refresh_tokens.peek)(ticket, now)
        if grant is None:
            raise OAuthError("invalid_grant", "the refresh token is unknown, revoked, expired"
                             + (" or used (rotation is on)" if rotate else ""))
        if grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the refresh token was issued to another client")
        scope = request.form.get("scope", grant.scope)
        if not scope_set(scope) <= scope_set(grant.scope):
            raise OAuthError("invalid_scope", f"scope {scope!r} exceeds the original "
                             f"{grant.scope!r} (RFC 6749 §6)")
        body = self.issue(client, "refresh_token", grant.sub, scope, grant=grant,
                          refresh=rotate)
        if not rotate:
            body["refresh_token"] = ticket
        return body

    def grant_password(self, request: Request, client: Client) -> dict[str, Any]:
        """RFC 6749 §4.3 (legacy, still asked for): a user's username and password."""
        username, password = request.form.get("username"), request.form.get("password")
        if not username or password is None:
            raise OAuthError("invalid_request", "username and password are required")
        user = self.provider.users.find(username)
        if user is None or not hmac.compare_digest(password.encode(), user.password.encode()):
            raise OAuthError("invalid_grant", "wrong username or password")
        scope = request.form.get("scope", "")
        now = self.provider.clock.time()
        grant = Grant(client.client_id, user.sub, scope, now, now + CODE_LIFETIME)
        return self.issue(client, "password", user.sub, scope, grant=grant, refresh=True)

    def grant_token_exchange(self, request: Request, client: Client) -> dict[str, Any]:
        """RFC 8693: a token of this provider exchanged for an access token for another
        audience; an ``actor_token`` adds the ``act`` claim (§4.1)."""
        form = request.form
        subject_token, subject_type = form.get("subject_token"), form.get("subject_token_type")
        if not subject_token or not subject_type:
            raise OAuthError("invalid_request", "subject_token and subject_token_type are "
                             "required")
        if subject_type not in EXCHANGEABLE:
            raise OAuthError("invalid_request", f"subject_token_type {subject_type!r} is not "
                             f"supported; use one of: {', '.join(EXCHANGEABLE)}")
        requested = form.get("requested_token_type", ACCESS_TOKEN_TYPE)
        if requested != ACCESS_TOKEN_TYPE:
            raise OAuthError("invalid_request", f"requested_token_type must be "
                             f"{ACCESS_TOKEN_TYPE}")
        subject = self.verified(subject_token, "subject_token")
        extra: dict[str, Any] = {}
        audience = form.get("audience") or form.get("resource")
        if audience:
            extra["aud"] = audience
        if form.get("actor_token"):
            actor = self.verified(form["actor_token"], "actor_token")
            extra["act"] = {"sub": actor.get("sub")}
        scope = form.get("scope", subject.get("scope", ""))
        body = self.issue(client, TOKEN_EXCHANGE, str(subject.get("sub")), scope,
                          claims=extra)
        body["issued_token_type"] = ACCESS_TOKEN_TYPE
        return body

    def verified(self, token: str, name: str) -> dict[str, Any]:
        try:
            claims = self.provider.verify(token)
        except InvalidTokenError as exc:
            raise OAuthError("invalid_request", f"{name} rejected: {exc}") from None
        if claims.get("jti") in self.revoked:
            raise OAuthError("invalid_request", f"{name} was revoked")
        return claims

    def grant_jwt_bearer(self, request: Request, client: Client) -> dict[str, Any]:
        """RFC 7523 §2.1: an assertion the client signed (``iss`` = client id, ``sub`` = the
        subject), or a token this provider issued, exchanged for an access token."""
        assertion = request.form.get("assertion")
        if not assertion:
            raise OAuthError("invalid_request", "assertion is required")
        if client.jwks is not None:
            claims = self.verify_assertion(assertion, client, subject=None,
                                           error="invalid_grant")
        else:
            try:
                claims = self.provider.verify(assertion)
            except InvalidTokenError as exc:
                raise OAuthError("invalid_grant", f"assertion rejected: {exc}") from None
        return self.issue(client, JWT_BEARER, str(claims["sub"]), request.form.get("scope", ""))

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
        return self.issue(client, "authorization_code", grant.sub, grant.scope, grant=grant,
                          refresh=True)

    # -- authorization endpoint ---------------------------------------------------------------

    def on_authorize(self, request: Request) -> Response:
        """OIDC Core §3.1.2. In tests (``login="auto"``) it signs in the default user (or the
        ``login_hint`` one, or what ``idp.users.next_login()`` planned) without a page; with
        ``login="page"`` it asks on a login page. Errors about the client or redirect URI are
        answered directly; all others go back to the redirect URI (RFC 6749 §4.1.2.1)."""
        params = request.values
        _refuse_repeats(params)
        if request.method == "POST" and "login_request" in request.form:
            return self.login_submitted(request)
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
            return self.redirect(redirect_uri, "query", state, error=(
                "invalid_request", f"response_mode must be one of {', '.join(RESPONSE_MODES)}"))
        try:
            grant = self.authorization_grant(params, client, given_uri)
            login = self.login(params, request)
        except OAuthError as exc:
            return self.redirect(redirect_uri, response_mode, state,
                                 error=(exc.error, exc.description))
        if login is None:  # ask on the login page
            pending = PendingLogin(grant, redirect_uri, response_mode, state,
                                   grant.expires_at + LOGIN_PAGE_LIFETIME)
            ticket = secrets.token_urlsafe(24)
            self.pending_logins[ticket] = pending
            return login_page(self.provider, ticket, params.get("login_hint"))
        user, claims = login
        return self.approved(grant, user, claims, redirect_uri, response_mode, state)

    def approved(self, grant: Grant, user: User, claims: Mapping[str, Any] | None,
                 redirect_uri: str, response_mode: str, state: str | None) -> Response:
        now = self.provider.clock.time()
        grant = replace(grant, sub=user.sub, auth_time=now, expires_at=now + CODE_LIFETIME,
                        claims=dict(claims) if claims else None)
        response = self.redirect(redirect_uri, response_mode, state,
                                 code=self.codes.issue(grant))
        return response

    def authorization_grant(self, params: Mapping[str, str], client: Client,
                            redirect_uri: str | None) -> Grant:
        """The validated request, as a grant still missing its user."""
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
        now = self.provider.clock.time()
        return Grant(
            client_id=client.client_id, redirect_uri=redirect_uri,
            scope=params.get("scope", ""), sub="", auth_time=now,
            expires_at=now + CODE_LIFETIME, nonce=params.get("nonce"),
            code_challenge=challenge, code_challenge_method=method,
        )

    def login(self, params: Mapping[str, str], request: Request
              ) -> tuple[User, Mapping[str, Any] | None] | None:
        """Who signs in, and with which extra claims; ``None`` to ask on the login page.
        OIDC Core §3.1.2.1 ``prompt``: ``none`` must not show a page (``login_required``),
        ``login`` must not reuse the page's session."""
        prompt = set(params.get("prompt", "").split())
        if "none" in prompt and len(prompt) > 1:
            raise OAuthError("invalid_request", "prompt=none cannot be combined")
        users = self.provider.users
        planned = users.take_login()
        if planned is not None:
            if planned.deny:
                raise OAuthError("access_denied", "the user refused (idp.users.next_login)")
            if planned.sub is None:
                raise OAuthError("login_required", "nobody is signed in "
                                 "(idp.users.next_login(None))")
            return users[planned.sub], planned.claims
        hint = params.get("login_hint")
        if self.provider.login == "auto":
            return self.signed_in_user(hint), None
        session = users.get(request.cookies.get(SESSION_COOKIE, ""))
        if session is not None and "login" not in prompt and hint in (
                None, session.sub, session.claims.get("email"),
                session.claims.get("preferred_username")):
            return session, None
        if "none" in prompt:
            raise OAuthError("login_required", "nobody is signed in on the login page")
        return None

    def login_submitted(self, request: Request) -> Response:
        """The login page's form: approve as the chosen (or a new) user, or deny."""
        form = request.form
        pending = self.pending_logins.pop(form.get("login_request", ""), None)
        now = self.provider.clock.time()
        if pending is None or pending.expires_at <= now:
            raise OAuthError("invalid_request", "this sign-in expired or was used; start again "
                             "from the application")
        if form.get("action") == "deny":
            return self.redirect(pending.redirect_uri, pending.response_mode, pending.state,
                                 error=("access_denied", "the user refused"))
        sub = (form.get("new_sub") or form.get("sub") or "").strip()
        try:
            claims = json.loads(form.get("claims") or "{}")
            if not isinstance(claims, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self.pending_logins[form["login_request"]] = pending
            return login_page(self.provider, form["login_request"], sub or None,
                              error=f"Extra claims must be a JSON object: {exc}", status=400)
        users = self.provider.users
        user = users.find(sub) if sub else users.default
        if user is None:
            user = users.add(sub)
        response = self.approved(pending.grant, user, claims, pending.redirect_uri,
                                 pending.response_mode, pending.state)
        response.set_cookie(SESSION_COOKIE, user.sub, httponly=True, samesite="Lax",
                            path=request.script_root or "/")
        return response

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
            if claims.get("jti") in self.revoked:
                raise InvalidTokenError("the token was revoked")
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


    # -- device authorization grant (RFC 8628) ----------------------------------------------

    def on_device_authorization(self, request: Request) -> Response:
        """RFC 8628 §3.1-3.2: a device code to poll with and a user code to show."""
        _form(request)
        client = self.authenticate_client(request)
        if DEVICE_CODE not in client.grant_types:
            raise OAuthError("unauthorized_client",
                             f"client {client.client_id!r} may not use the device grant")
        provider = self.provider
        record = self.devices.start(client.client_id, request.form.get("scope", ""),
                                    provider.clock.time())
        verification = provider.url_for("device-verification")
        complete = f"{verification}?{urlencode({'user_code': record.user_code})}"
        return json_response({
            "device_code": record.device_code, "user_code": record.user_code,
            "verification_uri": verification, "verification_uri_complete": complete,
            "expires_in": round(record.expires_at - provider.clock.time()),
            "interval": record.interval,
        }, headers={**_NO_STORE, **CORS})

    def grant_device_code(self, request: Request, client: Client) -> dict[str, Any]:
        """RFC 8628 §3.4-3.5: pending, slow down, denied, expired, or the tokens."""
        device_code = request.form.get("device_code")
        if not device_code:
            raise OAuthError("invalid_request", "device_code is required")
        record = self.devices.by_device_code(device_code)
        if record is None or record.client_id != client.client_id:
            raise OAuthError("invalid_grant", "unknown device_code for this client")
        now = self.provider.clock.time()
        if now >= record.expires_at:
            raise OAuthError("expired_token", "the device code expired; start again")
        if record.status == "denied":
            raise OAuthError("access_denied", "the user denied the request")
        last, record.last_poll = record.last_poll, now
        if record.status == "pending":
            if last is not None and now - last < record.interval:
                record.interval += 5  # §3.5: and the client must slow down by 5 seconds
                raise OAuthError("slow_down", f"poll at most every {record.interval} s")
            raise OAuthError("authorization_pending", "the user has not decided yet")
        self.devices.finish(record)
        assert record.sub is not None
        grant = Grant(client.client_id, record.sub, record.scope, record.auth_time,
                      now + CODE_LIFETIME)
        return self.issue(client, DEVICE_CODE, record.sub, record.scope, grant=grant,
                          refresh=True)

    def on_device_verification(self, request: Request) -> Response:
        """Where the user enters the code (``verification_uri``): a small page that approves
        or denies it for the default user or the one named in ``login_hint``."""
        params = request.values
        code = params.get("user_code", "")
        message = ""
        if request.method == "POST":
            record = self.devices.by_user_code(code)
            if record is None or record.status != "pending":
                message = "Unknown or used code."
            else:
                sub = None
                if params.get("action") != "deny":
                    sub = self.signed_in_user(params.get("login_hint") or None).sub
                self.devices.decide(record, sub=sub, now=self.provider.clock.time())
                message = "Device approved." if sub else "Device denied."
        return device_page(code, message)

    # -- introspection, revocation, logout ----------------------------------------------------

    def token_form(self, request: Request) -> tuple[Client, str]:
        """The authenticated client and the ``token`` parameter of RFC 7662 / RFC 7009."""
        _form(request)
        client = self.authenticate_client(request)
        token = request.form.get("token")
        if not token:
            raise OAuthError("invalid_request", "token is required")
        return client, token

    def on_introspect(self, request: Request) -> Response:
        """RFC 7662 §2: whether a token is active now, and its claims if so."""
        _, token = self.token_form(request)
        provider = self.provider
        grant = self.refresh_tokens.peek(token, provider.clock.time())
        if grant is not None:
            body: dict[str, Any] = {
                "active": True, "token_type": "refresh_token", "client_id": grant.client_id,
                "sub": grant.sub, "scope": grant.scope, "exp": int(grant.expires_at),
                "iss": provider.issuer,
            }
        else:
            try:
                claims = provider.verify(token)
            except InvalidTokenError:
                claims = None
            if claims is None or claims.get("jti") in self.revoked:
                body = {"active": False}
            else:
                body = {**claims, "active": True, "token_type": "Bearer"}
        return json_response(body, headers=_NO_STORE)

    def on_revoke(self, request: Request) -> Response:
        """RFC 7009 §2: revoke a refresh token or an access token; unknown tokens are no error
        (§2.2), and a token of another client is left alone."""
        client, token = self.token_form(request)
        provider = self.provider
        grant = self.refresh_tokens.peek(token, provider.clock.time())
        if grant is not None:
            if grant.client_id == client.client_id:
                self.refresh_tokens.revoke(token)
        else:
            try:
                claims = provider.verify(token)
            except InvalidTokenError:
                claims = {}
            owner = claims.get("client_id", claims.get("azp"))
            if isinstance(claims.get("jti"), str) and owner in (None, client.client_id):
                self.revoked.add(claims["jti"])
        return Response(status=200, headers={**_NO_STORE, **CORS})

    def on_end_session(self, request: Request) -> Response:
        """OpenID Connect RP-Initiated Logout 1.0 §2-3: back to ``post_logout_redirect_uri``
        (checked like a redirect URI) with ``state``, or a signed-out page."""
        params = request.values
        _refuse_repeats(params)
        target = params.get("post_logout_redirect_uri")
        if target is None:
            page = "<!doctype html><title>mockidp</title><p>Signed out of the mock provider.</p>"
            return Response(page, content_type="text/html; charset=utf-8", headers=_NO_STORE)
        client_id = params.get("client_id")
        hint = params.get("id_token_hint")
        if client_id is None and hint:
            try:
                claims = jwt.decode(hint, options={"verify_signature": False})
            except jwt.PyJWTError:
                raise OAuthError("invalid_request", "id_token_hint is not a JWT") from None
            if claims.get("iss") != self.provider.issuer:
                raise OAuthError("invalid_request", "id_token_hint was not issued here")
            aud = claims.get("aud")
            client_id = aud if isinstance(aud, str) else claims.get("azp")
        client = self.provider.clients.get(client_id) if isinstance(client_id, str) else None
        if client is None:
            raise OAuthError("invalid_request", "post_logout_redirect_uri needs client_id or "
                             "an id_token_hint of a known client")
        location = _redirect_uri(client, target)
        state = params.get("state")
        if state is not None:
            parts = urlsplit(location)
            query = urlencode([*parse_qsl(parts.query, keep_blank_values=True),
                               ("state", state)])
            location = urlunsplit(parts._replace(query=query))
        return Response(status=302, headers={"Location": location, **_NO_STORE})


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


def _form(request: Request) -> None:
    """Parameters must come form-encoded (RFC 6749 §3.2), once each; an empty body is fine."""
    if request.get_data(cache=True) and request.mimetype != FORM:
        raise OAuthError("invalid_request", f"send the parameters as {FORM}")
    _refuse_repeats(request.form)


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
