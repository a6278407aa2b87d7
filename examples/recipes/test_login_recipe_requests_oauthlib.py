"""requests-oauthlib — `OAuth2Session`, OAuth 2.0 only

`OAuth2Session` sends `state` and checks it in the authorization response (oauthlib's
`MismatchingStateError`), raises on an error response, refuses a `token_type` it does not know
at the first request it signs — and knows nothing of OpenID Connect: no nonce, no ID token
verification, no userinfo `sub` check. An app that signs people in with it alone takes the
user from userinfo and accepts every ID token fault; add an ID token check (the Authlib or
pyoidc recipes) before trusting who signed in. oauthlib refuses plain HTTP, so the provider
serves TLS and every request verifies its CA bundle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from oauthlib.oauth2.rfc6749.errors import MismatchingStateError
from requests_oauthlib import OAuth2Session

if TYPE_CHECKING:
    from collections.abc import Callable

    from mockidp import MockIdP

TLS = True
CALLBACK = "https://app.example/callback"


def make_login(idp: MockIdP) -> Callable[[MockIdP], str]:
    client = idp.clients.add("oauthlib-app", "oauthlib-secret", redirect_uris=[CALLBACK])

    def login(idp: MockIdP) -> str:
        session = OAuth2Session(client.client_id, redirect_uri=CALLBACK,
                                scope=["openid", "email"])
        url, _state = session.authorization_url(idp.authorization_endpoint)
        back = requests.get(url, allow_redirects=False, timeout=5, verify=idp.ca_bundle)
        session.fetch_token(idp.token_endpoint, authorization_response=back.headers["Location"],
                            client_secret=client.client_secret, verify=idp.ca_bundle)
        userinfo = session.get(idp.userinfo_endpoint, timeout=5, verify=idp.ca_bundle)
        return str(userinfo.json()["sub"])

    return login


@pytest.mark.idp(profile="generic", tls=TLS)
def test_signs_in(idp: MockIdP) -> None:
    assert make_login(idp)(idp) == idp.users.default.sub


@pytest.mark.idp(profile="generic", tls=TLS)
def test_checks_state_but_no_id_token(idp: MockIdP) -> None:
    login = make_login(idp)
    idp.users.next_login(fault="response-wrong-state")
    with pytest.raises(MismatchingStateError):
        login(idp)
    idp.users.next_login(fault="id-token-bad-signature")
    login(idp)  # the ID token is never read
