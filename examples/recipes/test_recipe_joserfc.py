"""joserfc

joserfc verifies against a key set you fetch (`KeySet.import_key_set`); it has no cache, so
this recipe fetches on every call and sees rotation and revocation at once. Two things to
know: `jwt.decode` checks the signature only — claims need a `JWTClaimsRegistry` — and it
accepts only HS256, RS256 and ES256 unless you pass `algorithms=`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

if TYPE_CHECKING:
    from mockidp import MockIdP

ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]


def make_verifier(idp: MockIdP, algorithms: list[str] | None = None) -> Any:
    claims = jwt.JWTClaimsRegistry(iss={"essential": True, "value": idp.issuer},
                                   aud={"essential": True, "value": idp.audience},
                                   exp={"essential": True}, sub={"essential": True})

    def verify(token: str) -> dict[str, Any]:
        response = requests.get(idp.jwks_uri, timeout=5)
        response.raise_for_status()
        decoded = jwt.decode(token, KeySet.import_key_set(response.json()),
                             algorithms=algorithms or ALGORITHMS)
        claims.validate(decoded.claims)
        return decoded.claims

    return verify


def test_accepts_a_valid_token(idp: MockIdP) -> None:
    assert make_verifier(idp)(idp.token(sub="alice"))["sub"] == "alice"


@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-issuer"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises(JoseError):
        make_verifier(idp)(idp.token(fault=fault))


def test_ps256_needs_the_algorithms_argument(idp: MockIdP) -> None:
    token = idp.token(alg="PS256")
    assert make_verifier(idp)(token)["iss"] == idp.issuer
    with pytest.raises(JoseError):
        make_verifier(idp, algorithms=["RS256", "ES256"])(token)


def test_a_staged_rotation_and_a_revocation(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    nxt = idp.keys.add("RS256", activate=False)  # published before it signs, as IdPs do
    verify(idp.token())
    idp.keys.activate(nxt.kid)
    assert verify(idp.token())["iss"] == idp.issuer
    idp.keys.revoke(old.kid)
    with pytest.raises(JoseError):
        verify(idp.token(kid=old.kid))


def test_a_brief_outage_fails_one_request(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    idp.endpoint("jwks").fail(503, times=1)
    with pytest.raises(requests.HTTPError):
        verify(idp.token())
    verify(idp.token())  # no cache, no retry: the next request simply works
