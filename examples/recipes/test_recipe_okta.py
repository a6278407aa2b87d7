"""okta-jwt-verifier (profile `okta`, its production URL intercepted)

okta-jwt-verifier insists on an `https://` issuer and finds the keys at `{issuer}/v1/keys`
(no discovery). It is given the org's issuer, as in production
(`https://{org}.okta.com/oauth2/default`), and runs inside `idp.intercept()`
(`intercept=True` on the marker; the `okta` profile's `org` option names the host), where
aiohttp reaches the provider over TLS verified against its test CA: no URL or trust to
configure. It accepts RS256 only and checks claims before the signature, with a 120 s leeway.
The async path caches the JWKS per URL as `Cache-Control` allows (120 s by default) in **one
cache shared by every verifier in the process** (the default argument of its
`RequestExecutor`): with the same URL in every test, a test would see the previous test's
keys, so each verifier here gets a cache of its own. An unknown `kid` clears the cache and
fetches once more, so rotation works, but a revoked key stays trusted until the cache expires.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from acachecontrol.cache import AsyncCache
from okta_jwt_verifier import AccessTokenVerifier
from okta_jwt_verifier.exceptions import JWTValidationException
from okta_jwt_verifier.jwt_utils import JWTUtils
from okta_jwt_verifier.request_executor import RequestExecutor

if TYPE_CHECKING:
    from mockidp import MockIdP

PROFILE = "okta"
OPTIONS = {"org": "acme"}
INTERCEPT = True
ISSUER = "https://acme.okta.com/oauth2/default"


def make_verifier(idp: MockIdP) -> Any:
    class OwnCache(RequestExecutor):  # type: ignore[misc]
        def __init__(self, **options: Any) -> None:
            super().__init__(cache_controller=AsyncCache(), **options)

    verifier = AccessTokenVerifier(issuer=ISSUER, audience="api://default",
                                   request_executor=OwnCache)

    def verify(token: str) -> dict[str, Any]:
        asyncio.run(verifier.verify(token))
        return dict(JWTUtils.parse_token(token)[1])

    return verify


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_accepts_a_valid_token(idp: MockIdP) -> None:
    assert idp.issuer == ISSUER and idp.jwks_uri == ISSUER + "/v1/keys"
    assert make_verifier(idp)(idp.token(sub="alice"))["sub"] == "alice"


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
@pytest.mark.parametrize("fault", ["bad-signature", "alg-none", "wrong-audience", "es256-token"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    token = idp.token(alg="ES256") if fault == "es256-token" else idp.token(fault=fault)
    with pytest.raises(JWTValidationException):
        make_verifier(idp)(token)


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_leeway_is_two_minutes(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token(fault="expired"))  # expired a minute ago: accepted
    with pytest.raises(JWTValidationException, match="expired"):
        verify(idp.token(expires_in=-121))


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_rotation_refetches_and_revocation_waits_for_the_cache(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    verify(idp.token())
    idp.keys.rotate()
    verify(idp.token())
    assert len(idp.requests_to("jwks")) == 2
    idp.keys.revoke(old.kid)
    verify(idp.token(kid=old.kid))  # accepted from the cache


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_cached_keys_ride_out_an_outage(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.endpoint("jwks").fail(503)
    verify(idp.token())
