"""mockidp side by side with the peer mock providers, in one run: the PyPI package
oidc-provider-mock and the npm package oauth2-mock-server, each installed into bench/.peers
(never a dependency of the project) and started on loopback in its own process; and the
limit, a bare selectors loop in Python answering every request with mockidp's JWKS bytes.
JWKS throughput with http.client keep-alive and wrk -c1 is the median of interleaved rounds,
and each server's is given as a ratio to the limit's.

    python bench/peers.py
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from _harness import table
from _servers import static_bytes
from http_throughput import (
    LIMIT,
    LIMIT_HEADER,
    ROUND_SECONDS,
    ROUNDS,
    against_the_limit,
    fmt,
    jwks_rounds,
    with_session,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

PEERS = Path(__file__).resolve().parent / ".peers"


def install() -> tuple[Path, Path]:
    venv = PEERS / "venv"
    if not (venv / "bin" / "oidc-provider-mock").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "oidc-provider-mock"],
                       check=True)
    npm = PEERS / "npm"
    node_cli = npm / "node_modules" / ".bin" / "oauth2-mock-server"
    if not node_cli.exists():
        npm.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(npm),
                        "oauth2-mock-server@8"], check=True)
    return venv / "bin" / "oidc-provider-mock", node_cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def started(command: list[str], base: str) -> Iterator[tuple[str, float]]:
    begin = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/.well-known/openid-configuration").read()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{command[0]} did not start"
                time.sleep(0.01)
        yield base, time.perf_counter() - begin
    finally:
        process.terminate()
        process.wait()


def jwks_uri(base: str) -> str:
    import json

    with urllib.request.urlopen(base + "/.well-known/openid-configuration") as answer:
        return str(json.load(answer)["jwks_uri"])


def main() -> None:
    oidc_provider_mock, oauth2_mock_server = install()
    servers = {
        "mockidp serve": lambda p: [sys.executable, "-m", "mockidp", "serve", "--port", str(p),
                                    "--quiet", "--login", "auto"],
        "oauth2-mock-server (npm)": lambda p: [str(oauth2_mock_server), "-a", "127.0.0.1",
                                               "-p", str(p)],
        "oidc-provider-mock (PyPI)": lambda p: [str(oidc_provider_mock), "-p", str(p)],
    }
    rows, urls = [], {}
    with ExitStack() as running:
        for name, command in servers.items():
            port = free_port()
            base, start = running.enter_context(started(command(port),
                                                        f"http://127.0.0.1:{port}"))
            uri = urls[name] = jwks_uri(base)
            token = "no client_credentials grant"
            if name != "oidc-provider-mock (PyPI)":
                token = fmt(with_session(base + "/token", {"grant_type": "client_credentials"},
                                         ("mockidp-client", "mockidp-client-secret")))
            rows.append([name, f"{start * 1000:.0f} ms", fmt(with_session(uri)), token])
        with urllib.request.urlopen(urls["mockidp serve"]) as answer:
            body = answer.read()
        limit = running.enter_context(static_bytes(body)) + "/.well-known/jwks.json"
        urls[LIMIT] = limit
        rows.append([LIMIT, "-", fmt(with_session(limit)), "-"])
        limit_rows = against_the_limit(jwks_rounds(urls))
    for row, (_, client, client_ratio, wrk, wrk_ratio) in zip(rows, limit_rows, strict=True):
        row[3:3] = [f"{client} ({client_ratio})", f"{wrk} ({wrk_ratio})"]
    table("mockidp and its peers on loopback, one client (latencies: medians over 2 s; "
          f"http.client and wrk: medians of {ROUNDS} interleaved rounds of "
          f"{ROUND_SECONDS:.0f} s, in brackets the ratio to the limit)",
          ["server", "start -> discovery", "JWKS, requests.Session",
           "JWKS, http.client keep-alive", "JWKS, wrk -c1",
           "token, client_credentials (requests.Session)"], rows)
    table("JWKS against the limit (same run)", LIMIT_HEADER, limit_rows)

if __name__ == "__main__":
    main()
