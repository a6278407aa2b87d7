"""One HTTP/1.1 connection serving the WSGI app, kept alive between requests.

Werkzeug's development handler builds on ``http.server``: it parses headers with the email
package and writes the response in pieces, which caps a keep-alive client at a fraction of what
the app can answer. This handler reads the request line and headers itself, hands the app a
plain WSGI environ, and writes each response in one ``sendall`` with ``TCP_NODELAY`` set. It
implements what the provider's clients need — keep-alive, ``Content-Length`` bodies,
``Expect: 100-continue``, HEAD — and answers anything else (chunked request bodies, oversized
or malformed heads) with a clear 4xx and a closed connection.

The framing rules are strict on purpose. A test provider often sits behind a proxy or next to a
client library with a parser of its own; wherever two parsers could read one byte stream as
different requests (request smuggling), this handler refuses the message and closes the
connection instead of guessing, so no byte after a doubtful head is ever read as a request.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import socketserver
import struct
import sys
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    #: (method, path, query, fields, keep_alive) -> the whole response, or None
    Lane = Callable[[str, str, str, "Fields", bool], bytes | None]

__all__ = ["ConnectionHandler", "Fields", "response_head"]

#: A request's header fields as received: (name, value) in order, values without OWS.
Fields = tuple[tuple[str, str], ...]

log = logging.getLogger("mockidp.server")

MAX_LINE = 16 * 1024  # a request line or one header line
MAX_HEADERS = 100
MAX_BODY = 8 * 1024 * 1024  # the app refuses more than 1 MiB with 413; this bounds reading

# RFC 9110 §5.6.2 tchar, for methods and field names.
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
# RFC 9112 §3: method SP request-target SP HTTP-version CRLF, the target visible ASCII only
# (RFC 9112 §3.2; RFC 3986 has no other characters) and the version "HTTP/" DIGIT "." DIGIT
# (RFC 9112 §2.3, case-sensitive).
_REQUEST_LINE = re.compile(rb"([" + _TCHAR + rb"]+) ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])\r\n")
# RFC 9112 §5: field-name ":" OWS field-value OWS CRLF, the name a token (RFC 9110 §5.1) but
# without "_" (see _field_line_problem), the value field-vchar, SP and HTAB only (RFC 9110 §5.5).
_FIELD_LINE = re.compile(rb"([" + _TCHAR.replace(b"_", b"") + rb"]+):([\t\x20-\x7e\x80-\xff]*)\r\n")
#: A block of field lines, each as _FIELD_LINE takes it.
_FIELD_LINES = re.compile(b"(?:" + _FIELD_LINE.pattern.replace(b"(", b"(?:") + b")+")
_TOKEN = re.compile(rb"[" + _TCHAR + rb"]+")
# RFC 9110 §7.2 / RFC 3986 §3.2.2: uri-host [ ":" port ]; empty is allowed (RFC 9112 §3.2).
# No "," although RFC 3986 allows it in a reg-name: no DNS name or address holds one, and
# several Host lines, joined with "," (RFC 9110 §5.3), must fail this.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+;=%]*)(:[0-9]*)?")

#: The fields whose joined values decide the framing and the connection.
_FRAMING = frozenset({"connection", "host", "transfer-encoding", "content-length", "expect"})
#: Header blocks (field lines and the empty line) read lately -> their fields and framing.
_KNOWN_BLOCKS: dict[bytes, tuple[Fields, dict[str, str]]] = {}
#: Whole heads (request line to empty line) of bodiless GETs and HEADs the fast lane answered
#: lately -> (method, path, query, fields, keep_alive): what :meth:`ConnectionHandler.read_head`
#: made of the same bytes, so a client repeating its request is not parsed again.
_KNOWN_HEADS: dict[bytes, tuple[str, str, str, Fields, bool]] = {}

_REASONS = {400: "Bad Request", 408: "Request Timeout", 411: "Length Required",
            413: "Content Too Large", 431: "Request Header Fields Too Large"}


class _Reject(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class _DeadlineSocketIO(io.RawIOBase):
    """The socket's reading end, each read bounded by the idle timeout or, while a request is
    arriving, by what is left of its deadline.

    A socket timeout alone bounds each ``recv``, not a request: a client sending one byte a
    second never trips it. Setting the timeout to the time left before every ``recv`` makes
    the deadline hold however the bytes are spread. The timeout is set only when the value
    changes, so a request that arrives in one segment costs no extra system call.

    On Linux a plain TCP socket stays blocking and the kernel keeps the timeouts
    (``SO_RCVTIMEO``, ``SO_SNDTIMEO``): Python's own socket timeout polls before every
    ``recv`` and ``send``, a system call each, which on a keep-alive connection is a third of
    the system calls per request. A TLS socket keeps Python's timeout."""

    def __init__(self, sock: socket.socket, idle: float) -> None:
        super().__init__()
        self.sock = sock
        self.idle = idle
        self.deadline: float | None = None  # time.monotonic() by which the request must be in
        self.kernel = sys.platform == "linux" and type(sock) is socket.socket
        if self.kernel:
            sock.settimeout(None)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(idle))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(idle))
            self.current: float | None = idle
        else:
            self.current = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is None:
            if self.current != self.idle:  # the usual case, waiting for a request, costs no call
                self.set_timeout(self.idle)
        else:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request deadline passed")
            self.set_timeout(left)
        try:
            return self.sock.recv_into(buffer)
        except BlockingIOError:  # SO_RCVTIMEO ran out
            raise TimeoutError("timed out") from None

    def set_timeout(self, seconds: float) -> None:
        if seconds != self.current:
            if self.kernel:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(seconds))
            else:
                self.sock.settimeout(seconds)
            self.current = seconds


def _timeval(seconds: float) -> bytes:
    """``seconds`` as a ``struct timeval`` (Linux), at least a microsecond: zero means none."""
    micros = max(int(seconds * 1_000_000), 1)
    return struct.pack("@ll", micros // 1_000_000, micros % 1_000_000)


class ConnectionHandler(socketserver.BaseRequestHandler):
    """Serves requests on one connection until the client or the server closes it."""

    server: Any  # the WSGI server: .app, .ssl_context, .server_address
    #: An idle connection is closed after this many seconds without a request.
    timeout = 60.0
    #: Seconds from a request's first byte to its last (head and body), answered 408 past it.
    #: Without it a client holds a thread for as long as it trickles bytes (RFC 9110 §15.5.9).
    request_deadline = 5.0

    connection: socket.socket
    rfile: io.BufferedReader

    def setup(self) -> None:
        self.connection = self.request
        self.connection.settimeout(self.timeout)
        with contextlib.suppress(OSError):  # not a TCP socket, or already closed
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = _DeadlineSocketIO(self.connection, self.timeout)
        self.rfile = io.BufferedReader(self.reader)
        #: The app's answer to GETs and HEADs of cached bytes, if it offers one: called with
        #: (method, path, query, fields, keep_alive), it returns the whole response or None.
        self.lane: Lane | None = getattr(self.server.app, "static_answer", None)

    def finish(self) -> None:
        self.rfile.close()  # the socket itself is closed by the server

    def handle(self) -> None:
        try:
            while self.handle_one():
                pass
        except (ConnectionError, TimeoutError, OSError) as exc:
            log.debug("connection from %s ended: %s", self.client_address, exc)

    def handle_one(self) -> bool:
        """Serve one request; whether the connection stays open for another.

        Waiting for a request is bounded by the idle ``timeout``, which ends the connection
        silently as before; from the request's first byte to its last, by ``request_deadline``,
        answered with 408 and a close (RFC 9110 §15.5.9)."""
        buffered = self.rfile.peek(1)
        if not buffered:
            return False  # the client closed the connection
        # A head the lane answered lately, whole in the buffer: answered again unparsed.
        end = buffered.find(b"\r\n\r\n") + 4
        head = buffered if end == len(buffered) else buffered[:end]
        if end >= 4:
            known = _KNOWN_HEADS.get(head)
            if known is not None:
                answer = self.fast_lane(*known)
                if answer is not None:
                    self.rfile.read(end)
                    self.connection.sendall(answer)
                    return known[4]
        self.reader.deadline = time.monotonic() + self.request_deadline
        try:
            line = self.rfile.readline(MAX_LINE + 1)
            while line in (b"\r\n", b"\n"):
                # RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before
                # the request-line (old clients send a CRLF after a POST body). They count
                # against the deadline, so a trickle of them cannot hold the connection either.
                line = self.rfile.readline(MAX_LINE + 1)
            if not line:
                return False  # the client closed the connection
            method, target, version, fields, keep_alive, length = self.read_head(line)
            answer = None
            if length is None and self.lane is not None and method in ("GET", "HEAD"):
                path, _, query = target.partition("?")
                answer = self.fast_lane(method, path, query, fields, keep_alive)
                if answer is not None and end >= 4 and head.startswith(line):
                    # The same bytes again take the lane without being parsed.
                    if len(_KNOWN_HEADS) >= 256:
                        _KNOWN_HEADS.clear()
                    _KNOWN_HEADS[head] = (method, path, query, fields, keep_alive)
            if answer is None:
                environ = self.read_request(method, target, version, fields, length or 0)
        except _Reject as exc:
            self.send_plain(exc.status, str(exc))
            return False
        except TimeoutError:
            self.send_plain(408, "the request did not arrive in time")
            return False
        finally:
            self.reader.deadline = None
            if self.reader.current != self.timeout:  # for writing, and the next idle wait
                self.reader.set_timeout(self.timeout)
        if answer is not None:
            self.connection.sendall(answer)
            return keep_alive
        try:
            status, headers, body = self.run_app(environ)
        except Exception:  # the app answers its own errors; this is a provider bug
            log.exception("the app failed on %s %s", environ["REQUEST_METHOD"],
                          environ["PATH_INFO"])
            status, keep_alive = "500 Internal Server Error", False
            body = b'{"error":"server_error"}'
            headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        self.write(environ["REQUEST_METHOD"], status, headers, body, keep_alive)
        return keep_alive

    def fast_lane(self, method: str, path: str, query: str, fields: Fields,
                  keep_alive: bool) -> bytes | None:
        """The whole response to a bodiless GET or HEAD from the app's ``static_answer``
        (the cached JWKS and metadata), without a WSGI environ; None when the app wants the
        request served the general way. Only an origin-form target without percent-escapes
        takes it, so its path is the WSGI ``PATH_INFO`` as it stands."""
        if self.lane is None or path[:1] != "/" or "%" in path:
            return None
        try:
            return self.lane(method, path, query, fields, keep_alive)
        except Exception:  # a provider bug: logged, and the WSGI app answers the request
            log.exception("the fast lane failed on %s %s", method, path)
            return None

    def read_head(self, line: bytes) -> tuple[str, str, str, Fields, bool, int | None]:
        """The request whose request-line is ``line``, its header fields read: method, target,
        version, fields; whether the connection may serve another request after it; and its
        body length (None without a ``Content-Length``).

        Anything RFC 9112 lets a server refuse and that a lenient parser could read differently
        from a strict one is refused with 400 and a closed connection (RFC 9112 §6.3 item 5
        requires the close for an invalid ``Content-Length``)."""
        match = _REQUEST_LINE.fullmatch(line)
        if match is None:
            if len(line) > MAX_LINE:
                raise _Reject(400, "request line too long")
            raise _Reject(400, _request_line_problem(line))
        if match[3] != b"1":
            # 505 would be the textbook answer; a client error keeps every answer to a
            # malformed request a 4xx, so no 5xx ever means anything but a provider bug.
            raise _Reject(400, "only HTTP/1.x is served")
        # RFC 9110 §2.5: a higher minor version is processed as the highest one implemented,
        # so HTTP/1.9 is HTTP/1.1 here (keep-alive by default, Host required) — the same
        # reading a conforming proxy in front of this server makes of it.
        version = "HTTP/1.0" if match[4] == b"0" else "HTTP/1.1"
        fields, framing = self.buffered_fields() or self.read_fields()
        connection = framing.get("connection")
        tokens = () if connection is None else {
            token.strip(" \t").lower() for token in connection.split(",")}
        keep_alive = ("close" not in tokens if version == "HTTP/1.1"
                      else "keep-alive" in tokens)
        host = framing.get("host")
        if (host is None and version == "HTTP/1.1") or (
                host is not None and _HOST.fullmatch(host) is None):
            # RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host,
            # with more than one, or with an invalid one.
            raise _Reject(400, "send exactly one valid Host header (RFC 9112 §3.2)")
        if "transfer-encoding" in framing:
            raise _Reject(411, "send the body with a Content-Length")
        length = None
        if "content-length" in framing:
            length = _content_length(framing["content-length"])
        if length and framing.get("expect", "").lower() == "100-continue":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        return (match[1].decode("ascii"), match[2].decode("ascii"), version, fields,
                keep_alive, length)

    def buffered_fields(self) -> tuple[Fields, dict[str, str]] | None:
        """The header fields and their :func:`_framing`, when all of them and the empty line
        are already buffered (as a request that came in one segment has them) and every line
        is valid and within the limits: one match over the whole block instead of one read
        and match per line, and none for a block seen lately (a client sends the same headers
        each time). None leaves the reading and the refusals to :meth:`read_fields`."""
        buffered = self.rfile.peek(2)
        if buffered[:2] == b"\r\n":
            end = 0  # no fields
        else:
            end = buffered.find(b"\r\n\r\n") + 2  # after the last field line's CRLF
            if end < 2:  # not there: the head is still arriving, or is refused line by line
                return None
        block = buffered[:end]
        known = _KNOWN_BLOCKS.get(block)
        if known is None:
            if end and _FIELD_LINES.fullmatch(block) is None:
                return None
            lines = block[:-2].decode("latin-1").split("\r\n") if end else []
            if len(lines) > MAX_HEADERS or max(map(len, lines), default=0) + 2 > MAX_LINE:
                return None
            fields = []
            for line in lines:
                name, _, value = line.partition(":")
                fields.append((name, value.strip(" \t")))
            known = (tuple(fields), _framing(fields))
            if len(_KNOWN_BLOCKS) >= 256:
                _KNOWN_BLOCKS.clear()
            _KNOWN_BLOCKS[block] = known
        self.rfile.read(end + 2)
        return known

    def read_fields(self) -> tuple[Fields, dict[str, str]]:
        """The header fields, read line by line up to the empty line, each checked; and
        their :func:`_framing`."""
        fields: list[tuple[str, str]] = []
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if raw == b"\r\n":
                return tuple(fields), _framing(fields)
            if len(raw) > MAX_LINE or len(fields) >= MAX_HEADERS:
                raise _Reject(431, "request header fields too large")
            field = _FIELD_LINE.fullmatch(raw)
            if field is None:
                raise _Reject(400, _field_line_problem(raw))
            fields.append((field[1].decode("ascii"), field[2].decode("latin-1").strip(" \t")))

    def read_request(self, method: str, target: str, version: str,
                     fields: Fields, length: int) -> dict[str, Any]:
        """The WSGI environ of a request whose head :meth:`read_head` read, body read."""
        environ = self.environ(method, target, version, fields)
        if "CONTENT_LENGTH" in environ:
            environ["CONTENT_LENGTH"] = str(length)
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise _Reject(400, "the request body ended before its Content-Length")
        environ["wsgi.input"] = io.BytesIO(body)
        return environ

    def environ(self, method: str, target: str, version: str,
                headers: Fields) -> dict[str, Any]:
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
            if key == "CONTENT_TYPE":
                environ[key] = value
                continue
            if key != "CONTENT_LENGTH":
                key = "HTTP_" + key
            # Repeated lines join into one list (RFC 9110 §5.3): a second Content-Length or
            # Host stays visible to the checks instead of replacing the first.
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
        """Send the response in one ``sendall``.

        Every header is made safe to send rather than trusted: a value the app or a test put
        there (``respond(headers=...)``, a token's ``kid`` quoted in ``WWW-Authenticate``) may
        hold characters latin-1 cannot encode, or CR/LF. Encoding must never fail, or the
        client gets a dropped connection instead of an answer; and no value may end a line,
        or it could inject a header or a whole response (RFC 9110 §5.5, RFC 9112 §4)."""
        if method == "HEAD":
            body = b""
        self.connection.sendall(response_head(status, headers, len(body), keep_alive) + body)

    def send_plain(self, status: int, detail: str) -> None:
        body = json.dumps({"error": "invalid_request", "error_description": detail},
                          separators=(",", ":")).encode()
        self.write("GET", f"{status} {_REASONS.get(status, 'Bad Request')}",
                   [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                   body, keep_alive=False)


def _framing(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The values of the :data:`_FRAMING` fields, by lower-case name. Repeated lines join
    into one list (RFC 9110 §5.3): a second Content-Length or Host stays visible to the
    checks instead of replacing the first."""
    framing: dict[str, str] = {}
    for name, value in fields:
        lower = name.lower()
        if lower in _FRAMING:
            framing[lower] = f"{framing[lower]},{value}" if lower in framing else value
    return framing


def response_head(status: str, headers: Iterable[tuple[str, str]], length: int,
                  keep_alive: bool) -> bytes:
    """The status line and header fields of a response, its blank line included, each value
    made safe to send (see :meth:`ConnectionHandler.write`); a ``Content-Length`` of
    ``length`` unless ``headers`` have one, and ``Connection: close`` unless ``keep_alive``."""
    lines = [f"HTTP/1.1 {status}"]
    has_length = False
    for name, value in headers:
        if not _is_token(name):
            log.warning("dropped a response header with an invalid name: %r", name)
            continue
        if name.lower() == "content-length":
            has_length = True
        lines.append(f"{name}: {value}")
    if not has_length:
        lines.append(f"Content-Length: {length}")
    if not keep_alive:
        lines.append("Connection: close")
    text = "\r\n".join(lines)
    # One scan of the whole head instead of one per value: printable ASCII apart from the
    # CRLFs put between the lines here, so no value holds a CR or LF of its own.
    if not (text.isascii() and text.count("\r") == text.count("\n") == len(lines) - 1
            and text.replace("\r\n", "").isprintable()):
        text = "\r\n".join([f"HTTP/1.1 {_safe_value(status)}",
                             *(_safe_line(line) for line in lines[1:])])
    return (text + "\r\n\r\n").encode("latin-1")


def _request_line_problem(line: bytes) -> str:
    """Why ``line`` is not a request-line, for the 400's error_description."""
    if line.endswith(b"\n") and not line.endswith(b"\r\n"):
        return "lines end with CRLF; a bare LF is refused (RFC 9112 §2.2)"
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) == 3 and parts[2].startswith(b"HTTP/") and not parts[2].startswith(b"HTTP/1."):
        return "only HTTP/1.x is served"
    return "malformed request line (RFC 9112 §3)"


def _field_line_problem(raw: bytes) -> str:
    """Why ``raw`` is not a field line, for the 400's error_description.

    Names with ``_`` are refused rather than dropped. CGI and WSGI name a header by
    upper-casing it and turning ``-`` into ``_``, so ``Content_Length`` and ``Content-Length``
    would be one variable; dropping the ``_`` twin (nginx's and Apache's choice) would still
    leave the connection open with a head that a proxy in front may have read differently —
    say, taking the twin's length for the body's. Refusing answers 400 and closes the
    connection, so no byte after such a head is ever parsed as a request, and the test author
    reads why instead of missing a header silently (RFC 9110 §5.1, RFC 3875 §4.1.18)."""
    if not raw.endswith(b"\r\n") or b"\r" in raw[:-2]:
        if not raw.endswith(b"\n"):
            return "the request head ended before its empty line"
        return "lines end with CRLF; a bare LF or CR is refused (RFC 9112 §2.2)"
    if raw[:1] in (b" ", b"\t"):
        return "obsolete line folding is refused (RFC 9112 §5.2)"
    name, sep, _ = raw.partition(b":")
    if not sep:
        return "malformed header line (RFC 9112 §5)"
    if name != name.rstrip(b" \t"):
        return "whitespace between a header name and its colon is refused (RFC 9112 §5.1)"
    if _TOKEN.fullmatch(name) is None:
        return "a header name must be a token (RFC 9110 §5.1)"
    if b"_" in name:
        return ("header names with '_' are refused: WSGI would take them for their '-' twins "
                "(RFC 9110 §5.1)")
    return "control characters in a header value are refused (RFC 9110 §5.5)"


def _content_length(value: str) -> int:
    """The body length a ``Content-Length`` value gives, its lines joined with ``,``.

    RFC 9112 §6.3 item 5: an invalid ``Content-Length`` makes the framing unrecoverable and
    the server MUST answer 400 and close. Several lines or a list are accepted only when every
    value is the same (RFC 9110 §8.6), since a proxy taking the first and a server taking the
    last would split one byte stream into different requests. Only ASCII digits count:
    ``str.isdigit()`` also accepts ``²`` and ``٣``, which ``int()`` then refuses."""
    lengths: set[str] = set()
    for item in value.split(","):
        item = item.strip(" \t")
        if not (item.isascii() and item.isdigit()):
            raise _Reject(400, "malformed Content-Length (RFC 9110 §8.6)")
        lengths.add(item.lstrip("0") or "0")
    if len(lengths) != 1:
        raise _Reject(400, "conflicting Content-Length values (RFC 9112 §6.3)")
    digits = lengths.pop()
    if len(digits) > len(str(MAX_BODY)) or int(digits) > MAX_BODY:
        raise _Reject(413, "request body too large")
    return int(digits)


def _safe_line(line: str) -> str:
    """A ``name: value`` line with its value made safe by :func:`_safe_value`."""
    name, _, value = line.partition(": ")
    return f"{name}: {_safe_value(value)}"


def _safe_value(value: str) -> str:
    """``value`` as a field value that encodes to latin-1 and cannot end its line.

    Control characters (CR, LF and NUL among them) become SP, as RFC 9110 §5.5 has a recipient
    do; characters beyond latin-1 are percent-encoded as UTF-8, so ``中`` arrives as
    ``%E4%B8%AD`` — lossy for a value that held a literal ``%``, but readable, and an answer."""
    out = []
    for char in value:
        if char == "\t" or " " <= char <= "~" or "\xa0" <= char <= "\xff":
            out.append(char)
        elif char < " " or "\x7f" <= char <= "\x9f":
            out.append(" ")
        else:
            out.append(quote(char, safe=""))
    return "".join(out)


@lru_cache(maxsize=256)
def _is_token(name: str) -> bool:
    """Whether ``name`` is a field name (RFC 9110 §5.1); cached, as apps reuse a few names."""
    return name.isascii() and _TOKEN.fullmatch(name.encode("ascii")) is not None
