"""okta-jwt-verifier (profile `okta`, over HTTPS)

okta-jwt-verifier insists on an `https://` issuer and finds the keys at `{issuer}/v1/keys`
(no discovery), so the provider runs with `profile="okta", tls=True`, and the client trusts
its CA through a `request_executor` that hands aiohttp `idp.ssl_context()` (aiohttp reads
`SSL_CERT_FILE` once, at import). It accepts RS256 only and checks claims before the
signature, with a 120 s leeway. The async path caches the JWKS per URL as `Cache-Control`
allows (120 s by default) in **one cache shared by every verifier in the process**: a test
that reuses a port can see the previous test's keys. A new provider per test (a new port)
avoids that. An unknown `kid` clears the cache and fetches once more, so rotation works, but
a revoked key stays trusted until the cache expires.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from okta_jwt_verifier import AccessTokenVerifier
from okta_jwt_verifier.exceptions import JWTValidationException
from okta_jwt_verifier.jwt_utils import JWTUtils
from okta_jwt_verifier.request_executor import RequestExecutor

if TYPE_CHECKING:
    from mockidp import MockIdP

PROFILE = "okta"
TLS = True


def make_verifier(idp: MockIdP) -> Any:
    context = idp.ssl_context()

    class TrustingExecutor(RequestExecutor):  # type: ignore[misc]
        async def fire_request(self, uri: str, **params: Any) -> Any:
            return await super().fire_request(uri, ssl=context, **params)

    verifier = AccessTokenVerifier(issuer=idp.issuer, audience=idp.audience,
                                   request_executor=TrustingExecutor)

    def verify(token: str) -> dict[str, Any]:
        asyncio.run(verifier.verify(token))
        return dict(JWTUtils.parse_token(token)[1])

    return verify


@pytest.mark.idp(profile=PROFILE, tls=TLS)
def test_accepts_a_valid_token(idp: MockIdP) -> None:
    assert idp.issuer.startswith("https://") and idp.jwks_uri.endswith("/v1/keys")
    assert make_verifier(idp)(idp.token(sub="alice"))["sub"] == "alice"


@pytest.mark.idp(profile=PROFILE, tls=TLS)
@pytest.mark.parametrize("fault", ["bad-signature", "alg-none", "wrong-audience", "es256-token"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    token = idp.token(alg="ES256") if fault == "es256-token" else idp.token(fault=fault)
    with pytest.raises(JWTValidationException):
        make_verifier(idp)(token)


@pytest.mark.idp(profile=PROFILE, tls=TLS)
def test_leeway_is_two_minutes(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token(fault="expired"))  # expired a minute ago: accepted
    with pytest.raises(JWTValidationException, match="expired"):
        verify(idp.token(expires_in=-121))


@pytest.mark.idp(profile=PROFILE, tls=TLS)
def test_rotation_refetches_and_revocation_waits_for_the_cache(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    verify(idp.token())
    idp.keys.rotate()
    verify(idp.token())
    assert len(idp.requests_to("jwks")) == 2
    idp.keys.revoke(old.kid)
    verify(idp.token(kid=old.kid))  # accepted from the cache


@pytest.mark.idp(profile=PROFILE, tls=TLS)
def test_cached_keys_ride_out_an_outage(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.endpoint("jwks").fail(503)
    verify(idp.token())
