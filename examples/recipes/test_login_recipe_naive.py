"""A deliberately naive app — no library

What sign-in code written from a tutorial looks like: a hybrid sign-in (`code id_token token`)
whose ID token is decoded without verification, whose `state` is not compared, which shows the
provider's `error_description` in its page as it came, and which calls userinfo as if the
token response's `token_type` never mattered. `mockidp.audit_login` finds each
of these; the table in [compatibility.md](compatibility.md) shows which library makes which
check instead.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from mockidp import LoginRefused

if TYPE_CHECKING:
    from collections.abc import Callable

    from mockidp import MockIdP

CALLBACK = "http://127.0.0.1:9/callback"


def make_login(idp: MockIdP) -> Callable[[MockIdP], str]:
    client = idp.clients.add("naive-app", "naive-secret", redirect_uris=[CALLBACK],
                             userinfo_signed_response_alg="RS256")

    def login(idp: MockIdP) -> str:
        back = requests.get(idp.authorization_endpoint, allow_redirects=False, timeout=5, params={
            "client_id": client.client_id, "response_type": "code id_token token",
            "scope": "openid email", "redirect_uri": CALLBACK,
            "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16)})
        fragment = urlsplit(back.headers["Location"]).fragment
        params = {k: v[0] for k, v in parse_qs(fragment).items()}
        if "error" in params:
            raise LoginRefused("refused", f"<p>Sign-in failed: {params['error_description']}</p>")
        claims = jwt.decode(params["id_token"], options={"verify_signature": False})
        tokens = requests.post(idp.token_endpoint, timeout=5, data={
            "grant_type": "authorization_code", "code": params["code"],
            "redirect_uri": CALLBACK}, auth=(client.client_id, client.client_secret or "")).json()
        requests.get(idp.userinfo_endpoint, timeout=5,
                     headers={"Authorization": f"Bearer {tokens['access_token']}"})
        return str(claims.get("email"))

    return login


def test_signs_in(idp: MockIdP) -> None:
    assert make_login(idp)(idp) == idp.users.default["email"]


def test_believes_any_id_token(idp: MockIdP) -> None:
    login = make_login(idp)
    for fault in ("id-token-alg-none", "id-token-wrong-aud", "id-token-wrong-c-hash"):
        idp.users.next_login(fault=fault)
        login(idp)
