"""JWKS and token endpoint throughput and latency over loopback, against a bare Werkzeug app
serving the same JWKS bytes, with a requests.Session, an http.client keep-alive client, and
wrk when it is installed (Debian package "wrk").

    python bench/http_throughput.py
"""

from __future__ import annotations

import base64
import http.client
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.parse

import requests
from _harness import table
from _servers import bare_werkzeug, mockidp_serve

SECONDS = 2.0


def measure(send: object) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) over SECONDS of back-to-back requests."""
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < SECONDS:
        before = time.perf_counter()
        send()  # type: ignore[operator]
        latencies.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return (len(latencies) / elapsed, statistics.median(latencies) * 1000,
            latencies[int(len(latencies) * 0.99)] * 1000)


def with_session(url: str, data: dict[str, str] | None = None,
                 auth: tuple[str, str] | None = None) -> tuple[float, float, float]:
    with requests.Session() as session:
        if data is None:
            return measure(lambda: session.get(url).content)
        return measure(lambda: session.post(url, data=data, auth=auth).content)


def with_http_client(url: str) -> tuple[float, float, float]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)

    def send() -> None:
        connection.request("GET", parts.path)
        connection.getresponse().read()

    try:
        return measure(send)
    finally:
        connection.close()


def with_wrk(url: str, script: str | None = None) -> float | None:
    if shutil.which("wrk") is None:
        return None
    command = ["wrk", "-t1", "-c1", f"-d{int(SECONDS)}s", url]
    if script:
        command[1:1] = ["-s", script]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return None


def wrk_token(url: str, client: tuple[str, str]) -> float | None:
    """wrk POSTing client_credentials requests (HTTP Basic client authentication)."""
    credentials = base64.b64encode(":".join(client).encode()).decode()
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write('wrk.method = "POST"\n'
                     'wrk.body = "grant_type=client_credentials"\n'
                     'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                     f'wrk.headers["Authorization"] = "Basic {credentials}"\n')
        script.flush()
        return with_wrk(url, script.name)


def _rate(wrk: float | None) -> str:
    return "wrk not installed" if wrk is None else f"{wrk:,.0f}/s"


def fmt(result: tuple[float, float, float]) -> str:
    return f"{result[0]:,.0f}/s (p50 {result[1]:.2f} ms, p99 {result[2]:.2f} ms)"


def main() -> None:
    rows = []
    with mockidp_serve() as issuer:
        jwks_uri = issuer + "/.well-known/jwks.json"
        body = requests.get(jwks_uri).content
        with bare_werkzeug(body) as bare:
            for name, url in (("mockidp", jwks_uri), ("bare Werkzeug, same bytes", bare + "/")):
                wrk = with_wrk(url)
                rows.append([f"JWKS GET, {name}", fmt(with_session(url)),
                             fmt(with_http_client(url)), _rate(wrk)])
        form = {"grant_type": "client_credentials"}
        auth = ("mockidp-client", "mockidp-client-secret")
        rows.append(["token endpoint, client_credentials RS256",
                     fmt(with_session(issuer + "/token", form, auth)), "",
                     _rate(wrk_token(issuer + "/token", auth))])
    with mockidp_serve("--alg", "ES256") as issuer:
        rows.append(["token endpoint, client_credentials ES256",
                     fmt(with_session(issuer + "/token", form, auth)), "",
                     _rate(wrk_token(issuer + "/token", auth))])
    table(f"HTTP over loopback, one client, {SECONDS:.0f} s each",
          ["what", "requests.Session", "http.client keep-alive", "wrk -c1"], rows)


if __name__ == "__main__":
    main()
