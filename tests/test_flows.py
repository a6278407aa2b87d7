"""The authorization code flow, client credentials and userinfo: error cases in-process, the
happy paths with real OAuth clients over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from werkzeug.test import Client

from mockidp.core.flows import Grant, TicketStore, pkce_matches

if TYPE_CHECKING:
    from mockidp import MockIdP

REDIRECT = "http://127.0.0.1:9/callback"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_rfc7636_example() -> None:
    assert pkce_matches(VERIFIER, CHALLENGE, "S256")
    assert not pkce_matches(VERIFIER + "x", CHALLENGE, "S256")
    assert pkce_matches("plain-verifier", "plain-verifier", "plain")


def test_tickets_redeem_once_peek_often_and_expire() -> None:
    store = TicketStore()
    grant = Grant("c", "alice", "openid", auth_time=0.0, expires_at=100.0)
    code = store.issue(grant)
    assert store.peek(code, now=50.0) == grant
    assert store.redeem(code, now=50.0) == grant
    assert store.redeem(code, now=50.0) is None
    assert store.redeem(store.issue(grant), now=100.0) is None
    revoked = store.issue(grant)
    assert store.revoke(revoked) and store.peek(revoked, now=0.0) is None


def authorize(client: Client, **params: str) -> dict[str, list[str]]:
    response = client.get("/authorize", query_string=params)
    assert response.status_code == 302, response.get_data(as_text=True)
    return parse_qs(urlsplit(response.headers["Location"]).query)


def test_authorization_code_flow_with_authlib(idp: MockIdP) -> None:
    client = idp.clients.add("web-app", "web-secret", redirect_uris=[REDIRECT])
    session = OAuth2Session(client.client_id, client.client_secret, scope="openid profile email",
                            redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = base64.urlsafe_b64encode(hashlib.sha256(b"v").digest()).rstrip(b"=").decode()
    url, _state = session.create_authorization_url(idp.authorization_endpoint, nonce="n-1",
                                                  code_verifier=verifier)
    redirect = requests.get(url, allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    callback = redirect.headers["Location"]
    assert parse_qs(urlsplit(callback).query)["iss"] == [idp.issuer]
    token = session.fetch_token(idp.token_endpoint, authorization_response=callback,
                                code_verifier=verifier)
    signing_key = jwt.PyJWKClient(idp.jwks_uri).get_signing_key_from_jwt(token["id_token"])
    id_claims = jwt.decode(token["id_token"], signing_key, algorithms=["RS256"],
                           audience="web-app", issuer=idp.issuer)
    assert id_claims["nonce"] == "n-1" and id_claims["sub"] == idp.users.default.sub
    info = session.get(idp.userinfo_endpoint, timeout=5).json()
    assert info["sub"] == idp.users.default.sub
    assert info["email"] == idp.users.default.claims["email"]


def test_client_credentials_with_authlib(idp: MockIdP) -> None:
    default = idp.clients.default
    session = OAuth2Session(default.client_id, default.client_secret, scope="read")
    token = session.fetch_token(idp.token_endpoint, grant_type="client_credentials")
    claims = idp.verify(token["access_token"])
    assert claims["sub"] == default.client_id and claims["scope"] == "read"


def test_public_client_with_pkce_and_login_hint(idp: MockIdP) -> None:
    idp.clients.add("spa", public=True, redirect_uris=[REDIRECT])
    bob = idp.users.add("bob", email="bob@example.test")
    client = Client(idp.app)
    params = authorize(client, client_id="spa", response_type="code", scope="openid",
                       code_challenge=CHALLENGE, code_challenge_method="S256",
                       login_hint="bob@example.test", state="xyz")
    assert params["state"] == ["xyz"]
    form = {"grant_type": "authorization_code", "code": params["code"][0], "client_id": "spa",
            "code_verifier": VERIFIER}
    response = client.post("/token", data=form)
    assert response.status_code == 200, response.get_json()
    assert jwt.decode(response.get_json()["id_token"],
                      options={"verify_signature": False})["sub"] == bob.sub
    again = client.post("/token", data=form)  # codes are single use
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "none"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"code_challenge": CHALLENGE, "code_challenge_method": "S512"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"login_hint": "nobody"}, "login_required"),
        ({"response_mode": "carrier-pigeon"}, "invalid_request"),
    ],
)
def test_authorize_errors_are_redirected(idp: MockIdP, params: dict, error: str) -> None:
    query = {"client_id": idp.clients.default.client_id, "response_type": "code",
             "redirect_uri": REDIRECT, "state": "s1", **params}
    answer = authorize(Client(idp.app), **{k: v for k, v in query.items() if v is not None})
    assert answer["error"] == [error] and answer["state"] == ["s1"]
    assert "code" not in answer


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"client_id": "nobody", "redirect_uri": REDIRECT},
        {"client_id": "mockidp-client"},
        {"client_id": "mockidp-client", "redirect_uri": "javascript:alert(1)"},
        {"client_id": "registered", "redirect_uri": "http://127.0.0.1:9/elsewhere"},
    ],
)
def test_authorize_never_redirects_to_an_unchecked_uri(idp: MockIdP, params: dict) -> None:
    idp.clients.add("registered", "s", redirect_uris=[REDIRECT, REDIRECT + "2"])
    response = Client(idp.app).get("/authorize", query_string={"response_type": "code", **params})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "Location" not in response.headers


def test_fragment_and_form_post_response_modes(idp: MockIdP) -> None:
    client = Client(idp.app)
    query = {"client_id": "mockidp-client", "response_type": "code", "redirect_uri": REDIRECT}
    location = client.get("/authorize", query_string={**query, "response_mode": "fragment"}
                          ).headers["Location"]
    assert "code=" in urlsplit(location).fragment
    page = client.get("/authorize", query_string={**query, "response_mode": "form_post"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert f'action="{REDIRECT}"' in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code": "forged"}, "invalid_grant"),
        ({"code": None}, "invalid_request"),
        ({"redirect_uri": REDIRECT + "/other"}, "invalid_grant"),
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"code_verifier": None}, "invalid_grant"),
    ],
)
def test_code_exchange_errors(idp: MockIdP, change: dict, error: str) -> None:
    client = Client(idp.app)
    params = authorize(client, client_id="mockidp-client", response_type="code",
                       redirect_uri=REDIRECT, code_challenge=CHALLENGE,
                       code_challenge_method="S256")
    form = {"grant_type": "authorization_code", "code": params["code"][0],
            "redirect_uri": REDIRECT, "code_verifier": VERIFIER,
            "client_id": "mockidp-client", "client_secret": "mockidp-client-secret", **change}
    response = client.post("/token", data={k: v for k, v in form.items() if v is not None})
    assert response.status_code == 400
    assert response.get_json()["error"] == error


def test_expired_code_is_refused(idp: MockIdP) -> None:
    client = Client(idp.app)
    params = authorize(client, client_id="mockidp-client", response_type="code",
                       redirect_uri=REDIRECT)
    idp.clock.advance(61)
    response = client.post("/token", data={
        "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT,
        "client_id": "mockidp-client", "client_secret": "mockidp-client-secret"})
    assert response.get_json()["error"] == "invalid_grant"


def test_code_of_another_client_is_refused(idp: MockIdP) -> None:
    idp.clients.add("other", "other-secret")
    client = Client(idp.app)
    params = authorize(client, client_id="mockidp-client", response_type="code",
                       redirect_uri=REDIRECT)
    response = client.post("/token", data={
        "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT,
        "client_id": "other", "client_secret": "other-secret"})
    assert response.get_json()["error"] == "invalid_grant"


def test_public_client_cannot_skip_pkce_or_use_client_credentials(idp: MockIdP) -> None:
    idp.clients.add("spa", public=True, redirect_uris=[REDIRECT])
    client = Client(idp.app)
    answer = authorize(client, client_id="spa", response_type="code")
    assert answer["error"] == ["invalid_request"]
    response = client.post("/token", data={"grant_type": "client_credentials",
                                           "client_id": "spa"})
    assert response.get_json()["error"] == "unauthorized_client"
    response = client.post("/token", data={"grant_type": "client_credentials",
                                           "client_id": "spa", "client_secret": "guess"})
    assert response.status_code == 401


def test_userinfo_scopes_and_errors(idp: MockIdP) -> None:
    client = Client(idp.app)
    user = idp.users.default

    def userinfo(token: str | None) -> tuple[int, dict, str]:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        response = client.get("/userinfo", headers=headers)
        return (response.status_code, response.get_json(),
                response.headers.get("WWW-Authenticate", ""))

    status, body, _ = userinfo(idp.token(scope="openid email"))
    assert status == 200 and body == {"sub": user.sub, "email": user.claims["email"],
                                      "email_verified": True}
    status, body, _ = userinfo(idp.token())  # minted directly, no scope: everything
    assert body["name"] == user.claims["name"]
    status, body, challenge = userinfo(None)
    assert status == 401 and challenge.startswith("Bearer")
    status, body, challenge = userinfo(idp.token(expires_in=-5))
    assert status == 401 and body["error"] == "invalid_token"
    assert 'error="invalid_token"' in challenge
    status, body, _ = userinfo("not.a.token")
    assert status == 401 and body["error"] == "invalid_token"
    status, body, _ = userinfo(idp.token(scope="read"))
    assert status == 403 and body["error"] == "insufficient_scope"
    old = idp.keys.active
    token = idp.token()
    idp.keys.rotate()
    idp.keys.revoke(old.kid)
    status, body, _ = userinfo(token)
    assert status == 401 and "no published key" in body["error_description"]


def test_discovery_advertises_what_is_served(idp: MockIdP) -> None:
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                 "introspection_endpoint", "revocation_endpoint", "end_session_endpoint"):
        preflight = requests.options(metadata[name], timeout=5)
        assert preflight.status_code == 204, name
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    from mockidp.core.directory import GRANT_TYPES

    assert set(metadata["grant_types_supported"]) <= set(GRANT_TYPES)
    assert metadata["response_types_supported"] == ["code", "id_token", "id_token token",
                                                    "code id_token", "code token",
                                                    "code id_token token"]
