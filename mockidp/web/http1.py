"""One HTTP/1.1 connection serving the WSGI app, kept alive between requests.

Werkzeug's development handler builds on ``http.server``: it parses headers with the email
package and writes the response in pieces, which caps a keep-alive client at a fraction of what
the app can answer. This handler reads the request line and headers itself, hands the app a
plain WSGI environ, and writes each response in one ``sendall`` with ``TCP_NODELAY`` set. It
implements what the provider's clients need — keep-alive, ``Content-Length`` bodies,
``Expect: 100-continue``, HEAD — and answers anything else (chunked request bodies, oversized
or malformed heads) with a clear 4xx and a closed connection.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import socketserver
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ConnectionHandler"]

log = logging.getLogger("mockidp.server")

MAX_LINE = 16 * 1024  # a request line or one header line
MAX_HEADERS = 100
MAX_BODY = 8 * 1024 * 1024  # the app refuses more than 1 MiB with 413; this bounds reading

_REASONS = {400: "Bad Request", 408: "Request Timeout", 411: "Length Required",
            413: "Content Too Large", 431: "Request Header Fields Too Large"}


class _Reject(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class ConnectionHandler(socketserver.StreamRequestHandler):
    """Serves requests on one connection until the client or the server closes it."""

    server: Any  # the WSGI server: .app, .ssl_context, .server_address
    #: An idle connection is closed after this many seconds without a request.
    timeout = 60.0

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):  # not a TCP socket, or already closed
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        try:
            while self.handle_one():
                pass
        except (ConnectionError, TimeoutError, OSError) as exc:
            log.debug("connection from %s ended: %s", self.client_address, exc)

    def handle_one(self) -> bool:
        """Serve one request; whether the connection stays open for another."""
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False  # the client closed the connection
        if line in (b"\r\n", b"\n"):
            return True  # tolerate a stray empty line between requests (RFC 9112 §2.2)
        try:
            environ, keep_alive = self.read_request(line)
        except _Reject as exc:
            self.send_plain(exc.status, str(exc))
            return False
        status, headers, body = self.run_app(environ)
        self.write(environ["REQUEST_METHOD"], status, headers, body, keep_alive)
        return keep_alive

    def read_request(self, line: bytes) -> tuple[dict[str, Any], bool]:
        if len(line) > MAX_LINE:
            raise _Reject(400, "request line too long")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
            if len(parts) == 3 and parts[2].startswith("HTTP/"):
                # 505 would be the textbook answer; a client error keeps every answer to a
                # malformed request a 4xx, so no 5xx ever means anything but a provider bug.
                raise _Reject(400, "only HTTP/1.x is served")
            raise _Reject(400, "malformed request line")
        method, target, version = parts
        headers: list[tuple[str, str]] = []
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE or len(headers) > MAX_HEADERS:
                raise _Reject(431, "request header fields too large")
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip() or " " in name:
                raise _Reject(400, "malformed header line")
            headers.append((name, value.strip()))
        environ = self.environ(method, target, version, headers)
        connection = environ.get("HTTP_CONNECTION", "").lower()
        keep_alive = ("close" not in connection if version == "HTTP/1.1"
                      else "keep-alive" in connection)
        if "HTTP_TRANSFER_ENCODING" in environ:
            raise _Reject(411, "send the body with a Content-Length")
        length_text = environ.get("CONTENT_LENGTH", "")
        if length_text and not length_text.isdigit():
            raise _Reject(400, "malformed Content-Length")
        length = int(length_text or 0)
        if length > MAX_BODY:
            raise _Reject(413, "request body too large")
        if length and environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise ConnectionError("the client closed the connection mid-body")
        environ["wsgi.input"] = io.BytesIO(body)
        return environ, keep_alive

    def environ(self, method: str, target: str, version: str,
                headers: list[tuple[str, str]]) -> dict[str, Any]:
        path, _, query = target.partition("?")
        if path.startswith(("http://", "https://")):  # absolute-form (RFC 9112 §3.2.2)
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method.upper(),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "REQUEST_URI": target,
            "RAW_URI": target,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": self.client_address[0] if self.client_address else "",
            "REMOTE_PORT": str(self.client_address[1]) if self.client_address else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.server.ssl_context is not None else "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "werkzeug.socket": self.connection,
        }
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def run_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return lambda data: None  # write() is not used by the app

        result: Iterable[bytes] = self.server.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return answer[0], answer[1], body

    def write(self, method: str, status: str, headers: list[tuple[str, str]], body: bytes,
              keep_alive: bool) -> None:
        if method == "HEAD":
            body = b""
        lines = [f"HTTP/1.1 {status}"]
        has_length = False
        for name, value in headers:
            if name.lower() == "content-length":
                has_length = True
            lines.append(f"{name}: {value}")
        if not has_length:
            lines.append(f"Content-Length: {len(body)}")
        if not keep_alive:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.connection.sendall(head + body)

    def send_plain(self, status: int, detail: str) -> None:
        body = f'{{"error":"invalid_request","error_description":"{detail}"}}'.encode()
        self.write("GET", f"{status} {_REASONS.get(status, 'Bad Request')}",
                   [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                   body, keep_alive=False)
