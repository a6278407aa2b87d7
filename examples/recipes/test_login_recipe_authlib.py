"""Authlib — the Flask client's sign-in (`authorize_redirect`, `authorize_access_token`)

`authorize_access_token` checks `state`, redeems the code with PKCE and verifies the ID token:
signature with an algorithm discovery lists, `iss`, `aud` containing the client, `azp` with
several audiences, `exp` (120 s leeway) and `iat`, the nonce it sent, `at_hash` when present;
it refuses a `token_type` it does not know when the token is used. Two things are left to the
app: the RFC 9207 `iss` of the authorization response (mix-up defence), and audiences beside
the client's own (OIDC Core §3.1.3.7 step 3); an app that reads userinfo compares its `sub`
itself (§5.3.4) and, for a client registered for signed answers, checks they are signed. The
second column of the table is this recipe with `STRICT` checks: a few lines each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, request
from joserfc import jwt
from joserfc.jwk import KeySet

from mockidp import LoginRefused

if TYPE_CHECKING:
    from collections.abc import Callable

    from mockidp import MockIdP

CALLBACK = "http://localhost/callback"
#: The compatibility table's columns: the library alone, and with the checks it leaves.
VARIANTS = {"authlib": {"strict": False}, "authlib + app checks": {"strict": True}}


def make_login(idp: MockIdP, *, strict: bool = False) -> Callable[[MockIdP], str]:
    client = idp.clients.add(
        None, "authlib-secret", redirect_uris=[CALLBACK],
        userinfo_signed_response_alg="RS256" if strict else None)
    app = Flask(__name__)
    app.secret_key = "recipe"
    oauth = OAuth(app)
    rp: Any = oauth.register(
        "idp", server_metadata_url=idp.discovery_url, client_id=client.client_id,
        client_secret=client.client_secret,
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256"})

    @app.get("/login")
    def start() -> Any:
        return rp.authorize_redirect(CALLBACK)

    @app.get("/callback")
    def callback() -> Any:
        issuer = rp.load_server_metadata()["issuer"]
        if strict and request.args.get("iss") != issuer:  # RFC 9207 §2.4
            return "the response is not from our provider", 401
        token = rp.authorize_access_token()
        claims = token["userinfo"]  # the ID token's claims (a KeyError without an ID token)
        if strict:
            if claims["aud"] not in (client.client_id, [client.client_id]):  # §3.1.3.7 step 3
                return "an audience we do not trust", 401
            answer = rp.get(rp.load_server_metadata()["userinfo_endpoint"], token=token)
            if answer.headers["Content-Type"] != "application/jwt":  # OIDC Core §5.3.2
                return "userinfo is not signed", 401
            keys = KeySet.import_key_set(rp.fetch_jwk_set())
            userinfo = jwt.decode(answer.text, keys, algorithms=["RS256"]).claims
            if userinfo["sub"] != claims["sub"] or userinfo["iss"] != issuer:  # §5.3.4
                return "userinfo is about someone else", 401
        return claims["sub"]

    def login(idp: MockIdP) -> str:
        browser = app.test_client()
        back = requests.get(browser.get("/login").location, allow_redirects=False, timeout=5)
        answer = urlsplit(back.headers["Location"])
        done = browser.get(f"{answer.path}?{answer.query}")
        if done.status_code != 200:
            raise LoginRefused(f"HTTP {done.status_code}", done.get_data(as_text=True))
        return done.get_data(as_text=True)

    return login


def test_signs_in(idp: MockIdP) -> None:
    assert make_login(idp)(idp) == idp.users.default.sub


@pytest.mark.parametrize("fault", ["id-token-wrong-nonce", "id-token-alg-none",
                                   "response-wrong-state", "id-token-hs256-client-secret"])
def test_refuses(idp: MockIdP, fault: str) -> None:
    login = make_login(idp)
    idp.users.next_login(fault=fault)
    with pytest.raises(LoginRefused):
        login(idp)


def test_leaves_the_response_issuer_to_the_app(idp: MockIdP) -> None:
    idp.users.next_login(fault="response-wrong-iss")
    make_login(idp)(idp)
    idp.users.next_login(fault="response-wrong-iss")
    with pytest.raises(LoginRefused):
        make_login(idp, strict=True)(idp)
