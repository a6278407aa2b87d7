"""cognitojwt (profile `cognito`, its production URL intercepted)

`cognitojwt.decode` builds the JWKS URL from the region and user pool
(`https://cognito-idp.{region}.amazonaws.com/{pool}/.well-known/jwks.json`): called as in
production, inside `idp.intercept()` (`intercept=True` on the marker; the `cognito` profile's
real host follows the pool's region). It checks the signature, `exp` and the client
id — `client_id` for access tokens, `aud` for ID tokens, chosen by `token_use`, which the
`cognito` profile sets (and, like Cognito, leaves `aud` out of access tokens). It never checks
`iss`. The JWKS sits in a process-wide `lru_cache` of one entry keyed by URL — the same URL
in every test now, so each verifier here starts by clearing it, as a new process would; within
one provider a rotated-in key is refused and a revoked key accepted until
`cognitojwt.jwt_sync.get_keys.cache_clear()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cognitojwt
import pytest
from cognitojwt.exceptions import CognitoJWTException
from jose import JWTError

if TYPE_CHECKING:
    from mockidp import MockIdP

PROFILE = "cognito"
OPTIONS = {"user_pool": "eu-west-1_Mock"}
INTERCEPT = True


def make_verifier(idp: MockIdP) -> Any:
    cognitojwt.jwt_sync.get_keys.cache_clear()  # keys of an earlier test's provider

    def verify(token: str) -> dict[str, Any]:
        return dict(cognitojwt.decode(token, "eu-west-1", "eu-west-1_Mock",
                                      app_client_id=idp.clients.default.client_id))

    return verify


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_accepts_access_and_id_tokens(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    assert verify(idp.token(sub="alice"))["token_use"] == "access"
    assert verify(idp.id_token(sub="alice"))["token_use"] == "id"


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
@pytest.mark.parametrize("fault", ["expired", "bad-signature", "unknown-kid"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises((CognitoJWTException, JWTError)):
        make_verifier(idp)(idp.token(fault=fault))


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_issuer_is_not_checked(idp: MockIdP) -> None:
    make_verifier(idp)(idp.token(fault="wrong-issuer"))


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_rotation_needs_the_cache_cleared(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.keys.rotate()
    with pytest.raises(CognitoJWTException, match="Public key not found"):
        verify(idp.token())
    cognitojwt.jwt_sync.get_keys.cache_clear()
    verify(idp.token())


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_cached_keys_ride_out_an_outage(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.endpoint("jwks").fail(503)
    verify(idp.token())
