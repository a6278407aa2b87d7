"""Property: no request to any endpoint, however malformed, gets a 5xx or breaks the provider.

Hypothesis sends broken query strings and forms, wrong methods, bad Authorization headers,
invalid JSON, unicode and large bodies to every endpoint, in-process. The example count is
MOCKIDP_FUZZ_EXAMPLES per endpoint (25 by default, 200 in CI's second run); for a long local
run:

    MOCKIDP_FUZZ_EXAMPLES=10000 pytest tests/test_fuzz.py -p no:randomly -n 4
"""

from __future__ import annotations

import json
import os
import socket
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from mockidp import MockIdP
from mockidp.core.endpoints import ENDPOINTS

EXAMPLES = int(os.environ.get("MOCKIDP_FUZZ_EXAMPLES", "25"))
PATHS = {name: e.path.replace("{kid}", "k1").replace("{name}", "jwks").replace("{rest}", "state")
         for name, e in ENDPOINTS.items()}
CONTROL = ["/_mockidp/token", "/_mockidp/id_token", "/_mockidp/keys", "/_mockidp/keys/rotate",
           "/_mockidp/keys/nope/corrupt", "/_mockidp/endpoints/jwks", "/_mockidp/clock",
           "/_mockidp/users", "/_mockidp/clients", "/_mockidp/scenario",
           "/_mockidp/ui/decode", "/_mockidp/ui/keys/nope/revoke", "/_mockidp/requests"]
PARAMS = ["grant_type", "client_id", "client_secret", "code", "redirect_uri", "scope",
          "response_type", "state", "nonce", "code_challenge", "code_challenge_method",
          "code_verifier", "refresh_token", "username", "password", "token", "prompt",
          "login_hint", "response_mode", "subject_token", "subject_token_type", "assertion",
          "client_assertion", "client_assertion_type", "device_code", "user_code",
          "id_token_hint", "post_logout_redirect_uri", "login_request", "action", "sub",
          "request", "request_uri", "resource", "dpop_jkt", "max_age", "acr_values", "claims"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["client_credentials", "authorization_code", "refresh_token", "password",
                     "urn:ietf:params:oauth:grant-type:token-exchange",
                     "urn:ietf:params:oauth:grant-type:jwt-bearer",
                     "urn:ietf:params:oauth:grant-type:device_code", "mockidp-client",
                     "mockidp-client-secret", "code", "S256", "plain", "none", "openid",
                     "http://127.0.0.1/cb", "a.b.c", "e30.e30.", "x" * 3000, "²", "9" * 400,
                     "code id_token token", "id_token", "jwt", "fragment.jwt", "query.jwt",
                     "urn:ietf:params:oauth:request_uri:x", '{"userinfo":{"email":null}}',
                     '{"id_token":{"acr":{"essential":true,"values":[1]},"sub":{"value":2}}}',
                     "https://example.com/client.json"]),
)
PAIRS = st.lists(st.tuples(st.sampled_from(PARAMS) | st.text(max_size=10), VALUES), max_size=6)
AUTHORIZATION = st.one_of(
    st.none(),
    st.sampled_from(["Basic", "Basic !!!", "Bearer", "Bearer a.b.c", "Basic bW9ja2lkcC1jbGllbnQ6",
                     "DPoP", "DPoP a.b.c",
                     "Basic bW9ja2lkcC1jbGllbnQ6bW9ja2lkcC1jbGllbnQtc2VjcmV0", "Digest x"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
)
BODIES = st.one_of(
    st.none(),
    PAIRS.map(lambda pairs: ("form", pairs)),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                 max_leaves=8).map(lambda value: ("json", value)),
    st.binary(max_size=300).map(lambda raw: ("raw", raw)),
)
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


@pytest.fixture(scope="module")
def provider() -> MockIdP:
    with MockIdP() as idp:
        yield idp


def send(client: Client, method: str, path: str, query: list, auth: str | None,
         body: tuple | None) -> tuple[int, str, bytes]:
    headers = {} if auth is None else {"Authorization": auth}
    kwargs: dict = {"query_string": urlencode(query), "headers": headers}
    if body is not None:
        kind, value = body
        if kind == "form":
            kwargs["data"] = urlencode(value)
            kwargs["content_type"] = "application/x-www-form-urlencoded"
        elif kind == "json":
            kwargs["data"] = json.dumps(value)
            kwargs["content_type"] = "application/json"
        else:
            kwargs["data"] = value
            kwargs["content_type"] = "application/octet-stream"
    response = client.open(path, method=method, **kwargs)
    return response.status_code, response.mimetype, response.get_data()


def fuzz(provider: MockIdP, paths: list[str]) -> None:
    client = Client(provider.app)
    jwks_before = provider.jwks()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(path=st.sampled_from(paths), method=METHODS, query=PAIRS, auth=AUTHORIZATION,
           body=BODIES)
    def one(path: str, method: str, query: list, auth: str | None, body: tuple | None) -> None:
        status, mimetype, data = send(client, method, path, query, auth, body)
        assert status < 500, (method, path, query, auth, body)
        if 400 <= status < 500 and method != "HEAD":  # a well-formed OAuth-style error
            assert mimetype == "application/json", (method, path, status, data[:200])
            answer = json.loads(data)
            if status == 401 and answer == {} and path == PATHS["userinfo"]:
                return  # RFC 6750 §3.1: no credentials, so no error code (tests/test_spec.py)
            assert isinstance(answer.get("error"), str), (method, path, data[:200])

    one()
    provider.check()  # no handler failed
    provider.reset()
    assert provider.jwks() == jwks_before  # still serving the same keys


@pytest.mark.parametrize("name", [n for n in ENDPOINTS if n != "control"])
def test_endpoint_survives_hostile_requests(provider: MockIdP, name: str) -> None:
    fuzz(provider, [PATHS[name]])


def test_control_api_survives_hostile_requests(provider: MockIdP) -> None:
    fuzz(provider, CONTROL)


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /.well-known/jwks.json HTTP/2.0\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: " + b"b" * 20000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /token HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"POST /token HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        b"GET /\x00\xff HTTP/1.1\r\n\r\n",
    ],
    ids=["garbage", "http2-version", "http2-preface", "long-target", "long-header",
         "no-colon", "chunked", "bad-length", "huge-length", "binary-target"],
)
def test_malformed_http_gets_a_4xx_and_the_server_keeps_serving(provider: MockIdP,
                                                                 raw: bytes) -> None:
    with socket.create_connection((provider.host, provider.port), timeout=5) as sock:
        sock.sendall(raw)
        answer = sock.recv(4096)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:200]
    with socket.create_connection((provider.host, provider.port), timeout=5) as sock:
        sock.sendall(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_a_body_over_the_limit_is_a_413(provider: MockIdP) -> None:
    response = Client(provider.app).post("/token", data=b"x" * (2 * 1024 * 1024),
                                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response.get_json()["error"] == "invalid_request"
