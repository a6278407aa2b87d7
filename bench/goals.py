"""The three speed goals in one run: a provider made outside the fixture, the project's own
suite, and JWKS throughput against the limit. Each is measured by the script that owns it
(``lifecycle.py``, the README's test command, ``http_throughput.py``) and set against its goal.

    python bench/goals.py              # all three (the suite takes a minute and a half)
    python bench/goals.py --no-suite   # the two benchmarks only

Run it on an otherwise idle machine; the suite runs last, so its load touches neither
benchmark.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests
from _harness import table
from _servers import mockidp_serve, static_bytes, static_response
from http_throughput import jwks_rounds
from lifecycle import STATES, _cycles, _fill_stock

ROOT = Path(__file__).resolve().parent.parent

CYCLE_GOAL = (2.0, 5.0)  # ms: median and p95 of a steady-state RS256 provider cycle
SUITE_GOAL = 90.0  # s: the README's test command, serial, on 2 cores
LIMIT_GOAL = 0.8  # mockidp's JWKS rate as a share of the limit's, with either client


def provider_cycles(rounds: int = 3, count: int = 30) -> dict[str, list[float]]:
    """Whole RS256 provider cycles (ms) in each key-cache state, ``rounds`` processes of
    ``count`` each, every round with an empty cache of its own."""
    times: dict[str, list[float]] = {state: [] for state in STATES}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(rounds):
            cache = Path(scratch, f"cache-{round_}")
            for state in STATES:
                if state == STATES[2]:
                    _fill_stock(cache)
                times[state] += [t * 1000 for t in _cycles(None, cache, "RS256", count)["cycles"]]
    return times


SAME = "the limit, mockidp's own response bytes"
MINIMAL = "the limit, the body under a minimal head"


def jwks_against_the_limit() -> dict[str, tuple[float, float | None]]:
    """mockidp's and the limit's median JWKS rates (http.client, wrk -c1), interleaved. The
    limit runs twice: answering with mockidp's whole response (every header, so a client
    parses the same bytes from both and the ratio is the servers'), and with the JWKS body
    under a two-header head (the ratio the peers' table uses)."""
    with ExitStack() as stack:
        jwks_uri = stack.enter_context(mockidp_serve()) + "/.well-known/jwks.json"
        body = requests.get(jwks_uri).content
        urls = {"mockidp": jwks_uri,
                SAME: stack.enter_context(static_response(jwks_uri)) + "/.well-known/jwks.json",
                MINIMAL: stack.enter_context(static_bytes(body)) + "/.well-known/jwks.json"}
        return jwks_rounds(urls)


def suite_seconds() -> float:
    """Wall time of the README's test command (``pytest``) from the checkout."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _median_p95(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95)]


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-suite", action="store_true", help="skip the test suite")
    arguments = parser.parse_args()
    rows: list[list[object]] = []
    cycles = provider_cycles()
    for state in STATES:
        median, p95 = _median_p95(cycles[state])
        goal = "≤ 2 ms / ≤ 5 ms" if state == STATES[2] else "-"
        met = (_met(median <= CYCLE_GOAL[0] and p95 <= CYCLE_GOAL[1])
               if state == STATES[2] else "-")
        rows.append([f"RS256 provider cycle, {state} (median / p95)",
                     f"{median:.2f} ms / {p95:.2f} ms", goal, met])
    rates = jwks_against_the_limit()
    client, wrk = rates["mockidp"]
    for limit in (SAME, MINIMAL):
        limit_client, limit_wrk = rates[limit]
        goal = f"≥ {LIMIT_GOAL}x" if limit == SAME else "(for the peers' table)"
        rows.append([f"JWKS, http.client keep-alive, share of {limit}",
                     f"{client / limit_client:.2f}x ({client:,.0f}/s of {limit_client:,.0f}/s)",
                     goal, _met(client / limit_client >= LIMIT_GOAL) if limit == SAME else "-"])
        if wrk is None or limit_wrk is None:
            rows.append([f"JWKS, wrk -c1, share of {limit}", "wrk not installed", "", ""])
        else:
            rows.append([f"JWKS, wrk -c1, share of {limit}",
                         f"{wrk / limit_wrk:.2f}x ({wrk:,.0f}/s of {limit_wrk:,.0f}/s)",
                         goal, _met(wrk / limit_wrk >= LIMIT_GOAL) if limit == SAME else "-"])
    if not arguments.no_suite:
        took = suite_seconds()
        rows.append(["the README's test command, serial", f"{took:.1f} s",
                     f"≤ {SUITE_GOAL:g} s", _met(took <= SUITE_GOAL)])
    table("The speed goals, one run", ["what", "measured", "goal", "met"], rows)


if __name__ == "__main__":
    main()
