"""What the `idp` fixture adds to a test suite: 1,000 generated tests that each mint and verify
one token, with the fixture, against the same suite with raw PyJWT and a module-level key.

    python bench/fixture_suite.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import table

TESTS = 1000
WITH_FIXTURE = """
import jwt

def verify(idp, token):
    return jwt.decode(token, idp.keys.active.public_key, algorithms=["RS256"],
                      audience=idp.audience)
""" + "".join(f"""
def test_{n}(idp):
    assert verify(idp, idp.token(sub="u{n}"))["sub"] == "u{n}"
""" for n in range(TESTS))
RAW = """
import time, uuid
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

def token(sub):
    now = int(time.time())
    return jwt.encode({"iss": "https://idp", "sub": sub, "aud": "api", "iat": now, "nbf": now,
                       "exp": now + 3600, "jti": uuid.uuid4().hex}, KEY, algorithm="RS256",
                      headers={"kid": "k"})

def verify(value):
    return jwt.decode(value, KEY.public_key(), algorithms=["RS256"], audience="api")
""" + "".join(f"""
def test_{n}():
    assert verify(token("u{n}"))["sub"] == "u{n}"
""" for n in range(TESTS))


def run(folder: Path, name: str, source: str, rounds: int = 3) -> float:
    path = folder / f"test_{name}.py"
    path.write_text(source)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "no:randomly", str(path)], cwd=folder, check=True,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return sorted(times)[rounds // 2]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        fixture = run(Path(folder), "fixture", WITH_FIXTURE)
        raw = run(Path(folder), "raw", RAW)
    table(f"{TESTS} tests, each minting and verifying one RS256 token (median of 3 runs)",
          ["suite", "wall time", "per test"],
          [["with the idp fixture", f"{fixture:.2f} s", f"{fixture / TESTS * 1000:.2f} ms"],
           ["raw PyJWT, module-level key", f"{raw:.2f} s", f"{raw / TESTS * 1000:.2f} ms"],
           ["ratio / overhead", f"{fixture / raw:.2f}x",
            f"{(fixture - raw) / TESTS * 1000:+.2f} ms"]])


if __name__ == "__main__":
    main()
