"""What a client does with the tokens it holds: userinfo (OIDC Core §5.3), introspection
(RFC 7662), revocation (RFC 7009) and RP-initiated logout (OpenID Connect RP-Initiated Logout
1.0)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Response

from ..core import login_faults
from ..errors import InvalidTokenError
from .authorize import refuse_script_uri
from .claims_request import userinfo_claims_of
from .clientauth import authenticate_client
from .dpop import CHALLENGE, dpop_error, nonce_headers, refuse_bound_bearer, resource_proof
from .responses import (
    CORS,
    FORM,
    NO_STORE,
    BearerChallenge,
    OAuthError,
    check_form,
    json_response,
    quoted,
    redirect_uri,
    refuse_repeats,
    scope_set,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from werkzeug.wrappers import Request

    from ..core.issuer import Issuer

__all__ = ["SCOPE_CLAIMS", "end_session", "introspect", "revoke", "userinfo"]

#: The userinfo claims each scope releases (OIDC Core §5.4).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "preferred_username", "locale",
                "zoneinfo", "picture", "updated_at"),
    "email": ("email", "email_verified"),
}


def userinfo(issuer: Issuer, request: Request) -> Response:
    """OIDC Core §5.3, with bearer-token errors as RFC 6750 §3 defines them: the claims the
    user has of those the token's scopes release (§5.4) and those its grant asked for in the
    ``claims`` parameter's ``userinfo`` member (§5.5).

    §5.3.2: a client registered with ``userinfo_signed_response_alg`` gets the claims as a
    JWT (``application/jwt``) with ``iss`` and ``aud`` added; any other, plain JSON. The
    client is the one the token was issued to (its ``client_id``, else ``azp``)."""
    claims = _bearer_claims(issuer, request, "userinfo")
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
        released.update(userinfo_claims_of(issuer, claims.get("jti")))
        body.update((k, v) for k, v in user.claims.items() if k in released)
    named = claims.get("client_id", claims.get("azp"))
    client = issuer.clients.get(named) if isinstance(named, str) else None
    jti = claims.get("jti")
    planted = issuer.flows.planted.get(jti) if isinstance(jti, str) else None
    unsigned = login_faults.plant_userinfo(planted, body)
    if client is not None and client.userinfo_signed_response_alg is not None and not unsigned:
        signed = issuer.minter.signed_userinfo(body, client.client_id,
                                               client.userinfo_signed_response_alg)
        return Response(signed, content_type="application/jwt",
                        headers={**NO_STORE, **nonce_headers(issuer, "userinfo")})
    return json_response(body, headers={**NO_STORE, **nonce_headers(issuer, "userinfo")})


def _bearer_claims(issuer: Issuer, request: Request, endpoint: str) -> dict[str, Any]:
    """The claims of the access token a protected resource request carries: in the
    ``Authorization`` header (RFC 6750 §2.1) or, in a form-encoded POST body, as
    ``access_token`` (§2.2); never both (§2: one method per request). A request with neither
    gets a challenge with no error code or other error information (§3.1), for either scheme
    (RFC 9449 §7.2). A DPoP-bound token comes as ``Authorization: DPoP`` with a proof for
    this request (RFC 9449 §7.1), and never as a bearer token."""
    header = request.headers.get("Authorization")
    scheme, _, token = (header or "").partition(" ")
    dpop = scheme.lower() == "dpop"
    in_header = dpop or scheme.lower() == "bearer"
    refuse = dpop_error if dpop else _bearer_error  # the challenge of the scheme used
    in_body = (request.method == "POST" and request.mimetype == FORM
               and "access_token" in request.form)
    if in_body:
        refuse_repeats(request.form)
    if in_header and in_body:
        raise _bearer_error("invalid_request", "send the access token once: in the "
                            "Authorization header or the form body, not both (RFC 6750 §2)",
                            400)
    if not in_header and not in_body:
        # No credentials, or only a scheme this resource does not take: RFC 6750 §3.1.
        raise BearerChallenge(_SCHEMES)
    token = (token if in_header else request.form["access_token"]).strip()
    if not token:
        raise refuse("invalid_request", "the access token is empty", 400)
    try:
        claims = issuer.verify(token)
        if claims.get("jti") in issuer.flows.revoked:
            raise InvalidTokenError("the token was revoked")
        if _is_id_token(claims):
            raise InvalidTokenError("an ID token is no access token (RFC 8725 §2.8): send "
                                    "the access_token of the token response")
    except InvalidTokenError as exc:
        raise refuse("invalid_token", str(exc), 401) from None
    if dpop:
        resource_proof(issuer, request, endpoint, token, claims)
    else:
        refuse_bound_bearer(claims)
    return claims


def _is_id_token(claims: Mapping[str, Any]) -> bool:
    """Whether ``claims`` are an ID token's (OIDC Core §2, §3.1.3.6): the sign-in's nonce or
    token hashes, or an ``auth_time`` with neither ``client_id`` nor ``scope`` — which the
    access tokens of the token endpoint always carry, and ``idp.token()`` never sets alone."""
    if any(name in claims for name in ("nonce", "at_hash", "c_hash")):
        return True
    return "auth_time" in claims and "client_id" not in claims and "scope" not in claims


_REALM = 'Bearer realm="mockidp"'
#: The challenge of a request without credentials: either scheme will do (RFC 9449 §7.2).
_SCHEMES = f"{_REALM}, {CHALLENGE}"


def _bearer_error(error: str, description: str, status: int) -> OAuthError:
    """An RFC 6750 §3 error: the code in the body and in the ``Bearer`` challenge."""
    return OAuthError(error, description, status, {
        "WWW-Authenticate": f'{_REALM}, error="{error}", '
                            f'error_description="{quoted(description)}"'})


def _token_param(request: Request) -> str:
    """The ``token`` parameter of RFC 7662 §2.1 / RFC 7009 §2.1."""
    token = request.form.get("token")
    if not token:
        raise OAuthError("invalid_request", "token is required")
    return token


def introspect(issuer: Issuer, request: Request) -> Response:
    """RFC 7662 §2: whether a token is active now, and its claims if so.

    §2.1: the endpoint MUST require authorization, against token scanning. It takes either
    client authentication by a confidential client (a secret or an assertion; any such
    client, as the resource servers that introspect are clients of their own) or a bearer
    access token of this provider, not revoked (§2.1 names both). A public client's bare
    ``client_id`` authenticates nobody and is refused (``invalid_client``, 401)."""
    check_form(request)
    scheme, _, _ = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "dpop"):
        if {"client_id", "client_secret", "client_assertion"} & set(request.form):
            raise OAuthError("invalid_request", "authorize with a bearer token or "
                             "authenticate as a client, not both")
        _bearer_claims(issuer, request, "introspect")
    else:
        client = authenticate_client(issuer, request)
        if client.public:
            raise OAuthError("invalid_client", f"{client.client_id!r} is a public client: "
                             "introspection needs a confidential client or a bearer access "
                             "token (RFC 7662 §2.1)", 401,
                             {"WWW-Authenticate": 'Basic realm="mockidp"'})
    token = _token_param(request)
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
            # RFC 9449 §6.2: a bound token's cnf is in claims, and its type is DPoP.
            bound = isinstance(claims.get("cnf"), dict) and "jkt" in claims["cnf"]
            body = {**claims, "active": True, "token_type": "DPoP" if bound else "Bearer"}
    return json_response(body, headers=NO_STORE)


def revoke(issuer: Issuer, request: Request) -> Response:
    """RFC 7009 §2: revoke a refresh token or an access token; unknown tokens are no error
    (§2.2), and a token of another client is left alone. Revoking a refresh token also
    revokes the access tokens issued under the same grant (§2.1 SHOULD): the provider
    remembers each such token's ``jti`` by grant (``issuer.flows.grant_tokens``)."""
    check_form(request)
    client = authenticate_client(issuer, request)
    token = _token_param(request)
    flows = issuer.flows
    tickets = flows.refresh_tokens
    now = issuer.clock.time()
    grant = tickets.peek(token, now)
    if grant is not None:
        if grant.client_id == client.client_id:
            tickets.revoke(token)
            for jti, exp in flows.grant_tokens.pop(grant.grant_id):
                flows.revoked.add(jti, exp, now)
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
    with ``state``, or a signed-out page. The URI must be one of the client's registered
    ``post_logout_redirect_uris`` (§3.1); a client without them is checked as for a redirect
    URI.

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
    registered = client.metadata.get("post_logout_redirect_uris")
    if registered is None:
        location = redirect_uri(client, target)
    elif target in registered:
        location = target
    else:
        raise OAuthError("invalid_request", f"post_logout_redirect_uri {target!r} is not "
                         f"among the client's post_logout_redirect_uris (RP-Initiated "
                         f"Logout 1.0 §2, §3.1)")
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
