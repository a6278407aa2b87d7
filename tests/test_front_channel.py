"""The implicit and hybrid response types (OIDC Core §3.2, §3.3) at the authorization endpoint,
through pyoidc (an OpenID-certified relying party, which checks c_hash and at_hash) and
Authlib's ID token claims classes, over loopback HTTP."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.oidc.core import HybridIDToken, ImplicitIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from oic.oic.message import AuthorizationResponse
from test_pyoidc import REDIRECT, relying_party

from mockidp import MockIdP

SERVED = ["code", "id_token", "id_token token", "code id_token", "code token",
          "code id_token token"]


def authorize(idp: MockIdP, response_type: str, **params: str) -> requests.Response:
    query = {"client_id": idp.clients.default.client_id, "response_type": response_type,
             "redirect_uri": REDIRECT, "scope": "openid email", "state": "st-1",
             "nonce": "n-1", **params}
    return requests.get(idp.authorization_endpoint, params=query, allow_redirects=False,
                        timeout=5)


def answer(response: requests.Response, part: str = "fragment") -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    return {k: v[0] for k, v in parse_qs(getattr(location, part)).items()}


def test_discovery_lists_exactly_what_is_served(idp: MockIdP) -> None:
    """OIDC Discovery §3 response_types_supported; each listed type answers as §3.3.2.5 says:
    a code where it has code, an access token where it has token, an ID token where it has
    id_token, and nothing else; tokens in the fragment (Multiple Response Types §5)."""
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    assert metadata["response_types_supported"] == SERVED
    assert "implicit" in metadata["grant_types_supported"]
    for response_type in SERVED:
        part = "query" if response_type == "code" else "fragment"
        params = answer(authorize(idp, response_type), part)
        values = set(response_type.split())
        assert ("code" in params) == ("code" in values)
        assert ("access_token" in params) == ("token" in values)
        assert ("id_token" in params) == ("id_token" in values)
        assert params["state"] == "st-1" and params["iss"] == idp.issuer
        if "token" in values:
            assert params["token_type"] == "Bearer" and params["expires_in"] == "3600"
            assert idp.verify(params["access_token"])["client_id"] == "mockidp-client"


@pytest.mark.parametrize("response_type", ["id_token token", "code id_token",
                                           "code id_token token"])
def test_pyoidc_verifies_the_hashes(idp: MockIdP, response_type: str) -> None:
    """OIDC Core §3.3.2.11 (c_hash with a code, at_hash with an access token) and §3.2.2.10,
    checked by pyoidc's AuthorizationResponse.verify, which refuses wrong or missing hashes."""
    client = relying_party(idp)
    fragment = urlsplit(authorize(idp, response_type).headers["Location"]).fragment
    parsed = client.parse_response(AuthorizationResponse, info=fragment, sformat="urlencoded")
    assert isinstance(parsed, AuthorizationResponse)
    claims = parsed["id_token"]
    assert claims["nonce"] == "n-1" and claims["aud"] == ["mockidp-client"]
    values = response_type.split()
    assert ("c_hash" in claims) == ("code" in values)
    assert ("at_hash" in claims) == ("token" in values)


def test_authlib_validates_hybrid_and_implicit_id_tokens(idp: MockIdP) -> None:
    """Authlib's HybridIDToken (§3.3.2.12: c_hash required) and ImplicitIDToken (§3.2.2.11:
    at_hash with an access token) accept what the authorization endpoint returns."""
    keys = KeySet.import_key_set(idp.jwks())
    for response_type, claims_class in (("code id_token token", HybridIDToken),
                                        ("id_token token", ImplicitIDToken)):
        params = answer(authorize(idp, response_type))
        token = jwt.decode(params["id_token"], keys)
        checker = claims_class(token.claims, token.header, params={
            "nonce": "n-1", "client_id": "mockidp-client",
            "access_token": params["access_token"], "code": params.get("code")},
            options={"iss": {"value": idp.issuer}})
        checker.validate(now=int(idp.clock.time()))


def test_form_post_carries_the_hybrid_response(idp: MockIdP) -> None:
    """OAuth 2.0 Form Post Response Mode with response_type code id_token: every parameter in
    the page's form, and the code redeems at the token endpoint for a second ID token with the
    same sub (§3.3.3.6)."""
    page = authorize(idp, "code id_token", response_mode="form_post")
    assert page.status_code == 200
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    assert {"code", "id_token", "state", "iss"} <= set(fields)
    default = idp.clients.default
    tokens = requests.post(idp.token_endpoint, data={
        "grant_type": "authorization_code", "code": fields["code"], "redirect_uri": REDIRECT},
        auth=(default.client_id, default.client_secret or ""), timeout=5).json()
    front = idp.verify(fields["id_token"])
    back = idp.verify(tokens["id_token"])
    assert front["sub"] == back["sub"] and back["nonce"] == "n-1"


@pytest.mark.parametrize(("params", "error", "part"), [
    ({"response_type": "token"}, "unsupported_response_type", "fragment"),
    ({"response_type": "none"}, "unsupported_response_type", "query"),
    ({"response_type": "code code"}, "unsupported_response_type", "query"),
    ({"response_type": "id_token", "nonce": None}, "invalid_request", "fragment"),
    ({"response_type": "code id_token", "nonce": None}, "invalid_request", "fragment"),
    ({"response_type": "id_token token", "response_mode": "query"}, "invalid_request",
     "fragment"),
])
def test_refusals(idp: MockIdP, params: dict[str, str | None], error: str, part: str) -> None:
    """RFC 6749 §4.1.2.1 / §4.2.2.1: unsupported_response_type for a type not served (in the
    fragment when it has a token, Multiple Response Types §5); invalid_request without the
    nonce an ID token from the authorization endpoint needs (OIDC Core §3.2.2.1, §3.3.2.11)
    and for tokens in the query (Multiple Response Types §2.1)."""
    response_type = params.pop("response_type") or ""
    query = {k: v for k, v in params.items() if v is not None}
    response = authorize(idp, response_type, **query) if "nonce" not in params else \
        requests.get(idp.authorization_endpoint, params={
            "client_id": "mockidp-client", "response_type": response_type,
            "redirect_uri": REDIRECT, "state": "st-1", "scope": "openid"},
            allow_redirects=False, timeout=5)
    got = answer(response, part)
    assert got["error"] == error and got["state"] == "st-1"
    assert "id_token" not in got and "access_token" not in got


def test_order_of_values_does_not_matter(idp: MockIdP) -> None:
    """RFC 6749 §3.1.1: the values are space-delimited and their order does not matter."""
    params = answer(authorize(idp, "token id_token code"))
    assert {"code", "access_token", "id_token"} <= set(params)


def test_a_client_without_the_implicit_grant_is_refused(idp: MockIdP) -> None:
    """RFC 7591 §2: response types with a token need the implicit grant."""
    idp.clients.add("code-only", "s", grant_types=["authorization_code"])
    params = answer(authorize(idp, "code id_token", client_id="code-only"))
    assert params["error"] == "unauthorized_client"
    assert "code" in answer(authorize(idp, "code", client_id="code-only"), "query")


def test_a_public_client_needs_no_pkce_without_a_code(idp: MockIdP) -> None:
    """RFC 7636 binds a code: an implicit response has none to bind, a hybrid one has."""
    idp.clients.add("spa", public=True)
    assert "id_token" in answer(authorize(idp, "id_token", client_id="spa"))
    refused = answer(authorize(idp, "code id_token", client_id="spa"))
    assert refused["error"] == "invalid_request" and "PKCE" in refused["error_description"]


def test_the_login_page_answers_with_the_response_type_asked_for() -> None:
    """A hybrid request that waits on the login page gets, once approved, the hybrid response
    in the fragment (OIDC Core §3.3.2.5), its ID token carrying the page's claims and the
    c_hash of its code."""
    from werkzeug.test import Client as WsgiClient

    with MockIdP(login="page") as idp:
        browser = WsgiClient(idp.app)
        page = browser.get("/authorize", query_string={
            "client_id": "mockidp-client", "response_type": "code id_token",
            "redirect_uri": REDIRECT, "scope": "openid", "state": "st-1", "nonce": "n-1"})
        ticket = re.search(r'name=login_request value="([^"]+)"', page.get_data(as_text=True))
        assert ticket is not None
        done = browser.post("/authorize", data={"login_request": ticket.group(1),
                                                "claims": '{"team": "ops"}',
                                                "action": "approve"})
        params = {k: v[0] for k, v in
                  parse_qs(urlsplit(done.headers["Location"]).fragment).items()}
        claims = idp.verify(params["id_token"])
        assert claims["team"] == "ops" and claims["nonce"] == "n-1" and "c_hash" in claims
        assert "code" in params and params["state"] == "st-1"
