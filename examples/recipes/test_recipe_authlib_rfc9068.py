"""Authlib — RFC 9068 resource server (`JWTBearerTokenValidator`)

The validator checks JWT access tokens as RFC 9068 profiles them: `typ: at+jwt` (a token with
no `typ` passes too), and `iss`, `exp`, `aud`, `sub`, `client_id`, `iat` and `jti` present.
Fetching and caching the JWKS is yours (`get_jwks`): this recipe fetches on every call, so it
sees rotation and revocation at once and fails during an outage. It accepts only HS256,
RS256 and ES256 (joserfc's recommended set). mockidp mints RFC 9068 tokens with
`idp.token(typ="at+jwt")`, which adds `client_id`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc.jwk import KeySet

if TYPE_CHECKING:
    from mockidp import MockIdP

#: The token type this resource server expects.
TYP = "at+jwt"


def make_verifier(idp: MockIdP) -> Any:
    class Validator(JWTBearerTokenValidator):  # type: ignore[misc]
        def get_jwks(self) -> Any:
            metadata = requests.get(idp.discovery_url, timeout=5).json()
            response = requests.get(metadata["jwks_uri"], timeout=5)
            response.raise_for_status()
            return KeySet.import_key_set(response.json())

    validator = Validator(issuer=idp.issuer, resource_server=idp.audience)

    def verify(token: str) -> dict[str, Any]:
        claims = validator.authenticate_token(token)
        validator.validate_token(claims, scopes=None, request=None)
        return dict(claims)

    return verify


def test_accepts_a_valid_access_token(idp: MockIdP) -> None:
    claims = make_verifier(idp)(idp.token(typ=TYP, sub="alice"))
    assert claims["sub"] == "alice" and claims["client_id"] == idp.clients.default.client_id


@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-audience"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises(InvalidTokenError):
        make_verifier(idp)(idp.token(typ=TYP, fault=fault))


def test_an_id_token_is_no_access_token(idp: MockIdP) -> None:
    with pytest.raises(InvalidTokenError):
        make_verifier(idp)(idp.token(typ="JWT"))  # wrong typ


def test_rotation_and_revocation_show_at_once(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    verify(idp.token(typ=TYP))
    idp.keys.rotate()
    verify(idp.token(typ=TYP))
    idp.keys.revoke(old.kid)
    with pytest.raises(InvalidTokenError):
        verify(idp.token(typ=TYP, kid=old.kid))
    assert len(idp.requests_to("jwks")) == 3


def test_an_outage_fails_every_request(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token(typ=TYP))
    idp.endpoint("jwks").fail(503)
    with pytest.raises(requests.HTTPError):
        verify(idp.token(typ=TYP))


def test_the_audit_finds_it_sound(idp: MockIdP) -> None:
    """Every catalog fault through the validator: no critical or high finding."""
    import mockidp

    mockidp.audit(make_verifier(idp), idp, typ=TYP).assert_safe()
