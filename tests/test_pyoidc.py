"""pyoidc (``oic``), an OpenID-certified relying party, through the flows it drives: discovery,
the code flow with PKCE, ID-token verification, userinfo and refresh, over loopback HTTP.
Every test runs on every profile. (interop/ runs the certified JavaScript clients through
every flow, on every profile.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests
from jwkest import BadSignature
from oic.oauth2.message import ErrorResponse
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationResponse,
    OpenIDSchema,
    ProviderConfigurationResponse,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from mockidp import PROFILES, MockIdP

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mockidp import TokenContext

REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture(params=sorted(PROFILES))
def idp(request: pytest.FixtureRequest) -> Iterator[MockIdP]:
    """Every flow on every profile: a provider of each shape for each test."""
    with MockIdP(profile=request.param) as provider:
        yield provider


@pytest.fixture
def rp(idp: MockIdP) -> Client:
    return relying_party(idp)


def relying_party(idp: MockIdP) -> Client:
    """A pyoidc client that has read the provider's discovery document and key set, with
    mockidp's default client (any redirect URI, every grant) as its registration."""
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(idp.issuer)
    default = idp.clients.default
    client.store_registration_info(RegistrationResponse(
        client_id=default.client_id, client_secret=default.client_secret,
        redirect_uris=[REDIRECT]))
    return client


def sign_in(rp: Client, state: str, nonce: str) -> AccessTokenResponse:
    """The code flow with PKCE S256: authorize (fetched with requests, not followed: the
    fixture's provider signs the default user in at once), then the code exchange."""
    pkce, verifier = rp.add_code_challenge()
    request = rp.construct_AuthorizationRequest(request_args={
        "client_id": rp.client_id, "response_type": "code", "scope": ["openid", "email"],
        "redirect_uri": REDIRECT, "state": state, "nonce": nonce, **pkce})
    redirect = requests.get(request.request(rp.authorization_endpoint),
                            allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    answer = rp.parse_response(AuthorizationResponse, info=urlsplit(redirect.headers["Location"])
                               .query, sformat="urlencoded")
    assert isinstance(answer, AuthorizationResponse) and answer["state"] == state
    tokens = rp.do_access_token_request(
        state=state, authn_method="client_secret_basic",
        request_args={"code": answer["code"], "redirect_uri": REDIRECT,
                      "code_verifier": verifier})
    assert isinstance(tokens, AccessTokenResponse), tokens
    return tokens


def test_discovery(idp: MockIdP, rp: Client) -> None:
    info: Any = rp.provider_info
    assert isinstance(info, ProviderConfigurationResponse)
    assert info["issuer"] == idp.issuer and rp.token_endpoint == idp.token_endpoint
    # provider_config() also loaded the JWKS: the keys it verifies ID tokens with.
    kids = {key.kid for key in rp.keyjar.get_issuer_keys(idp.issuer)}
    assert idp.keys.active.kid in kids


def test_code_flow_with_pkce_verifies_the_id_token(idp: MockIdP, rp: Client) -> None:
    tokens = sign_in(rp, "st-1", "n-1")
    # pyoidc verified the ID token as it parsed the answer: signature (by kid, from the JWKS
    # it fetched), iss, aud, exp, iat; the nonce is the one sent.
    id_token = tokens["id_token"]
    assert id_token["iss"] == idp.issuer and id_token["aud"] == [rp.client_id]
    assert id_token["nonce"] == "n-1" and id_token["sub"] == idp.users.default.sub
    assert id_token.jws_header["kid"] == idp.keys.active.kid
    token_request = idp.requests_to("token")[-1]
    assert token_request.form["code_verifier"] and token_request.status == 200


def test_an_id_token_with_a_bad_signature_is_refused(idp: MockIdP, rp: Client) -> None:
    # Proves the test above: pyoidc really checks the signature against the provider's JWKS.
    @idp.on_token
    def corrupt(context: TokenContext) -> None:
        if context.kind == "id_token":
            context.fault = "bad-signature"

    with pytest.raises(BadSignature):
        sign_in(rp, "st-4", "n-4")


def test_userinfo_with_the_token_in_the_body(idp: MockIdP, rp: Client) -> None:
    sign_in(rp, "st-2", "n-2")
    info = rp.do_user_info_request(state="st-2")
    assert isinstance(info, OpenIDSchema), info
    assert info["sub"] == idp.users.default.sub
    assert info["email"] == idp.users.default.claims["email"]
    # pyoidc's default: a POST with access_token in the form body (RFC 6750 §2.2).
    request = idp.requests_to("userinfo")[-1]
    assert request.method == "POST" and "access_token" in request.form


def test_refresh(idp: MockIdP, rp: Client) -> None:
    first = sign_in(rp, "st-3", "n-3")
    refreshed = rp.do_access_token_refresh(state="st-3", authn_method="client_secret_basic")
    assert not isinstance(refreshed, ErrorResponse), refreshed
    assert refreshed["access_token"] != first["access_token"]
    assert idp.verify(refreshed["access_token"])["sub"] == idp.users.default.sub
    # OIDC Core §12.2: the refreshed ID token has no nonce, and pyoidc accepts that.
    assert "nonce" not in refreshed["id_token"]


def test_hybrid_flow(idp: MockIdP, rp: Client) -> None:
    """OIDC Core §3.3 with ``code id_token token`` on every profile: pyoidc verifies the ID token
    of the authorization response with its c_hash and at_hash (§3.3.2.10-11), redeems the code
    for the same user (§3.3.3.6) and reads userinfo with the access token of the response.
    The code is bound with PKCE (RFC 7636), which the mcp profile requires of every code.
    The mcp profile serves the code flow only (OAuth 2.1 §10.1): pyoidc reads its
    unsupported_response_type error response (RFC 6749 §4.1.2.1) from the fragment."""
    pkce, verifier = rp.add_code_challenge()
    request = rp.construct_AuthorizationRequest(request_args={
        "client_id": rp.client_id, "response_type": "code id_token token",
        "scope": ["openid", "email"], "redirect_uri": REDIRECT, "state": "h-1", "nonce": "n-1",
        **pkce})
    redirect = requests.get(request.request(rp.authorization_endpoint), allow_redirects=False,
                            timeout=5)
    if idp.profile.code_only:
        refused = rp.parse_response(AuthorizationResponse, sformat="urlencoded",
                                    info=urlsplit(redirect.headers["Location"]).fragment)
        assert isinstance(refused, ErrorResponse)
        assert refused["error"] == "unsupported_response_type"
        return
    answer = rp.parse_response(AuthorizationResponse, sformat="urlencoded",
                               info=urlsplit(redirect.headers["Location"]).fragment)
    assert isinstance(answer, AuthorizationResponse)
    assert {"c_hash", "at_hash"} <= set(answer["id_token"].keys())
    tokens = rp.do_access_token_request(state="h-1", authn_method="client_secret_basic",
                                        request_args={"code": answer["code"],
                                                      "redirect_uri": REDIRECT,
                                                      "code_verifier": verifier})
    assert isinstance(tokens, AccessTokenResponse)
    assert tokens["id_token"]["sub"] == answer["id_token"]["sub"]
    userinfo = rp.do_user_info_request(token=answer["access_token"])
    assert isinstance(userinfo, OpenIDSchema)
    assert userinfo["sub"] == answer["id_token"]["sub"]
