"""pyjwt-key-fetcher — `AsyncKeyFetcher`

The fetcher reads the token's unverified `iss`, fetches `iss + /.well-known/openid-configuration`
and the JWKS it names, and hands PyJWT the key and `algorithms=[jwk["alg"]]` — so every JWK
must carry `alg` and `kid` (mockidp's do) and the token a `kid`. Always pass `valid_issuers`:
without it any issuer a token names is fetched. The JWKS is cached for 300 s and an unknown
`kid` does not get past that cache, so a key rotated in is refused until it expires; a key once
loaded is trusted for the fetcher's life. Build a new fetcher per test, inside the event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from pyjwt_key_fetcher import AsyncKeyFetcher
from pyjwt_key_fetcher.errors import JWTKeyFetcherError
from pyjwt_key_fetcher.http_client import DefaultHTTPClient

if TYPE_CHECKING:
    from mockidp import MockIdP


def make_verifier(idp: MockIdP) -> Any:
    loop = asyncio.new_event_loop()
    fetchers: list[AsyncKeyFetcher] = []  # made inside the loop: aiohttp wants one running
    clients: list[DefaultHTTPClient] = []

    async def check(token: str) -> dict[str, Any]:
        if not fetchers:
            clients.append(DefaultHTTPClient())
            fetchers.append(AsyncKeyFetcher(valid_issuers=[idp.issuer], http_client=clients[0]))
        key = await fetchers[0].get_key(token)
        return jwt.decode(token, audience=idp.audience, issuer=idp.issuer,
                          options={"require": ["exp", "iat", "sub"]}, **key)

    def verify(token: str) -> dict[str, Any]:
        return loop.run_until_complete(check(token))

    def close() -> None:
        for client in clients:
            loop.run_until_complete(client.session.close())
        loop.close()

    verify.close = close  # type: ignore[attr-defined]
    return verify


@pytest.fixture
def verifier(idp: MockIdP) -> Any:
    verify = make_verifier(idp)
    yield verify
    verify.close()


def test_accepts_a_valid_token(idp: MockIdP, verifier: Any) -> None:
    assert verifier(idp.token(sub="alice"))["sub"] == "alice"


@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-issuer"])
def test_rejects_a_faulty_token(idp: MockIdP, verifier: Any, fault: str) -> None:
    with pytest.raises((jwt.PyJWTError, JWTKeyFetcherError)):
        verifier(idp.token(fault=fault))


def test_a_rotated_key_waits_for_the_cache(idp: MockIdP, verifier: Any) -> None:
    verifier(idp.token())
    idp.keys.rotate()
    with pytest.raises(JWTKeyFetcherError):
        verifier(idp.token())
    assert len(idp.requests_to("jwks")) == 1


def test_a_revoked_key_stays_trusted(idp: MockIdP, verifier: Any) -> None:
    old = idp.keys.active
    verifier(idp.token())
    idp.keys.rotate()
    idp.keys.revoke(old.kid)
    verifier(idp.token(kid=old.kid))


def test_cached_keys_ride_out_an_outage(idp: MockIdP, verifier: Any) -> None:
    verifier(idp.token())
    idp.endpoint("jwks").fail(503)
    idp.endpoint("discovery").fail(503)
    verifier(idp.token())
