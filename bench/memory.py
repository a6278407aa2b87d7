"""RSS of a process hosting the provider (`mockidp serve`), idle and after load.

    python bench/memory.py
"""

from __future__ import annotations

import subprocess
import sys
import time

import requests
from _harness import table


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mockidp", "serve", "--port", "0",
                                "--quiet", "--login", "auto"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        issuer = [process.stdout.readline() for _ in range(2)][1].split()[-1]
        requests.get(issuer + "/.well-known/openid-configuration").raise_for_status()
        time.sleep(0.5)  # let the RSA pool fill
        idle = rss_mib(process.pid)
        with requests.Session() as session:
            # The first token makes the default user, which loads faker: a one-time cost.
            session.post(issuer + "/token", data={"grant_type": "client_credentials"},
                         auth=("mockidp-client", "mockidp-client-secret"))
            warm = rss_mib(process.pid)
            for _ in range(5000):
                session.get(issuer + "/.well-known/jwks.json")
            for _ in range(1000):
                session.post(issuer + "/token", data={"grant_type": "client_credentials"},
                             auth=("mockidp-client", "mockidp-client-secret"))
        loaded = rss_mib(process.pid)
    finally:
        process.terminate()
        process.communicate()
    table("RSS of `mockidp serve`", ["state", "RSS"],
          [["idle", f"{idle:.1f} MiB"],
           ["after the first token (faker loaded)", f"{warm:.1f} MiB ({warm - idle:+.1f})"],
           ["after 5,000 JWKS GETs and 1,000 tokens more",
            f"{loaded:.1f} MiB ({loaded - warm:+.1f} over the first token)"]])


if __name__ == "__main__":
    main()
