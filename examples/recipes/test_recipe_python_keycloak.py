"""python-keycloak — `KeycloakOpenID.decode_token` (profile `keycloak`)

`decode_token` fetches the realm's keys from
`{server_url}realms/{realm}/protocol/openid-connect/certs` on every call (no cache), so it sees
rotation and revocation at once and fails during an outage. It verifies through jwcrypto and,
unless you pass `check_claims`, checks only `exp` and `nbf`: pass the issuer and audience
you expect, and `algs`, as below. `MockIdP(profile="keycloak", realm=...)` serves the realm's
paths and publishes each key with its certificate (`x5c`), as Keycloak does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from jwcrypto.common import JWException
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

if TYPE_CHECKING:
    from mockidp import MockIdP

PROFILE = "keycloak"
OPTIONS = {"realm": "demo"}


def make_verifier(idp: MockIdP) -> Any:
    keycloak = KeycloakOpenID(server_url=idp.base_url + "/",
                              realm_name=idp.layout.options["realm"],
                              client_id=idp.clients.default.client_id)

    def verify(token: str) -> dict[str, Any]:
        return dict(keycloak.decode_token(
            token, algs=["RS256"], check_claims={"iss": idp.issuer, "aud": idp.audience,
                                                 "exp": None, "sub": None}))

    return verify


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
def test_accepts_a_valid_token(idp: MockIdP) -> None:
    claims = make_verifier(idp)(idp.token(sub="alice"))
    assert claims["sub"] == "alice" and claims["aud"] == "account"
    assert "default-roles-demo" in claims["realm_access"]["roles"]


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-issuer"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises((JWException, ValueError)):
        make_verifier(idp)(idp.token(fault=fault))


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
def test_rotation_and_revocation_show_at_once(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    idp.keys.rotate()
    verify(idp.token())
    idp.keys.revoke(old.kid)
    with pytest.raises(JWException):
        verify(idp.token(kid=old.kid))


@pytest.mark.idp(profile=PROFILE, **OPTIONS)
def test_an_outage_fails_every_request(idp: MockIdP) -> None:
    idp.endpoint("jwks").fail(503)
    with pytest.raises(KeycloakError):
        make_verifier(idp)(idp.token())
