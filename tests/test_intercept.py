"""Interception: code configured with a real provider's URL reaches the in-process provider,
through the real HTTP clients (urllib, requests, httpx sync and async, aiohttp) over real,
verified TLS on IPv4 loopback, and nothing of it outlives the ``with idp.intercept():`` block."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import httpx
import jwt
import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from mockidp import PROFILES, ConfigurationError, InterceptError, MockIdP, NotStartedError

PUBLIC = "https://idp.mockidp.invalid"  # RFC 6761 §6.4: .invalid never resolves
HOST = "idp.mockidp.invalid"


@pytest.fixture(scope="module")
def provider() -> Iterator[MockIdP]:
    with MockIdP(public_url=PUBLIC, alg="ES256") as idp:
        yield idp


@pytest.fixture
def public(provider: MockIdP) -> Iterator[MockIdP]:
    provider.reset()
    yield provider
    provider.reset()


def _urllib(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url) as response:
        return response.status, response.read()


def _requests(url: str) -> tuple[int, bytes]:
    response = requests.get(url, timeout=5)
    return response.status_code, response.content


def _httpx(url: str) -> tuple[int, bytes]:
    response = httpx.get(url)
    return response.status_code, response.content


def _httpx_async(url: str) -> tuple[int, bytes]:
    async def get() -> tuple[int, bytes]:
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
            return response.status_code, response.content

    return asyncio.run(get())


def _aiohttp(url: str) -> tuple[int, bytes]:
    async def get() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status, await response.read()

    return asyncio.run(get())


CLIENTS: dict[str, Callable[[str], tuple[int, bytes]]] = {
    "urllib": _urllib, "requests": _requests, "httpx": _httpx, "httpx-async": _httpx_async,
    "aiohttp": _aiohttp}


def test_tokens_and_discovery_carry_the_public_url(public: MockIdP) -> None:
    assert public.issuer == PUBLIC and public.jwks_uri.startswith(PUBLIC + "/")
    assert jwt.decode(public.token(), options={"verify_signature": False})["iss"] == PUBLIC
    with public.intercept():
        metadata = json.loads(_requests(public.discovery_url)[1])
    assert metadata["issuer"] == PUBLIC and metadata["token_endpoint"].startswith(PUBLIC)


@pytest.mark.parametrize("client", CLIENTS)
def test_each_client_reaches_the_provider_over_verified_tls(public: MockIdP, client: str) -> None:
    """The client's own default TLS settings (verification on), its own name resolution and
    connection: the JWKS comes from this provider, and the provider saw the request."""
    with public.intercept():
        status, body = CLIENTS[client](public.jwks_uri)
    assert status == 200 and json.loads(body)["keys"][0]["kid"] == public.keys.active.kid
    assert [entry.endpoint for entry in public.requests] == ["jwks"]


def test_the_test_ca_is_trusted_for_the_intercepted_name_only(public: MockIdP) -> None:
    """Inside the block the provider's certificate verifies for its public name; the same
    server reached by its loopback address (not an intercepted name) is refused, as it is
    anywhere outside the block: the CA was added to no context."""
    loopback = f"https://127.0.0.1:{public.port}/.well-known/jwks.json"
    with public.intercept():
        assert _requests(public.jwks_uri)[0] == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(loopback, timeout=5)
    context = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", public.port)) as sock, \
            pytest.raises(ssl.SSLCertVerificationError):
        context.wrap_socket(sock, server_hostname=HOST)


def test_a_certificate_for_the_name_from_another_ca_is_refused(public: MockIdP) -> None:
    """Verification is real inside the block: another provider's server, with a certificate
    for the same public name from its own test CA, fails the handshake."""
    with MockIdP(public_url=PUBLIC, alg="ES256") as impostor, public.intercept(), \
            socket.create_connection(("127.0.0.1", impostor.port)) as sock, \
            pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(sock, server_hostname=HOST)


def test_verification_the_caller_turned_off_stays_off(public: MockIdP) -> None:
    with public.intercept(), pytest.warns(InsecureRequestWarning):
        assert requests.get(public.jwks_uri, verify=False, timeout=5).status_code == 200


def _hooks() -> tuple[object, ...]:
    return (socket.getaddrinfo, socket.socket.__dict__.get("connect"),
            socket.socket.__dict__.get("connect_ex"), ssl.SSLContext.wrap_socket,
            ssl.SSLContext.wrap_bio, aiohttp.resolver.AsyncResolver.resolve,
            aiohttp.resolver.ThreadedResolver.resolve, os.environ.get("NO_PROXY"),
            os.environ.get("no_proxy"))


def test_nothing_outlives_the_block(public: MockIdP) -> None:
    """After the block the name is unknown again and a connection pooled inside it is closed:
    the next request through the same session reaches no provider."""
    before = _hooks()
    session = requests.Session()
    with public.intercept():
        assert session.get(public.jwks_uri, timeout=5).status_code == 200
        assert _hooks() != before
    assert _hooks() == before
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(HOST, 443)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(public.jwks_uri, timeout=5)
    session.close()
    assert len(public.requests) == 1


def test_an_exception_in_the_block_still_restores_everything(public: MockIdP) -> None:
    before = _hooks()
    with pytest.raises(ZeroDivisionError), public.intercept():
        1 / 0  # noqa: B018
    assert _hooks() == before


def test_a_patch_laid_over_ours_is_left_and_passes_through(public: MockIdP) -> None:
    """Another library that wraps ``socket.getaddrinfo`` inside the block keeps its wrapper
    after it (calling ours, which then passes everything through), and a later block works
    with it, or without it once it is gone."""
    original = socket.getaddrinfo
    try:
        with public.intercept():
            ours = socket.getaddrinfo

            def theirs(*args: Any) -> Any:
                return ours(*args)

            socket.getaddrinfo = theirs
        assert socket.getaddrinfo is theirs
        assert socket.getaddrinfo("127.0.0.1", 80)[0][4][0] == "127.0.0.1"
        with public.intercept():
            assert _requests(public.jwks_uri)[0] == 200
    finally:
        socket.getaddrinfo = original
    with public.intercept():
        assert socket.getaddrinfo is not original and _requests(public.jwks_uri)[0] == 200
    assert socket.getaddrinfo is original


def test_nested_blocks_and_other_threads(public: MockIdP) -> None:
    """Interception is process-wide while a block runs (the code under test may serve from a
    thread of its own); an inner block's end keeps the outer one's."""
    seen: list[int] = []
    with public.intercept():
        with public.intercept():
            thread = threading.Thread(target=lambda: seen.append(_urllib(public.jwks_uri)[0]))
            thread.start()
            thread.join()
        assert _httpx(public.jwks_uri)[0] == 200
    assert seen == [200] and len(public.requests) == 2
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(HOST, 443)


def test_two_providers_intercept_two_hosts_from_two_threads_at_once(public: MockIdP) -> None:
    before = _hooks()
    results: dict[str, int] = {}
    both_inside = threading.Barrier(2)

    def run(idp: MockIdP) -> None:
        with idp.intercept():
            both_inside.wait(timeout=5)
            results[idp.issuer] = _requests(idp.jwks_uri)[0]
            both_inside.wait(timeout=5)  # neither leaves before the other has fetched

    with MockIdP(public_url="https://two.mockidp.invalid", alg="ES256") as other:
        threads = [threading.Thread(target=run, args=(idp,)) for idp in (public, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {PUBLIC: 200, "https://two.mockidp.invalid": 200}
    assert _hooks() == before


@pytest.mark.idp(public_url="https://marker.mockidp.invalid", intercept=True)
def test_the_marker_takes_any_public_url(idp: MockIdP) -> None:
    assert idp.issuer == "https://marker.mockidp.invalid"
    assert _urllib("https://marker.mockidp.invalid/.well-known/jwks.json")[0] == 200


def test_other_hosts_are_untouched(public: MockIdP) -> None:
    with MockIdP(alg="ES256") as plain, public.intercept():
        assert _requests(plain.jwks_uri)[0] == 200
        assert socket.getaddrinfo("127.0.0.1", 80)[0][4][0] == "127.0.0.1"
    assert [entry.endpoint for entry in plain.requests] == ["jwks"] and not public.requests


def test_a_path_the_provider_does_not_serve_is_its_404(public: MockIdP) -> None:
    with public.intercept():
        response = requests.get(PUBLIC + "/no/such/path", timeout=5)
    assert response.status_code == 404
    assert response.json()["error_description"] == "nothing is served at /no/such/path"
    assert public.requests[0].status == 404


def test_another_port_of_the_host_is_refused_with_the_reason(public: MockIdP) -> None:
    with public.intercept(), pytest.raises(requests.exceptions.ConnectionError,
                                           match=r"intercepts idp\.mockidp\.invalid on port 443"):
        requests.get(f"https://{HOST}:8443/", timeout=5)


def test_proxies_from_the_environment_are_bypassed(public: MockIdP,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "example.org")
    with public.intercept():
        assert os.environ["NO_PROXY"] == f"example.org,{HOST}"
        assert _requests(public.jwks_uri)[0] == 200
    assert os.environ["NO_PROXY"] == "example.org"


def test_one_host_one_provider(public: MockIdP) -> None:
    with MockIdP(public_url=PUBLIC, alg="ES256") as other, public.intercept(), \
            pytest.raises(InterceptError, match="already intercepted"):
        other.intercept().__enter__()


def test_intercept_without_a_public_url_names_the_fix() -> None:
    with MockIdP(alg="ES256") as idp, pytest.raises(InterceptError, match="public_url="):
        idp.intercept()


def test_intercept_before_start_names_the_fix() -> None:
    with pytest.raises(NotStartedError, match=r"idp\.start\(\)"):
        MockIdP(public_url=PUBLIC, alg="ES256").intercept()


def test_plain_http_public_url() -> None:
    with MockIdP(public_url="http://plain.mockidp.invalid", alg="ES256") as idp:
        assert not idp.tls
        with idp.intercept():
            assert _requests(idp.jwks_uri)[0] == 200


EXPECTED = {
    "entra": "https://login.microsoftonline.com",
    "auth0": "https://acme.auth0.com",
    "okta": "https://mockidp.okta.com",
    "google": "https://accounts.google.com",
    "cognito": "https://cognito-idp.eu-west-1.amazonaws.com",
}


@pytest.mark.parametrize("profile", EXPECTED)
def test_a_profile_knows_its_real_host(profile: str) -> None:
    options = {"auth0": {"tenant": "acme"}, "cognito": {"user_pool": "eu-west-1_Pool"}}
    assert PROFILES[profile].layout(options.get(profile, {})).public_url == EXPECTED[profile]


@pytest.mark.parametrize("profile", ["generic", "keycloak"])
def test_a_self_hosted_profile_has_no_real_host(profile: str) -> None:
    with pytest.raises(ConfigurationError, match="public_url='https://"):
        MockIdP(profile=profile, public_url=True)


def test_public_url_is_an_origin() -> None:
    with pytest.raises(ConfigurationError, match="origin"):
        MockIdP(public_url="https://login.microsoftonline.com/tenant")
    with pytest.raises(ConfigurationError, match="give one"):
        MockIdP(public_url=PUBLIC, issuer_url="http://localhost:8080")


TENANT = PROFILES["entra"].options["tenant_id"]


@pytest.mark.idp(profile="entra", intercept=True)
def test_a_consumers_jwks_fetch_through_interception(idp: MockIdP) -> None:
    """What a consumer configured for production does: PyJWT's PyJWKClient (urllib) at Entra
    ID's real JWKS URL, the real issuer checked."""
    client = jwt.PyJWKClient(f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys")
    token = idp.token(sub="alice")
    claims = jwt.decode(token, client.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
                        audience=idp.audience,
                        issuer=f"https://login.microsoftonline.com/{TENANT}/v2.0")
    assert claims["sub"] == "alice" and idp.requests_to("jwks")


@pytest.mark.idp(profile="google", intercept=True)
def test_every_host_of_the_profile_is_intercepted(idp: MockIdP) -> None:
    assert _requests("https://www.googleapis.com/oauth2/v3/certs")[0] == 200
    assert _requests("https://accounts.google.com/.well-known/openid-configuration")[0] == 200


def test_intercept_on_the_marker_without_a_public_url(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.idp(intercept=True)
        def test_it(idp):
            pass
    """)
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.idp: intercept() needs the real provider's URL*"])
    assert "def idp(" not in result.stdout.str()  # one line, not the fixture's traceback


def test_the_users_no_proxy_exemptions_hold_inside_the_block(
        public: MockIdP, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the block both NO_PROXY spellings carry the user's exemptions and the
    intercepted hosts: urllib and requests read the lowercase one first, so writing only the
    hosts there would send the user's exempted hosts to their proxy."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "corp.example")
    monkeypatch.delenv("no_proxy", raising=False)
    with public.intercept():
        for host in ("corp.example", HOST):
            assert urllib.request.proxy_bypass_environment(host)
            assert requests.utils.should_bypass_proxies(f"https://{host}/", None)
    assert os.environ["NO_PROXY"] == "corp.example" and "no_proxy" not in os.environ
