"""One suite, two providers: MockIdP in-process and RemoteIdP through the control API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import urllib.request

import jwt
import pytest

from mockidp import (
    ConfigurationError,
    MockIdP,
    MockIdPError,
    RemoteAuthError,
    RemoteConfigurationError,
    RemoteError,
    RemoteIdP,
    UnreachableError,
)


@pytest.fixture(params=["local", "remote"])
def provider(request: pytest.FixtureRequest, idp: MockIdP) -> MockIdP | RemoteIdP:
    return idp if request.param == "local" else RemoteIdP(idp.issuer)


def verify(provider: MockIdP | RemoteIdP, token: str) -> dict:
    key = jwt.PyJWKClient(provider.jwks_uri, cache_jwk_set=False).get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=[key.algorithm_name], issuer=provider.issuer,
                      audience=provider.audience)


def test_urls_agree(provider, idp: MockIdP) -> None:  # type: ignore[no-untyped-def]
    assert provider.issuer == idp.issuer
    assert provider.jwks_uri == idp.jwks_uri and provider.token_endpoint == idp.token_endpoint


def test_mint_and_verify(provider) -> None:  # type: ignore[no-untyped-def]
    claims = verify(provider, provider.token({"role": "admin"}, sub="alice", scope="a b"))
    assert claims["sub"] == "alice" and claims["role"] == "admin" and claims["scope"] == "a b"
    id_claims = jwt.decode(provider.id_token(nonce="n"), options={"verify_signature": False})
    assert id_claims["nonce"] == "n"


def test_faults(provider) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(provider, provider.token(fault="expired"))


def test_keys_rotate_revoke_corrupt(provider) -> None:  # type: ignore[no-untyped-def]
    old = provider.keys.active
    old_token = provider.token()
    new = provider.keys.rotate()
    assert provider.keys.active.kid == new.kid and provider.keys.state(old.kid) == "previous"
    assert verify(provider, old_token)
    provider.keys.revoke(old.kid)
    with pytest.raises(jwt.PyJWKClientError):
        verify(provider, old_token)
    provider.keys.corrupt(new.kid, how="use-enc")
    assert provider.keys.corruption(new.kid) == "use-enc"
    assert provider.jwks()["keys"][0]["use"] == "enc"
    provider.keys.repair(new.kid)
    staged = provider.keys.add("ES256", kid="es-next", activate=False)
    assert provider.keys.state("es-next") == "next" and staged.alg == "ES256"
    assert staged.public_jwk is not None and "d" not in staged.public_jwk
    provider.keys.activate("es-next")
    assert len(provider.keys) == 3 and "es-next" in provider.keys
    with pytest.raises(KeyError):
        provider.keys.revoke("no-such-kid")


def test_keys_replace(provider) -> None:  # type: ignore[no-untyped-def]
    old = provider.keys.active
    old_token = provider.token()
    new = provider.keys.replace(old.kid)
    assert new.kid == old.kid and new.public_jwk != old.public_jwk
    assert provider.keys.state(new.kid) == "active"
    with pytest.raises(jwt.InvalidSignatureError):
        verify(provider, old_token)  # the same kid now names other material
    assert verify(provider, provider.token())


def test_endpoint_faults_and_the_request_log(provider) -> None:  # type: ignore[no-untyped-def]
    provider.endpoint("jwks").fail(503, times=1)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(provider.jwks_uri, timeout=5)
    urllib.request.urlopen(provider.jwks_uri, timeout=5).close()
    assert [r.status for r in provider.requests_to("jwks")] == [503, 200]
    provider.endpoint("jwks").empty()
    with urllib.request.urlopen(provider.jwks_uri, timeout=5) as response:
        assert json.load(response) == {"keys": []}
    assert provider.jwks()["keys"]  # the key set itself is unchanged
    provider.endpoint("jwks").reset()


def test_clock(provider) -> None:  # type: ignore[no-untyped-def]
    provider.clock.freeze(2_000_000_000)
    assert provider.clock.frozen
    provider.clock.advance(60)
    assert jwt.decode(provider.token(), options={"verify_signature": False})["iat"] == (
        2_000_000_060)
    provider.clock.unfreeze()
    assert not provider.clock.frozen


def test_reset(provider, idp: MockIdP) -> None:  # type: ignore[no-untyped-def]
    provider.keys.rotate()
    provider.reset()
    assert len(idp.keys) == 1


def test_users_and_clients(provider, idp: MockIdP) -> None:  # type: ignore[no-untyped-def]
    provider.users.add("zoe", email="zoe@example.test")
    provider.clients.add("svc", "svc-secret-value")
    assert idp.users["zoe"].claims["email"] == "zoe@example.test"
    assert idp.clients["svc"].client_secret == "svc-secret-value"


def test_bad_arguments(provider) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown JWS algorithm"):
        provider.token(alg="XX1")
    with pytest.raises(ValueError, match="unknown token fault"):
        provider.token(fault="nope")


def test_remote_errors_and_control_api_shape(idp: MockIdP) -> None:
    remote = RemoteIdP(idp.issuer)
    with pytest.raises(RemoteConfigurationError, match="unknown field"):
        remote.call("POST", "/token", {"colour": "blue"})
    with pytest.raises(RemoteError) as caught:
        remote.call("GET", "/nowhere")
    assert caught.value.status == 404
    document = remote.call("GET", "/openapi.json")
    assert document["openapi"].startswith("3.1") and "/_mockidp/token" in document["paths"]
    state = remote.call("GET", "/state")
    assert all("d" not in (k["public_jwk"] or {}) for k in state["keys"])
    assert next(f["name"] for f in remote.call("GET", "/faults")["faults"]) == "expired"
    assert idp.requests == []  # control calls are not in the log


def test_control_token_is_required_when_set(idp: MockIdP) -> None:
    idp.control_token = "a-long-enough-control-secret"
    try:
        with pytest.raises(RemoteAuthError):
            RemoteIdP(idp.issuer)
        with pytest.raises(RemoteAuthError):
            RemoteIdP(idp.issuer, control_token="wrong-but-long-enough-token")
        assert RemoteIdP(idp.issuer, control_token="a-long-enough-control-secret").token()
    finally:
        idp.control_token = None


def test_cross_origin_control_calls_are_refused(idp: MockIdP) -> None:
    request = urllib.request.Request(idp.issuer + "/_mockidp/state",
                                     headers={"Origin": "http://evil.example"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 403
    caught.value.close()


CONSUMER = textwrap.dedent("""
    import json, sys, jwt
    jwks_uri, issuer = sys.argv[1], sys.argv[2]
    results = []
    for token in sys.stdin.read().split():
        client = jwt.PyJWKClient(jwks_uri, cache_jwk_set=False)
        try:
            key = client.get_signing_key_from_jwt(token)
            jwt.decode(token, key, algorithms=["RS256"], issuer=issuer,
                       options={"verify_aud": False})
            results.append("accepted")
        except jwt.PyJWTError as exc:
            results.append(type(exc).__name__)
    print(json.dumps(results))
""")


def consume(remote: RemoteIdP, *tokens: str) -> list[str]:
    run = subprocess.run([sys.executable, "-c", CONSUMER, remote.jwks_uri, remote.issuer],
                         input=" ".join(tokens), capture_output=True, text=True, timeout=60,
                         check=True)
    return json.loads(run.stdout)


def test_serve_process_driven_remotely_with_a_consumer_process() -> None:
    server = subprocess.Popen([sys.executable, "-m", "mockidp", "serve", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(4)]
        issuer = lines[1].split()[-1]
        remote = RemoteIdP(issuer)
        first = remote.token()
        assert consume(remote, first) == ["accepted"]
        old = remote.keys.active.kid
        remote.keys.rotate()
        second = remote.token()
        assert consume(remote, first, second) == ["accepted", "accepted"]
        remote.keys.revoke(old)
        assert consume(remote, first, second) == ["PyJWKClientError", "accepted"]
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert server.returncode == 0


def test_allowed_control_origins(idp: MockIdP) -> None:
    idp.control_origins = frozenset({"http://localhost:3000"})
    try:
        request = urllib.request.Request(idp.issuer + "/_mockidp/state",
                                         headers={"Origin": "http://localhost:3000"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        idp.control_origins = frozenset()


def test_bad_control_origins() -> None:
    with pytest.raises(ValueError, match="control_origins"):
        MockIdP(control_origins="http://localhost:3000")


def test_a_provider_over_https_with_its_ssl_context() -> None:
    with MockIdP(tls=True) as server:
        with pytest.raises(UnreachableError, match="CERTIFICATE_VERIFY_FAILED"):
            RemoteIdP(server.issuer)  # the machine does not trust the test CA
        remote = RemoteIdP(server.issuer, ssl_context=server.ssl_context())
        assert remote.issuer == server.issuer and remote.keys.active.kid


def test_what_cannot_be_reached_is_a_mockidp_error() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(UnreachableError, match=f"127.0.0.1:{port}.*refused"):
        RemoteIdP(f"http://127.0.0.1:{port}")
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(UnreachableError, match="timed out"):
            RemoteIdP(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2)
    with pytest.raises(ConfigurationError, match="URL of a running mockidp"):
        RemoteIdP("notaurl")


@pytest.mark.parametrize("argv", [["token", "--url", "notaurl"],
                                  ["token", "--url", "http://127.0.0.1:1"]])
def test_the_cli_says_in_one_line_what_it_cannot_reach(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from mockidp.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mockidp: error:") and err.count("\n") == 1


@pytest.mark.parametrize("answer", [
    b"SSH-2.0-OpenSSH_9.6\r\n",  # not HTTP at all
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",  # cut short
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n[]",
    b"HTTP/1.1 400 Bad\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n[]",
], ids=["not-http", "short-body", "json-list", "error-json-list"])
def test_an_answer_that_is_not_mockidps_is_a_mockidp_error(answer: bytes) -> None:
    import threading

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def answer_once() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

        thread = threading.Thread(target=answer_once)
        thread.start()
        with pytest.raises(MockIdPError):
            RemoteIdP(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=5)
        thread.join(5)


def test_typ_none_travels_as_none(idp: MockIdP) -> None:
    """idp.token(typ=None) is a header without typ, remotely too."""
    token = RemoteIdP(idp.issuer).token(typ=None)
    assert "typ" not in jwt.get_unverified_header(token)


def test_remote_idp_finds_the_control_api_from_an_issuer_with_a_path() -> None:
    with MockIdP(profile="keycloak", profile_options={"realm": "demo"}) as server:
        remote = RemoteIdP(server.issuer)  # .../realms/demo: the control API is at the root
        assert remote.issuer == server.issuer and remote.url == server.base_url
        tenant = server.tenant("acme")
        assert RemoteIdP(tenant.issuer).issuer == tenant.issuer


def test_a_device_is_approved_through_the_control_api(idp: MockIdP) -> None:
    import requests

    client = idp.clients.default
    start = requests.post(idp.url_for("device"), data={"scope": "openid"},
                          auth=(client.client_id, client.client_secret or ""), timeout=5).json()
    assert RemoteIdP(idp.issuer).approve_device(start["user_code"]) == start["user_code"]
    tokens = requests.post(idp.token_endpoint, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": start["device_code"]},
        auth=(client.client_id, client.client_secret or ""), timeout=5).json()
    assert "access_token" in tokens
