"""pyoidc (`oic`) — a hybrid sign-in, `code id_token token`

pyoidc, an OpenID-certified relying party, verifies the ID token of the authorization response
(`parse_response`): signature, `iss`, `aud`, `azp`, `exp`, `iat`, `c_hash` and `at_hash`,
present and right, and an RFC 9207 `iss` in the response when there is one. It compares
userinfo's `sub` with the ID token's (`SubMismatch`). It leaves the `state` and the `nonce` to
the app (below), and accepts, even for a client registered for RS256 ID tokens and RS256
userinfo answers: an unsigned (`alg: none`) ID token and one MACed with the client secret
through the browser, a token response without an ID token, an unknown `token_type`, and a plain
JSON userinfo answer.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import requests
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationResponse,
    OpenIDSchema,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from mockidp import LoginRefused

if TYPE_CHECKING:
    from collections.abc import Callable

    from mockidp import MockIdP

CALLBACK = "http://127.0.0.1:9/callback"


def make_login(idp: MockIdP) -> Callable[[MockIdP], str]:
    client = idp.clients.add("pyoidc-app", "pyoidc-secret", redirect_uris=[CALLBACK],
                             userinfo_signed_response_alg="RS256")
    registration = RegistrationResponse(
        client_id=client.client_id, client_secret=client.client_secret,
        redirect_uris=[CALLBACK], id_token_signed_response_alg="RS256",
        userinfo_signed_response_alg="RS256")

    def login(idp: MockIdP) -> str:
        rp = Client(client_authn_method=CLIENT_AUTHN_METHOD)
        rp.provider_config(idp.issuer)
        rp.store_registration_info(registration)
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        request = rp.construct_AuthorizationRequest(request_args={
            "client_id": client.client_id, "response_type": "code id_token token",
            "scope": ["openid", "email"], "redirect_uri": CALLBACK, "state": state,
            "nonce": nonce})
        back = requests.get(request.request(rp.authorization_endpoint), allow_redirects=False,
                            timeout=5)
        answer = rp.parse_response(AuthorizationResponse, sformat="urlencoded",
                                   info=urlsplit(back.headers["Location"]).fragment)
        if not isinstance(answer, AuthorizationResponse):  # an error response
            raise LoginRefused(str(answer["error"]), "<p>Sign-in failed.</p>")
        if answer["state"] != state or answer["id_token"]["nonce"] != nonce:  # the app's part
            raise PermissionError("state or nonce is not this sign-in's")
        tokens = rp.do_access_token_request(
            state=state, authn_method="client_secret_basic",
            request_args={"code": answer["code"], "redirect_uri": CALLBACK})
        if not isinstance(tokens, AccessTokenResponse):
            raise PermissionError(f"token endpoint: {tokens}")
        userinfo = rp.do_user_info_request(state=state)
        assert isinstance(userinfo, OpenIDSchema)
        return str(userinfo["sub"])

    return login


def test_signs_in(idp: MockIdP) -> None:
    assert make_login(idp)(idp) == idp.users.default.sub


@pytest.mark.parametrize("fault", ["id-token-wrong-c-hash", "id-token-missing-at-hash",
                                   "userinfo-wrong-sub", "response-wrong-iss"])
def test_refuses(idp: MockIdP, fault: str) -> None:
    login = make_login(idp)
    idp.users.next_login(fault=fault)
    with pytest.raises(Exception):  # noqa: B017, PT011 (pyoidc raises a class per check)
        login(idp)


def test_accepts_an_unsigned_id_token_through_the_browser(idp: MockIdP) -> None:
    login = make_login(idp)
    idp.users.next_login(fault="id-token-alg-none")
    login(idp)
