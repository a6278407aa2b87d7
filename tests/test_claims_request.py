"""The claims request parameter (OIDC Core §5.5, §5.5.1) beyond acr (for acr, see
test_stepup.py): individual claims asked for at the userinfo endpoint and in the ID token,
sent by pyoidc (an OpenID-certified relying party) over loopback HTTP."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationResponse,
    Claims,
    ClaimsRequest,
    OpenIDSchema,
)
from test_front_channel import REDIRECT
from test_pyoidc import relying_party

from mockidp import MockIdP

#: What an access token of the token endpoint carries whatever the claims parameter asks.
ACCESS_TOKEN_CLAIMS = {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id",
                       "auth_time", "acr", "amr"}


def authorize(rp: Client, state: str, claims: ClaimsRequest, *, scope: str = "openid",
              response_type: str = "code") -> AuthorizationResponse:
    """pyoidc's authorization request with ``claims``, answered at once (the provider signs
    the default user in), and its response as pyoidc parses and verifies it."""
    request = rp.construct_AuthorizationRequest(request_args={
        "client_id": rp.client_id, "response_type": response_type, "scope": scope.split(),
        "redirect_uri": REDIRECT, "state": state, "nonce": f"n-{state}", "claims": claims})
    redirect = requests.get(request.request(rp.authorization_endpoint), allow_redirects=False,
                            timeout=5)
    assert redirect.status_code == 302, redirect.text
    location = urlsplit(redirect.headers["Location"])
    answer = rp.parse_response(AuthorizationResponse, info=location.query or location.fragment,
                               sformat="urlencoded")
    assert isinstance(answer, AuthorizationResponse) and answer["state"] == state, answer
    return answer


def redeem(rp: Client, state: str, code: str) -> AccessTokenResponse:
    tokens = rp.do_access_token_request(state=state, authn_method="client_secret_basic",
                                        request_args={"code": code, "redirect_uri": REDIRECT})
    assert isinstance(tokens, AccessTokenResponse), tokens
    return tokens


def userinfo(rp: Client, state: str) -> dict[str, Any]:
    """pyoidc's userinfo request with the latest access token of ``state``."""
    answer = rp.do_user_info_request(state=state)
    assert isinstance(answer, OpenIDSchema), answer
    return answer.to_dict()


def test_oidc_5_5_userinfo_member_through_code_refresh_and_access_tokens(idp: MockIdP
                                                                          ) -> None:
    """OIDC Core §5.5: the claims the userinfo member names are returned by the userinfo
    endpoint in addition to the scopes' (§5.4), for the code's access token and for those of
    its refresh token; a claim the user does not have (nickname) is left out; the access
    tokens carry none of it (the provider keeps it)."""
    user = idp.users.default.claims
    rp = relying_party(idp)
    answer = authorize(rp, "ui-1", ClaimsRequest(userinfo=Claims(
        email=None, nickname=None, name={"essential": True})), scope="openid profile")
    tokens = redeem(rp, "ui-1", answer["code"])
    profile = {name: user[name] for name in ("name", "given_name", "family_name",
                                             "preferred_username", "locale", "zoneinfo")}
    expected = {"sub": idp.users.default.sub, "email": user["email"], **profile}
    assert userinfo(rp, "ui-1") == expected
    assert set(idp.verify(tokens["access_token"])) <= ACCESS_TOKEN_CLAIMS
    refreshed = rp.do_access_token_refresh(state="ui-1", authn_method="client_secret_basic")
    assert isinstance(refreshed, AccessTokenResponse), refreshed
    assert refreshed["access_token"] != tokens["access_token"]
    assert userinfo(rp, "ui-1") == expected
    assert set(idp.verify(refreshed["access_token"])) <= ACCESS_TOKEN_CLAIMS


@pytest.mark.parametrize("response_type", ["code id_token token", "id_token token"])
def test_oidc_5_5_id_token_member_at_both_endpoints(idp: MockIdP, response_type: str) -> None:
    """OIDC Core §5.5: the claims the id_token member names are in the ID token the
    authorization endpoint returns (§3.2.2.5, §3.3.2.5) and the token endpoint's; §5.5.1: a
    value asked for (locale) is not invented (the user's own is returned), and an essential
    claim the user does not have (nickname) is left out without an error. The userinfo member
    is served to the access token of the authorization endpoint too."""
    user = idp.users.default.claims
    rp = relying_party(idp)
    answer = authorize(rp, "it-1", ClaimsRequest(
        id_token=Claims(email={"essential": True}, locale={"value": "fr-FR"},
                        nickname={"essential": True}),
        userinfo=Claims(email_verified=None)), response_type=response_type)
    id_tokens = [answer["id_token"]]  # pyoidc verified its signature, nonce and at_hash
    if "code" in answer:
        id_tokens.append(redeem(rp, "it-1", answer["code"])["id_token"])
    for claims in id_tokens:
        assert claims["email"] == user["email"] and claims["locale"] == user["locale"]
        assert "nickname" not in claims
    assert userinfo(rp, "it-1") == {"sub": idp.users.default.sub, "email_verified": True}


def test_oidc_5_5_1_values_and_essential_invent_nothing(idp: MockIdP) -> None:
    """OIDC Core §5.5.1: value / values are requests, not facts: the user's own value is
    returned (email), and a claim the user lacks is left out whether voluntary or essential
    (phone_number, nickname): "MUST NOT generate an error when Claims are not returned"."""
    rp = relying_party(idp)
    answer = authorize(rp, "v-1", ClaimsRequest(userinfo=Claims(
        email={"value": "someone@else.example"}, nickname={"essential": True},
        phone_number={"values": ["+1 555 0100"], "essential": True})))
    redeem(rp, "v-1", answer["code"])
    assert userinfo(rp, "v-1") == {"sub": idp.users.default.sub,
                                   "email": idp.users.default.claims["email"]}


def test_oidc_5_5_sub_value_is_for_that_user_only(idp: MockIdP) -> None:
    """OIDC Core §5.5: with sub asked for with a value in the ID token, the provider "MUST
    NOT reply with an ID Token or Access Token for a different user": login_required on the
    redirect, with state; the user it names gets the tokens."""
    other = idp.users.add("claims-other")
    rp = relying_party(idp)
    request = rp.construct_AuthorizationRequest(request_args={
        "client_id": rp.client_id, "response_type": "code", "scope": ["openid"],
        "redirect_uri": REDIRECT, "state": "sub-1", "nonce": "n-sub-1",
        "claims": ClaimsRequest(id_token=Claims(sub={"value": other.sub}))})
    redirect = requests.get(request.request(rp.authorization_endpoint), allow_redirects=False,
                            timeout=5)
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    assert query["error"] == ["login_required"] and query["state"] == ["sub-1"]
    idp.users.next_login(other)
    answer = authorize(rp, "sub-2", ClaimsRequest(id_token=Claims(
        sub={"values": ["someone-else", other.sub]})))
    assert redeem(rp, "sub-2", answer["code"])["id_token"]["sub"] == other.sub


def sign_in(idp: MockIdP, claims: str) -> dict[str, list[str]]:
    answer = requests.get(idp.authorization_endpoint, allow_redirects=False, timeout=5, params={
        "client_id": "mockidp-client", "response_type": "code", "redirect_uri": REDIRECT,
        "scope": "openid", "state": "s", "claims": claims})
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def access_token(idp: MockIdP, query: dict[str, list[str]]) -> str:
    client = idp.clients.default
    tokens = requests.post(idp.token_endpoint, timeout=5,
                           auth=(client.client_id, client.client_secret or ""),
                           data={"grant_type": "authorization_code", "code": query["code"][0],
                                 "redirect_uri": REDIRECT}).json()
    return str(tokens["access_token"])


def userinfo_with(idp: MockIdP, token: str) -> dict[str, Any]:
    answer = requests.get(idp.userinfo_endpoint, timeout=5,
                          headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_oidc_5_5_unknown_members_are_ignored(idp: MockIdP) -> None:
    """OIDC Core §5.5: members other than userinfo and id_token, and §5.5.1: members of a
    claim's request that are not understood, are ignored."""
    claims = json.dumps({"userinfo": {"email": {"essential": True, "purpose": "receipts"}},
                         "vp_token": {"presentation_definition": {}}, "unknown": 1})
    assert userinfo_with(idp, access_token(idp, sign_in(idp, claims))) == {
        "sub": idp.users.default.sub, "email": idp.users.default.claims["email"]}


@pytest.mark.parametrize("claims", ['{"userinfo": {"email": true}}', '{"userinfo": []}',
                                    '{"id_token": {"email": "yes"}}',
                                    '{"id_token": {"sub": {"value": 5}}}',
                                    '{"id_token": {"sub": {"values": "me"}}}', "{"])
def test_oidc_5_5_1_malformed_claim_requests(idp: MockIdP, claims: str) -> None:
    """OIDC Core §5.5.1: each requested claim is null or an object; a sub value is a string
    (§5.5); anything else is invalid_request on the redirect, never a server error."""
    query = sign_in(idp, claims)
    assert query["error"] == ["invalid_request"] and query["state"] == ["s"]


def test_userinfo_claims_are_bounded_and_reset(idp: MockIdP,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider keeps the userinfo claims of at most ``limit`` access tokens (the oldest
    forgotten first: that token then gets its scopes' claims alone), and a reset forgets
    them."""
    store = idp.flows.userinfo_claims
    monkeypatch.setattr(store, "limit", 1)
    claims = json.dumps({"userinfo": {"email": None}})
    first = access_token(idp, sign_in(idp, claims))
    second = access_token(idp, sign_in(idp, claims))
    assert len(store) == 1
    assert userinfo_with(idp, first) == {"sub": idp.users.default.sub}
    assert "email" in userinfo_with(idp, second)
    idp.reset()
    assert len(store) == 0
    assert userinfo_with(idp, second) == {"sub": idp.users.default.sub}


def test_oidc_5_5_sub_value_on_the_login_page(idp: MockIdP) -> None:
    """OIDC Core §5.5: on the login page too, another user than the sub asked for gets no
    tokens (login_required on the redirect)."""
    idp.login = "page"
    page = requests.get(idp.authorization_endpoint, timeout=5, params={
        "client_id": "mockidp-client", "response_type": "code", "redirect_uri": REDIRECT,
        "scope": "openid", "state": "p", "claims": json.dumps(
            {"id_token": {"sub": {"value": idp.users.default.sub}}})})
    ticket = page.text.split('name=login_request value="')[1].split('"')[0]
    answer = requests.post(idp.authorization_endpoint, allow_redirects=False, timeout=5, data={
        "login_request": ticket, "action": "approve", "new_sub": "someone-new"})
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["login_required"] and query["state"] == ["p"]
