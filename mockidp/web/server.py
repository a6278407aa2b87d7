"""The server thread: bind, serve, stop.

A threading ``socketserver`` accepts connections and :mod:`mockidp.web.http1` serves each. Three
things differ from ``serve_forever()``, each for a measured reason:

* The socket is bound here, so a port in use becomes a :class:`~mockidp.errors.BindError`
  with the reason, never a message on stderr and an exit.
* The accept loop waits on the listening socket *and* a wake-up pipe, so ``stop()`` returns in
  well under a millisecond instead of waiting out ``serve_forever``'s poll interval (0.5 s).
* Open connections are tracked and shut down on stop, and handler threads are joined, so a
  client holding a keep-alive connection leaves no thread or socket behind.
* Open connections are capped (``ServerThread.max_connections``): each holds a thread, and
  without a cap a client opening connections in a loop makes threads until the process fails.
  Past the cap a connection is answered 503 with ``Connection: close`` from the accept loop.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import socketserver
import threading
from typing import TYPE_CHECKING, Any

from ..errors import BindError, ConfigurationError, ServerError
from .http1 import ConnectionHandler

if TYPE_CHECKING:
    import ssl

    from _typeshed.wsgi import WSGIApplication

__all__ = ["ServerThread", "format_host", "peer_address"]

log = logging.getLogger("mockidp.server")

#: Each connection's thread knows its peer: the fast lane records it without an environ.
_peer = threading.local()


def peer_address() -> str:
    """The IP address of the client this connection's thread serves ("" outside one)."""
    return getattr(_peer, "address", "")

_BUSY_BODY = (b'{"error":"temporarily_unavailable",'
              b'"error_description":"too many open connections"}')
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Cache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\n"
         b"Content-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))


def format_host(host: str) -> str:
    """``host`` as it appears in a URL: IPv6 literals in brackets (RFC 3986 §3.2.2)."""
    return f"[{host}]" if ":" in host else host


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Accepts connections on a socket bound elsewhere and serves each from its own thread."""

    daemon_threads = False  # joined in server_close(), so stop() leaves no thread behind
    block_on_close = True

    def __init__(self, sock: socket.socket, app: WSGIApplication,
                 ssl_context: ssl.SSLContext | None, max_connections: int = 256) -> None:
        super().__init__(sock.getsockname(), ConnectionHandler, bind_and_activate=False)
        self.socket.close()  # TCPServer made a socket of its own; ours is already listening
        self.socket = sock
        self.server_address = sock.getsockname()
        self.app = app
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            full = len(self._connections) >= self.max_connections
            if not full:
                self._connections.add(request)
        if full:
            self.refuse(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """The connection's own thread: it knows its peer for the fast lane's record."""
        _peer.address = client_address[0] if isinstance(client_address, tuple) else ""
        super().process_request_thread(request, client_address)

    def refuse(self, request: socket.socket) -> None:
        """Answer 503 (RFC 9110 §15.6.4) and close, without a thread.

        The answer is written without blocking — a new connection's send buffer is empty — and
        whatever request already arrived is read off first, so closing sends FIN rather than a
        reset that could destroy the answer before the client reads it. A TLS connection is
        closed unanswered: answering would take a handshake in the accept loop, where one
        stalled client would hold up the whole server."""
        log.warning("refused a connection: %d open already", self.max_connections)
        if self.ssl_context is None:
            with contextlib.suppress(OSError):
                request.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    request.recv(65536)
                request.send(_BUSY)
        self.shutdown_request(request)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """End every open connection, idle keep-alive ones included."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(host, port, f"cannot resolve host: {exc.strerror}") from None
    family, type_, proto, _, address = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else str(exc)
        raise BindError(host, port, reason) from None
    return sock


class ServerThread:
    """Serves a WSGI app on ``host:port`` from a named background thread."""

    #: Connections served at once; more are answered 503 and closed (each holds a thread).
    max_connections = 256

    def __init__(self, app: WSGIApplication, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError(
                f"port must be an int from 0 to 65535 (0 = any free port), not {port!r}"
            )
        if not isinstance(host, str) or not host:
            raise ConfigurationError(f"host must be a non-empty string, not {host!r}")
        self.app = app
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def address(self) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
        """The listening socket's family and address, while serving (where an intercepted
        host's connections go)."""
        if self._server is None:
            raise ServerError("the server is not running")
        sock = self._server.socket
        return sock.family, sock.getsockname()

    def start(self) -> None:
        """Bind and start serving; connections are accepted as soon as this returns."""
        if self._thread is not None:
            return
        sock = _bind(self.host, self.port)
        if self.ssl_context is not None:
            # The handshake is left to the first read, in the connection's own thread: done in
            # accept() it would let one stalled client hold up the whole server.
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        sock.setblocking(False)  # a client gone between select and accept must not block
        server = _Server(sock, self.app, self.ssl_context, self.max_connections)
        self.port = server.server_address[1]
        self._server = server
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve, name=f"mockidp-server-{self.port}", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        assert self._server is not None and self._wake is not None
        server, wake = self._server, self._wake[0]
        with selectors.DefaultSelector() as selector:
            selector.register(server.socket, selectors.EVENT_READ, "accept")
            selector.register(wake, selectors.EVENT_READ, "wake")
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    server._handle_request_noblock()  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop accepting, end open connections and join every thread. Idempotent."""
        thread, server, wake = self._thread, self._server, self._wake
        if thread is None or server is None or wake is None:
            return
        wake[1].send(b"x")
        thread.join()
        server.close_connections()
        server.server_close()  # closes the listening socket and joins handler threads
        for end in wake:
            end.close()
        self._thread = self._server = self._wake = None
