from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.request

import pytest

from mockidp import BindError, ConfigurationError, MockIdP


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def server_threads() -> set[threading.Thread]:
    """Threads a server leaves behind; the RSA key pool's filler is not one of them."""
    return {t for t in threading.enumerate() if not t.name.startswith("mockidp-rsa-")}


def test_starts_on_a_free_loopback_port_and_stops_cleanly() -> None:
    idp = MockIdP()
    threads_before = server_threads()
    with idp:
        assert idp.issuer.startswith("http://127.0.0.1:") and idp.port > 0
        assert get_json(idp.discovery_url)["issuer"] == idp.issuer
    assert server_threads() <= threads_before  # nothing new left running
    with socket.socket() as sock:  # the port is free again (for a server, as ours binds)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", idp.port))
        sock.listen()


def test_stop_closes_idle_keep_alive_connections() -> None:
    idp = MockIdP()
    threads_before = server_threads()
    idp.start()
    conn = http.client.HTTPConnection("127.0.0.1", idp.port, timeout=5)
    for _ in range(3):  # three requests on one connection
        conn.request("GET", "/.well-known/jwks.json")
        response = conn.getresponse()
        assert response.status == 200
        response.read()
    idp.stop()
    assert server_threads() <= threads_before  # nothing new left running
    conn.close()


def test_port_in_use_is_a_bind_error() -> None:
    with MockIdP() as first:
        second = MockIdP(port=first.port)
        with pytest.raises(BindError, match=f"cannot listen on 127.0.0.1:{first.port}") as err:
            second.start()
        assert err.value.port == first.port and "in use" in str(err.value)


@pytest.mark.parametrize("port", [-1, 65536, "80", 1.5, True])
def test_bad_port_is_refused(port: object) -> None:
    with pytest.raises(ConfigurationError, match="port must be an int from 0 to 65535"):
        MockIdP(port=port)  # type: ignore[arg-type]


def test_unresolvable_host_is_a_bind_error() -> None:
    with pytest.raises(BindError, match="cannot resolve host"):
        MockIdP(host="no-such-host.invalid", allow_remote=True).start()


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_ipv6_loopback() -> None:
    with MockIdP(host="::1") as idp:
        assert idp.issuer.startswith("http://[::1]:")
        assert get_json(idp.jwks_uri) == idp.jwks()


def test_restart_after_stop() -> None:
    idp = MockIdP()
    with idp:
        kid = idp.keys.active.kid
    with idp:
        assert get_json(idp.jwks_uri)["keys"][0]["kid"] == kid


def test_many_start_stop_cycles_leave_nothing_behind() -> None:
    idp = MockIdP()
    threads_before = server_threads()
    for _ in range(50):
        with idp:
            get_json(idp.jwks_uri)
    assert server_threads() <= threads_before


def test_issuer_url_and_forwarded_headers() -> None:
    import requests

    with MockIdP(issuer_url="http://idp.test:9000/") as idp:
        assert idp.issuer == "http://idp.test:9000"
        local = f"http://127.0.0.1:{idp.port}"
        metadata = requests.get(local + "/.well-known/openid-configuration", timeout=5).json()
        assert metadata["jwks_uri"] == "http://idp.test:9000/.well-known/jwks.json"
    with MockIdP(trust_forwarded=True) as idp:
        base = idp.issuer
        proxied = requests.get(base + "/.well-known/openid-configuration", timeout=5, headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": "login.example.test",
            "X-Forwarded-Prefix": "/idp"}).json()
        assert proxied["issuer"] == "https://login.example.test/idp"
        assert proxied["token_endpoint"] == "https://login.example.test/idp/token"
        direct = requests.get(base + "/.well-known/openid-configuration", timeout=5).json()
        assert direct["issuer"] == base
        spoofed = requests.get(base + "/.well-known/openid-configuration", timeout=5, headers={
            "X-Forwarded-Host": "evil/../x"}).json()
        assert spoofed["issuer"] == base


@pytest.mark.parametrize("url", ["idp.test", "ftp://idp.test", "http://idp.test/?q=1"])
def test_bad_issuer_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="issuer_url"):
        MockIdP(issuer_url=url)
