"""JWKS and token endpoint throughput and latency over loopback, against a bare Werkzeug app
serving the same JWKS bytes, with a requests.Session, an http.client keep-alive client, and
wrk when it is installed (Debian package "wrk"); then mockidp's JWKS throughput as a ratio to
the limit, a bare selectors loop answering with the same bytes (medians of interleaved rounds).

    python bench/http_throughput.py
    python bench/http_throughput.py --limit-only [--against REV]

``--limit-only`` measures only the last table; ``--against REV`` adds `mockidp serve` from git
revision ``REV`` (its ``mockidp`` package, ``git archive``) to it, in the same rounds.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.parse
from contextlib import ExitStack
from pathlib import Path

import requests
from _harness import rate, table
from _servers import bare_werkzeug, mockidp_serve, static_bytes

SECONDS = 2.0
ROUNDS = 5  # of ROUND_SECONDS per server and client, for the ratios to the limit
ROUND_SECONDS = 1.0
LIMIT = "static bytes, selectors (the limit)"


def measure(send: object, seconds: float = SECONDS) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) over ``seconds`` of back-to-back requests."""
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
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


def with_http_client(url: str, seconds: float = SECONDS) -> tuple[float, float, float]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)

    def send() -> None:
        connection.request("GET", parts.path)
        connection.getresponse().read()

    try:
        return measure(send, seconds)
    finally:
        connection.close()


def with_wrk(url: str, script: str | None = None, seconds: float = SECONDS) -> float | None:
    if shutil.which("wrk") is None:
        return None
    command = ["wrk", "-t1", "-c1", f"-d{max(1, round(seconds))}s", url]
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


def jwks_rounds(urls: dict[str, str]) -> dict[str, tuple[float, float | None]]:
    """Each server's median JWKS GETs per second with http.client keep-alive and with wrk -c1
    (None without wrk), over ROUNDS rounds that take the servers in turn, so that a busy
    moment of the machine falls on all of them alike."""
    rates: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in urls}
    for _ in range(ROUNDS):
        for name, url in urls.items():
            rates[name][0].append(with_http_client(url, ROUND_SECONDS)[0])
            wrk = with_wrk(url, seconds=ROUND_SECONDS)
            if wrk is not None:
                rates[name][1].append(wrk)
    return {name: (statistics.median(client), statistics.median(wrk) if wrk else None)
            for name, (client, wrk) in rates.items()}


def against_the_limit(rates: dict[str, tuple[float, float | None]]) -> list[list[str]]:
    """Table rows: each server's medians and their ratios to the LIMIT row's."""
    limit_client, limit_wrk = rates[LIMIT]
    rows = []
    for name, (client, wrk) in rates.items():
        rows.append([name, f"{client:,.0f}/s", f"{client / limit_client:.2f}x",
                     "-" if wrk is None else f"{wrk:,.0f}/s",
                     "-" if wrk is None or limit_wrk is None else f"{wrk / limit_wrk:.2f}x"])
    return rows


LIMIT_HEADER = ["server", "JWKS, http.client keep-alive", "ratio to the limit",
                "JWKS, wrk -c1", "ratio to the limit"]


def _rate(wrk: float | None) -> str:
    return "wrk not installed" if wrk is None else f"{wrk:,.0f}/s"


def fmt(result: tuple[float, float, float]) -> str:
    return f"{result[0]:,.0f}/s (p50 {result[1]:.2f} ms, p99 {result[2]:.2f} ms)"


def consumer_fetches() -> list[list[object]]:
    """A consumer's JWKS fetch as PyJWKClient makes it (urllib, a new connection each time),
    to the provider's own URL over HTTP and HTTPS and to Entra's production URL through
    ``idp.intercept()`` (HTTPS, the test CA trusted inside the block): what interception
    costs a consumer. In-process, medians of 5 rounds."""
    import ssl

    from jwt import PyJWKClient

    from mockidp import MockIdP

    rows: list[list[object]] = []
    with MockIdP(profile="entra") as plain, MockIdP(profile="entra", tls=True) as tls, \
            MockIdP(profile="entra", public_url=True) as real:
        context = ssl.create_default_context(cafile=tls.ca_bundle)
        for name, client in (
                ("provider's URL, HTTP", PyJWKClient(plain.jwks_uri, cache_jwk_set=False)),
                ("provider's URL, HTTPS, a context made once",
                 PyJWKClient(tls.jwks_uri, cache_jwk_set=False, ssl_context=context))):
            rows.append([name, f"{rate(client.fetch_data):,.0f}/s"])
        with real.intercept():
            # Without an ssl_context urllib loads the system's CA bundle for each connection,
            # intercepted or not; with one made once, what is left is interception's own cost.
            for how, context in (("urllib's default context", None),
                                 ("a context made once", ssl.create_default_context())):
                client = PyJWKClient(real.jwks_uri, cache_jwk_set=False, ssl_context=context)
                rows.append([f"Entra's production URL, intercepted (HTTPS), {how}",
                             f"{rate(client.fetch_data):,.0f}/s"])
    return rows


def limit_only(against: str | None) -> None:
    """The JWKS table against the limit alone, with `mockidp serve` of ``against`` beside
    this tree's when given."""
    with ExitStack() as stack:
        issuer = stack.enter_context(mockidp_serve())
        jwks_uri = issuer + "/.well-known/jwks.json"
        urls = {"mockidp (this tree)": jwks_uri}
        if against:
            old = stack.enter_context(tempfile.TemporaryDirectory())
            archive = subprocess.run(["git", "archive", against, "mockidp"], check=True,
                                     capture_output=True, cwd=Path(__file__).parent.parent).stdout
            subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
            urls[f"mockidp ({against})"] = (
                stack.enter_context(mockidp_serve(tree=old)) + "/.well-known/jwks.json")
        body = requests.get(jwks_uri).content
        urls[LIMIT] = stack.enter_context(static_bytes(body)) + "/.well-known/jwks.json"
        rates = jwks_rounds(urls)
    table(f"JWKS GET against the limit, medians of {ROUNDS} interleaved rounds of "
          f"{ROUND_SECONDS:.0f} s", LIMIT_HEADER, against_the_limit(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit-only", action="store_true",
                        help="only the JWKS table against the limit")
    parser.add_argument("--against", metavar="REV",
                        help="with --limit-only: also `mockidp serve` of git revision REV")
    arguments = parser.parse_args()
    if arguments.limit_only:
        limit_only(arguments.against)
        return
    rows = []
    with mockidp_serve() as issuer:
        jwks_uri = issuer + "/.well-known/jwks.json"
        body = requests.get(jwks_uri).content
        with bare_werkzeug(body) as bare, static_bytes(body) as static:
            urls = {"mockidp": jwks_uri, "bare Werkzeug, same bytes": bare + "/",
                    LIMIT: static + "/.well-known/jwks.json"}
            for name, url in urls.items():
                wrk = with_wrk(url)
                rows.append([f"JWKS GET, {name}", fmt(with_session(url)),
                             fmt(with_http_client(url)), _rate(wrk)])
            limit_rows = against_the_limit(jwks_rounds(urls))
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
    table(f"JWKS GET against the limit, medians of {ROUNDS} interleaved rounds of "
          f"{ROUND_SECONDS:.0f} s", LIMIT_HEADER, limit_rows)
    table("A consumer's JWKS fetch (PyJWKClient, a new connection each), in-process",
          ["where", "fetches"], consumer_fetches())


if __name__ == "__main__":
    main()
