"""The WSGI app through ``werkzeug.test.Client``: routing, headers and OAuth errors."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import jwt
import pytest
from werkzeug.test import Client

if TYPE_CHECKING:
    from mockidp import MockIdP

REQUIRED_DISCOVERY = {  # OIDC Discovery 1.0 §3 REQUIRED, plus what consumers need (RFC 8414)
    "issuer", "jwks_uri", "token_endpoint", "response_types_supported",
    "subject_types_supported", "id_token_signing_alg_values_supported",
}


@pytest.fixture
def client(idp: MockIdP) -> Client:
    return Client(idp.app)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def test_discovery_document(idp: MockIdP, client: Client) -> None:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200 and response.mimetype == "application/json"
    metadata = response.get_json()
    assert set(metadata) >= REQUIRED_DISCOVERY
    assert metadata["issuer"] == idp.issuer
    assert metadata["jwks_uri"] == idp.jwks_uri
    assert metadata["token_endpoint"] == idp.token_endpoint
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert client.get("/.well-known/oauth-authorization-server").get_json() == metadata


def test_discovery_follows_key_changes(idp: MockIdP, client: Client) -> None:
    client.get("/.well-known/openid-configuration")
    idp.keys.add("ES256")
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]


def test_jwks_response(idp: MockIdP, client: Client) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.get_json() == idp.jwks()
    assert client.head("/.well-known/jwks.json").status_code == 200


def test_unknown_path_and_wrong_method_are_json_errors(client: Client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "invalid_request"
    response = client.post("/.well-known/jwks.json")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["basic", "post"])
def test_client_credentials(idp: MockIdP, client: Client, method: str) -> None:
    default = idp.clients.default
    form = {"grant_type": "client_credentials", "scope": "read"}
    headers = {}
    if method == "basic":
        headers = basic(default.client_id, default.client_secret or "")
    else:
        form |= {"client_id": default.client_id, "client_secret": default.client_secret or ""}
    response = client.post("/token", data=form, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], idp.keys.active.public_key, algorithms=["RS256"],
                        audience=idp.audience, issuer=idp.issuer)
    assert claims["client_id"] == default.client_id and claims["scope"] == "read"


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        ({}, {}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, basic("mockidp-client", "wrong"), 401,
         "invalid_client"),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic !!!"}, 401,
         "invalid_client"),
        ({"grant_type": "client_credentials"}, {"Authorization": "Bearer x"}, 401,
         "invalid_client"),
        ({"grant_type": "magic"}, basic("mockidp-client", "mockidp-client-secret"), 400,
         "unsupported_grant_type"),
    ],
)
def test_token_errors(client: Client, form: dict, headers: dict, status: int, error: str) -> None:
    response = client.post("/token", data=form, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_token_needs_a_form_body(client: Client) -> None:
    response = client.post("/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_token_refuses_repeated_parameters(client: Client) -> None:
    response = client.post("/token", data="grant_type=a&grant_type=b",
                           content_type="application/x-www-form-urlencoded")
    assert response.get_json()["error_description"] == "parameter 'grant_type' is repeated"


def test_client_not_allowed_the_grant(idp: MockIdP, client: Client) -> None:
    idp.clients.add("web", "s3", grant_types=["authorization_code"])
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers=basic("web", "s3"))
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_handler_failure_is_a_500_and_check_raises(idp: MockIdP, client: Client) -> None:
    from mockidp import ServerError

    idp.keys.revoke(idp.keys.active.kid)  # the token endpoint has no key to sign with
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers=basic("mockidp-client", "mockidp-client-secret"))
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"
    with pytest.raises(ServerError, match="KeyStateError"):
        idp.check()
    idp.check()  # reported once


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/openid-configuration",
                                  "/.well-known/oauth-authorization-server"])
def test_fast_path_answers_like_the_general_path(idp: MockIdP, client: Client, path: str) -> None:
    idp.clock.freeze(2_000_000_000)
    sent = {"User-Agent": "probe/1", "Content-Type": "text/plain"}
    peer = {"REMOTE_ADDR": "192.0.2.7"}
    fast = client.get(path + "?probe=1", headers=sent, environ_base=peer)
    name = next(r.endpoint for r in idp.requests if r.path == path)
    idp.endpoint(name).headers({})  # any control sends the request down the general path
    general = client.get(path + "?probe=1", headers=sent, environ_base=peer)
    assert fast.get_data() == general.get_data()
    assert sorted(fast.headers.items()) == sorted(general.headers.items())
    first, second = idp.requests
    assert (first.method, first.path, first.endpoint, first.status, dict(first.query)) == (
        second.method, second.path, second.endpoint, second.status, dict(second.query))
    assert first.user_agent == second.user_agent == "probe/1"
    assert first.remote_addr == second.remote_addr == "192.0.2.7"
    assert dict(first.headers) == dict(second.headers)  # the log records the same request
    assert client.head(path).get_data() == b""


def test_request_log_lines_never_show_secrets_or_tokens(idp: MockIdP, client: Client,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    token = idp.id_token()
    with caplog.at_level(logging.INFO, logger="mockidp.requests"):
        client.get("/logout", query_string={"id_token_hint": token, "state": "s1"})
        client.get("/.well-known/jwks.json", query_string={"client_secret": "hunter2"})
    text = caplog.text
    assert token not in text and "hunter2" not in text
    assert "id_token_hint=***" in text and "state=s1" in text


def test_fast_path_records_a_query_as_the_general_path_does(idp: MockIdP, client: Client
                                                            ) -> None:
    client.get("/.well-known/jwks.json?d=%E4%B8")
    idp.endpoint("jwks").headers({})  # the general path
    client.get("/.well-known/jwks.json?d=%E4%B8")
    first, second = idp.requests
    assert dict(first.query) == dict(second.query) == {"d": "%E4%B8"}
