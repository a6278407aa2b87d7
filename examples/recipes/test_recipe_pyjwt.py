"""PyJWT — `jwt.PyJWKClient`

`PyJWKClient` fetches the JWKS itself and keeps it for `lifespan` seconds (300). A token
with an unknown `kid` makes it fetch again, but not within `cooldown_duration` (30 s) of the
last fetch: a key rotated in right after the first fetch is refused for up to 30 s. Tests
that rotate keys pass `cooldown_duration=0` (or build a new client). A failed fetch keeps
the cached keys, so a JWKS outage goes unnoticed until the cache expires; a key removed
from the JWKS is still trusted until then too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jwt
import pytest

if TYPE_CHECKING:
    from mockidp import MockIdP


def make_verifier(idp: MockIdP, **client_options: Any) -> Any:
    client = jwt.PyJWKClient(idp.jwks_uri, **client_options)

    def verify(token: str) -> dict[str, Any]:
        key = client.get_signing_key_from_jwt(token)
        return jwt.decode(token, key, algorithms=["RS256", "ES256"], audience=idp.audience,
                          issuer=idp.issuer, options={"require": ["exp", "iat", "sub"]})

    return verify


def test_accepts_a_valid_token(idp: MockIdP) -> None:
    assert make_verifier(idp)(idp.token(sub="alice"))["sub"] == "alice"


@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-audience"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises(jwt.PyJWTError):
        make_verifier(idp)(idp.token(fault=fault))


def test_rotation_waits_out_the_cooldown(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.keys.rotate()
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        verify(idp.token())  # no refetch within 30 s of the last one
    assert len(idp.requests_to("jwks")) == 1


def test_rotation_without_the_cooldown(idp: MockIdP) -> None:
    verify = make_verifier(idp, cooldown_duration=0)
    verify(idp.token())
    idp.keys.rotate()
    verify(idp.token())
    assert len(idp.requests_to("jwks")) == 2


def test_a_revoked_key_is_trusted_until_the_cache_expires(idp: MockIdP) -> None:
    verify = make_verifier(idp, lifespan=300)
    old = idp.keys.active
    verify(idp.token())
    idp.keys.rotate()
    idp.keys.revoke(old.kid)
    verify(idp.token(kid=old.kid))  # still accepted: the JWKS is cached
    with pytest.raises(jwt.PyJWKClientError):
        make_verifier(idp)(idp.token(kid=old.kid))  # a fresh client sees the revocation


def test_cached_keys_ride_out_an_outage(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.endpoint("jwks").fail(503)
    verify(idp.token())
    with pytest.raises(jwt.PyJWKClientConnectionError):
        make_verifier(idp)(idp.token())
