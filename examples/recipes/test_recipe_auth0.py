"""auth0-python — `TokenVerifier` (profile `auth0`, its production URL intercepted)

The verifier is configured from the tenant's domain, as in production
(`https://{tenant}.auth0.com/`), and runs inside `idp.intercept()` (`intercept=True` on the
marker; the `auth0` profile's `tenant` option names the host). `TokenVerifier` checks Auth0 ID
tokens: RS256 signature, `iss` (Auth0's ends with `/`, and so does
`MockIdP(profile="auth0")`'s), `aud` = your client id, `exp`, `iat`, `sub`, and `nonce` /
`max_age` when you pass them. Its key fetcher caches the JWKS for 600 s per instance; an
unknown `kid` forces one refetch (rotation works), a revoked key stays trusted until the cache
expires, and cached keys ride out an outage — but a forced refetch that fails empties the
cache, so an unknown `kid` during an outage breaks every token until the JWKS is back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from auth0.authentication.exceptions import TokenValidationError
from auth0.authentication.token_verifier import AsymmetricSignatureVerifier, TokenVerifier

if TYPE_CHECKING:
    from mockidp import MockIdP

PROFILE = "auth0"
OPTIONS = {"tenant": "acme"}
INTERCEPT = True
AUDIENCE = "client"  # ID tokens: the audience is the client id
DOMAIN = "acme.auth0.com"


def make_verifier(idp: MockIdP) -> Any:
    verifier = TokenVerifier(
        signature_verifier=AsymmetricSignatureVerifier(f"https://{DOMAIN}/.well-known/jwks.json"),
        issuer=f"https://{DOMAIN}/", audience=idp.clients.default.client_id)

    def verify(id_token: str) -> dict[str, Any]:
        return dict(verifier.verify(id_token))

    return verify


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_accepts_a_valid_id_token(idp: MockIdP) -> None:
    assert idp.issuer == f"https://{DOMAIN}/"
    assert make_verifier(idp)(idp.id_token(sub="alice"))["sub"] == "alice"


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-issuer"])
def test_rejects_a_faulty_id_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises(TokenValidationError):
        make_verifier(idp)(idp.id_token(fault=fault))


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_rotation_refetches_and_revocation_waits_for_the_cache(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    old = idp.keys.active
    verify(idp.id_token())
    idp.keys.rotate()
    verify(idp.id_token())
    assert len(idp.requests_to("jwks")) == 2
    idp.keys.revoke(old.kid)
    verify(idp.id_token(kid=old.kid))  # accepted from the cache


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT, **OPTIONS)
def test_an_unknown_kid_during_an_outage_empties_the_cache(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.id_token())
    idp.endpoint("jwks").fail(503)
    verify(idp.id_token())  # the cache carries it
    with pytest.raises(TokenValidationError):
        verify(idp.id_token(fault="unknown-kid"))
    with pytest.raises(TokenValidationError):
        verify(idp.id_token())  # the failed refetch dropped every key
