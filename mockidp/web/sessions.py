"""What a client does with the tokens it holds: userinfo (OIDC Core §5.3), introspection
(RFC 7662), revocation (RFC 7009) and RP-initiated logout (OpenID Connect RP-Initiated Logout
1.0)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Response

from ..errors import InvalidTokenError
from .authorize import refuse_script_uri
from .clientauth import authenticate_client
from .responses import (
    CORS,
    NO_STORE,
    OAuthError,
    check_form,
    json_response,
    quoted,
    redirect_uri,
    refuse_repeats,
    scope_set,
)

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from ..core.directory import Client
    from ..core.issuer import Issuer

__all__ = ["SCOPE_CLAIMS", "end_session", "introspect", "revoke", "userinfo"]

#: The userinfo claims each scope releases (OIDC Core §5.4).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "preferred_username", "locale",
                "zoneinfo", "picture", "updated_at"),
    "email": ("email", "email_verified"),
}


def userinfo(issuer: Issuer, request: Request) -> Response:
    """OIDC Core §5.3, with bearer-token errors as RFC 6750 §3 defines them."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise OAuthError("invalid_request", "send the access token as "
                         "'Authorization: Bearer <token>'", 401,
                         {"WWW-Authenticate": 'Bearer realm="mockidp"'})
    try:
        claims = issuer.verify(token.strip())
        if claims.get("jti") in issuer.flows.revoked:
            raise InvalidTokenError("the token was revoked")
    except InvalidTokenError as exc:
        raise OAuthError("invalid_token", str(exc), 401, {
            "WWW-Authenticate": f'Bearer realm="mockidp", error="invalid_token", '
                                f'error_description="{quoted(str(exc))}"'}) from None
    scopes = scope_set(claims.get("scope"))
    if "scope" in claims and "openid" not in scopes:
        raise OAuthError("insufficient_scope", "the token's scope lacks openid", 403, {
            "WWW-Authenticate": 'Bearer realm="mockidp", error="insufficient_scope", '
                                'scope="openid"'})
    sub = claims.get("sub")
    body: dict[str, Any] = {"sub": sub}
    user = issuer.users.get(sub) if isinstance(sub, str) else None
    if user is not None:
        released = set(user.claims) if "scope" not in claims else {
            name for scope in scopes for name in SCOPE_CLAIMS.get(scope, ())}
        body.update((k, v) for k, v in user.claims.items() if k in released)
    return json_response(body, headers=NO_STORE)


def _token_form(issuer: Issuer, request: Request) -> tuple[Client, str]:
    """The authenticated client and the ``token`` parameter of RFC 7662 / RFC 7009."""
    check_form(request)
    client = authenticate_client(issuer, request)
    token = request.form.get("token")
    if not token:
        raise OAuthError("invalid_request", "token is required")
    return client, token


def introspect(issuer: Issuer, request: Request) -> Response:
    """RFC 7662 §2: whether a token is active now, and its claims if so."""
    _, token = _token_form(issuer, request)
    grant = issuer.flows.refresh_tokens.peek(token, issuer.clock.time())
    if grant is not None:
        body: dict[str, Any] = {
            "active": True, "token_type": "refresh_token", "client_id": grant.client_id,
            "sub": grant.sub, "scope": grant.scope, "exp": int(grant.expires_at),
            "iss": issuer.issuer,
        }
    else:
        try:
            claims = issuer.verify(token)
        except InvalidTokenError:
            claims = None
        if claims is None or claims.get("jti") in issuer.flows.revoked:
            body = {"active": False}
        else:
            body = {**claims, "active": True, "token_type": "Bearer"}
    return json_response(body, headers=NO_STORE)


def revoke(issuer: Issuer, request: Request) -> Response:
    """RFC 7009 §2: revoke a refresh token or an access token; unknown tokens are no error
    (§2.2), and a token of another client is left alone."""
    client, token = _token_form(issuer, request)
    tickets = issuer.flows.refresh_tokens
    grant = tickets.peek(token, issuer.clock.time())
    if grant is not None:
        if grant.client_id == client.client_id:
            tickets.revoke(token)
    else:
        try:
            claims = issuer.verify(token)
        except InvalidTokenError:
            claims = {}
        owner = claims.get("client_id", claims.get("azp"))
        if isinstance(claims.get("jti"), str) and owner in (None, client.client_id):
            # Kept until the token expires (verify() checked exp is a number), then the
            # token is refused anyway: the list cannot grow past the live tokens.
            issuer.flows.revoked.add(claims["jti"], float(claims["exp"]), issuer.clock.time())
    return Response(status=200, headers={**NO_STORE, **CORS})


def end_session(issuer: Issuer, request: Request) -> Response:
    """OpenID Connect RP-Initiated Logout 1.0 §2-3: back to ``post_logout_redirect_uri``
    (checked like a redirect URI) with ``state``, or a signed-out page.

    The ``id_token_hint`` is validated as §2 requires: signed by one of this provider's keys
    and issued here (expired is fine, §2 says so), and naming ``client_id`` among its
    audiences when both are sent. An unsigned or forged hint could otherwise pick the client,
    and with it which ``post_logout_redirect_uri`` values are accepted."""
    params = request.values
    refuse_repeats(params)
    client_id = params.get("client_id")
    hint = params.get("id_token_hint")
    if hint:
        client_id = _hinted_client(issuer, hint, client_id)
    target = params.get("post_logout_redirect_uri")
    if target is None:
        page = "<!doctype html><title>mockidp</title><p>Signed out of the mock provider.</p>"
        return Response(page, content_type="text/html; charset=utf-8", headers=NO_STORE)
    client = issuer.clients.get(client_id) if isinstance(client_id, str) else None
    if client is None:
        raise OAuthError("invalid_request", "post_logout_redirect_uri needs client_id or "
                         "an id_token_hint of a known client")
    location = redirect_uri(client, target)
    refuse_script_uri(location)
    state = params.get("state")
    if state is not None:
        parts = urlsplit(location)
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("state", state)])
        location = urlunsplit(parts._replace(query=query))
    return Response(status=302, headers={"Location": location, **NO_STORE})


def _hinted_client(issuer: Issuer, hint: str, client_id: str | None) -> str | None:
    """The client an ``id_token_hint`` was issued to, once the hint is validated (see
    :func:`end_session`); ``client_id`` if given and among the hint's audiences."""
    try:
        claims = issuer.minter.verify(hint, expired_ok=True)
    except InvalidTokenError as exc:
        raise OAuthError("invalid_request", f"id_token_hint rejected: {exc}") from None
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id is not None:
        if client_id not in audiences:
            raise OAuthError("invalid_request", "client_id is not an audience of the "
                             "id_token_hint (RP-Initiated Logout 1.0 §2)")
        return client_id
    azp = claims.get("azp")
    hinted = aud if isinstance(aud, str) else azp
    return hinted if isinstance(hinted, str) else None
