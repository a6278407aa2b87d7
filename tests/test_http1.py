"""The HTTP/1.1 handler against the attacks of the hardening issue, each over a raw socket to a
real provider on loopback: request smuggling through ambiguous framing (RFC 9112 §6.3, RFC 9110
§5.1), answers dropped on unencodable headers, slow clients holding threads, and connection
floods. Every test sends the attack and checks for the safe answer."""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import jwt
import pytest

from mockidp import MockIdP
from mockidp.web.http1 import ConnectionHandler
from mockidp.web.server import ServerThread

JWKS = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"
JWKS_CLOSE = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
SMUGGLED = b"GET /userinfo HTTP/1.1\r\nHost: x\r\n\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated name keeps its last value
    body: bytes

    def error_description(self) -> str:
        return str(json.loads(self.body)["error_description"])


@pytest.fixture
def idp() -> Iterator[MockIdP]:
    with MockIdP() as provider:
        yield provider


def connect(idp: MockIdP) -> socket.socket:
    return socket.create_connection((idp.host, idp.port), timeout=5)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (5 s at most)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def exchange(idp: MockIdP, raw: bytes) -> list[Answer]:
    """The answers to ``raw`` on one connection, read until the server closes it."""
    with connect(idp) as sock:
        sock.sendall(raw)
        return parse(read_all(sock))


def parse(data: bytes) -> list[Answer]:
    answers = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"a truncated answer: {head[:200]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        length = int(headers["content-length"])
        answers.append(Answer(int(status_line.split(" ")[1]), headers, data[:length]))
        data = data[length:]
    return answers


def refused(idp: MockIdP, raw: bytes, status: int = 400) -> Answer:
    """The one answer to ``raw``: ``status``, and the connection closed after it."""
    answers = exchange(idp, raw)
    assert [a.status for a in answers] == [status], answers
    assert answers[0].headers["connection"] == "close"
    return answers[0]


def paths(idp: MockIdP) -> list[str]:
    return [request.path for request in idp.requests]


# -- RFC 9112 §6.3: the body length must be unambiguous ----------------------------------------


@pytest.mark.parametrize("order", ["smuggled-length-first", "smuggled-length-last"])
def test_conflicting_content_lengths_are_400_not_a_smuggled_userinfo_request(
        idp: MockIdP, order: str) -> None:
    """RFC 9112 §6.3 item 5: a proxy taking one Content-Length and the server the other read
    the body as a second request; it must be a 400 and a close, with nothing served."""
    lengths = [b"Content-Length: %d\r\n" % len(SMUGGLED), b"Content-Length: 0\r\n"]
    if order == "smuggled-length-last":
        lengths.reverse()
    raw = b"POST /token HTTP/1.1\r\nHost: x\r\n" + b"".join(lengths) + b"\r\n" + SMUGGLED
    answer = refused(idp, raw)
    assert "Content-Length" in answer.error_description()
    assert paths(idp) == []  # neither /token nor the smuggled /userinfo reached the app


@pytest.mark.parametrize("lengths", [b"Content-Length: 5\r\nContent-Length: 5\r\n",
                                     b"Content-Length: 5, 5\r\n", b"Content-Length: 005\r\n"])
def test_identical_content_lengths_are_one_length(idp: MockIdP, lengths: bytes) -> None:
    """RFC 9110 §8.6: a repeated identical value may be taken as one."""
    raw = (b"POST /token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\n" + lengths + b"\r\na=b&c")
    [answer] = exchange(idp, raw)
    assert answer.status == 400 and answer.error_description() == "grant_type is required"
    assert idp.requests[0].form == {"a": "b", "c": ""}


@pytest.mark.parametrize("name", [b"Content_Length", b"content_length", b"Transfer_Encoding"])
def test_underscore_twin_of_a_framing_header_is_400_not_a_body_length(idp: MockIdP,
                                                                      name: bytes) -> None:
    """RFC 9110 §5.1: WSGI names ``Content_Length`` and ``Content-Length`` alike; the twin must
    not frame the body, nor leave the connection open for a smuggled request."""
    raw = (b"POST /token HTTP/1.1\r\nHost: x\r\n" + name + b": %d\r\n\r\n" % len(SMUGGLED)
           + SMUGGLED)
    answer = refused(idp, raw)
    assert "'_'" in answer.error_description()
    assert paths(idp) == []


def test_underscore_twin_cannot_spoof_a_forwarded_header() -> None:
    """RFC 9110 §5.1: a proxy strips X-Forwarded-Host from clients but passes its ``_`` twin."""
    with MockIdP(trust_forwarded=True) as idp:
        refused(idp, b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n"
                     b"X_Forwarded_Host: evil.example\r\n\r\n")


@pytest.mark.parametrize("line", [b"X(Y): 1", b"X@Y: 1", b"\xc4: 1", b"X\x00: 1", b": 1",
                                  b"Host : x", b" folded: 1", b"\tfolded: 1", b"no colon"],
                         ids=["paren", "at", "latin-1", "nul", "empty", "space-before-colon",
                              "obs-fold-sp", "obs-fold-tab", "no-colon"])
def test_header_names_that_are_not_tokens_are_400(idp: MockIdP, line: bytes) -> None:
    """RFC 9110 §5.1 (field-name = token), RFC 9112 §5.1 (no whitespace before the colon),
    RFC 9112 §5.2 (obs-fold refused)."""
    refused(idp, b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n")
    assert paths(idp) == []


@pytest.mark.parametrize("value", [b"\xb2", "٣".encode(), b"+5", b"-1", b"1_0", b"5 5",
                                   b"0x5", b"", b"5,", b"9" * 5000],
                         ids=["superscript-two", "arabic-three", "plus", "minus", "underscore",
                              "space", "hex", "empty", "trailing-comma", "5000-digits"])
def test_content_length_beyond_ascii_digits_is_400_not_a_dropped_connection(
        idp: MockIdP, value: bytes) -> None:
    """RFC 9112 §6.3 item 5, RFC 9110 §8.6 (Content-Length = 1*DIGIT): ``'²'.isdigit()`` is
    true and ``int('²')`` fails, which dropped the connection instead of answering."""
    status = 413 if value == b"9" * 5000 else 400
    refused(idp, b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: " + value
                 + b"\r\n\r\nabcde", status)
    assert paths(idp) == []


# -- answers are never dropped, and never carry an injected line ------------------------------


def test_non_latin1_header_value_is_percent_encoded_not_a_dropped_answer(idp: MockIdP) -> None:
    """RFC 9110 §5.5: field values are octets; ``中`` cannot be latin-1 encoded, which made the
    handler raise and drop the connection."""
    idp.endpoint("token").respond({}, headers={"X": "中", "Y": "café"})
    [answer] = exchange(idp, b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
    assert answer.status == 200 and answer.body == b"{}"
    assert answer.headers["x"] == "%E4%B8%AD"
    assert answer.headers["y"] == "café"  # latin-1 goes out as it always did


def test_www_authenticate_quoting_a_non_latin1_kid_still_answers(idp: MockIdP) -> None:
    """RFC 6750 §3: the 401 quotes the verification error, here a token's ``kid: "中"``."""
    token = jwt.encode({"sub": "x"}, "k" * 32, headers={"kid": "中"})
    [answer] = exchange(idp, b"GET /userinfo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                             + token.encode() + b"\r\nConnection: close\r\n\r\n")
    assert answer.status == 401
    assert "%E4%B8%AD" in answer.headers["www-authenticate"]
    assert json.loads(answer.body)["error"] == "invalid_token"


def test_control_characters_in_a_response_header_value_become_spaces(idp: MockIdP) -> None:
    """RFC 9110 §5.5: a recipient replaces CTLs with SP; the writer does so before sending, so
    a value cannot end its line (Werkzeug already refuses CR and LF in the app's headers, and
    the writer would turn them into SP too: see ``_safe_value``)."""
    idp.endpoint("token").respond({}, headers={"X": "a\x00b\x0bc\x1b[31md\x85e"})
    answers = exchange(idp, b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n")
    assert [a.status for a in answers] == [200]
    assert answers[0].headers["x"] == "a b c [31md e"


# -- slow clients and floods --------------------------------------------------------------------


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(ConnectionHandler, "request_deadline", 0.3)
    return 0.3


def test_short_body_is_408_after_the_deadline_not_a_held_thread(idp: MockIdP,
                                                                short_deadline: float) -> None:
    """RFC 9110 §15.5.9: a body shorter than its Content-Length held a thread for the 60 s idle
    timeout and ended in a silent close; now the deadline answers 408 and closes."""
    answer = refused(idp, b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                          b"0123456789", 408)
    assert answer.error_description() == "the request did not arrive in time"
    assert paths(idp) == []


@pytest.mark.parametrize("trickle", [
    b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1000 + b"\r\n\r\n",
    b"\r\n" * 1000,
], ids=["head", "empty-lines"])
def test_one_byte_trickle_is_408_after_the_deadline(idp: MockIdP, short_deadline: float,
                                                    trickle: bytes) -> None:
    """RFC 9110 §15.5.9: one byte at a time reset the socket timeout on every byte and held
    the connection for ever; the deadline runs from the request's first byte."""
    with connect(idp) as sock:
        for byte in trickle:  # one byte per 20 ms, until the server answers
            sock.sendall(bytes([byte]))
            if select.select([sock], [], [], 0.02)[0]:
                break
        else:
            pytest.fail("the server read the whole trickle")
        [answer] = parse(read_all(sock))
    assert answer.status == 408 and answer.headers["connection"] == "close"


def test_idle_keep_alive_outlives_the_request_deadline(idp: MockIdP,
                                                       short_deadline: float) -> None:
    """The deadline bounds a request, not the wait for the next one (the idle timeout)."""
    with connect(idp) as sock:
        sock.sendall(JWKS)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        assert select.select([sock], [], [], 3 * short_deadline)[0] == []  # still open, quiet
        sock.sendall(JWKS_CLOSE)
        assert [a.status for a in parse(read_all(sock))] == [200]


def test_connections_beyond_the_cap_get_503_and_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9110 §15.6.4: each connection holds a thread; past the cap, 503 and a close."""
    monkeypatch.setattr(ServerThread, "max_connections", 2)
    with MockIdP() as idp, connect(idp) as first, connect(idp) as second:
        for sock in (first, second):  # both served, both kept open
            sock.sendall(JWKS)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        with connect(idp) as third:
            [answer] = parse(read_all(third))
        assert answer.status == 503 and answer.headers["connection"] == "close"
        first.close()
        deadline = time.monotonic() + 5  # the first connection's thread ends on its own time
        while True:
            with connect(idp) as fourth:
                fourth.sendall(JWKS_CLOSE)
                [answer] = parse(read_all(fourth))
            if answer.status == 200 or time.monotonic() > deadline:
                break
        assert answer.status == 200


def test_stop_does_not_wait_out_a_request_half_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """stop() ends connections mid-request too, leaving no thread behind."""
    monkeypatch.setattr(ConnectionHandler, "request_deadline", 60.0)
    threads_before = set(threading.enumerate())
    idp = MockIdP()
    idp.start()
    with connect(idp) as sock:
        sock.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n01234")
        started = time.monotonic()
        idp.stop()
        assert time.monotonic() - started < 10  # not the 60 s deadline
    leftover = {t for t in set(threading.enumerate()) - threads_before
                if not t.name.startswith("mockidp-rsa-")}
    assert leftover == set()


# -- RFC 9112 §2.2, §2.3, §3.2, RFC 9110 §5.5: what a server rejects -----------------------------


@pytest.mark.parametrize("raw", [
    b"GET /.well-known/jwks.json HTTP/1.1\nHost: x\n\n",
    b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\nX: 1\r\n\r\n",
    b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\n",
    b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
], ids=["all-bare-lf", "one-bare-lf", "bare-lf-empty-line", "bare-cr"])
def test_bare_lf_and_cr_line_endings_are_400(idp: MockIdP, raw: bytes) -> None:
    """RFC 9112 §2.2: a recipient MAY take a bare LF for CRLF; one that does and one that does
    not read different heads, so it is refused, as a bare CR must be."""
    refused(idp, raw)
    assert paths(idp) == []


@pytest.mark.parametrize("value", [b"a\x00b", b"a\x01b", b"a\x1bb", b"a\x7fb"],
                         ids=["nul", "soh", "esc", "del"])
def test_control_characters_in_header_values_are_400(idp: MockIdP, value: bytes) -> None:
    """RFC 9110 §5.5: CTLs are invalid in a field value; NUL MUST be refused or replaced."""
    refused(idp, b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX: " + value + b"\r\n\r\n")


def test_tab_and_obs_text_in_header_values_are_served(idp: MockIdP) -> None:
    """RFC 9110 §5.5: HTAB and obs-text (0x80-0xFF) are field-value characters."""
    answers = exchange(idp, b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n"
                            b"X: a\tb \xe9\r\nConnection: close\r\n\r\n")
    assert [a.status for a in answers] == [200]
    assert idp.requests[0].headers["X"] == "a\tb é"


def test_http_1_9_is_read_as_http_1_1(idp: MockIdP) -> None:
    """RFC 9110 §2.5: a higher minor version is processed as the highest one implemented, so
    HTTP/1.9 keeps the connection open by default and needs a Host, as HTTP/1.1 does; before,
    it was read with HTTP/1.0's keep-alive rule, unlike a conforming proxy in front."""
    raw = (b"GET /.well-known/jwks.json HTTP/1.9\r\nHost: x\r\n\r\n"
           b"GET /.well-known/jwks.json HTTP/1.9\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [a.status for a in exchange(idp, raw)] == [200, 200]
    refused(idp, b"GET /.well-known/jwks.json HTTP/1.9\r\n\r\n")


@pytest.mark.parametrize("version", [b"HTTP/1.x", b"HTTP/1.10", b"http/1.1", b"HTTP/1",
                                     b"HTTP/2.0", b"HTTP/1.1 ", b"HTTP/0.9"])
def test_malformed_or_other_major_versions_are_400(idp: MockIdP, version: bytes) -> None:
    """RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive; only 1.x."""
    refused(idp, b"GET /.well-known/jwks.json " + version + b"\r\nHost: x\r\n\r\n")


@pytest.mark.parametrize("hosts", [b"", b"Host: x\r\nHost: y\r\n", b"Host: a b\r\n",
                                   b"Host: x/y\r\n", b"Host: x:port\r\n"],
                         ids=["missing", "two", "space", "slash", "bad-port"])
def test_http_1_1_without_exactly_one_valid_host_is_400(idp: MockIdP, hosts: bytes) -> None:
    """RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, with
    more than one, or with an invalid one."""
    refused(idp, b"GET /.well-known/jwks.json HTTP/1.1\r\n" + hosts + b"\r\n")


@pytest.mark.parametrize("raw", [
    b"GET /.well-known/jwks.json HTTP/1.0\r\n\r\n",
    b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",
    b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n",
], ids=["http-1.0-without-host", "empty-host", "ipv6-host"])
def test_valid_hosts_are_served(idp: MockIdP, raw: bytes) -> None:
    """RFC 9112 §3.2: HTTP/1.0 needs no Host; an empty Host is valid."""
    assert [a.status for a in exchange(idp, raw)] == [200]


@pytest.mark.parametrize("stray", [b"\r\n", b"\n", b"\r\n\r\n"])
def test_a_stray_empty_line_between_requests_is_tolerated(idp: MockIdP, stray: bytes) -> None:
    """RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request-line."""
    answers = exchange(idp, stray + JWKS + stray + JWKS_CLOSE)
    assert [a.status for a in answers] == [200, 200]


@pytest.mark.parametrize("target", [b"/\x00", b"/\xff", b"/a\x7fb"])
def test_request_targets_beyond_visible_ascii_are_400(idp: MockIdP, target: bytes) -> None:
    """RFC 9112 §3.2: a request-target is visible ASCII (RFC 3986 percent-encodes the rest)."""
    refused(idp, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")


# -- the fast lane: cached answers without a WSGI environ --------------------------------------

LANE_HEADERS = (b"Host: x\r\nUser-Agent: probe/1\r\nContent-Type: text/a\r\n"
                b"X-Twice: 1\r\nContent-Type: text/b\r\nx-twice: 2\r\nX-Empty:\r\n")


def _raw_answer(idp: MockIdP, raw: bytes) -> bytes:
    with connect(idp) as sock:
        sock.sendall(raw)
        return read_all(sock)


@pytest.mark.parametrize("tenant", [None, "t1"])
@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/openid-configuration",
                                  "/.well-known/oauth-authorization-server"])
def test_fast_lane_answers_and_records_like_the_general_path(
        idp: MockIdP, tenant: str | None, path: str) -> None:
    """The connection's fast lane (App.static_answer) writes the status, headers and body the
    WSGI path writes, and records the same request; a control on the endpoint sends the
    request down the general path, which is the reference here."""
    issuer = idp if tenant is None else idp.tenant(tenant)
    issuer.clock.freeze(2_000_000_000)
    full = ("" if tenant is None else f"/{tenant}") + path
    raw = (f"GET {full}?probe=1&probe=2&x HTTP/1.1\r\n".encode() + LANE_HEADERS
           + b"Connection: close\r\n\r\n")
    fast = _raw_answer(idp, raw)
    name = issuer.requests[0].endpoint
    assert name is not None
    issuer.endpoint(name).headers({})  # any control sends the request down the general path
    general = _raw_answer(idp, raw)
    fast_head, _, fast_body = fast.partition(b"\r\n\r\n")
    general_head, _, general_body = general.partition(b"\r\n\r\n")
    assert fast_body == general_body
    status, *lines = fast_head.split(b"\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert [status, *sorted(lines)] == [general_head.split(b"\r\n")[0],
                                        *sorted(general_head.split(b"\r\n")[1:])]
    first, second = issuer.requests
    assert first == second or (first.duration != second.duration and all(
        getattr(first, f) == getattr(second, f) for f in (
            "method", "path", "endpoint", "status", "time", "form", "body", "truncated",
            "remote_addr")))
    assert first.remote_addr == second.remote_addr == "127.0.0.1"
    assert dict(first.headers) == dict(second.headers)
    assert dict(first.query) == dict(second.query) == {"probe": "1", "x": ""}
    assert first.headers["Content-Type"] == "text/b" and first.headers["X-Twice"] == "1,2"
    assert first.path == full


def test_fast_lane_keeps_the_connection_and_answers_head(idp: MockIdP) -> None:
    head = b"HEAD /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(idp) as sock:
        sock.sendall(JWKS + head + JWKS_CLOSE)
        data = read_all(sock)
    rest = data.split(b"\r\n\r\n", 1)[1]
    body = idp.keys.jwks_bytes
    assert rest.startswith(body)
    head_answer, _, third = rest[len(body):].partition(b"\r\n\r\n")
    assert head_answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"Content-Length: {len(body)}".encode() in head_answer
    assert third.partition(b"\r\n\r\n")[2] == body  # nothing was sent for the HEAD's body
    assert [(r.method, r.status) for r in idp.requests] == [
        ("GET", 200), ("HEAD", 200), ("GET", 200)]


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response from a kept-alive connection: its status line and its body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\nContent-Length: *([0-9]+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0], body


def test_a_repeated_head_is_answered_unparsed_and_still_follows_the_controls(
        idp: MockIdP) -> None:
    """A head the lane answered before is looked up whole instead of parsed again; the lookup
    decides nothing the lane does not: the same answer and record while the endpoint is
    untouched, and the general path (here a fault) once a control is set on it."""
    raw = b"GET /.well-known/jwks.json?n=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: probe/1\r\n\r\n"
    with connect(idp) as sock:
        sock.sendall(raw)
        first = read_response(sock)
        sock.sendall(raw)
        second = read_response(sock)
        idp.endpoint("jwks").fail(503, times=1)
        sock.sendall(raw)
        failed = read_response(sock)
        sock.sendall(raw)
        recovered = read_response(sock)
    assert first[0] == second[0] == recovered[0] == b"HTTP/1.1 200 OK"
    assert first[1] == second[1] == recovered[1] == idp.keys.jwks_bytes
    assert failed[0].startswith(b"HTTP/1.1 503 ")
    assert [r.status for r in idp.requests] == [200, 200, 503, 200]
    assert all(r.query == {"n": "1"} and r.user_agent == "probe/1" for r in idp.requests)
