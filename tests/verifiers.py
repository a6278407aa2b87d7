"""Correctly configured token validators built on real consumer libraries.

Each fetches the JWKS over HTTP from the provider, as a service would, and checks the signature,
``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, ``sub`` and the RFC 9068 ``typ``. They are what the
fault tests and the examples hold the provider's tokens against.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    from mockidp import MockIdP

Verifier = Callable[[str], Any]

EXPECTED_TYP = "at+jwt"
CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub"]


def fetch_jwks(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def check_typ(header: dict[str, Any]) -> None:
    if str(header.get("typ", "")).lower() not in (EXPECTED_TYP, "application/" + EXPECTED_TYP):
        raise ValueError(f"typ {header.get('typ')!r} is not {EXPECTED_TYP}")


def pyjwt_verifier(idp: MockIdP) -> Verifier:
    client = jwt.PyJWKClient(idp.jwks_uri, cache_jwk_set=False)

    def verify(token: str) -> Any:
        key = client.get_signing_key_from_jwt(token)
        check_typ(jwt.get_unverified_header(token))
        return jwt.decode(token, key, algorithms=[key.algorithm_name], audience=idp.audience,
                          issuer=idp.issuer, options={"require": CLAIMS})

    return verify


def joserfc_verifier(idp: MockIdP) -> Verifier:
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import KeySet

    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": idp.issuer},
        aud={"essential": True, "value": idp.audience},
        sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
        nbf={"essential": True},
    )

    def verify(token: str) -> Any:
        keys = KeySet.import_key_set(fetch_jwks(idp.jwks_uri))
        decoded = jose_jwt.decode(token, keys, algorithms=idp.keys.algorithms())
        check_typ(decoded.header)
        registry.validate(decoded.claims)
        return decoded.claims

    return verify


def jwcrypto_verifier(idp: MockIdP) -> Verifier:
    from jwcrypto import jwk
    from jwcrypto import jwt as jwc_jwt

    def verify(token: str) -> Any:
        keys = jwk.JWKSet.from_json(json.dumps(fetch_jwks(idp.jwks_uri)))
        checked = jwc_jwt.JWT(
            jwt=token, key=keys, algs=idp.keys.algorithms(), expected_type="JWS",
            check_claims={"iss": idp.issuer, "aud": idp.audience, "exp": None, "nbf": None,
                          "iat": None, "sub": None},
        )
        check_typ(json.loads(checked.header))
        return json.loads(checked.claims)

    return verify


def python_jose_verifier(idp: MockIdP) -> Verifier:
    from jose import jwt as jose_jwt

    def verify(token: str) -> Any:
        header = jose_jwt.get_unverified_header(token)
        keys = [k for k in fetch_jwks(idp.jwks_uri)["keys"] if k.get("kid") == header.get("kid")]
        if len(keys) != 1:  # python-jose would try every key; pick by kid first
            raise ValueError(f"no single key for kid {header.get('kid')!r}")
        check_typ(header)
        return jose_jwt.decode(token, keys[0], algorithms=[keys[0]["alg"]],
                               audience=idp.audience, issuer=idp.issuer,
                               options={"require_exp": True, "require_iat": True,
                                        "require_sub": True, "require_aud": True,
                                        "require_iss": True, "require_nbf": True})

    return verify


VERIFIERS: dict[str, Callable[[MockIdP], Verifier]] = {
    "pyjwt": pyjwt_verifier,
    "joserfc": joserfc_verifier,
    "jwcrypto": jwcrypto_verifier,
}
