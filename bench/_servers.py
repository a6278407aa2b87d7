"""Servers the HTTP benchmarks run against, each in its own process (client and server do not
share a GIL): `mockidp serve`, a bare Werkzeug app serving the same bytes, and the physical
limit of a Python server: a minimal HTTP/1.1 keep-alive loop (selectors, no framework) that
answers every request with the same prebuilt bytes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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

# Reads requests up to their blank line, answers each with one prebuilt response, given on
# stdin (pipelined requests too), keeps the connection open unless the client sent
# "Connection: close". No request bodies: the benchmarks only GET.
STATIC = """
import selectors, socket, sys
answer = sys.stdin.buffer.read()
listener = socket.create_server(("127.0.0.1", 0), backlog=128)
listener.setblocking(False)
selector = selectors.DefaultSelector()
selector.register(listener, selectors.EVENT_READ)
pending = {}
print(f"http://127.0.0.1:{listener.getsockname()[1]}", flush=True)
while True:
    for key, _ in selector.select():
        if key.fileobj is listener:
            connection, _ = listener.accept()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            selector.register(connection, selectors.EVENT_READ)
            pending[connection] = b""
            continue
        connection = key.fileobj
        try:
            data = connection.recv(65536)
        except ConnectionError:
            data = b""
        if not data:
            selector.unregister(connection)
            del pending[connection]
            connection.close()
            continue
        buffered = pending[connection] + data
        *requests, pending[connection] = buffered.split(b"\\r\\n\\r\\n")
        if requests:
            connection.setblocking(True)  # a response or a few: write them whole
            connection.sendall(answer * len(requests))
            connection.setblocking(False)
            if b"connection: close" in requests[-1].lower():
                selector.unregister(connection)
                del pending[connection]
                connection.close()
"""


@contextmanager
def mockidp_serve(*options: str, tree: str | None = None) -> Iterator[str]:
    """`mockidp serve` of this checkout, or of the ``mockidp`` package in folder ``tree``."""
    env = None if tree is None else {**os.environ, "PYTHONPATH": tree}
    process = subprocess.Popen([sys.executable, "-m", "mockidp", "serve", "--port", "0",
                                "--quiet", "--login", "auto", *options],
                               stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
    try:
        assert process.stdout is not None
        yield [process.stdout.readline() for _ in range(2)][1].split()[-1]
    finally:
        process.terminate()
        process.communicate()


@contextmanager
def _serving(script: str, body: bytes) -> Iterator[str]:
    """A Python server running ``script``, given ``body`` on stdin; it prints its URL."""
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
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


def bare_werkzeug(body: bytes) -> contextlib.AbstractContextManager[str]:
    """``body`` served by a bare Werkzeug app (BARE)."""
    return _serving(BARE, body)


def static_bytes(body: bytes) -> contextlib.AbstractContextManager[str]:
    """The limit: every request answered with ``body`` by a bare selectors loop (STATIC),
    under a minimal head (status line, Content-Type, Content-Length)."""
    return _serving(STATIC, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def static_response(url: str) -> contextlib.AbstractContextManager[str]:
    """The limit answering with the very response ``url`` gives (status line, every header,
    body; its Date frozen): a client then parses the same bytes from both servers, so the
    ratio between them is the servers' alone."""
    return _serving(STATIC, raw_get(url))


def raw_get(url: str) -> bytes:
    """The whole response (head and body) to one keep-alive GET of ``url``."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head = data.split(b"\r\n\r\n", 1)[0]
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(data) < len(head) + 4 + length:
            data += sock.recv(65536)
    return data
