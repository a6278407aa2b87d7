"""mozilla-django-oidc — `OIDCAuthenticationBackend.verify_token`

The backend fetches `OIDC_OP_JWKS_ENDPOINT` on every login (no discovery, no cache), so it
sees rotation and revocation at once and fails during an outage. It checks the signature,
`exp`/`nbf`/`iat` when present and the nonce — not `iss` or `aud`: a token minted for another
client or by another issuer passes. Its default algorithm is HS256; set `OIDC_RP_SIGN_ALGO`
to the provider's (`RS256`). Settings are read when the backend is made, so build it under
`override_settings` pointing at the mock provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django
import pytest
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.test import override_settings

if not settings.configured:
    settings.configure(INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
                       DATABASES={}, USE_TZ=True)
    django.setup()

from mozilla_django_oidc.auth import OIDCAuthenticationBackend

if TYPE_CHECKING:
    from mockidp import MockIdP

NONCE = "n-0S6_WzA2Mj"
#: Claims every ID token put to this backend carries (the nonce of the login).
CLAIMS = {"nonce": NONCE}


def make_verifier(idp: MockIdP) -> Any:
    client = idp.clients.default
    with override_settings(
        OIDC_RP_CLIENT_ID=client.client_id, OIDC_RP_CLIENT_SECRET=client.client_secret,
        OIDC_OP_AUTHORIZATION_ENDPOINT=idp.authorization_endpoint,
        OIDC_OP_TOKEN_ENDPOINT=idp.token_endpoint, OIDC_OP_USER_ENDPOINT=idp.userinfo_endpoint,
        OIDC_OP_JWKS_ENDPOINT=idp.jwks_uri, OIDC_RP_SIGN_ALGO="RS256",
    ):
        backend = OIDCAuthenticationBackend()

    def verify(id_token: str) -> dict[str, Any]:
        return dict(backend.verify_token(id_token, nonce=NONCE))

    return verify


def test_accepts_a_valid_id_token(idp: MockIdP) -> None:
    assert make_verifier(idp)(idp.id_token(sub="alice", nonce=NONCE))["sub"] == "alice"


@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "unknown-kid"])
def test_rejects_a_faulty_id_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 (PyJWT's errors or SuspiciousOperation)
        make_verifier(idp)(idp.id_token(nonce=NONCE, fault=fault))


def test_issuer_and_audience_are_not_checked(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.id_token(nonce=NONCE, fault="wrong-issuer"))
    verify(idp.id_token(nonce=NONCE, fault="wrong-audience"))


def test_rotation_and_revocation_show_at_once(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    idp.keys.rotate()
    verify(idp.id_token(nonce=NONCE))
    idp.keys.revoke(old.kid)
    with pytest.raises(SuspiciousOperation):
        verify(idp.id_token(kid=old.kid, nonce=NONCE))


def test_an_outage_fails_every_login(idp: MockIdP) -> None:
    idp.endpoint("jwks").fail(503)
    with pytest.raises(Exception, match="503"):
        make_verifier(idp)(idp.id_token(nonce=NONCE))
