"""Start, stop, reset, rotation, import and process start-up costs.

    python bench/lifecycle.py
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

from _harness import duration, table

from mockidp import MockIdP
from mockidp.core.rsapool import RSA_POOL


def start_to_discovery(idp: MockIdP) -> float:
    started = time.perf_counter()
    idp.start()
    urllib.request.urlopen(idp.discovery_url).read()
    return time.perf_counter() - started


def main() -> None:
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
