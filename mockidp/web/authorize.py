"""The authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1; the implicit and hybrid response
types of §3.2 and §3.3 in :mod:`.front_channel`) and the sign-in behind it: who signs in without
a page in tests, the login page otherwise, and the authorization response with ``iss``
(RFC 9207)."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Response

from ..core import login_faults
from ..core.directory import redirect_uri_problem
from ..core.dpop import JKT_FORM
from ..core.flows import CODE_LIFETIME, PKCE_METHODS, Grant, PendingLogin
from . import front_channel
from .claims_request import check_subject, claims_parameter, subjects, userinfo_claims
from .jar import authorization_parameters
from .jarm import JARM_MODES, plain_mode, response_jwt
from .pages import login_page
from .responses import (
    NO_STORE,
    OAuthError,
    form_post,
    known_resources,
    redirect_uri,
    refuse_repeats,
)
from .stepup import achieved_claims, max_age, requested_acr

if TYPE_CHECKING:
    from collections.abc import Mapping

    from werkzeug.datastructures import MultiDict
    from werkzeug.wrappers import Request

    from ..core.directory import Client, User
    from ..core.issuer import Issuer

__all__ = ["RESOLVED", "RESPONSE_MODES", "SESSION_COOKIE", "authorization_grant", "authorize",
           "refuse_script_uri", "signed_in_user"]

RESPONSE_MODES = ("query", "fragment", "form_post", *JARM_MODES)
#: The environ key under which the endpoint leaves the request's resolved parameters (those of
#: a pushed request or a request object) for the request log's ``authorization``.
RESOLVED = "mockidp.authorization"
SESSION_COOKIE = "mockidp_session"
LOGIN_PAGE_LIFETIME = 600.0
#: The authorization request parameters a code, its refresh tokens or a pending sign-in keep,
#: each at most PARAMETER_LIMIT characters: the stores are bounded by count, so each entry
#: must be bounded in size too (a ``claims`` of 600 KB otherwise pins megabytes per code).
_KEPT = ("scope", "nonce", "state", "claims", "acr_values", "login_hint", "prompt", "max_age",
         "id_token_hint")
PARAMETER_LIMIT = 8 * 1024
#: The login page's extra-claims field, at most: the claims ride along in the code and the
#: refresh token, which the provider keeps (up to its limits) for their lifetime.
CLAIMS_FIELD_LIMIT = 8 * 1024


def refuse_script_uri(uri: str) -> None:
    """Never redirect to (or post a form to) a URI that runs script in the browser: a client
    registered through :meth:`~mockidp.core.directory.Clients.add` cannot have one, and one
    without registered URIs may only name http(s) ones, but the endpoints check the URI they
    answer on once more, so no path around ``add`` puts ``javascript:`` in a Location or a
    form_post page (RFC 6749 §10.15, RFC 8252 §7.1)."""
    problem = redirect_uri_problem(uri)
    if problem is not None:
        raise OAuthError("invalid_request", problem)


def authorize(issuer: Issuer, request: Request) -> Response:
    """OIDC Core §3.1.2. In tests (``login="auto"``) it signs in the default user (or the
    ``login_hint`` one, or what ``idp.users.next_login()`` planned) without a page; with
    ``login="page"`` it asks on a login page. Errors about the client or redirect URI are
    answered directly; all others go back to the redirect URI (RFC 6749 §4.1.2.1)."""
    params: MultiDict[str, str] = request.values
    refuse_repeats(params)
    if request.method == "POST" and "login_request" in request.form:
        return _login_submitted(issuer, request)
    client_id = params.get("client_id")
    if not client_id:
        raise OAuthError("invalid_request", "client_id is required")
    client = issuer.clients.get(client_id)
    if client is None:
        raise OAuthError("invalid_request", f"unknown client {client_id!r}")
    params = authorization_parameters(issuer, params, client)
    request.environ[RESOLVED] = params.to_dict()  # for the request log (RecordedRequest)
    given_uri = params.get("redirect_uri")
    target = redirect_uri(client, given_uri)
    refuse_script_uri(target)
    state = params.get("state")
    try:
        grant, types = authorization_grant(issuer, params, client, given_uri)
        response_mode = _response_mode(params)
        login = _who_signs_in(issuer, params, request)
    except OAuthError as exc:
        return _respond(issuer, client.client_id, target, _error_mode(params), state,
                        error=(exc.error, exc.description))
    if login is None:  # ask on the login page
        pending = PendingLogin(grant, target, response_mode, state,
                               grant.expires_at + LOGIN_PAGE_LIFETIME, " ".join(sorted(types)))
        ticket = secrets.token_urlsafe(24)
        issuer.flows.pending_logins.put(ticket, pending, pending.expires_at,
                                        issuer.clock.time())
        return login_page(issuer.users, ticket, params.get("login_hint"),
                          asking=(grant.client_id, target, grant.scope))
    user, claims, fault = login
    return _approved(issuer, grant, user, claims, target, response_mode, state, types,
                     params.to_dict(), fault)


def _approved(issuer: Issuer, grant: Grant, user: User, claims: Mapping[str, Any] | None,
              target: str, response_mode: str, state: str | None, types: frozenset[str],
              form: Mapping[str, str], fault: str | None = None) -> Response:
    """The successful authorization response: a code, tokens, or both (OIDC Core §3.3.2.5),
    with the planted sign-in fault (``idp.users.next_login(fault=...)``), if any."""
    try:
        check_subject(grant, user.sub)
        claims = achieved_claims(grant, claims)
    except OAuthError as exc:
        return _respond(issuer, grant.client_id, target, response_mode, state,
                        error=(exc.error, exc.description))
    now = issuer.clock.time()
    grant = replace(grant, sub=user.sub, auth_time=now, expires_at=now + CODE_LIFETIME,
                    claims=claims or None, fault=fault)
    code = issuer.flows.codes.issue(grant, now) if "code" in types else None
    params = {"code": code} if code is not None else {}
    client = issuer.clients[grant.client_id]
    params.update(front_channel.tokens(issuer, grant, client, types, code, form))
    return _respond(issuer, grant.client_id, target, response_mode, state, params=params,
                    fault=fault)


def _response_mode(params: Mapping[str, str]) -> str:
    """Where the authorization response goes: ``response_mode`` if it is one served and may
    carry this response type's answer, else ``invalid_request``. ``jwt`` is the response
    type's default mode as a JWT (JARM §2.3.4); a response type with a token in it is never
    answered in the query (OAuth 2.0 Multiple Response Types §2.1, §5; JARM §2.3.1)."""
    default_mode = front_channel.default_mode(params.get("response_type"))
    response_mode = params.get("response_mode", default_mode)
    if response_mode not in RESPONSE_MODES:
        raise OAuthError("invalid_request",
                         f"response_mode must be one of {', '.join(RESPONSE_MODES)}")
    if response_mode == "jwt":
        response_mode = f"{default_mode}.jwt"
    if plain_mode(response_mode) == "query" and default_mode == "fragment":
        raise OAuthError("invalid_request", "response_mode=query cannot carry tokens (OAuth "
                         "2.0 Multiple Response Types §2.1, §5; JARM §2.3.1 for query.jwt); "
                         "use fragment or form_post")
    return response_mode


def _error_mode(params: Mapping[str, str]) -> str:
    """Where an error goes: the requested response mode, or, when that mode is itself the
    error, the response type's default one."""
    try:
        return _response_mode(params)
    except OAuthError:
        return front_channel.default_mode(params.get("response_type"))


def authorization_grant(issuer: Issuer, params: MultiDict[str, str], client: Client,
                        given_uri: str | None) -> tuple[Grant, frozenset[str]]:
    """The validated request (its parameters resolved by :mod:`.jar`), as a grant still
    missing its user, and its response type. The PAR endpoint validates a pushed request
    with it too (RFC 9126 §2.1), so every check that needs no user is here: the response
    type and mode, ``prompt``, PKCE, ``dpop_jkt``, ``claims``, ``acr_values``, ``max_age``
    and resources."""
    for name in _KEPT:
        value = params.get(name)
        if value is not None and len(value) > PARAMETER_LIMIT:
            raise OAuthError("invalid_request", f"{name} is longer than {PARAMETER_LIMIT} "
                             "characters, the most this provider keeps")
    _response_mode(params)
    prompt = set(params.get("prompt", "").split())
    if "none" in prompt and len(prompt) > 1:  # OIDC Core §3.1.2.1
        raise OAuthError("invalid_request", "prompt=none cannot be combined")
    types = front_channel.parse(issuer, params.get("response_type"))
    front_channel.check(types, params, client)
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method", "plain")
    if "code" not in types:
        challenge = None  # PKCE binds a code (RFC 7636 §4.3): there is none
    elif issuer.profile.require_pkce and (challenge is None or method != "S256"):
        raise OAuthError("invalid_request", f"the {issuer.profile.name} profile requires PKCE "
                         "with code_challenge_method S256")
    elif challenge is None:
        if client.public:
            raise OAuthError("invalid_request", "public clients must send a code_challenge "
                             "(PKCE, RFC 7636)")
    elif method not in PKCE_METHODS:
        raise OAuthError("invalid_request", f"code_challenge_method {method!r} is not "
                         f"supported; use {' or '.join(PKCE_METHODS)}")
    elif not 43 <= len(challenge) <= 128:
        raise OAuthError("invalid_request", "code_challenge must be 43 to 128 characters")
    dpop_jkt = params.get("dpop_jkt")
    if dpop_jkt is not None and not JKT_FORM.fullmatch(dpop_jkt):
        raise OAuthError("invalid_request", "dpop_jkt must be the base64url SHA-256 "
                         "thumbprint of a JWK (RFC 9449 §10, RFC 7638)")
    requested = claims_parameter(params)
    acr_values, essential = requested_acr(params, requested)
    max_age(params)  # checked here; any sign-in below is a fresh one (see _who_signs_in)
    now = issuer.clock.time()
    return Grant(
        client_id=client.client_id, redirect_uri=given_uri,
        scope=params.get("scope", ""), sub="", auth_time=now,
        expires_at=now + CODE_LIFETIME, nonce=params.get("nonce"),
        code_challenge=challenge, code_challenge_method=method, dpop_jkt=dpop_jkt,
        resources=known_resources(issuer, params.getlist("resource")),
        acr_values=acr_values, acr_essential=essential,
        userinfo_claims=userinfo_claims(requested), subjects=subjects(requested),
    ), types


def _who_signs_in(issuer: Issuer, params: Mapping[str, str], request: Request
                  ) -> tuple[User, Mapping[str, Any] | None, str | None] | None:
    """Who signs in, with which extra claims and planted sign-in fault; ``None`` to ask on the
    login page.
    OIDC Core §3.1.2.1 ``prompt``: ``none`` must not show a page (``login_required``),
    ``login`` must not reuse the page's session; nor does ``max_age``: the session cookie
    does not keep when the user signed in, so it is never taken as recent enough. A sign-in
    without a page is always a fresh one (its ``auth_time`` is now)."""
    prompt = set(params.get("prompt", "").split())
    if max_age(params) is not None:
        prompt.add("login")
    users = issuer.users
    planned = users.take_login()
    if planned is not None:
        if planned.deny:
            raise OAuthError("access_denied", "the user refused (idp.users.next_login)")
        if planned.sub is None:
            raise OAuthError("login_required", "nobody is signed in "
                             "(idp.users.next_login(None))")
        refusal = login_faults.refusal(planned.fault)
        if refusal is not None:
            raise OAuthError(*refusal)
        return users[planned.sub], planned.claims, planned.fault
    hint = params.get("login_hint")
    if issuer.login == "auto":
        return signed_in_user(issuer, hint), None, None
    session = users.get(request.cookies.get(SESSION_COOKIE, ""))
    if session is not None and "login" not in prompt and hint in (
            None, session.sub, session.claims.get("email"),
            session.claims.get("preferred_username")):
        return session, None, None
    if "none" in prompt:
        raise OAuthError("login_required", "nobody is signed in on the login page")
    return None


def _login_submitted(issuer: Issuer, request: Request) -> Response:
    """The login page's form: approve as the chosen (or a new) user, or deny."""
    form = request.form
    flows = issuer.flows
    pending_logins = flows.pending_logins
    ticket = form.get("login_request", "")
    pending = pending_logins.pop(ticket)
    now = issuer.clock.time()
    if pending is None or pending.expires_at <= now:
        raise OAuthError("invalid_request", "this sign-in expired or was used; start again "
                         "from the application")
    if form.get("action") == "deny":
        return _respond(issuer, pending.grant.client_id, pending.redirect_uri,
                        pending.response_mode, pending.state,
                        error=("access_denied", "the user refused"))
    sub = (form.get("new_sub") or form.get("sub") or "").strip()
    users = issuer.users
    user = users.find(sub) if sub else users.default
    try:
        claims = _typed_claims(form.get("claims") or "{}")
        claims.update(_achieved(form))
        if user is None and flows.login_page_users >= flows.login_page_user_limit:
            raise ValueError(f"the login page added {flows.login_page_users} users since the "
                             "provider was reset, the most it may; choose one of them")
    except ValueError as exc:
        # The same sign-in can be tried again: back into the store until it expires.
        pending_logins.put(ticket, pending, pending.expires_at, now)
        grant = pending.grant
        return login_page(users, ticket, sub or None, error=str(exc), status=400,
                          asking=(grant.client_id, pending.redirect_uri, grant.scope),
                          claims=form.get("claims", ""))
    if user is None:
        user = users.add(sub)
        flows.login_page_users += 1
    response = _approved(issuer, pending.grant, user, claims, pending.redirect_uri,
                         pending.response_mode, pending.state,
                         frozenset(pending.response_type.split()), {})
    response.set_cookie(SESSION_COOKIE, user.sub, httponly=True, samesite="Lax",
                        path=request.script_root or "/")
    return response


def _achieved(form: Mapping[str, str]) -> dict[str, Any]:
    """The login page's ``acr`` and ``amr`` fields (``amr`` space-separated), if filled."""
    achieved: dict[str, Any] = {}
    if form.get("acr", "").strip():
        achieved["acr"] = form["acr"].strip()
    if form.get("amr", "").strip():
        achieved["amr"] = form["amr"].split()
    return achieved


def _typed_claims(text: str) -> dict[str, Any]:
    """The login page's extra claims: a JSON object of at most :data:`CLAIMS_FIELD_LIMIT`
    characters. Anything else, JSON nested too deep to decode included, is the user's error
    (a 400 page), never the provider's."""
    if len(text) > CLAIMS_FIELD_LIMIT:
        raise ValueError(f"Extra claims must be at most {CLAIMS_FIELD_LIMIT} characters")
    try:
        claims = json.loads(text)
    except RecursionError:
        raise ValueError("Extra claims must be a JSON object: nested too deep") from None
    except ValueError as exc:
        raise ValueError(f"Extra claims must be a JSON object: {exc}") from None
    if not isinstance(claims, dict):
        raise ValueError("Extra claims must be a JSON object: not a JSON object")
    return claims


def signed_in_user(issuer: Issuer, login_hint: str | None) -> User:
    """The user a sign-in without a page is for: the default one, or who ``login_hint``
    names (sub, email or username)."""
    users = issuer.users
    if login_hint is None:
        return users.default
    user = users.find(login_hint)
    if user is not None:
        return user
    raise OAuthError("login_required", f"no user matches login_hint {login_hint!r}")


def _respond(issuer: Issuer, client_id: str, target: str, response_mode: str,
             state: str | None, *, params: Mapping[str, str] | None = None,
             error: tuple[str, str] | None = None, fault: str | None = None) -> Response:
    """The authorization response (RFC 6749 §4.1.2, §4.2.2; OIDC Core §3.3.2.5), with ``iss``
    (RFC 9207), and what a planted sign-in fault changes in it; in a JARM mode, as one signed
    JWT (:mod:`.jarm`)."""
    params = dict(params or {})
    if error is not None:
        params["error"], params["error_description"] = error
    if state is not None:
        params["state"] = state
    params["iss"] = issuer.issuer
    login_faults.plant_authorization(fault, params)
    if response_mode in JARM_MODES:
        params = {"response": response_jwt(issuer, client_id, params)}
    response_mode = plain_mode(response_mode)
    if response_mode == "form_post":
        return form_post(target, params)
    parts = urlsplit(target)
    if response_mode == "fragment":
        location = urlunsplit(parts._replace(fragment=urlencode(params)))
    else:
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
        location = urlunsplit(parts._replace(query=query))
    return Response(status=302, headers={"Location": location, **NO_STORE})
