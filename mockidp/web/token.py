"""The token endpoint (RFC 6749 §3.2) and its grants, one function each, and the token
response they share (§5.1). Tokens are minted by the core's one pipeline
(:meth:`~mockidp.core.tokens.Minter.access_token` / ``id_token``), so hooks and faults apply as
they do to ``idp.token()``."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from ..core import login_faults
from ..core.directory import OAUTH21_OMITTED
from ..core.flows import CODE_LIFETIME, REFRESH_LIFETIME, Grant, pkce_matches
from ..core.jws import jti_and_exp
from ..errors import InvalidTokenError
from .claims_request import remember_userinfo_claims
from .clientauth import authenticate_client, verify_assertion
from .dpop import JKT, bound_jkt, nonce_headers, token_proof
from .responses import (
    CORS,
    NO_STORE,
    OAuthError,
    check_form,
    json_response,
    known_resources,
    scope_set,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from werkzeug.wrappers import Request, Response

    from ..core.directory import Client
    from ..core.issuer import Issuer

__all__ = ["DEVICE_CODE", "GRANTS", "TOKEN_LIFETIME", "id_token", "issue", "token", "verified"]

#: Lifetime of tokens the token endpoint issues, in seconds.
TOKEN_LIFETIME = 3600
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
#: RFC 8693 §3 token types a subject_token may have (all are JWTs of this provider).
EXCHANGEABLE = (ACCESS_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:id_token",
                "urn:ietf:params:oauth:token-type:jwt")


def token(issuer: Issuer, request: Request) -> Response:
    check_form(request)
    grant_type = request.form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    client = authenticate_client(issuer, request)
    grant = GRANTS.get(grant_type)
    if grant is None or (issuer.profile.code_only and grant_type in OAUTH21_OMITTED):
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not served")
    if grant_type not in client.grant_types:
        raise OAuthError("unauthorized_client",
                         f"client {client.client_id!r} may not use {grant_type}")
    request.environ[JKT] = token_proof(issuer, request, client)
    return json_response(grant(issuer, request, client),
                         headers={**NO_STORE, **CORS, **nonce_headers(issuer, "token", client)})


def issue(issuer: Issuer, request: Request, client: Client, grant_type: str, sub: str,
          scope: str, *, grant: Grant | None = None, refresh: bool = False,
          claims: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The token response (RFC 6749 §5.1): an access token; an ID token when a user signed
    in with ``openid`` in scope (OIDC Core §3.1.3.3, §12.2); a refresh token if asked.

    An access token issued under a grant is recorded by its ``jti`` with the grant, so
    revoking the grant's refresh token revokes it too (RFC 7009 §2.1). An ID token issued on
    refresh carries no ``nonce`` (OIDC Core §12.2: it SHOULD NOT; a refresh is not an
    authentication request), and keeps the original ``auth_time``.

    The access token's ``typ`` is the client's registered choice, else the provider's
    (``"at+jwt"``: RFC 9068 §2.1, with ``client_id`` as §2.2 requires); the ID token is
    signed with the client's ``id_token_signed_response_alg`` (OIDC Registration §2), else the
    provider's default algorithm.

    With a DPoP proof (RFC 9449 §5) the access token is bound to its key (``cnf.jkt``,
    §6.1) and its ``token_type`` is ``DPoP``; a grant bound to a key (a code with
    ``dpop_jkt``, §10; a public client's refresh token, §5) takes a proof of that key only,
    and a public client's refresh token is bound to the proof's key.

    RFC 8707: the access token's ``aud`` is the ``resource`` values of the token request,
    which must be among those the grant holds (a refresh may narrow to one), else all the
    grant's; with neither, the provider's audience."""
    minter = issuer.minter
    jkt = bound_jkt(request)
    if grant is not None and grant.dpop_jkt is not None and grant.dpop_jkt != jkt:
        raise OAuthError("invalid_dpop_proof", "the grant is bound to another DPoP key: send "
                         "a proof of the key it was bound to (RFC 9449 §5, §10)")
    form = request.form.to_dict()  # for the hooks and the config file's rules
    extra = {**(grant.claims or {})} if grant is not None else {}
    resources = known_resources(issuer, request.form.getlist("resource"),
                                grant.resources or None if grant is not None else None)
    if resources:  # RFC 8707 §2: the token is for exactly these
        extra["aud"] = resources[0] if len(resources) == 1 else list(resources)
    extra.update(claims or {})
    if jkt is not None:
        extra["cnf"] = {"jkt": jkt}
    access = minter.access_token(extra, sub=sub, client_id=client.client_id,
                                 scope=scope or None, expires_in=TOKEN_LIFETIME,
                                 typ=client.access_token_typ or issuer.access_token_typ,
                                 grant_type=grant_type, client=client, form=form)
    if grant is not None:
        _record(issuer, grant, access)
        remember_userinfo_claims(issuer, grant, access)
    body: dict[str, Any] = {
        "access_token": access, "token_type": "DPoP" if jkt else "Bearer",
        "expires_in": TOKEN_LIFETIME,
    }
    if scope:
        body["scope"] = scope
    if grant is not None and "openid" in scope_set(scope):
        body["id_token"] = id_token(
            issuer, grant, client, grant_type, scope, form, access_token=access,
            nonce=None if grant_type == "refresh_token" else grant.nonce)
    if refresh and grant is not None:
        now = issuer.clock.time()
        renewed = grant.renewed(now + REFRESH_LIFETIME, scope,
                                dpop_jkt=jkt if client.public else None)
        body["refresh_token"] = issuer.flows.refresh_tokens.issue(renewed, now)
    if grant is not None and grant.fault is not None:
        login_faults.remember_userinfo_fault(grant.fault, access, issuer.flows.planted,
                                             issuer.clock.time())
        login_faults.plant_token_response(grant.fault, body)
    return body


def id_token(issuer: Issuer, grant: Grant, client: Client, grant_type: str, scope: str,
             form: Mapping[str, str], *, nonce: str | None, access_token: str | None = None,
             code: str | None = None) -> str:
    """The ID token of a grant (OIDC Core §2), from the token endpoint or (``code`` and
    ``access_token`` as §3.3.2.11 hashes them) the authorization endpoint, with the sign-in
    fault planted in it, if any (``idp.users.next_login(fault=...)``)."""
    token = issuer.minter.id_token(
        grant.claims, sub=grant.sub, aud=client.client_id, nonce=nonce,
        access_token=access_token, code=code, auth_time=grant.auth_time,
        expires_in=TOKEN_LIFETIME, alg=client.id_token_signed_response_alg,
        grant_type=grant_type, client=client, scope=scope, form=form,
        plant=login_faults.id_token_plant(grant.fault, client.client_id),
    )
    return login_faults.seal_id_token(grant.fault, token, client.client_secret)


def _record(issuer: Issuer, grant: Grant, access_token: str) -> None:
    """Remember ``access_token`` (its final ``jti`` and ``exp``, after the hooks) under
    ``grant``; a token a hook or fault left without them cannot be revoked this way."""
    found = jti_and_exp(access_token)
    if found is not None:
        issuer.flows.grant_tokens.record(grant.grant_id, *found, issuer.clock.time())


def verified(issuer: Issuer, token: str, name: str) -> dict[str, Any]:
    """The claims of a token of this provider that a grant presents, not revoked."""
    try:
        claims = issuer.verify(token)
    except InvalidTokenError as exc:
        raise OAuthError("invalid_request", f"{name} rejected: {exc}") from None
    if claims.get("jti") in issuer.flows.revoked:
        raise OAuthError("invalid_request", f"{name} was revoked")
    return claims


def _client_credentials(issuer: Issuer, request: Request, client: Client) -> dict[str, Any]:
    if client.public:
        raise OAuthError("unauthorized_client", "a public client cannot use "
                         "client_credentials (RFC 6749 §4.4)")
    return issue(issuer, request, client, "client_credentials", client.client_id,
                 request.form.get("scope", ""))


def _refresh_token(issuer: Issuer, request: Request, client: Client) -> dict[str, Any]:
    """RFC 6749 §6; with ``idp.refresh_token_rotation`` each refresh token works once."""
    ticket = request.form.get("refresh_token")
    if not ticket:
        raise OAuthError("invalid_request", "refresh_token is required")
    now = issuer.clock.time()
    rotate = issuer.refresh_token_rotation
    tickets = issuer.flows.refresh_tokens
    grant = (tickets.redeem if rotate else tickets.peek)(ticket, now)
    if grant is None:
        raise OAuthError("invalid_grant", "the refresh token is unknown, revoked, expired"
                         + (" or used (rotation is on)" if rotate else ""))
    if grant.client_id != client.client_id:
        raise OAuthError("invalid_grant", "the refresh token was issued to another client")
    scope = request.form.get("scope", grant.scope)
    if not scope_set(scope) <= scope_set(grant.scope):
        raise OAuthError("invalid_scope", f"scope {scope!r} exceeds the original "
                         f"{grant.scope!r} (RFC 6749 §6)")
    body = issue(issuer, request, client, "refresh_token", grant.sub, scope, grant=grant,
                 refresh=rotate)
    if not rotate:
        body["refresh_token"] = ticket
    return body


def _password(issuer: Issuer, request: Request, client: Client) -> dict[str, Any]:
    """RFC 6749 §4.3 (legacy, still asked for): a user's username and password."""
    username, password = request.form.get("username"), request.form.get("password")
    if not username or password is None:
        raise OAuthError("invalid_request", "username and password are required")
    user = issuer.users.find(username)
    if user is None or not hmac.compare_digest(password.encode(), user.password.encode()):
        raise OAuthError("invalid_grant", "wrong username or password")
    scope = request.form.get("scope", "")
    now = issuer.clock.time()
    grant = Grant(client.client_id, user.sub, scope, now, now + CODE_LIFETIME)
    return issue(issuer, request, client, "password", user.sub, scope, grant=grant, refresh=True)


def _token_exchange(issuer: Issuer, request: Request, client: Client) -> dict[str, Any]:
    """RFC 8693: a token of this provider exchanged for an access token for another
    audience; an ``actor_token`` adds the ``act`` claim (§4.1)."""
    form = request.form
    subject_token, subject_type = form.get("subject_token"), form.get("subject_token_type")
    if not subject_token or not subject_type:
        raise OAuthError("invalid_request", "subject_token and subject_token_type are required")
    if subject_type not in EXCHANGEABLE:
        raise OAuthError("invalid_request", f"subject_token_type {subject_type!r} is not "
                         f"supported; use one of: {', '.join(EXCHANGEABLE)}")
    requested = form.get("requested_token_type", ACCESS_TOKEN_TYPE)
    if requested != ACCESS_TOKEN_TYPE:
        raise OAuthError("invalid_request", f"requested_token_type must be {ACCESS_TOKEN_TYPE}")
    subject = verified(issuer, subject_token, "subject_token")
    extra: dict[str, Any] = {}
    audience = form.get("audience") or form.get("resource")
    if audience:
        extra["aud"] = audience
    if form.get("actor_token"):
        actor = verified(issuer, form["actor_token"], "actor_token")
        extra["act"] = {"sub": actor.get("sub")}
    scope = form.get("scope", subject.get("scope", ""))
    body = issue(issuer, request, client, TOKEN_EXCHANGE, str(subject.get("sub")), scope,
                 claims=extra)
    body["issued_token_type"] = ACCESS_TOKEN_TYPE
    return body


def _jwt_bearer(issuer: Issuer, request: Request, client: Client) -> dict[str, Any]:
    """RFC 7523 §2.1: an assertion the client signed (``iss`` = client id, ``sub`` = the
    subject), or a token this provider issued, exchanged for an access token."""
    assertion = request.form.get("assertion")
    if not assertion:
        raise OAuthError("invalid_request", "assertion is required")
    if client.jwks is not None:
        claims = verify_assertion(issuer, assertion, client, subject=None, error="invalid_grant")
    else:
        try:
            claims = issuer.verify(assertion)
        except InvalidTokenError as exc:
            raise OAuthError("invalid_grant", f"assertion rejected: {exc}") from None
    return issue(issuer, request, client, JWT_BEARER, str(claims["sub"]),
                 request.form.get("scope", ""))


def _authorization_code(issuer: Issuer, request: Request, client: Client) -> dict[str, Any]:
    """RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5-4.6)."""
    code = request.form.get("code")
    if not code:
        raise OAuthError("invalid_request", "code is required")
    grant = issuer.flows.codes.redeem(code, issuer.clock.time())
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
    return issue(issuer, request, client, "authorization_code", grant.sub, grant.scope, grant=grant,
                 refresh=True)


def _device_code(issuer: Issuer, request: Request, client: Client) -> dict[str, Any]:
    """RFC 8628 §3.4-3.5: pending, slow down, denied, expired, or the tokens."""
    device_code = request.form.get("device_code")
    if not device_code:
        raise OAuthError("invalid_request", "device_code is required")
    devices = issuer.flows.devices
    record = devices.by_device_code(device_code)
    if record is None or record.client_id != client.client_id:
        raise OAuthError("invalid_grant", "unknown device_code for this client")
    now = issuer.clock.time()
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
    devices.finish(record)
    assert record.sub is not None
    grant = Grant(client.client_id, record.sub, record.scope, record.auth_time,
                  now + CODE_LIFETIME)
    return issue(issuer, request, client, DEVICE_CODE, record.sub, record.scope, grant=grant,
                 refresh=True)


#: Every grant type the token endpoint serves (``grant_types_supported``), and its handler.
GRANTS: dict[str, Callable[[Issuer, Request, Client], dict[str, Any]]] = {
    "authorization_code": _authorization_code,
    "client_credentials": _client_credentials,
    "refresh_token": _refresh_token,
    "password": _password,
    TOKEN_EXCHANGE: _token_exchange,
    JWT_BEARER: _jwt_bearer,
    DEVICE_CODE: _device_code,
}
