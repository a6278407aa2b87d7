"""Authlib — OpenID Connect client (Flask, Django and Starlette integrations)

The client reads discovery once (`server_metadata_url`) and keeps the JWKS in
`server_metadata["jwks"]` for the life of the client object. It fetches the JWKS again only
when a token's `kid` is unknown, every time, with no rate limit: rotation just works, but a
key removed from the JWKS stays trusted as long as the client lives, and a flood of unknown
kids becomes a flood of JWKS requests. It accepts the algorithms discovery lists in
`id_token_signing_alg_values_supported`, which mockidp fills with exactly the algorithms it
signs with. Its default leeway is 120 s: a token that expired a minute ago passes
(`parse_id_token(..., leeway=0)` is stricter). Make a new client (a new `OAuth()` registry)
per test so no keys leak between tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from authlib.integrations.flask_client import OAuth
from flask import Flask

if TYPE_CHECKING:
    from mockidp import MockIdP

NONCE = "n-0S6_WzA2Mj"
AUDIENCE = "client"  # ID tokens: the audience is the client id
#: Claims every ID token put to this client carries (the nonce it sent with the request).
CLAIMS = {"nonce": NONCE}


def make_verifier(idp: MockIdP) -> Any:
    app = Flask(__name__)
    app.secret_key = "test"
    client = OAuth(app).register(
        "mockidp", client_id=idp.clients.default.client_id,
        client_secret=idp.clients.default.client_secret,
        server_metadata_url=idp.discovery_url, client_kwargs={"scope": "openid"})

    def verify(id_token: str) -> dict[str, Any]:
        with app.test_request_context():
            return dict(client.parse_id_token({"id_token": id_token}, nonce=NONCE))

    return verify


def test_accepts_a_valid_id_token(idp: MockIdP) -> None:
    assert make_verifier(idp)(idp.id_token(sub="alice", nonce=NONCE))["sub"] == "alice"


@pytest.mark.parametrize("fault", ["bad-signature", "alg-none", "wrong-issuer"])
def test_rejects_a_faulty_id_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises(Exception, match=r"(?i)expired|signature|alg|iss"):
        make_verifier(idp)(idp.id_token(nonce=NONCE, fault=fault))


def test_leeway_is_two_minutes(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.id_token(nonce=NONCE, fault="expired"))  # expired a minute ago: accepted
    with pytest.raises(Exception, match="expired"):
        verify(idp.id_token(nonce=NONCE, expires_in=-121))


def test_a_wrong_nonce_is_rejected(idp: MockIdP) -> None:
    with pytest.raises(Exception, match="nonce"):
        make_verifier(idp)(idp.id_token(nonce="another"))


def test_rotation_costs_one_jwks_fetch(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.id_token(nonce=NONCE))
    idp.keys.rotate()
    verify(idp.id_token(nonce=NONCE))
    assert len(idp.requests_to("jwks")) == 2 and len(idp.requests_to("discovery")) == 1


def test_a_revoked_key_is_trusted_while_the_client_lives(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    verify(idp.id_token(nonce=NONCE))
    idp.keys.rotate()
    idp.keys.revoke(old.kid)
    verify(idp.id_token(kid=old.kid, nonce=NONCE))  # accepted from the cached JWKS
    with pytest.raises(Exception, match="kid"):
        make_verifier(idp)(idp.id_token(kid=old.kid, nonce=NONCE))


def test_cached_keys_ride_out_an_outage(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.id_token(nonce=NONCE))
    idp.endpoint("jwks").fail(503)
    verify(idp.id_token(nonce=NONCE))
    with pytest.raises(Exception, match="503"):
        make_verifier(idp)(idp.id_token(nonce=NONCE))
