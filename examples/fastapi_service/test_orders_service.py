"""Testing the FastAPI service against mockidp: valid tokens, faults, rotation, outage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from orders_service import Settings, create_app

if TYPE_CHECKING:
    from mockidp import MockIdP


@pytest.fixture
def client(idp: MockIdP) -> TestClient:
    settings = Settings(issuer=idp.issuer, audience=idp.audience, jwks_uri=idp.jwks_uri)
    return TestClient(create_app(settings))


def call(client: TestClient, token: str) -> int:
    return client.get("/orders", headers={"Authorization": f"Bearer {token}"}).status_code


def test_valid_token(client: TestClient, idp: MockIdP) -> None:
    response = client.get("/orders", headers={
        "Authorization": f"Bearer {idp.token(sub='alice', scope='orders:read')}"})
    assert response.status_code == 200 and response.json()["owner"] == "alice"
    assert call(client, idp.token(scope="profile")) == 403


@pytest.mark.parametrize("fault", ["expired", "bad-signature", "alg-none", "alg-confusion",
                                   "wrong-issuer", "wrong-audience", "unknown-kid",
                                   "jku-injection", "missing-exp"])
def test_faults_are_rejected(client: TestClient, idp: MockIdP, fault: str) -> None:
    assert call(client, idp.token(scope="orders:read", fault=fault)) == 401


def test_rotation_costs_one_jwks_fetch(client: TestClient, idp: MockIdP) -> None:
    for _ in range(5):
        assert call(client, idp.token(scope="orders:read")) == 200
    idp.keys.rotate()
    for _ in range(5):
        assert call(client, idp.token(scope="orders:read")) == 200
    assert len(idp.requests_to("jwks")) == 2


def test_cached_keys_ride_out_a_jwks_outage(client: TestClient, idp: MockIdP) -> None:
    assert call(client, idp.token(scope="orders:read")) == 200
    idp.endpoint("jwks").fail(503)
    assert call(client, idp.token(scope="orders:read")) == 200


def test_es256_provider(client: TestClient, idp: MockIdP) -> None:
    assert call(client, idp.token(alg="ES256", scope="orders:read")) == 200
