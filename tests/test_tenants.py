from __future__ import annotations

import jwt
import pytest
import requests

from mockidp import ConfigurationError, MockIdP


def verify(issuer_idp: MockIdP, token: str) -> dict:
    metadata = requests.get(issuer_idp.discovery_url, timeout=5).json()
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=["RS256"], issuer=metadata["issuer"],
                      audience=issuer_idp.audience)


def test_two_tenants_on_one_server(idp: MockIdP) -> None:
    a, b = idp.tenant("a"), idp.tenant("b")
    assert a.issuer == idp.issuer + "/a" and b.jwks_uri == idp.issuer + "/b/.well-known/jwks.json"
    assert a.port == idp.port
    assert a.keys.active.kid != b.keys.active.kid != idp.keys.active.kid
    token_a = a.token()
    assert verify(a, token_a)["iss"] == a.issuer
    with pytest.raises(jwt.PyJWTError):  # B's consumer does not know A's key
        verify(b, token_a)
    assert [r.path for r in a.requests] == ["/a/.well-known/openid-configuration",
                                            "/a/.well-known/jwks.json"]
    assert len(b.requests) == 2 and idp.requests == []


def test_tenant_token_endpoint_and_faults(idp: MockIdP) -> None:
    realm = idp.tenant("realm-1")
    client = realm.clients.add("svc", "s")
    response = requests.post(realm.token_endpoint, data={"grant_type": "client_credentials"},
                             auth=("svc", "s"), timeout=5)
    assert realm.verify(response.json()["access_token"])["iss"] == realm.issuer
    assert requests.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                         auth=(client.client_id, "s"), timeout=5).status_code == 401
    realm.endpoint("jwks").fail(503)
    assert requests.get(realm.jwks_uri, timeout=5).status_code == 503
    assert requests.get(idp.jwks_uri, timeout=5).status_code == 200


def test_tenants_go_away_with_reset_and_keep_their_keys(idp: MockIdP) -> None:
    kid = idp.tenant("t").keys.active.kid
    idp.tenant("t").keys.rotate()
    idp.reset()
    assert idp.tenants == {}
    assert requests.get(idp.issuer + "/t/.well-known/jwks.json", timeout=5).status_code == 404
    again = idp.tenant("t")
    assert again.keys.active.kid == kid and len(again.keys) == 1


@pytest.mark.parametrize("name", ["", "a/b", "token", ".well-known", "_mockidp", "x" * 65, 7])
def test_bad_tenant_names(idp: MockIdP, name: object) -> None:
    with pytest.raises(ConfigurationError, match="tenant name"):
        idp.tenant(name)  # type: ignore[arg-type]


def test_tenants_are_served_by_their_parent(idp: MockIdP) -> None:
    tenant = idp.tenant("a")
    with pytest.raises(ConfigurationError, match="parent's server"):
        tenant.stop()
    with pytest.raises(ConfigurationError, match="do not nest"):
        tenant.tenant("b")


def test_a_tenants_control_api_takes_the_parents_token() -> None:
    """A tenant's control routes are guarded like the provider's own: with a control token set,
    every one of them answers 401 without it (and works with it)."""
    from mockidp.web.control import ROUTES

    secret = "a-control-token-of-some-length"
    with MockIdP(control_token=secret) as idp:
        base = idp.tenant("acme").issuer + "/_mockidp"
        for route in ROUTES:
            path = route.path.replace("<kid>", "k").replace("<name>", "jwks")
            answer = requests.request(route.method, base + path, json={}, timeout=5)
            assert answer.status_code == 401, (route.method, path, answer.status_code)
        for page in ("/ui", "/ui/rotate"):
            assert requests.post(base + page, timeout=5).status_code in (401, 405)
        assert requests.get(base + "/ui", timeout=5).status_code == 401
        assert requests.get(base + "/state", timeout=5,
                            headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_a_tenant_set_up_before_start_keeps_its_setup_across_resets() -> None:
    """As `mockidp serve --config` sets tenants up: before the server starts."""
    idp = MockIdP()
    tenant = idp.tenant("acme")
    tenant.users.add("bob", password="pw")
    tenant.keys.add("ES256", kid="ec-acme")
    with idp:
        idp.reset()
        assert idp.tenants["acme"] is tenant
        assert "bob" in tenant.users and "ec-acme" in tenant.keys
