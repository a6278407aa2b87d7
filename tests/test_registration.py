"""Dynamic client registration (RFC 7591), its management (RFC 7592) and client ID metadata
documents, over HTTP on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from mockidp import ConfigurationError, MockIdP

REDIRECT = "http://127.0.0.1:9/cb"


def register(idp: MockIdP, metadata: Any, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(idp.url_for("register"), json=metadata, headers=headers, timeout=5)


def test_rfc7591_3_2_1_registered_client_works(idp: MockIdP) -> None:
    """RFC 7591 §3.2.1: 201 with client_id, client_secret, client_secret_expires_at and the
    metadata as registered; the client is in idp.clients and gets tokens."""
    answer = register(idp, {"redirect_uris": [REDIRECT], "client_name": "Demo",
                            "grant_types": ["authorization_code", "client_credentials"]})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["client_name"] == "Demo" and body["client_secret_expires_at"] == 0
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["response_types"] == ["code"]
    assert body["client_id"] in idp.clients
    token = requests.post(idp.token_endpoint, auth=(body["client_id"], body["client_secret"]),
                          data={"grant_type": "client_credentials"}, timeout=5)
    assert token.status_code == 200
    assert idp.url_for("register") == requests.get(
        idp.discovery_url, timeout=5).json()["registration_endpoint"]


@pytest.mark.parametrize(("metadata", "error"), [
    ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
    ({"grant_types": ["authorization_code"]}, "invalid_redirect_uri"),
    ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "tls_client_auth"},
     "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "response_types": ["token"]}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"],
      "response_types": ["code"]}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"},
     "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "jwks": {"keys": []}, "jwks_uri": "http://127.0.0.1/k"},
     "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": "XX1"},
     "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "dpop_bound_access_tokens": "yes"},
     "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "software_statement": "e30.e30."},
     "invalid_software_statement"),
    ([1, 2], "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
      "jwks": {"keys": [1]}}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
      "jwks": {"keys": [{"kid": "no-kty"}]}}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "client_name": "x" * 5000}, "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "contacts": ["a@example.test"] * 300},
     "invalid_client_metadata"),
    ({"redirect_uris": [REDIRECT], "client_name": "x" * 4000, "client_uri": "x" * 4000,
      "tos_uri": "x" * 4000, "policy_uri": "x" * 4000, "logo_uri": "x" * 4000},
     "invalid_client_metadata"),
])
def test_rfc7591_3_2_2_errors(idp: MockIdP, metadata: Any, error: str) -> None:
    """RFC 7591 §3.2.2: 400 with the error code for each kind of bad metadata (§2, §2.1
    grant/response type consistency; jwks keys that are not JWK objects, RFC 7517 §4, §5;
    a body over 16 KiB, a string over 4 KiB or more than 256 JSON values); nothing is
    registered."""
    before = len(idp.clients)
    answer = register(idp, metadata)
    assert answer.status_code == 400 and answer.json()["error"] == error, answer.text
    assert len(idp.clients) == before


def test_rfc7591_3_initial_access_token(idp: MockIdP) -> None:
    """RFC 7591 §3: with an initial access token set, registration needs it (401
    invalid_token otherwise)."""
    idp.registrations.initial_access_token = "let-me-in"
    assert register(idp, {"redirect_uris": [REDIRECT]}).status_code == 401
    assert register(idp, {"redirect_uris": [REDIRECT]}, "wrong").status_code == 401
    assert register(idp, {"redirect_uris": [REDIRECT]}, "let-me-in").status_code == 201


def test_rfc7592_read_update_delete(idp: MockIdP) -> None:
    """RFC 7592 §2.1-2.3 with the registration access token: GET 200, PUT replaces the
    metadata (same client_id and secret), DELETE 204 and the client is gone; a wrong token
    is 401."""
    body = register(idp, {"redirect_uris": [REDIRECT], "client_name": "A"}).json()
    uri, auth = body["registration_client_uri"], {
        "Authorization": f"Bearer {body['registration_access_token']}"}
    assert requests.get(uri, timeout=5).status_code == 401
    read = requests.get(uri, headers=auth, timeout=5)
    assert read.status_code == 200 and read.json()["client_name"] == "A"
    updated = requests.put(uri, headers=auth, timeout=5, json={
        "client_id": body["client_id"], "redirect_uris": [REDIRECT], "client_name": "B"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["client_secret"] == body["client_secret"]
    assert idp.clients[body["client_id"]].metadata["client_name"] == "B"
    assert requests.delete(uri, headers=auth, timeout=5).status_code == 204
    assert body["client_id"] not in idp.clients
    assert requests.get(uri, headers=auth, timeout=5).status_code == 401


def test_rfc7591_3_2_1_client_id_issued_at_is_the_registration_time(idp: MockIdP) -> None:
    """RFC 7591 §3.2.1: client_id_issued_at is the time the client identifier was issued:
    every later read (RFC 7592 §2.1) and update (§2.2) answers the same value."""
    body = register(idp, {"redirect_uris": [REDIRECT]}).json()
    issued = body["client_id_issued_at"]
    assert issued == int(idp.clock.time())
    idp.clock.advance(1000)
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    uri = body["registration_client_uri"]
    assert requests.get(uri, headers=auth, timeout=5).json()["client_id_issued_at"] == issued
    updated = requests.put(uri, headers=auth, timeout=5, json={
        "client_id": body["client_id"], "redirect_uris": [REDIRECT]})
    assert updated.json()["client_id_issued_at"] == issued


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_rfc7592_3_a_client_removed_elsewhere_is_401(idp: MockIdP, method: str) -> None:
    """RFC 7592 §3: for a client that no longer exists (removed with idp.clients.remove or
    the control API) the management endpoint answers 401 invalid_token, not a 5xx, and
    the registration access token is revoked."""
    body = register(idp, {"redirect_uris": [REDIRECT]}).json()
    idp.clients.remove(body["client_id"])
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    answer = requests.request(method, body["registration_client_uri"], headers=auth, timeout=5,
                              json={"client_id": body["client_id"],
                                    "redirect_uris": [REDIRECT]})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    idp.clients.add(body["client_id"], "s", redirect_uris=[REDIRECT])
    again = requests.get(body["registration_client_uri"], headers=auth, timeout=5)
    assert again.status_code == 401  # the token was forgotten with the client


def test_rfc7592_3_a_token_does_not_manage_a_client_added_again_under_its_id(
        idp: MockIdP) -> None:
    """RFC 7592 §3: the registration access token manages the client it was issued for. A
    client removed and added again under the same client_id is another client: the old
    token gets 401 invalid_token and does not read its secret. An update through the token
    (RFC 7592 §2.2) keeps it managing the updated client."""
    body = register(idp, {"redirect_uris": [REDIRECT]}).json()
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    updated = requests.put(body["registration_client_uri"], headers=auth, timeout=5,
                           json={"client_id": body["client_id"],
                                 "redirect_uris": [REDIRECT, REDIRECT + "2"]})
    assert updated.status_code == 200, updated.text
    read = requests.get(body["registration_client_uri"], headers=auth, timeout=5)
    assert read.status_code == 200 and len(read.json()["redirect_uris"]) == 2
    idp.clients.remove(body["client_id"])
    idp.clients.add(body["client_id"], "new-owner-secret", redirect_uris=[REDIRECT])
    for method in ("GET", "PUT", "DELETE"):
        answer = requests.request(method, body["registration_client_uri"], headers=auth,
                                  timeout=5, json={"client_id": body["client_id"],
                                                   "redirect_uris": [REDIRECT]})
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
        assert "new-owner-secret" not in answer.text
    assert idp.clients[body["client_id"]].client_secret == "new-owner-secret"


def test_public_client_registers_and_runs_pkce(idp: MockIdP) -> None:
    """RFC 7591 §2 token_endpoint_auth_method none: a public client, no secret issued."""
    body = register(idp, {"redirect_uris": [REDIRECT],
                          "token_endpoint_auth_method": "none"}).json()
    assert "client_secret" not in body
    assert idp.clients[body["client_id"]].public


DOCUMENT_URL = "https://app.example.test/oauth/client.json"


def test_client_id_metadata_document_registered(idp: MockIdP) -> None:
    """Client ID metadata documents: the client_id is the document's URL; the document
    comes from the provider's registry, never the internet."""
    idp.clients.add_metadata_document(DOCUMENT_URL, {
        "client_id": DOCUMENT_URL, "client_name": "App", "redirect_uris": [REDIRECT]})
    answer = requests.get(idp.url_for("authorize"), allow_redirects=False, timeout=5, params={
        "client_id": DOCUMENT_URL, "response_type": "code", "redirect_uri": REDIRECT,
        "code_challenge": "c" * 43, "code_challenge_method": "S256"})
    assert answer.status_code == 302 and "code=" in answer.headers["Location"]
    assert idp.clients[DOCUMENT_URL].public


@pytest.mark.parametrize("document", [
    {"client_id": "https://elsewhere.test/c.json", "redirect_uris": [REDIRECT]},
    {"client_id": DOCUMENT_URL, "redirect_uris": [REDIRECT],
     "token_endpoint_auth_method": "client_secret_basic"},
    {"client_id": DOCUMENT_URL, "redirect_uris": [REDIRECT], "client_secret": "x"},
])
def test_client_id_metadata_document_rules(idp: MockIdP, document: dict[str, Any]) -> None:
    """The draft: the document's client_id is its URL; no shared secret."""
    with pytest.raises(ConfigurationError):
        idp.clients.add_metadata_document(DOCUMENT_URL, document)


@pytest.fixture
def document_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
            body = json.dumps({"client_id": url, "redirect_uris": [REDIRECT]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/client.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_client_id_metadata_document_on_loopback(idp: MockIdP, document_server: str) -> None:
    """A client_id that is a loopback URL is fetched when the client shows up; one on
    another host is unknown (nothing is fetched from beyond the machine)."""
    answer = requests.get(idp.url_for("authorize"), allow_redirects=False, timeout=5, params={
        "client_id": document_server, "response_type": "code", "redirect_uri": REDIRECT,
        "code_challenge": "c" * 43, "code_challenge_method": "S256"})
    assert answer.status_code == 302, answer.text
    remote = requests.get(idp.url_for("authorize"), allow_redirects=False, timeout=5, params={
        "client_id": "https://example.com/client.json", "response_type": "code"})
    assert remote.status_code == 400


def test_a_provider_beyond_loopback_fetches_nothing_a_client_names(document_server: str) -> None:
    """Listening beyond loopback, the provider does not fetch a loopback URL a client names:
    whoever reaches it could otherwise make it call the machine's own services. The same
    metadata document registered with the provider still works."""
    with MockIdP(host="0.0.0.0", allow_remote=True, alg="ES256") as idp:
        assert idp.fetcher.enabled is False
        authorize = f"http://127.0.0.1:{idp.port}{idp.layout.path('authorize')}"
        params = {"client_id": document_server, "response_type": "code",
                  "redirect_uri": REDIRECT, "code_challenge": "c" * 43,
                  "code_challenge_method": "S256"}
        refused = requests.get(authorize, params=params, allow_redirects=False, timeout=5)
        assert refused.status_code == 400 and "unknown client" in refused.text
        idp.clients.add_metadata_document(document_server, {"client_id": document_server,
                                                            "redirect_uris": [REDIRECT]})
        answer = requests.get(authorize, params=params, allow_redirects=False, timeout=5)
        assert answer.status_code == 302


def test_registered_clients_show_in_the_control_api_and_dashboard(idp: MockIdP) -> None:
    """A dynamically registered client is one of idp.clients: GET /_mockidp/clients and the
    dashboard list it."""
    body = register(idp, {"redirect_uris": [REDIRECT], "client_name": "Shown"}).json()
    listed = requests.get(idp.issuer + "/_mockidp/clients", timeout=5).json()
    assert any(c["client_id"] == body["client_id"] and c["client_name"] == "Shown"
               for c in listed)
    page = requests.get(idp.issuer + "/_mockidp/ui", timeout=5).text
    assert f'data-client="{body["client_id"]}"' in page and "Shown" in page


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", b"{not json"),
    ("application/json", b"[" * 100_000),
    ("text/plain", b"{}"),
])
def test_rfc7591_malformed_bodies(idp: MockIdP, content_type: str, body: bytes) -> None:
    """RFC 7591 §3.2.2: a body that is not a JSON object is invalid_client_metadata (400),
    never a 5xx."""
    answer = requests.post(idp.url_for("register"), data=body, timeout=5,
                           headers={"Content-Type": content_type})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_metadata"


def test_registration_is_bounded(idp: MockIdP) -> None:
    """An open registration endpoint adds at most registrations.limit clients per reset."""
    idp.registrations.limit = 2
    for _ in range(2):
        assert register(idp, {"redirect_uris": [REDIRECT]}).status_code == 201
    assert register(idp, {"redirect_uris": [REDIRECT]}).status_code == 400


def test_reset_forgets_what_a_test_registered(idp: MockIdP) -> None:
    """idp.reset(): dynamically registered clients, their registration tokens, resources,
    pushed requests and the PAR and initial-token settings are back to the start-up state."""
    body = register(idp, {"redirect_uris": [REDIRECT]}).json()
    idp.resources.add("https://api.example.test/")
    idp.require_pushed_authorization_requests = True
    idp.registrations.initial_access_token = "t"
    client = idp.clients.default
    requests.post(idp.url_for("par"), auth=(client.client_id, client.client_secret or ""),
                  data={"response_type": "code", "redirect_uri": REDIRECT}, timeout=5)
    assert len(idp.pushed) == 1
    idp.reset()
    assert body["client_id"] not in idp.clients and len(idp.resources) == 0
    assert len(idp.pushed) == 0 and not idp.require_pushed_authorization_requests
    assert idp.registrations.initial_access_token is None
    assert not idp.registrations.authorized(body["client_id"],
                                            body["registration_access_token"])


def test_a_registered_dpop_client_must_send_proofs(idp: MockIdP) -> None:
    """RFC 9449 §5.2: a client registered with ``dpop_bound_access_tokens`` true gets no token
    without a DPoP proof, and with one its token is bound to the proof's key."""
    body = register(idp, {"grant_types": ["client_credentials"], "response_types": [],
                          "dpop_bound_access_tokens": True}).json()
    assert body["dpop_bound_access_tokens"] is True
    auth = (body["client_id"], body["client_secret"])
    form = {"grant_type": "client_credentials"}
    refused = requests.post(idp.token_endpoint, auth=auth, data=form, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
    key = idp.dpop_key()
    bound = requests.post(idp.token_endpoint, auth=auth, data=form, timeout=5,
                          headers={"DPoP": key.proof("POST", idp.token_endpoint)})
    assert bound.json()["token_type"] == "DPoP"
    assert idp.verify(bound.json()["access_token"])["cnf"] == {"jkt": key.jkt}


def test_rfc7591_2_1_hybrid_response_types_go_with_their_grant_types(idp: MockIdP) -> None:
    """RFC 7591 §2.1: a response type with a code needs authorization_code, one with a token
    or ID token needs implicit; the types served (OIDC Core §3.3) register in any order."""
    hybrid = register(idp, {"redirect_uris": [REDIRECT], "response_types": ["id_token code"],
                            "grant_types": ["authorization_code", "implicit"]})
    assert hybrid.status_code == 201, hybrid.text
    no_implicit = register(idp, {"redirect_uris": [REDIRECT], "response_types": ["code id_token"],
                                 "grant_types": ["authorization_code"]})
    assert no_implicit.json()["error"] == "invalid_client_metadata"
    assert "implicit" in no_implicit.json()["error_description"]


def test_rfc7591_2_a_client_authenticates_only_as_it_registered(idp: MockIdP) -> None:
    """RFC 7591 §2 ``token_endpoint_auth_method``: a client registered for
    ``client_secret_post`` is refused with the same secret sent by HTTP Basic (and the other
    way round), as a real provider refuses it; a client added without one takes either."""
    form = {"grant_type": "client_credentials"}
    post = register(idp, {"grant_types": ["client_credentials"], "response_types": [],
                          "token_endpoint_auth_method": "client_secret_post"}).json()
    as_post = requests.post(idp.token_endpoint, timeout=5, data={
        **form, "client_id": post["client_id"], "client_secret": post["client_secret"]})
    assert as_post.status_code == 200, as_post.text
    as_basic = requests.post(idp.token_endpoint, data=form, timeout=5,
                             auth=(post["client_id"], post["client_secret"]))
    assert as_basic.status_code == 401 and as_basic.json()["error"] == "invalid_client"
    assert "client_secret_post" in as_basic.json()["error_description"]
    idp.clients.add("basic-only", "s3cret", token_endpoint_auth_method="client_secret_basic")
    refused = requests.post(idp.token_endpoint, timeout=5, data={
        **form, "client_id": "basic-only", "client_secret": "s3cret"})
    assert refused.status_code == 401
    idp.clients.add("either", "s3cret")
    for kwargs in ({"auth": ("either", "s3cret")},
                   {"data": {**form, "client_id": "either", "client_secret": "s3cret"}}):
        answer = requests.post(idp.token_endpoint, timeout=5, **{"data": form, **kwargs})
        assert answer.status_code == 200, answer.text
    with pytest.raises(ConfigurationError, match="token_endpoint_auth_method"):
        idp.clients.add("typo", "s3cret", token_endpoint_auth_method="client_secret")


@pytest.mark.parametrize("jwks", [{"keys": [1]}, {"keys": [{"kid": "k"}]}, {"keys": {}}])
def test_clients_add_refuses_a_jwks_that_is_not_a_jwk_set(idp: MockIdP, jwks: Any) -> None:
    """RFC 7517 §5: a JWK Set's keys are JSON objects with a kty (§4.1); idp.clients.add
    says so with a ConfigurationError instead of registering keys no check can read."""
    with pytest.raises(ConfigurationError, match="JWK Set"):
        idp.clients.add("bad-jwks", jwks=jwks)


_PUBLIC_EC = {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
              "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}


@pytest.mark.parametrize("key", [
    {"kty": "oct", "k": "c2VjcmV0"},
    {**_PUBLIC_EC, "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"},
    {"kty": "RSA", "n": "AQAB", "e": "AQAB", "p": "AQ", "q": "AQ"},
])
def test_a_client_jwks_holds_public_keys_only(idp: MockIdP, key: dict[str, str]) -> None:
    """RFC 7591 §2: ``jwks`` is the client's public keys. A symmetric key or a private
    member is refused (invalid_client_metadata at registration, ConfigurationError from
    idp.clients.add) rather than kept and echoed back; a public key alone is registered."""
    answer = register(idp, {"redirect_uris": [REDIRECT], "jwks": {"keys": [key]},
                            "token_endpoint_auth_method": "private_key_jwt"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_client_metadata"
    assert key.get("k", key.get("d", key.get("p"))) not in answer.text
    with pytest.raises(ConfigurationError, match="public keys"):
        idp.clients.add("secret-keys", jwks={"keys": [key]})
    answer = register(idp, {"redirect_uris": [REDIRECT], "jwks": {"keys": [_PUBLIC_EC]},
                            "token_endpoint_auth_method": "private_key_jwt"})
    assert answer.status_code == 201, answer.text


def test_an_mcp_provider_registers_no_implicit_client() -> None:
    """RFC 7591 §2 with OAuth 2.1 §10.1-10.2: a provider of the mcp profile serves neither
    the implicit nor the password grant, so it registers no client for them or for a
    token-bearing response type (invalid_client_metadata), and registers a code-flow client."""
    with MockIdP(profile="mcp", alg="ES256") as idp:
        for metadata in ({"grant_types": ["implicit"], "response_types": ["id_token"]},
                         {"grant_types": ["authorization_code", "implicit"],
                          "response_types": ["code id_token"]},
                         {"grant_types": ["password"], "response_types": []}):
            answer = register(idp, {"redirect_uris": [REDIRECT], **metadata})
            assert answer.json()["error"] == "invalid_client_metadata", answer.text
        assert register(idp, {"redirect_uris": [REDIRECT]}).status_code == 201



def test_rp_initiated_logout_3_1_post_logout_redirect_uris(idp: MockIdP) -> None:
    """RP-Initiated Logout 1.0 §3.1: registered ``post_logout_redirect_uris`` are the only
    places end-session sends the user back to (§2); each must be a redirect URI (RFC 7591
    §3.2.2 ``invalid_client_metadata`` otherwise)."""
    bad = register(idp, {"redirect_uris": [REDIRECT],
                         "post_logout_redirect_uris": ["javascript:alert(1)"]})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client_metadata"
    done = "http://127.0.0.1:9/bye"
    client_id = register(idp, {"redirect_uris": [REDIRECT],
                               "post_logout_redirect_uris": [done]}).json()["client_id"]
    for target, status in ((done, 302), (REDIRECT, 400)):
        answer = requests.get(idp.url_for("end-session"), allow_redirects=False, timeout=5,
                              params={"client_id": client_id,
                                      "post_logout_redirect_uri": target})
        assert answer.status_code == status, answer.text
    assert answer.json()["error"] == "invalid_request"
