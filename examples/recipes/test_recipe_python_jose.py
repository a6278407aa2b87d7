"""python-jose

python-jose ignores the token's `kid`: given a whole JWKS it builds every key with the
token's own `alg` and accepts the token if any of them verifies it, so a token naming an
unknown kid passes. Pick the key by `kid` yourself, as below. It has no cache (this recipe
fetches on every call), `algorithms=` is optional (pass it), and a missing `aud` is accepted
even when `audience=` is given — require it with `options`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests
from jose import JWTError, jwt

if TYPE_CHECKING:
    from mockidp import MockIdP


def make_verifier(idp: MockIdP) -> Any:
    def verify(token: str) -> dict[str, Any]:
        response = requests.get(idp.jwks_uri, timeout=5)
        response.raise_for_status()
        kid = jwt.get_unverified_header(token).get("kid")
        key = next((k for k in response.json()["keys"] if k.get("kid") == kid), None)
        if key is None:
            raise JWTError(f"no key with kid {kid!r}")
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=["RS256", "ES256"], audience=idp.audience,
            issuer=idp.issuer, options={"require_aud": True, "require_exp": True,
                                        "require_sub": True})
        return claims

    return verify


def test_accepts_a_valid_token(idp: MockIdP) -> None:
    assert make_verifier(idp)(idp.token(sub="alice"))["sub"] == "alice"


@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-audience",
                                   "missing-aud"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises(JWTError):
        make_verifier(idp)(idp.token(fault=fault))


def test_the_whole_key_set_would_accept_an_unknown_kid(idp: MockIdP) -> None:
    token = idp.token(fault="unknown-kid")
    jwks = idp.jwks()
    assert jwt.decode(token, jwks, algorithms=["RS256"], audience=idp.audience)  # the trap
    with pytest.raises(JWTError):
        make_verifier(idp)(token)


def test_every_verification_fetches_so_revocation_shows_at_once(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    idp.keys.rotate()
    for _ in range(3):
        verify(idp.token())
    assert len(idp.requests_to("jwks")) == 3
    idp.keys.revoke(old.kid)
    with pytest.raises(JWTError, match="no key with kid"):
        verify(idp.token(kid=old.kid))


def test_a_dropped_connection_fails_the_request(idp: MockIdP) -> None:
    idp.endpoint("jwks").drop()
    with pytest.raises(requests.ConnectionError):
        make_verifier(idp)(idp.token())
