"""google-auth — `google.oauth2.id_token` (profile `google`, its production URLs intercepted)

`verify_oauth2_token` is called as in production: it fetches Google's certificates from
`https://www.googleapis.com/oauth2/v1/certs` and wants `iss` to be `accounts.google.com` (with
or without `https://`); inside `idp.intercept()` (`intercept=True` on the marker) both hosts
are the provider's. It fetches on every call (no cache, unless you pass a caching session) and
`verify_token(certs_url=...)` reads either format Google serves: the `{kid: PEM certificate}`
map of `/oauth2/v1/certs` or the JWKS of `/oauth2/v3/certs`; `MockIdP(profile="google")`
serves both at those paths. It checks the signature, `aud`, `exp` and `iat` (and
`verify_oauth2_token` the issuer; `verify_token` never does). On the certificate path a token
without `kid` is tried against every certificate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import google.auth.transport.requests
import pytest
from google.auth import exceptions
from google.oauth2 import id_token

if TYPE_CHECKING:
    from mockidp import MockIdP

PROFILE = "google"
INTERCEPT = True
GOOGLE_JWKS = "https://www.googleapis.com/oauth2/v3/certs"


def make_verifier(idp: MockIdP, certs_url: str | None = None) -> Any:
    request = google.auth.transport.requests.Request()

    def verify(token: str) -> dict[str, Any]:
        if certs_url is None:
            return dict(id_token.verify_oauth2_token(token, request, audience=idp.audience))
        return dict(id_token.verify_token(token, request, audience=idp.audience,
                                          certs_url=certs_url))

    return verify


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
def test_accepts_a_valid_id_token(idp: MockIdP) -> None:
    assert make_verifier(idp)(idp.id_token(aud=idp.audience, sub="alice"))["sub"] == "alice"
    jwks = make_verifier(idp, certs_url=GOOGLE_JWKS)
    assert jwks(idp.id_token(aud=idp.audience))["iss"] == "https://accounts.google.com"


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-issuer"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises((ValueError, exceptions.GoogleAuthError)):
        make_verifier(idp)(idp.id_token(aud=idp.audience, fault=fault))


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
def test_rotation_and_revocation_show_at_once(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    idp.keys.rotate()
    verify(idp.id_token(aud=idp.audience))
    idp.keys.revoke(old.kid)
    with pytest.raises(ValueError, match="Certificate for key id"):
        verify(idp.id_token(aud=idp.audience, kid=old.kid))
    assert len(idp.requests_to("certs")) == 2


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
def test_an_outage_fails_every_request(idp: MockIdP) -> None:
    idp.endpoint("certs").fail(503)
    with pytest.raises(exceptions.TransportError):
        make_verifier(idp)(idp.id_token(aud=idp.audience))
