"""A caching JWKS consumer (PyJWT's PyJWKClient) through outages, slowness and rotation,
with the fetches it made counted from the request log."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import TYPE_CHECKING

import jwt
import pytest

from mockidp.core.keys import thumbprint

if TYPE_CHECKING:
    from mockidp import MockIdP


def verify(client: jwt.PyJWKClient, idp: MockIdP, token: str) -> dict:
    key = client.get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=[key.algorithm_name], audience=idp.audience,
                      issuer=idp.issuer)


def test_outage_of_two_requests_then_recovery(idp: MockIdP) -> None:
    token = idp.token()
    idp.endpoint("jwks").fail(500, times=2)
    client = jwt.PyJWKClient(idp.jwks_uri)
    for _ in range(2):
        with pytest.raises(jwt.PyJWKClientConnectionError):
            verify(client, idp, token)
    assert verify(client, idp, token)["sub"] == idp.users.default.sub
    assert [r.status for r in idp.requests_to("jwks")] == [500, 500, 200]
    for _ in range(10):  # cached now: no more fetches
        verify(client, idp, token)
    assert len(idp.requests_to("jwks")) == 3


def test_cached_keys_survive_a_later_outage(idp: MockIdP) -> None:
    token = idp.token()
    client = jwt.PyJWKClient(idp.jwks_uri)
    verify(client, idp, token)
    idp.endpoint("jwks").fail(503)
    assert verify(client, idp, token)
    assert len(idp.requests_to("jwks")) == 1


def test_slow_jwks_with_a_short_client_timeout(idp: MockIdP) -> None:
    token = idp.token()
    idp.endpoint("jwks").delay(3, times=1)
    client = jwt.PyJWKClient(idp.jwks_uri, timeout=1)
    started = time.monotonic()
    with pytest.raises(jwt.PyJWKClientConnectionError):
        verify(client, idp, token)
    assert time.monotonic() - started < 2.5  # the client gave up; the server did not hold it
    assert verify(client, idp, token)  # the next fetch is not delayed


def test_rotation_mid_run_costs_one_refetch(idp: MockIdP) -> None:
    # cooldown_duration=0: PyJWKClient otherwise refuses to refetch within 30 s of a fetch.
    client = jwt.PyJWKClient(idp.jwks_uri, cooldown_duration=0)
    for _ in range(100):
        verify(client, idp, idp.token())
    assert len(idp.requests_to("jwks")) == 1
    idp.keys.rotate()
    for _ in range(100):
        verify(client, idp, idp.token())
    assert len(idp.requests_to("jwks")) == 2


def test_default_cooldown_rejects_a_freshly_rotated_key(idp: MockIdP) -> None:
    """What the research found: PyJWKClient's 30 s cooldown makes 'rotate then verify' fail
    unless the new key was published (staged) before the client's last fetch."""
    client = jwt.PyJWKClient(idp.jwks_uri)
    verify(client, idp, idp.token())
    idp.keys.rotate()
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        verify(client, idp, idp.token())
    assert len(idp.requests_to("jwks")) == 1


def test_jwks_never_torn_while_keys_rotate(idp: MockIdP) -> None:
    idp.keys.default_alg = "ES256"
    stop = threading.Event()
    problems: list[str] = []
    fetched: list[int] = []

    def fetch() -> None:
        while not stop.is_set():
            with urllib.request.urlopen(idp.jwks_uri, timeout=5) as response:
                document = json.load(response)
            fetched.append(len(document["keys"]))
            for jwk in document["keys"]:
                if jwk["kid"] != thumbprint(jwk):
                    problems.append(f"kid and material disagree: {jwk}")

    readers = [threading.Thread(target=fetch) for _ in range(8)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(500):
            idp.keys.rotate("ES256")
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert problems == []
    assert fetched and all(1 <= n <= 502 for n in fetched)
    assert len(idp.jwks()["keys"]) == 502  # RS256 default + ES256 standard + 500 rotations
