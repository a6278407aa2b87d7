"""A real DPoP client against the provider: requests_oauth2client (the Python client that
implements RFC 9449, with both kinds of nonce) runs authorization code + PKCE + DPoP
(``dpop_jkt`` included, §10), a refresh and userinfo, with and without server nonces (§8,
§9). Authlib 1.9 has no DPoP."""

from __future__ import annotations

import jwt
import pytest
import requests
from requests_oauth2client import DPoPToken, OAuth2Client

from mockidp import MockIdP

REDIRECT = "http://127.0.0.1/callback"


@pytest.mark.parametrize("nonces", [False, True])
def test_requests_oauth2client_code_pkce_dpop_refresh_userinfo(idp: MockIdP,
                                                                 nonces: bool) -> None:
    idp.clients.add("rp", public=True, redirect_uris=[REDIRECT])
    if nonces:
        for endpoint in ("token", "userinfo"):
            idp.endpoint(endpoint).require_dpop_nonce()
    client = OAuth2Client.from_discovery_endpoint(idp.discovery_url, client_id="rp",
                                                  redirect_uri=REDIRECT,
                                                  dpop_bound_access_tokens=True,
                                                  testing=True)  # http on loopback
    request = client.authorization_request(scope="openid profile", dpop=True)
    assert "dpop_jkt=" in str(request.uri)
    answer = requests.get(str(request.uri), allow_redirects=False, timeout=5)
    response = request.validate_callback(answer.headers["Location"])
    # validate=False: requests_oauth2client 1.8.0 cannot validate the ID token of a DPoP
    # response (see the xfail below); the ID token's own tests are elsewhere.
    token = client.authorization_code(response, validate=False)
    assert isinstance(token, DPoPToken)
    assert token.token_type == "DPoP"
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert claims["cnf"]["jkt"] == token.dpop_key.dpop_jkt
    renewed = client.refresh_token(token)
    assert isinstance(renewed, DPoPToken)
    assert renewed.dpop_key.dpop_jkt == token.dpop_key.dpop_jkt
    assert client.userinfo(renewed)["sub"] == claims["sub"]
    statuses = [(r.endpoint, r.status) for r in idp.requests
                if r.endpoint in ("token", "userinfo")]
    if nonces:  # one use_dpop_nonce each, then the nonce carried along
        assert statuses == [("token", 400), ("token", 200), ("token", 200),
                            ("userinfo", 401), ("userinfo", 200)]
    else:
        assert statuses == [("token", 200), ("token", 200), ("userinfo", 200)]


@pytest.mark.xfail(strict=True, raises=TypeError,
                   reason="requests_oauth2client 1.8.0: BearerToken.validate_id_token rebuilds "
                          "the token as self.__class__(...) without _dpop_key, so a DPoPToken "
                          "with an ID token cannot be validated")
def test_requests_oauth2client_validates_the_id_token_of_a_dpop_response(idp: MockIdP) -> None:
    idp.clients.add("rp", public=True, redirect_uris=[REDIRECT])
    client = OAuth2Client.from_discovery_endpoint(idp.discovery_url, client_id="rp",
                                                  redirect_uri=REDIRECT,
                                                  dpop_bound_access_tokens=True, testing=True)
    request = client.authorization_request(scope="openid", dpop=True)
    answer = requests.get(str(request.uri), allow_redirects=False, timeout=5)
    client.authorization_code(request.validate_callback(answer.headers["Location"]))
