from __future__ import annotations

import json
import urllib.request

from mockidp import MockIdP
from mockidp.web.control import ROUTES, openapi


def test_every_route_has_a_handler_and_is_documented() -> None:
    document = openapi("http://127.0.0.1")
    documented = {(path, method.upper()) for path, ops in document["paths"].items()
                  for method in ops}
    routes = {("/_mockidp" + r.path.replace("<kid>", "{kid}").replace("<name>", "{name}"),
               r.method) for r in ROUTES}
    assert documented == routes
    for route in ROUTES:
        assert callable(route.handler), route.name
    assert len({(r.path, r.method) for r in ROUTES}) == len(ROUTES)


def test_served_openapi_document_is_the_built_one(idp: MockIdP) -> None:
    with urllib.request.urlopen(idp.issuer + "/_mockidp/openapi.json", timeout=5) as response:
        assert json.load(response) == openapi(idp.issuer)


def test_no_private_material_through_the_control_api(idp: MockIdP) -> None:
    for alg in ("RS256", "ES256", "EdDSA", "HS256"):
        idp.keys.add(alg)
    with urllib.request.urlopen(idp.issuer + "/_mockidp/keys", timeout=5) as response:
        text = response.read().decode()
    for key in idp.keys:
        if key.secret is not None:
            assert key.secret.hex() not in text
    for jwk in (k["public_jwk"] for k in json.loads(text)["keys"]):
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk or {})


def test_out_of_range_clock_moves_are_400s(idp: MockIdP) -> None:
    import requests

    response = requests.post(idp.issuer + "/_mockidp/clock", json={"advance": 1e308}, timeout=5)
    assert response.status_code == 400 and "outside 1970-01-01" in response.text
    assert requests.get(idp.jwks_uri, timeout=5).status_code == 200


def test_health_answers_without_the_control_token_and_says_nothing_else() -> None:
    import requests

    with MockIdP(control_token="s3cret-s3cret-s3cret") as provider:
        response = requests.get(provider.issuer + "/_mockidp/health", timeout=5)
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        # A probe calls the pod's address: any Host is answered, with the same constant.
        response = requests.get(provider.issuer + "/_mockidp/health", timeout=5,
                                headers={"Host": "10.1.2.3:8080"})
        assert response.json() == {"status": "ok"}
        refused = requests.get(provider.issuer + "/_mockidp/state", timeout=5)
        assert refused.status_code == 401  # everything else still needs the token
        assert provider.requests == []  # the control API is not the consumer's traffic
        assert "/_mockidp/health" not in openapi(provider.issuer)["paths"]  # all of those need it


def test_rules_through_the_control_api_and_remote_last_until_reset(idp: MockIdP) -> None:
    import requests

    from mockidp import RemoteIdP

    remote = RemoteIdP(idp.issuer)
    answer = remote.add_rule({"client_id": "re:mockidp-.*"}, {"roles": ["${client_id}"]})
    assert answer == {"match": {"client_id": "re:mockidp-.*"},
                      "claims": {"roles": ["${client_id}"]}}
    remote.add_rule({}, {"roles": ["later"]})  # later rules win
    client_id = idp.clients.default.client_id
    assert idp.verify(remote.token())["roles"] == ["later"]
    remote.reset()
    assert "roles" not in idp.verify(remote.token())
    response = requests.post(idp.issuer + "/_mockidp/rules", timeout=5,
                             json={"match": {"colour": "x"}, "claims": {"a": 1}})
    assert response.status_code == 400
    assert "rule.match.colour: unknown field" in response.json()["error_description"]
    remote.add_rule({"client_id": client_id}, {"roles": ["${client_id}"]})
    assert idp.verify(remote.token())["roles"] == [client_id]
