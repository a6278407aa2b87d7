"""Integration: the service runs in its own process against `mockidp serve` in another; a
scenario rotates the signing key with overlap and then revokes the old one, while requests keep
coming. No valid token may fail, and the revoked key must stop working."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from mockidp import RemoteIdP

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).resolve().parent


@pytest.fixture
def provider() -> Iterator[RemoteIdP]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--login", "auto",
         "--quiet", "--scenario", str(HERE / "rotation.toml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        issuer = [process.stdout.readline() for _ in range(2)][1].split()[-1]
        yield RemoteIdP(issuer)
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.fixture
def service(provider: RemoteIdP) -> Iterator[str]:
    # Its request log goes to stderr; an unread pipe would fill up and stall it.
    process = subprocess.Popen([sys.executable, str(HERE / "protected_service.py"),
                                provider.issuer], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_rotation_under_load(provider: RemoteIdP, service: str) -> None:
    old_token = provider.token(sub="early-bird")
    old_kid = provider.keys.active.kid
    failures: list[str] = []
    served = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal served
        with requests.Session() as session:
            while not stop.is_set():
                token = provider.token()
                answer = session.get(service, headers={"Authorization": f"Bearer {token}"},
                                     timeout=5)
                served += 1
                if answer.status_code != 200:
                    failures.append(answer.text)

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + 15
        while provider.keys.state(old_kid) != "revoked":  # the scenario's last step
            assert time.monotonic() < deadline, "the scenario did not run"
            time.sleep(0.05)
        # The service caches keys for 2 s: after that the revoked key must be refused.
        while True:
            answer = requests.get(service, headers={"Authorization": f"Bearer {old_token}"},
                                  timeout=5)
            if answer.status_code == 401:
                break
            assert time.monotonic() < deadline, "the revoked key kept working"
            time.sleep(0.1)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert failures == [] and served > 10
    assert provider.keys.active.kid != old_kid
