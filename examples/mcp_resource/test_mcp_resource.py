"""The MCP authorization flow end to end against the ``mcp`` profile: discovery from the
resource's 401 → protected-resource metadata → authorization server metadata → dynamic
registration → PAR with PKCE S256 and the resource → token for the resource → call; then
``mockidp.audit_resource`` passes the resource and catches each broken variant."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from mcp_resource import BROKEN, SCOPE, make_app
from werkzeug.serving import make_server

from mockidp import MockIdP, audit_resource

if TYPE_CHECKING:
    from collections.abc import Iterator

REDIRECT = "http://127.0.0.1:9/callback"
#: Catalog faults run in these tests (the whole catalog runs in test_consumer_audit).
FAULTS = ["alg-none", "expired", "wrong-issuer", "unknown-kid"]


@pytest.fixture(scope="module")
def provider() -> Iterator[MockIdP]:
    with MockIdP(profile="mcp") as idp:
        yield idp


@contextmanager
def resource_server(idp: MockIdP, broken: str | None = None) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, None)  # type: ignore[arg-type]
    resource = f"http://127.0.0.1:{server.server_port}/mcp"
    server.app = make_app(idp.issuer, resource, idp.jwks_uri, broken)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    idp.resources.add(resource)
    try:
        yield resource
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        idp.resources.discard(resource)


def test_mcp_client_flow(provider: MockIdP) -> None:
    """MCP authorization: RFC 9728 §5.1 discovery, RFC 8414, RFC 7591, RFC 9126 + RFC 7636
    S256, RFC 8707 resource, then the call."""
    with resource_server(provider) as resource:
        first = requests.get(resource, timeout=5)
        assert first.status_code == 401
        prm_url = re.search(r'resource_metadata="([^"]+)"',
                            first.headers["WWW-Authenticate"])[1]  # type: ignore[index]
        prm = requests.get(prm_url, timeout=5).json()
        issuer = prm["authorization_servers"][0]
        as_metadata = requests.get(issuer + "/.well-known/oauth-authorization-server",
                                   timeout=5).json()
        assert as_metadata["code_challenge_methods_supported"] == ["S256"]
        registered = requests.post(as_metadata["registration_endpoint"], timeout=5, json={
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "client_name": "mcp client"}).json()
        client_id = registered["client_id"]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                             ).rstrip(b"=").decode()
        pushed = requests.post(as_metadata["pushed_authorization_request_endpoint"], timeout=5,
                               data={"client_id": client_id, "response_type": "code",
                                     "redirect_uri": REDIRECT, "scope": SCOPE,
                                     "code_challenge": challenge,
                                     "code_challenge_method": "S256", "resource": resource})
        assert pushed.status_code == 201, pushed.text
        answer = requests.get(as_metadata["authorization_endpoint"], allow_redirects=False,
                              timeout=5, params={"client_id": client_id,
                                                 "request_uri": pushed.json()["request_uri"]})
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["iss"] == [issuer]  # RFC 9207
        tokens = requests.post(as_metadata["token_endpoint"], timeout=5, data={
            "grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": REDIRECT, "client_id": client_id, "code_verifier": verifier,
            "resource": resource}).json()
        call = requests.get(resource, timeout=5,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert call.status_code == 200 and call.json()["tools"] == ["echo"]


def test_mcp_profile_requires_pkce_s256(provider: MockIdP) -> None:
    """The MCP authorization spec (OAuth 2.1): PKCE with S256, or no code."""
    answer = requests.get(provider.authorization_endpoint, allow_redirects=False, timeout=5,
                          params={"client_id": "mockidp-client", "response_type": "code",
                                  "redirect_uri": REDIRECT})
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["invalid_request"]


def test_audit_passes_the_correct_resource(provider: MockIdP) -> None:
    with resource_server(provider) as resource:
        report = audit_resource(resource, provider, scope=SCOPE, faults=FAULTS)
    assert report.safe, str(report)
    assert {c.name for c in report} >= {"resource-metadata", "resource-metadata-challenge",
                                        "token-for-another-resource", "insufficient-scope"}


@pytest.mark.parametrize(("broken", "check", "verdict"), [
    ("no-metadata", "resource-metadata", "vulnerable"),
    # RFC 9728 §2: authorization_servers is a JSON array; a string naming the issuer is not.
    ("servers-not-an-array", "resource-metadata", "vulnerable"),
    ("no-challenge", "resource-metadata-challenge", "vulnerable"),
    ("any-audience", "token-for-another-resource", "vulnerable"),
    # RFC 8707 §2, MCP token passthrough: a 500 is no refusal, and tells not whether the
    # token went upstream: broken, not ok.
    ("fails-other-audience", "token-for-another-resource", "broken"),
    ("no-scope-check", "insufficient-scope", "vulnerable"),
    # A redirect is the answer, not the login page it points to: every bad token refused,
    # but no 401 to start discovery from (RFC 9728 §5.1).
    ("redirects-to-login", "resource-metadata-challenge", "vulnerable"),
])
def test_audit_catches_each_broken_resource(provider: MockIdP, broken: str, check: str,
                                            verdict: str) -> None:
    """Each check of the audit fails the variant that breaks it, and only that check."""
    assert broken in BROKEN
    with resource_server(provider, broken) as resource:
        report = audit_resource(resource, provider, scope=SCOPE, faults=FAULTS)
    assert [c.name for c in report.failures()] == [check], str(report)
    assert report[check].verdict == verdict
    if verdict == "broken":
        assert "1 check(s) failed by the service" in str(report)
        assert 'failure message="the service failed (5xx or no answer)"' in \
            report.to_junit_xml()


def test_cli_audit_resource() -> None:
    """``mockidp audit --url URL --resource``: the provider on --idp-port, the resource
    trusting it; exit 1 and the failed check named for a broken resource."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    issuer = f"http://127.0.0.1:{port}"

    class Fixed:  # the resource trusts the provider the CLI will start
        def __init__(self) -> None:
            self.issuer, self.jwks_uri = issuer, issuer + "/.well-known/jwks.json"
            self.resources: set[str] = set()

    with resource_server(Fixed(), "any-audience") as resource:  # type: ignore[arg-type]
        done = subprocess.run(
            [sys.executable, "-m", "mockidp", "audit", "--url", resource, "--resource",
             "--scope", SCOPE, "--idp-port", str(port), "--format", "json"],
            capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    cases = {c["name"]: c["verdict"] for c in json.loads(done.stdout)["cases"]}
    assert cases["token-for-another-resource"] == "vulnerable"
    assert cases["resource-metadata"] == "ok"
