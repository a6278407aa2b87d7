"""jwcrypto

jwcrypto verifies against a `JWKSet` you fetch; it has no cache, so this recipe fetches on
every call. Mind its defaults: without `check_claims` only `exp` and `nbf` are checked (when
present), and with it only the claims listed; the leeway is 60 s; a token without a `kid` is
tried against every key in the set, and the JWK's `alg` is not compared with the token's.
Require the `kid` yourself, as below, and list the algorithms you accept.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import requests
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException, base64url_decode

if TYPE_CHECKING:
    from mockidp import MockIdP


def make_verifier(idp: MockIdP) -> Any:
    def verify(token: str) -> dict[str, Any]:
        response = requests.get(idp.jwks_uri, timeout=5)
        response.raise_for_status()
        keys = jwk.JWKSet.from_json(response.content)
        header = json.loads(base64url_decode(token.split(".")[0]))
        if "kid" not in header:
            raise ValueError("the token has no kid")
        checked = jwt.JWT(jwt=token, key=keys, algs=["RS256", "ES256", "PS256", "EdDSA"],
                          check_claims={"iss": idp.issuer, "aud": idp.audience, "exp": None,
                                        "sub": None})
        return dict(json.loads(checked.claims))

    return verify


def test_accepts_a_valid_token(idp: MockIdP) -> None:
    assert make_verifier(idp)(idp.token(sub="alice"))["sub"] == "alice"


@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-audience"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises((JWException, ValueError)):
        make_verifier(idp)(idp.token(fault=fault))


def test_a_token_without_kid_is_refused_by_the_recipe(idp: MockIdP) -> None:
    with pytest.raises(ValueError, match="no kid"):
        make_verifier(idp)(idp.token(fault="missing-kid"))


def test_rotation_to_another_algorithm_and_revocation(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    idp.keys.rotate("ES256")  # an EC key joins the set and signs from now on
    assert verify(idp.token(alg="ES256"))["iss"] == idp.issuer
    idp.keys.revoke(old.kid)
    with pytest.raises(JWException):
        verify(idp.token(kid=old.kid))


def test_a_jwks_that_is_not_json_fails_the_request(idp: MockIdP) -> None:
    idp.endpoint("jwks").malformed_json()
    with pytest.raises(jwk.InvalidJWKValue):  # wraps the JSONDecodeError
        make_verifier(idp)(idp.token())
