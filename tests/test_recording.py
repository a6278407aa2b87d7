from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from mockidp import MockIdP


def test_requests_are_recorded_in_order_with_their_details(idp: MockIdP) -> None:
    requests.get(idp.discovery_url, params={"x": "1"}, headers={"User-Agent": "probe/1"},
                 timeout=5)
    client = idp.clients.default
    requests.post(idp.token_endpoint, data={"grant_type": "client_credentials", "scope": "a"},
                  auth=(client.client_id, client.client_secret), timeout=5)
    requests.get(idp.issuer + "/nowhere", timeout=5)
    discovery, token, missing = idp.requests
    assert (discovery.method, discovery.path, discovery.endpoint) == (
        "GET", "/.well-known/openid-configuration", "discovery")
    assert discovery.query == {"x": "1"} and discovery.user_agent == "probe/1"
    assert discovery.status == 200 and discovery.duration >= 0
    assert abs(discovery.time - idp.clock.time()) < 5
    assert token.form == {"grant_type": "client_credentials", "scope": "a"}
    assert token.body == b"grant_type=client_credentials&scope=a"
    assert token.headers["Authorization"].startswith("Basic ")
    assert (missing.endpoint, missing.status) == (None, 404)
    assert idp.requests_to("token") == [token]
    assert "GET /.well-known/openid-configuration -> 200" in repr(discovery)


def test_log_is_cleared_between_tests_and_by_reset(idp: MockIdP) -> None:
    assert idp.requests == []
    requests.get(idp.jwks_uri, timeout=5)
    assert len(idp.requests_to("jwks")) == 1
    idp.reset()
    assert idp.requests == []


def test_concurrent_requests_are_all_recorded(idp: MockIdP) -> None:
    def fetch() -> None:
        with requests.Session() as session:
            for _ in range(25):
                session.get(idp.jwks_uri, timeout=5)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(idp.requests_to("jwks")) == 200
    assert {r.status for r in idp.requests} == {200}


def test_a_request_released_by_reset_is_not_recorded_in_the_next_test(idp: MockIdP) -> None:
    import time

    idp.endpoint("jwks").delay(30)
    thread = threading.Thread(target=lambda: requests.get(idp.jwks_uri, timeout=30))
    thread.start()
    deadline = time.monotonic() + 5
    while idp.endpoint("jwks").held == 0:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    idp.reset()  # what the fixture does between tests
    thread.join(5)
    assert idp.requests == []


def test_the_log_keeps_the_most_recent_requests() -> None:
    from mockidp.core.recording import RecordedRequest, RequestLog, freeze

    log = RequestLog(limit=3)
    for n in range(5):
        log.add(RecordedRequest("GET", f"/{n}", None, freeze({}), freeze({}), freeze({}), 200,
                                0.0, 0.0), log.generation)
    assert [e.path for e in log.entries()] == ["/2", "/3", "/4"]


def test_the_log_keeps_a_bounded_number_of_bytes() -> None:
    """Bounded entries still add up: the log drops its oldest past its byte budget."""
    from mockidp.core.recording import RecordedRequest, RequestLog, freeze

    log = RequestLog(limit=1000, budget=100_000)
    big = RecordedRequest("POST", "/token", "token", freeze({}), freeze({}), freeze({}), 200,
                          0.0, 0.0, body=b"x" * 30_000)
    for _ in range(10):
        log.add(big, log.generation)
    assert len(log) == 3  # 3 x ~30 KB fit in 100 KB; the older seven went
    log.clear()
    log.add(big, log.generation)
    assert len(log) == 1
