"""Real consumer libraries verifying mockidp tokens over real HTTP on loopback."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING

import jwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

if TYPE_CHECKING:
    from mockidp import MockIdP

PYJWT_ALGS = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "ES256K", "EdDSA",
]


def pyjwt_verify(idp: MockIdP, token: str, client: jwt.PyJWKClient | None = None) -> dict:
    client = client or jwt.PyJWKClient(idp.jwks_uri, cache_jwk_set=False)
    key = client.get_signing_key_from_jwt(token)
    return jwt.decode(
        token, key, algorithms=[key.algorithm_name], audience=idp.audience, issuer=idp.issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url) as response:
        return json.load(response)


@pytest.mark.parametrize("alg", PYJWT_ALGS)
def test_pyjwkclient_verifies_every_algorithm(idp: MockIdP, alg: str) -> None:
    token = idp.token(alg=alg, claims={"role": "tester"})
    claims = pyjwt_verify(idp, token)
    assert claims["role"] == "tester"
    assert jwt.get_unverified_header(token)["kid"] == idp.keys.active_for(alg).kid


def test_pyjwkclient_verifies_ed448_under_eddsa(idp: MockIdP) -> None:
    key = idp.keys.add("EdDSA", crv="Ed448")
    assert pyjwt_verify(idp, idp.token(kid=key.kid))["iss"] == idp.issuer


@pytest.mark.parametrize("alg", ["Ed25519", "Ed448"])
def test_joserfc_verifies_fully_specified_eddsa(idp: MockIdP, alg: str) -> None:
    """RFC 9864 names: PyJWT does not know them, joserfc does."""
    token = idp.token(alg=alg)
    keys = KeySet.import_key_set(fetch_json(idp.jwks_uri))
    decoded = jose_jwt.decode(token, keys, algorithms=[alg])
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": idp.issuer},
        aud={"essential": True, "value": idp.audience},
    ).validate(decoded.claims)
    assert decoded.header["alg"] == alg


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hs_tokens_verify_with_the_secret(idp: MockIdP, alg: str) -> None:
    token = idp.token(alg=alg)
    secret = idp.keys.active_for(alg).secret
    claims = jwt.decode(token, secret, algorithms=[alg], audience=idp.audience, issuer=idp.issuer)
    assert claims["sub"] == idp.users.default.sub
    assert idp.jwks()["keys"] == [idp.keys.active.public_jwk]  # HS keys are not published


def test_consumer_follows_discovery_to_jwks(idp: MockIdP) -> None:
    metadata = fetch_json(idp.discovery_url)
    assert metadata["issuer"] == idp.issuer
    token = idp.id_token(nonce="n-0S6_WzA2Mj")
    client = jwt.PyJWKClient(metadata["jwks_uri"])
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key, algorithms=metadata["id_token_signing_alg_values_supported"],
        audience=idp.clients.default.client_id, issuer=metadata["issuer"],
    )
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["email"] == idp.users.default.claims["email"]


def test_rotation_then_revocation(idp: MockIdP) -> None:
    old = idp.keys.active
    old_token = idp.token()
    new = idp.keys.rotate()
    new_token = idp.token()
    assert jwt.get_unverified_header(new_token)["kid"] == new.kid != old.kid
    assert pyjwt_verify(idp, new_token)
    assert pyjwt_verify(idp, old_token)  # the previous key stays published
    assert idp.keys.state(old.kid) == "previous"

    idp.keys.revoke(old.kid)
    assert idp.keys.state(old.kid) == "revoked"
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        pyjwt_verify(idp, old_token, jwt.PyJWKClient(idp.jwks_uri))
    assert pyjwt_verify(idp, new_token)


def test_staged_rotation_publishes_before_signing(idp: MockIdP) -> None:
    current = idp.keys.active
    nxt = idp.keys.add("RS256", activate=False)
    assert idp.keys.state(nxt.kid) == "next"
    assert jwt.get_unverified_header(idp.token())["kid"] == current.kid
    client = jwt.PyJWKClient(idp.jwks_uri)
    client.get_jwk_set()  # the consumer caches the set that already holds the next key
    idp.keys.activate(nxt.kid)
    token = idp.token()
    assert jwt.get_unverified_header(token)["kid"] == nxt.kid
    assert pyjwt_verify(idp, token, client)  # no refetch needed
    assert [idp.keys.state(k.kid) for k in (current, nxt)] == ["previous", "active"]


CORRUPTIBLE = {
    "other-key": "RS256", "truncated": "RS256", "bad-base64": "RS256", "wrong-kty": "RS256",
    "wrong-alg": "RS256", "wrong-crv": "ES256", "use-enc": "RS256", "missing-kid": "RS256",
}


# A truncated modulus is a short RSA key: PyJWT warns before the signature check fails.
short_key_warning = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@short_key_warning
@pytest.mark.parametrize(("how", "alg"), CORRUPTIBLE.items())
def test_every_corruption_fails_verification(idp: MockIdP, how: str, alg: str) -> None:
    token = idp.token(alg=alg)
    kid = jwt.get_unverified_header(token)["kid"]
    idp.keys.corrupt(kid, how=how)
    document = fetch_json(idp.jwks_uri)  # still valid JSON
    assert idp.keys.corruption(kid) == how
    assert document == idp.jwks()
    with pytest.raises(jwt.PyJWTError):
        pyjwt_verify(idp, token)


@short_key_warning
@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_corruption_fails_for_other_key_families(idp: MockIdP, alg: str) -> None:
    for how in ("other-key", "truncated", "bad-base64", "wrong-kty", "wrong-alg"):
        idp.reset()
        token = idp.token(alg=alg)
        idp.keys.corrupt(jwt.get_unverified_header(token)["kid"], how=how)
        with pytest.raises(jwt.PyJWTError):
            pyjwt_verify(idp, token)


def test_joserfc_rejects_other_key_corruption(idp: MockIdP) -> None:
    token = idp.token(alg="ES256")
    idp.keys.corrupt(idp.keys.active_for("ES256").kid, how="other-key")
    keys = KeySet.import_key_set(fetch_json(idp.jwks_uri))
    with pytest.raises(BadSignatureError):
        jose_jwt.decode(token, keys, algorithms=["ES256"])


def test_jwcrypto_verifies_and_rejects_revoked(idp: MockIdP) -> None:
    from jwcrypto import jwk
    from jwcrypto import jwt as jwc_jwt

    token = idp.token(alg="PS384")
    keyset = jwk.JWKSet.from_json(json.dumps(fetch_json(idp.jwks_uri)))
    verified = jwc_jwt.JWT(jwt=token, key=keyset, expected_type="JWS",
                           check_claims={"iss": idp.issuer, "aud": idp.audience})
    assert json.loads(verified.claims)["iss"] == idp.issuer

    idp.keys.revoke(idp.keys.active_for("PS384").kid)
    keyset = jwk.JWKSet.from_json(json.dumps(fetch_json(idp.jwks_uri)))
    with pytest.raises(jwc_jwt.JWTMissingKey):
        jwc_jwt.JWT(jwt=token, key=keyset, expected_type="JWS")
