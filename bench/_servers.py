"""Servers the HTTP benchmarks run against, each in its own process (client and server do not
share a GIL): `mockidp serve`, and a bare Werkzeug app serving the same bytes (the limit)."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

BARE = """
import sys
from werkzeug.serving import make_server
body = sys.stdin.buffer.read()
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
server = make_server("127.0.0.1", 0, app, threaded=True)
print(f"http://127.0.0.1:{server.port}", flush=True)
server.serve_forever()
"""


@contextmanager
def mockidp_serve(*options: str) -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-m", "mockidp", "serve", "--port", "0",
                                "--quiet", "--login", "auto", *options],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield [process.stdout.readline() for _ in range(2)][1].split()[-1]
    finally:
        process.terminate()
        process.communicate()


@contextmanager
def bare_werkzeug(body: bytes) -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-c", BARE], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(body)
        process.stdin.close()
        yield process.stdout.readline().decode().strip()
    finally:
        process.terminate()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
