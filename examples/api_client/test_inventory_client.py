from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from inventory_client import InventoryClient

if TYPE_CHECKING:
    from mockidp import MockIdP


@pytest.fixture
def client(idp: MockIdP) -> InventoryClient:
    registered = idp.clients.add("inventory-cli", "cli-secret")
    return InventoryClient(idp.token_endpoint, registered.client_id,
                           registered.client_secret or "")


def test_one_token_for_many_calls(client: InventoryClient, idp: MockIdP) -> None:
    tokens = {client.headers()["Authorization"] for _ in range(10)}
    assert len(tokens) == 1 and len(idp.requests_to("token")) == 1
    claims = idp.verify(client.access_token())
    assert claims["client_id"] == "inventory-cli" and claims["scope"] == "inventory:read"


def test_a_failed_token_request_is_retried_once(client: InventoryClient, idp: MockIdP) -> None:
    idp.endpoint("token").fail(503, times=1)
    assert client.access_token()
    assert [r.status for r in idp.requests_to("token")] == [503, 200]


def test_a_lasting_outage_surfaces(client: InventoryClient, idp: MockIdP) -> None:
    idp.endpoint("token").fail(503)
    with pytest.raises(requests.HTTPError):
        client.access_token()


def test_wrong_secret_is_not_retried(idp: MockIdP) -> None:
    client = InventoryClient(idp.token_endpoint, "inventory-cli", "wrong")
    idp.clients.add("inventory-cli", "cli-secret")
    with pytest.raises(requests.HTTPError):
        client.access_token()
    assert [r.status for r in idp.requests_to("token")] == [401]
