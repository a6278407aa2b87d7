"""Endpoint fault controls, over real HTTP where the transport matters."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime

import jwt
import pytest
import requests

from mockidp import ConfigurationError, MockIdP


def get(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def wait_until(condition, timeout: float = 5) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_fail_for_two_requests_then_recover(idp: MockIdP) -> None:
    idp.endpoint("jwks").fail(500, times=2)
    statuses = [get(idp.jwks_uri)[0] for _ in range(3)]
    assert statuses == [500, 500, 200]
    idp.endpoint("jwks").fail(503, body="down for maintenance")
    status, _headers, body = get(idp.jwks_uri)
    assert status == 503 and body == b"down for maintenance"


def test_fail_default_body_is_an_oauth_error(idp: MockIdP) -> None:
    idp.endpoint("token").fail(400)
    status, _, _body = get(idp.discovery_url)
    assert status == 200
    response = requests.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                             timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_respond_and_headers(idp: MockIdP) -> None:
    idp.endpoint("jwks").respond("<html>", status=200, content_type="text/html", times=1)
    status, headers, body = get(idp.jwks_uri)
    assert (status, headers["Content-Type"], body) == (200, "text/html", b"<html>")
    assert get(idp.jwks_uri)[2] == idp.keys.jwks_bytes
    idp.endpoint("jwks").cache("no-store", etag='"v1"')
    _, headers, _ = get(idp.jwks_uri)
    assert headers["Cache-Control"] == "no-store" and headers["ETag"] == '"v1"'


def test_rules_queue_in_order(idp: MockIdP) -> None:
    idp.endpoint("jwks").flap(2).respond({"keys": []}, times=1)
    assert [get(idp.jwks_uri)[0] for _ in range(2)] == [503, 503]
    assert json.loads(get(idp.jwks_uri)[2]) == {"keys": []}
    assert json.loads(get(idp.jwks_uri)[2]) == idp.jwks()


def test_delays_and_answers_are_two_queues(idp: MockIdP) -> None:
    """As the README's Endpoint faults section says: a request takes the head of the delay
    queue and the head of the answer queue, so a delay and a failure given together apply to
    the same request, whichever was given first; within each queue, the order given."""
    idp.endpoint("jwks").delay(0.3, times=1).fail(500, times=1)
    started = time.monotonic()
    assert get(idp.jwks_uri)[0] == 500
    assert time.monotonic() - started >= 0.3  # delayed *and* failed
    started = time.monotonic()
    assert get(idp.jwks_uri)[0] == 200
    assert time.monotonic() - started < 0.3

    idp.endpoint("jwks").fail(503, times=1).delay(0.3, times=2).headers({"X-Two": "2"}, times=1)
    durations, answers = [], []
    for _ in range(3):
        started = time.monotonic()
        status, headers, _body = get(idp.jwks_uri)
        durations.append(time.monotonic() - started)
        answers.append((status, headers.get("X-Two")))
    assert answers == [(503, None), (200, "2"), (200, None)]  # the answer queue, in order
    assert [d >= 0.3 for d in durations] == [True, True, False]  # the delay queue, twice


def test_a_rule_until_reset_holds_back_those_behind_it(idp: MockIdP) -> None:
    idp.endpoint("jwks").fail(503).fail(500, times=1)
    assert [get(idp.jwks_uri)[0] for _ in range(3)] == [503, 503, 503]
    idp.endpoint("jwks").reset()
    assert get(idp.jwks_uri)[0] == 200


def test_delay_does_not_block_other_requests_and_reset_releases_it(idp: MockIdP) -> None:
    idp.endpoint("jwks").delay(30)
    done = threading.Event()
    result: list[int] = []

    def slow() -> None:
        result.append(get(idp.jwks_uri, timeout=60)[0])
        done.set()

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until(lambda: idp.endpoint("jwks").held == 1)
    assert get(idp.discovery_url)[0] == 200  # another endpoint answers meanwhile
    assert not done.is_set()
    started = time.monotonic()
    idp.endpoint("jwks").reset()  # releases the held answer
    assert done.wait(5), "the delayed answer was not released"
    assert time.monotonic() - started < 5 and result == [200]
    thread.join()


def test_stop_releases_delayed_answers() -> None:
    idp = MockIdP().start()
    idp.endpoint("jwks").delay(60)
    outcome: list[object] = []

    def slow() -> None:
        try:
            outcome.append(get(idp.jwks_uri, timeout=30)[0])
        except (OSError, http.client.HTTPException) as exc:  # cut off by the stop: fine too
            outcome.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until(lambda: idp.endpoint("jwks").held == 1)
    started = time.monotonic()
    idp.stop()
    assert time.monotonic() - started < 5
    thread.join(10)
    assert not thread.is_alive() and len(outcome) == 1


def test_drop_closes_without_an_answer(idp: MockIdP) -> None:
    idp.endpoint("jwks").drop(times=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        get(idp.jwks_uri)
    assert get(idp.jwks_uri)[0] == 200
    (dropped, ok) = idp.requests_to("jwks")
    assert dropped.status is None and ok.status == 200


def test_redirect_serves_the_real_document_elsewhere(idp: MockIdP) -> None:
    idp.endpoint("jwks").redirect()
    response = requests.get(idp.jwks_uri, timeout=5)  # requests follows redirects
    assert response.history[0].status_code == 302
    assert response.json() == idp.jwks()
    with pytest.raises(jwt.PyJWKClientError):  # PyJWKClient refuses to follow them
        jwt.PyJWKClient(idp.jwks_uri).get_jwk_set()


@pytest.mark.parametrize(
    ("setup", "check"),
    [
        (lambda c: c.empty(), lambda s, h, b: json.loads(b) == {"keys": []}),
        (lambda c: c.malformed_json(), lambda s, h, b: b.startswith(b'{"keys": [')),
        (lambda c: c.json_array(), lambda s, h, b: isinstance(json.loads(b), list)),
        (lambda c: c.missing_keys(), lambda s, h, b: json.loads(b) == {}),
        (lambda c: c.huge(3000), lambda s, h, b: len(json.loads(b)["keys"]) == 3001),
        (lambda c: c.duplicate_kids(),
         lambda s, h, b: len({k["kid"] for k in json.loads(b)["keys"]}) == 1
         and len(json.loads(b)["keys"]) == 2),
        (lambda c: c.poison_key(), lambda s, h, b: json.loads(b)["keys"][0]["n"] == "AAAA"),
        (lambda c: c.error_with_valid_body(), lambda s, h, b: s == 500 and "keys" in json.loads(b)),
        (lambda c: c.wrong_content_type(), lambda s, h, b: h["Content-Type"] == "text/html"),
        (lambda c: c.rate_limited(7), lambda s, h, b: s == 429 and h["Retry-After"] == "7"),
    ],
    ids=["empty", "malformed-json", "json-array", "missing-keys", "huge", "duplicate-kids",
         "poison-key", "error-with-valid-body", "wrong-content-type", "rate-limited"],
)
def test_jwks_faults(idp: MockIdP, setup, check) -> None:  # type: ignore[no-untyped-def]
    setup(idp.endpoint("jwks"))
    assert check(*get(idp.jwks_uri))


def test_pyjwt_against_jwks_faults(idp: MockIdP) -> None:
    token = idp.token()
    idp.endpoint("jwks").poison_key(times=1)
    assert jwt.PyJWKClient(idp.jwks_uri).get_signing_key_from_jwt(token)  # PyJWT skips it
    idp.endpoint("jwks").empty(times=1)
    with pytest.raises(jwt.PyJWTError):
        jwt.PyJWKClient(idp.jwks_uri).get_signing_key_from_jwt(token)
    idp.endpoint("jwks").error_with_valid_body(times=1)
    with pytest.raises(jwt.PyJWKClientError):
        jwt.PyJWKClient(idp.jwks_uri).get_signing_key_from_jwt(token)


@pytest.mark.parametrize(
    ("setup", "check"),
    [
        (lambda c, idp: c.wrong_issuer(), lambda doc, idp: doc["issuer"] != idp.issuer),
        (lambda c, idp: c.missing_jwks_uri(), lambda doc, idp: "jwks_uri" not in doc),
        (lambda c, idp: c.jwks_uri(idp.url_for("attacker-jwks")),
         lambda doc, idp: doc["jwks_uri"].endswith("/_mockidp/attacker/jwks.json")),
        (lambda c, idp: c.algorithms(["HS256"]),
         lambda doc, idp: doc["id_token_signing_alg_values_supported"] == ["HS256"]),
    ],
    ids=["wrong-issuer", "missing-jwks-uri", "jwks-uri-elsewhere", "algorithms"],
)
def test_discovery_faults(idp: MockIdP, setup, check) -> None:  # type: ignore[no-untyped-def]
    setup(idp.endpoint("discovery"), idp)
    assert check(json.loads(get(idp.discovery_url)[2]), idp)


def test_transform_that_does_not_fit_is_a_server_error(idp: MockIdP) -> None:
    from mockidp import ServerError

    idp.endpoint("jwks").transform(lambda doc: doc["nope"])
    assert get(idp.jwks_uri)[0] == 500
    with pytest.raises(ServerError, match="KeyError"):
        idp.check()


def test_date_and_expires_follow_the_provider_clock(idp: MockIdP) -> None:
    idp.clock.advance(86400)
    _, headers, _ = get(idp.jwks_uri)
    date = parsedate_to_datetime(headers["Date"])
    assert abs(date.timestamp() - idp.clock.time()) < 5
    assert abs(date.timestamp() - time.time() - 86400) < 5
    expires = parsedate_to_datetime(headers["Expires"])
    assert (expires - date).total_seconds() == idp.jwks_max_age


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda idp: idp.endpoint("nope"), "unknown endpoint 'nope'"),
        (lambda idp: idp.endpoint("jwks").fail(times=0), "times must be a positive int"),
        (lambda idp: idp.endpoint("jwks").fail(700), "HTTP status code"),
        (lambda idp: idp.endpoint("jwks").delay(-1), "seconds >= 0"),
        (lambda idp: idp.endpoint("jwks").respond(object()), "JSON-serializable"),
        (lambda idp: idp.endpoint("jwks").redirect(status=200), "redirect status"),
        (lambda idp: idp.endpoint("jwks").transform("x"), "function"),
        (lambda idp: idp.requests_to("nope"), "unknown endpoint"),
    ],
)
def test_control_misuse(idp: MockIdP, call, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match=message):
        call(idp)


def test_reset_restores_normal_service(idp: MockIdP) -> None:
    idp.endpoint("jwks").fail()
    idp.endpoint("discovery").wrong_issuer()
    idp.reset()
    assert get(idp.jwks_uri)[0] == 200
    assert json.loads(get(idp.discovery_url)[2])["issuer"] == idp.issuer
