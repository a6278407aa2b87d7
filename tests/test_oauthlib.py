"""An independent OAuth client, requests-oauthlib, runs its flows against mockidp."""

from __future__ import annotations

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from mockidp import MockIdP

REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture(autouse=True)
def plain_http_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http:// unless told; the provider is on loopback (or use tls=True).
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def test_client_credentials(idp: MockIdP) -> None:
    default = idp.clients.default
    session = OAuth2Session(client=BackendApplicationClient(client_id=default.client_id))
    token = session.fetch_token(idp.token_endpoint, client_id=default.client_id,
                                client_secret=default.client_secret, scope=["read"])
    assert idp.verify(token["access_token"])["scope"] == "read"


def test_authorization_code_with_pkce(idp: MockIdP) -> None:
    client = idp.clients.add("web", "web-secret", redirect_uris=[REDIRECT])
    session = OAuth2Session(client.client_id, redirect_uri=REDIRECT,
                            scope=["openid", "email"], pkce="S256")
    url, _state = session.authorization_url(idp.authorization_endpoint)
    callback = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    token = session.fetch_token(idp.token_endpoint, authorization_response=callback,
                                client_secret=client.client_secret)
    assert idp.verify(token["id_token"])["aud"] == "web"
    info = session.get(idp.userinfo_endpoint, timeout=5).json()
    assert info == {"sub": idp.users.default.sub, "email": idp.users.default.claims["email"],
                    "email_verified": True}
    refreshed = session.refresh_token(idp.token_endpoint, client_id="web",
                                      client_secret=client.client_secret)
    assert refreshed["access_token"] != token["access_token"]
