"""The hand-written HTTP/1.1 handler (mockidp.web.http1) against one built on h11, the sans-IO
parser httpcore and uvicorn use, side by side in one run: keep-alive JWKS GETs with http.client
from this process, each server in a process of its own, rounds interleaved.

    python bench/http1_parsers.py

Two apps behind each handler: a bare WSGI app answering the provider's cached JWKS bytes (what
the framing costs) and the provider's own app (what a client sees). The h11 handler does what
h11 does and nothing more; the checks the hand-written one makes beyond h11 (bare LF, control
characters in values, "_" in names, HTTP/1.9) would cost it more.
"""

from __future__ import annotations

import http.client
import io
import socketserver
import statistics
import subprocess
import sys
import time
from typing import Any

import h11
from _harness import table

from mockidp.web.http1 import MAX_BODY, ConnectionHandler

ROUNDS = 5
SECONDS = 1.0
PATH = "/.well-known/jwks.json"


class H11Handler(ConnectionHandler):
    """The same environ, app call and single-write response, framed by h11."""

    def handle(self) -> None:
        conn = h11.Connection(h11.SERVER)
        sock = self.connection
        try:
            while True:
                request, body = self.next_request(conn)
                if request is None:
                    return
                target = request.target.decode("latin-1")
                version = "HTTP/" + request.http_version.decode("ascii")
                headers = [(n.decode("ascii"), v.decode("latin-1"))
                           for n, v in request.headers.raw_items()]
                environ = self.environ(request.method.decode("ascii"), target, version, headers)
                environ["wsgi.input"] = io.BytesIO(body)
                status, out_headers, out = self.run_app(environ)
                code, _, reason = status.partition(" ")
                if request.method == b"HEAD":
                    out = b""
                names = {name.lower() for name, _ in out_headers}
                fields = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in out_headers]
                if "content-length" not in names:
                    fields.append((b"Content-Length", str(len(out)).encode()))
                sock.sendall(conn.send(h11.Response(status_code=int(code), headers=fields,
                                                    reason=reason.encode("latin-1")))
                             + conn.send(h11.Data(data=out)) + conn.send(h11.EndOfMessage()))
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (h11.RemoteProtocolError, OSError):
            return

    def next_request(self, conn: h11.Connection) -> tuple[h11.Request | None, bytes]:
        request, body = None, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(self.connection.recv(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    return None, b""
            elif isinstance(event, h11.EndOfMessage):
                return request, body
            else:  # ConnectionClosed, PAUSED
                return None, b""


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[ConnectionHandler], app: Any) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.app, self.ssl_context = app, None


def serve(handler_name: str, app_name: str) -> None:
    """Server process: print the port, serve until killed."""
    from werkzeug.test import Client

    from mockidp import MockIdP

    idp = MockIdP()
    if app_name == "bytes":
        body = Client(idp.app).get(PATH).get_data()  # the bytes the provider caches and serves

        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
    else:
        app = idp.app
    handler = H11Handler if handler_name == "h11" else ConnectionHandler
    with Server(handler, app) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()


def one_round(port: int) -> float:
    """Requests per second over SECONDS on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    try:
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < SECONDS:
            connection.request("GET", PATH)
            response = connection.getresponse()
            assert response.status == 200, response.status
            response.read()
            count += 1
        return count / elapsed
    finally:
        connection.close()


def main() -> None:
    rows = []
    for app_name, label in [("bytes", "cached JWKS bytes, bare WSGI app"),
                            ("mockidp", "JWKS from the provider's app")]:
        processes = {name: subprocess.Popen([sys.executable, __file__, "--serve", name, app_name],
                                            stdout=subprocess.PIPE, text=True)
                     for name in ("hand-written", "h11")}
        try:
            ports = {name: int(process.stdout.readline())  # type: ignore[union-attr]
                     for name, process in processes.items()}
            for port in ports.values():  # warm up: imports, first request, caches
                one_round(port)
            rates: dict[str, list[float]] = {name: [] for name in ports}
            for _ in range(ROUNDS):  # interleaved, so drift on a shared machine hits both
                for name, port in ports.items():
                    rates[name].append(one_round(port))
        finally:
            for process in processes.values():
                process.terminate()
                process.communicate()
        hand, h11_rate = (statistics.median(rates[n]) for n in ("hand-written", "h11"))
        rows.append([label, f"{hand:,.0f}/s", f"{h11_rate:,.0f}/s", f"{h11_rate / hand:.2f}x"])
    table(f"http.client keep-alive GET {PATH}, medians of {ROUNDS} rounds of {SECONDS:.0f} s",
          ["app", "hand-written (mockidp.web.http1)", f"h11 {h11.__version__}", "h11 / hand"],
          rows)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], sys.argv[3])
    else:
        main()
