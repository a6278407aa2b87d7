"""fastapi-azure-auth (profile `entra`, its production URL intercepted)

The dependency is configured as in production — a tenant id, no URL: it builds
`https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration` itself — and
the test runs inside `idp.intercept()` (`intercept=True` on the marker), where that host is the
provider, over TLS verified against the provider's test CA. The dependency reads Entra ID's
discovery document and its keys once, and again only when they are 24 hours old: an unknown
`kid` is never refetched, so a rotated-in key is refused (401) and a revoked one accepted until
the next day, and cached keys ride out any outage. It keeps only JWKs with `use: "sig"` and a
`kid`, parses each as RSA — one EC key in the set fails the whole load (the `entra` profile
publishes RSA keys only, as Entra ID does) — and needs `ver`, `nbf`, `iat` and `sub` in the
token. Its cache lives on the dependency object: make one per test, or set
`auth.openid_config._config_timestamp = None` to force a reload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI, Security
from fastapi.testclient import TestClient
from fastapi_azure_auth.auth import AzureAuthorizationCodeBearerBase

if TYPE_CHECKING:
    from mockidp import MockIdP

PROFILE = "entra"
INTERCEPT = True


def make_verifier(idp: MockIdP) -> Any:
    auth = AzureAuthorizationCodeBearerBase(
        app_client_id=idp.audience, tenant_id=idp.layout.options["tenant_id"])
    app = FastAPI()

    @app.get("/me")
    async def me(user: Any = Security(auth)) -> dict[str, Any]:  # noqa: B008 (FastAPI's way)
        return dict(user.claims)

    client = TestClient(app)

    def verify(token: str) -> dict[str, Any]:
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise PermissionError(f"{response.status_code}: {response.text}")
        return dict(response.json())

    verify.auth = auth  # type: ignore[attr-defined]
    return verify


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
def test_accepts_a_valid_token(idp: MockIdP) -> None:
    claims = make_verifier(idp)(idp.token(sub="alice"))
    assert claims["iss"] == f"https://login.microsoftonline.com/{claims['tid']}/v2.0"
    assert claims["sub"] == "alice" and claims["ver"] == "2.0" and "tid" in claims


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "wrong-audience"])
def test_rejects_a_faulty_token(idp: MockIdP, fault: str) -> None:
    with pytest.raises(PermissionError, match="401"):
        make_verifier(idp)(idp.token(fault=fault))


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
def test_a_rotated_key_waits_for_the_daily_refresh(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.keys.rotate()
    with pytest.raises(PermissionError, match="401"):
        verify(idp.token())
    verify.auth.openid_config._config_timestamp = None  # what a day later does
    verify(idp.token())
    assert len(idp.requests_to("jwks")) == 2


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
def test_one_ec_key_breaks_the_whole_key_set(idp: MockIdP) -> None:
    idp.keys.add("ES256", activate=False)
    with pytest.raises(PermissionError):
        make_verifier(idp)(idp.token())


@pytest.mark.idp(profile=PROFILE, intercept=INTERCEPT)
def test_cached_keys_ride_out_an_outage(idp: MockIdP) -> None:
    verify = make_verifier(idp)
    verify(idp.token())
    idp.endpoint("jwks").fail(503)
    idp.endpoint("discovery").fail(503)
    verify(idp.token())
