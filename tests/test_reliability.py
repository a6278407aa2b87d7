"""Life cycle and concurrency: many start/stop cycles leave nothing behind; clients that mint,
fetch and call the token endpoint while keys change always see consistent answers."""

from __future__ import annotations

import json
import os
import threading
import urllib.request

import jwt
import requests

from mockidp import MockIdP
from mockidp.core.keys import KeyChange, thumbprint


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def live_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if not t.name.startswith("mockidp-rsa-")}


def test_1000_start_stop_cycles_leave_no_thread_or_descriptor() -> None:
    idp = MockIdP()  # keys made once, as in a session
    with idp:  # warm up: the first start imports what serving needs
        urllib.request.urlopen(idp.jwks_uri).read()
    threads, fds = live_threads(), open_fds()
    for cycle in range(1000):
        idp.start()
        if cycle % 100 == 0:
            with urllib.request.urlopen(idp.jwks_uri) as response:
                assert response.status == 200
        idp.stop()
    assert live_threads() <= threads
    assert open_fds() <= fds


def test_clients_see_consistent_answers_while_keys_change(idp: MockIdP) -> None:
    idp.keys.default_alg = "ES256"
    stop = threading.Event()
    problems: list[str] = []
    counts = {"jwks": 0, "tokens": 0, "minted": 0}
    client = idp.clients.default

    def fetch_jwks() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                document = session.get(idp.jwks_uri, timeout=5).json()
                counts["jwks"] += 1
                for jwk in document["keys"]:
                    if {"kty", "kid", "use", "alg"} - set(jwk):
                        problems.append(f"half-made key {jwk}")

    def call_token_endpoint() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                response = session.post(idp.token_endpoint, timeout=5,
                                        data={"grant_type": "client_credentials"},
                                        auth=(client.client_id, client.client_secret or ""))
                counts["tokens"] += 1
                if response.status_code != 200:
                    problems.append(f"token endpoint {response.status_code} {response.text}")

    unseen: list[tuple[str, float, float]] = []

    def mint() -> None:
        while not stop.is_set():
            started = idp.clock.time()
            before = {k.kid for k in idp.keys.published()}
            token = idp.token()
            after = {k.kid for k in idp.keys.published()}
            ended = idp.clock.time()
            kid = jwt.get_unverified_header(token)["kid"]
            counts["minted"] += 1
            # The signing key was published when the token was minted: in the JWKS before or
            # after, or (a key rotated in and revoked again meanwhile) according to the key
            # ring's history, at some moment between the two.
            if kid not in before | after:
                unseen.append((kid, started, ended))

    workers = [threading.Thread(target=target) for target in
               (fetch_jwks, fetch_jwks, call_token_endpoint, mint, mint)]
    for worker in workers:
        worker.start()
    try:
        for round_ in range(150):
            new = idp.keys.rotate("ES256")
            if round_ % 3 == 0:
                old = [k for k in idp.keys.published() if k.kid != new.kid][:1]
                for key in old:
                    idp.keys.revoke(key.kid)
            if round_ % 5 == 0:
                idp.keys.corrupt(new.kid, how="other-key")
                idp.keys.repair(new.kid)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    idp.check()  # no handler failed
    history = idp.keys.history
    for kid, started, ended in unseen:
        if not _published_within(history, kid, started, ended):
            problems.append(f"minted with unpublished kid {kid}")
    assert problems == []
    assert min(counts.values()) > 0
    served = json.loads(idp.keys.jwks_bytes)["keys"]
    assert all(jwk["kid"] == thumbprint(jwk) for jwk in served)


def _published_within(history: list[KeyChange], kid: str, started: float, ended: float) -> bool:
    """Whether the key ``kid`` was in the JWKS (next, active or previous) at some moment from
    ``started`` to ``ended``, by the key ring's history of state changes."""
    published_since: float | None = None
    for change in (c for c in history if c.kid == kid):
        if change.state in ("next", "active", "previous"):
            published_since = change.time if published_since is None else published_since
        elif published_since is not None:  # revoked or gone: the published stretch ends
            if published_since <= ended and change.time >= started:
                return True
            published_since = None
    return published_since is not None and published_since <= ended
