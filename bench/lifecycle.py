"""Start, stop, reset, rotation, import and process start-up costs.

    python bench/lifecycle.py                      # everything below
    python bench/lifecycle.py --cycles --against REV

``--cycles`` measures only a provider's whole life as unittest, Django's runner or Hypothesis
users live it: ``MockIdP()`` -> ``start()`` -> one discovery GET -> ``stop()``, 30 times in a
fresh process, each provider with keys of its own. ``--against REV`` runs the same processes
from the ``mockidp`` package of git revision ``REV`` too (``git archive``), interleaved with
this tree's, each with a key cache of its own: a fresh machine (empty cache), the run after it,
and the steady state (this tree: after ``python -m mockidp.core.rsapool`` filled the stock).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _harness import duration, table

from mockidp import MockIdP
from mockidp.core.rsapool import RSA_POOL


def start_to_discovery(idp: MockIdP) -> float:
    started = time.perf_counter()
    idp.start()
    urllib.request.urlopen(idp.discovery_url).read()
    return time.perf_counter() - started


_CYCLES = """
import json, sys, time, urllib.request
from mockidp import MockIdP
built, cycles = [], []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    idp = MockIdP(alg=sys.argv[1])
    built.append(time.perf_counter() - started)
    idp.start()
    urllib.request.urlopen(idp.discovery_url).read()
    idp.stop()
    cycles.append(time.perf_counter() - started)
print(json.dumps({"built": built, "cycles": cycles}))
"""

STATES = ("fresh machine (empty cache)", "the next run", "steady state")


def _cycles(tree: Path | None, cache: Path, alg: str, count: int) -> dict[str, list[float]]:
    """One process of ``count`` provider cycles, importing mockidp from ``tree`` (or the
    installed one) with ``cache`` as its key cache."""
    env = {**os.environ, "MOCKIDP_KEY_CACHE": str(cache)}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    output = subprocess.run([sys.executable, "-c", _CYCLES, alg, str(count)], env=env,
                            cwd=cache.parent, check=True, capture_output=True, text=True)
    result: dict[str, list[float]] = json.loads(output.stdout)
    return result


def _fill_stock(cache: Path) -> None:
    subprocess.run([sys.executable, "-m", "mockidp.core.rsapool"], check=True,
                   env={**os.environ, "MOCKIDP_KEY_CACHE": str(cache)}, cwd=cache.parent,
                   capture_output=True)


def _median_p95(values: list[float]) -> str:
    ordered = sorted(values)
    return (f"{ordered[len(ordered) // 2] * 1000:.2f} ms / "
            f"{ordered[int(len(ordered) * 0.95)] * 1000:.2f} ms")


def provider_cycles(against: str | None, rounds: int = 3, count: int = 30) -> None:
    """Medians and p95 of whole provider cycles, this tree beside ``against``."""
    with tempfile.TemporaryDirectory() as scratch:
        trees: dict[str, Path | None] = {"this tree": None}
        if against:
            old = Path(scratch, "old")
            old.mkdir()
            archive = subprocess.run(["git", "archive", against, "mockidp"], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
            trees = {against: old, "this tree": None}
        times: dict[tuple[str, str, str], list[float]] = {}
        for round_ in range(rounds):
            for name in list(trees)[:: 1 if round_ % 2 else -1]:  # alternate who goes first
                cache = Path(scratch, f"cache-{name}-{round_}".replace("/", "_"))
                for state in STATES:
                    if state == STATES[2] and trees[name] is None:
                        _fill_stock(cache)
                    run = _cycles(trees[name], cache, "RS256", count)
                    times.setdefault((name, state, "built"), []).extend(run["built"])
                    times.setdefault((name, state, "cycles"), []).extend(run["cycles"])
                run = _cycles(trees[name], cache, "ES256", count)
                times.setdefault((name, "ES256", "cycles"), []).extend(run["cycles"])
    header = ["RS256 provider cycle", *(f"{name}: cycle median / p95" for name in trees)]
    if against:
        header.append("median ratio (this tree / before)")
    rows: list[list[object]] = []
    for state in (*STATES, "ES256"):
        label = "ES256 provider, steady state (for scale)" if state == "ES256" else state
        row: list[object] = [label, *(_median_p95(times[(name, state, "cycles")])
                                      for name in trees)]
        if against:
            medians = [sorted(times[(name, state, "cycles")])[len(times[(name, state, "cycles")])
                                                             // 2] for name in trees]
            row.append(f"{medians[1] / medians[0]:.2f}x")
        rows.append(row)
    for state in STATES:
        rows.append([f"of which MockIdP() alone, {state}",
                     *(_median_p95(times[(name, state, "built")]) for name in trees),
                     *([""] if against else [])])
    table(f"MockIdP() -> start() -> discovery GET -> stop(), {rounds} processes x {count} "
          "cycles per state (median / p95)", header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", action="store_true", help="only the provider cycles")
    parser.add_argument("--against", metavar="REV", help="git revision to compare with")
    arguments = parser.parse_args()
    provider_cycles(arguments.against)
    if arguments.cycles:
        return
    idp = MockIdP()  # keys made once, as in a test session
    starts, stops = [], []
    for _ in range(50):
        starts.append(start_to_discovery(idp))
        started = time.perf_counter()
        idp.stop()
        stops.append(time.perf_counter() - started)
    starts.sort()
    stops.sort()
    rows = [["in-process start -> first discovery", f"{starts[25] * 1000:.2f} ms"],
            ["in-process stop", f"{stops[25] * 1000:.3f} ms"]]
    with idp:
        rows.append(["idp.reset()", f"{duration(idp.reset, 2000) * 1e6:.1f} us"])
        spare, RSA_POOL.spare = RSA_POOL.spare, 25  # enough warm keys for the repeats below
        idp.keys.rotate("RS256")
        while RSA_POOL.ready() < RSA_POOL.spare:
            time.sleep(0.01)
        for alg in ("ES256", "EdDSA", "RS256"):
            rows.append([f"keys.rotate('{alg}')" + (" (warm pool)" if alg == "RS256" else ""),
                         f"{duration(lambda a=alg: idp.keys.rotate(a), 15) * 1000:.3f} ms"])
            idp.reset()
        RSA_POOL.spare = spare
    bare = _process_time([sys.executable, "-c", "pass"])
    plugin = _process_time([sys.executable, "-c", "import mockidp.plugin"])
    pytest_alone = _process_time([sys.executable, "-c", "import pytest"])
    rows.append(["import mockidp.plugin over `import pytest` (what a pytest run adds)",
                 f"{(plugin - pytest_alone) * 1000:.1f} ms"])
    rows.append(["import pytest over a bare interpreter (for scale)",
                 f"{(pytest_alone - bare) * 1000:.1f} ms"])
    rows.append(["mockidp serve: process start -> first discovery",
                 f"{_serve_start() * 1000:.0f} ms"])
    table("Life cycle (medians)", ["what", "time"], rows)


def _process_time(command: list[str], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True)
        times.append(time.perf_counter() - started)
    return sorted(times)[runs // 2]


def _serve_start(runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "mockidp", "serve", "--port", "0",
                                    "--quiet"], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        issuer = [process.stdout.readline() for _ in range(2)][1].split()[-1]
        urllib.request.urlopen(issuer + "/.well-known/openid-configuration").read()
        times.append(time.perf_counter() - started)
        process.terminate()
        process.communicate()
    return sorted(times)[runs // 2]


if __name__ == "__main__":
    main()
