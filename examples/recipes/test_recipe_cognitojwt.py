"""cognitojwt (profile `cognito`)

`cognitojwt.decode` builds the JWKS URL from the region and user pool
(`https://cognito-idp.{region}.amazonaws.com/{pool}/.well-known/jwks.json`) unless
`AWS_COGNITO_JWKS_PATH` names another, as below. It checks the signature, `exp` and the client
id — `client_id` for access tokens, `aud` for ID tokens, chosen by `token_use`, which the
`cognito` profile sets (and, like Cognito, leaves `aud` out of access tokens). It never checks
`iss`. The JWKS sits in a process-wide `lru_cache` of one entry keyed by URL: a new provider
(a new port) gets a fresh fetch, but within one provider a rotated-in key is refused and a
revoked key accepted until `cognitojwt.jwt_sync.get_keys.cache_clear()`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from unittest import mock

import cognitojwt
import pytest
from cognitojwt.exceptions import CognitoJWTException
from jose import JWTError

if TYPE_CHECKING:
    from mockidp import MockIdP

PROFILE = "cognito"
OPTIONS = {"user_pool": "eu-west-1_Mock"}


def make_verifier(idp: MockIdP) -> Any:
    def verify(token: str) -> dict[str, Any]:
        with mock.patch.dict(os.environ, {"AWS_COGNITO_JWKS_PATH": idp.jwks_uri}):
            return dict(cognitojwt.decode(token, "eu-west-1", idp.layout.options["user_pool"],
                                          app_client_id=idp.clients.default.client_id))

    return verify


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    cognitojwt.jwt_sync.get_keys.cache_clear()


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
def test_accepts_access_and_id_tokens(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    assert verify(idp.token(sub="alice"))["token_use"] == "access"
    assert verify(idp.id_token(sub="alice"))["token_use"] == "id"


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
@pytest.mark.parametrize("fault", ["expired", "bad-signature", "unknown-kid"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises((CognitoJWTException, JWTError)):
        make_verifier(idp)(idp.token(fault=fault))


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
def test_issuer_is_not_checked(idp: MockIdP) -> None:
    make_verifier(idp)(idp.token(fault="wrong-issuer"))


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
def test_rotation_needs_the_cache_cleared(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.keys.rotate()
    with pytest.raises(CognitoJWTException, match="Public key not found"):
        verify(idp.token())
    cognitojwt.jwt_sync.get_keys.cache_clear()
    verify(idp.token())


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
def test_cached_keys_ride_out_an_outage(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.endpoint("jwks").fail(503)
    verify(idp.token())
