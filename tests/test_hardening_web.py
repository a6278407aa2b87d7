"""The web face against an adversarial probe: each test replays one attack over real HTTP on
loopback against a real provider (no mock of our own server) and checks the safe answer.

docs/testing.md ("Hardening") maps each finding to its test here.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import re
import subprocess
import sys

import pytest

from mockidp import ConfigurationError, MockIdP

REBIND = "rebind.attacker.example"


def call(idp: MockIdP, method: str, target: str, *, host: str | None = None,
         headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, http.client.HTTPResponse, bytes]:
    """One request, its Host header as given (a DNS-rebinding page's browser sends the
    attacker's name), over a fresh connection to the provider's bound socket."""
    connection = http.client.HTTPConnection("127.0.0.1", idp.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host if host is not None else f"127.0.0.1:{idp.port}")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response, response.read()
    finally:
        connection.close()


def error_of(data: bytes) -> str:
    document = json.loads(data)
    assert set(document) == {"error", "error_description"}
    return str(document["error"])


# -- 2. DNS rebinding -------------------------------------------------------------------------

def test_dns_rebinding_page_cannot_mint_read_the_log_or_replace_the_jwks(idp: MockIdP) -> None:
    """The rebound page's browser sends ``Host`` and ``Origin`` of the attacker's name; the
    Origin check alone passed (it compared Origin with a host taken from Host)."""
    attacker = f"{REBIND}:{idp.port}"
    origin = {"Origin": f"http://{attacker}", "Content-Type": "application/json"}
    jwks_before = idp.jwks()
    for method, target in [("POST", "/_mockidp/token"), ("GET", "/_mockidp/requests"),
                           ("POST", "/_mockidp/keys/rotate"), ("POST", "/_mockidp/keys/add"),
                           ("GET", "/_mockidp/state"), ("GET", "/_mockidp/ui"),
                           ("POST", "/_mockidp/ui/rotate"), ("GET", "/_mockidp/nowhere")]:
        status, response, data = call(idp, method, target, host=attacker, headers=origin,
                                      body=b"{}" if method == "POST" else None)
        assert status == 421, (target, data)
        assert error_of(data) == "invalid_request"
        assert response.headers["Content-Type"] == "application/json"
        assert b"token" not in data or b"Host" in data
    assert idp.jwks() == jwks_before
    # and the tenants' control APIs, which share the parent's settings
    idp.tenant("t1")
    status, _, _ = call(idp, "POST", "/t1/_mockidp/token", host=attacker, headers=origin,
                        body=b"{}")
    assert status == 421


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST",
                                  "127.0.0.2:{port}", "[::1]:{port}", "127.0.0.1"])
def test_loopback_hosts_still_drive_the_control_api(idp: MockIdP, host: str) -> None:
    status, _, data = call(idp, "POST", "/_mockidp/token", host=host.format(port=idp.port),
                           body=b"{}")
    assert status == 200, data
    assert idp.verify(json.loads(data)["token"])


def test_issuer_url_host_drives_the_control_api_and_lookalikes_do_not() -> None:
    with MockIdP(issuer_url="http://idp.test:8080") as idp:
        assert call(idp, "GET", "/_mockidp/state", host="idp.test:8080")[0] == 200
        assert call(idp, "GET", "/_mockidp/state", host="idp.test.attacker.example")[0] == 421
        assert call(idp, "GET", "/_mockidp/state", host="localhost.attacker.example")[0] == 421
        # the public endpoints answer any Host: consumers reach them through proxies
        assert call(idp, "GET", "/.well-known/jwks.json", host=REBIND)[0] == 200


def test_forwarded_host_does_not_open_the_control_api() -> None:
    """A rebound page can set X-Forwarded-Host itself (it is no forbidden header name)."""
    with MockIdP(trust_forwarded=True) as idp:
        status, _, _ = call(idp, "GET", "/_mockidp/state", host=REBIND,
                            headers={"X-Forwarded-Host": f"127.0.0.1:{idp.port}"})
        assert status == 421


# -- 3. request-log amplification -------------------------------------------------------------

def test_request_log_amplification_is_bounded(idp: MockIdP) -> None:
    """100 headers of 16 KiB and a 1 MiB form used to be kept whole (~2.9 MiB per entry)."""
    from mockidp.core.recording import BODY_LIMIT, ENTRY_LIMIT, FIELD_LIMIT, TRUNCATED, VALUE_LIMIT

    headers = {f"X-Pad-{n}": "h" * 16_000 for n in range(90)}
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    form = "&".join(f"f{n}={'v' * 9_000}" for n in range(110)).encode()
    query = "&".join(f"q{n}=" + "x" * 60 for n in range(40))
    status, _, _ = call(idp, "POST", "/token?" + query, headers=headers, body=form)
    assert status == 400
    [entry] = idp.requests_to("token")
    assert entry.truncated
    for mapping in (entry.headers, entry.form, entry.query):
        assert len(mapping) <= FIELD_LIMIT
        assert all(len(v) <= VALUE_LIMIT + len(TRUNCATED) for v in mapping.values())
        assert sum(len(k) + len(v) for k, v in mapping.items()) <= ENTRY_LIMIT + 2 * len(
            TRUNCATED) * FIELD_LIMIT
    assert any(v.endswith(TRUNCATED) for v in entry.headers.values())
    assert any(v.endswith(TRUNCATED) for v in entry.form.values())
    assert len(entry.body) <= BODY_LIMIT
    assert entry.headers["Host"] == f"127.0.0.1:{idp.port}"  # the first ones are kept whole
    # the control API's view says so too
    [seen] = json.loads(call(idp, "GET", "/_mockidp/requests?endpoint=token")[2])["requests"]
    assert seen["truncated"] is True


def test_small_requests_are_recorded_whole(idp: MockIdP) -> None:
    status, _, _ = call(idp, "GET", "/.well-known/jwks.json?a=1", headers={"X-Test": "y" * 100})
    assert status == 200
    [entry] = idp.requests_to("jwks")
    assert not entry.truncated
    assert entry.headers["X-Test"] == "y" * 100 and dict(entry.query) == {"a": "1"}


# -- 4. loopback guard in Python and the plugin -----------------------------------------------

@pytest.mark.parametrize("host", ["0.0.0.0", "::", "no-such-host.invalid"])
def test_mockidp_beyond_loopback_needs_allow_remote(host: str) -> None:
    with pytest.raises(ConfigurationError, match=r"allow_remote=True"):
        MockIdP(host=host)


def test_mockidp_allow_remote_generates_a_control_token() -> None:
    with MockIdP(host="0.0.0.0", allow_remote=True) as idp:
        token = idp.control_token
        assert token is not None and len(token) >= 16
        status, _, data = call(idp, "POST", "/_mockidp/token", body=b"{}")
        assert status == 401 and error_of(data) == "invalid_token"
        status, _, data = call(idp, "POST", "/_mockidp/token", body=b"{}",
                               headers={"Authorization": f"Bearer {token}"})
        assert status == 200
        # bound to every address: an IP literal is the address itself, never a rebound name
        status, _, _ = call(idp, "GET", "/_mockidp/state", host=f"192.0.2.7:{idp.port}",
                            headers={"Authorization": f"Bearer {token}"})
        assert status == 200
        assert call(idp, "GET", "/_mockidp/state", host=REBIND,
                    headers={"Authorization": f"Bearer {token}"})[0] == 421
        with pytest.raises(ConfigurationError, match="control token"):
            idp.control_token = None
    given = "a-control-token-long-enough"
    with MockIdP(host="0.0.0.0", allow_remote=True, control_token=given) as idp:
        assert idp.control_token == given


@pytest.mark.parametrize("how", ["ini", "cli"])
def test_plugin_beyond_loopback_needs_allow_remote(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_remote(idp):
            assert idp.control_token
            answer = requests.get(idp.issuer + "/_mockidp/state", timeout=5)
            assert answer.status_code == 401
        """
    )
    refused = pytester.runpytest("--mockidp-host", "0.0.0.0")
    # a usage error at start-up (pytest_configure), on stderr, before any test runs
    refused.stderr.fnmatch_lines(["*mockidp: --mockidp-host 0.0.0.0 is not a loopback address*"
                                  "--mockidp-allow-remote*"])
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    if how == "ini":
        pytester.makeini("[pytest]\nmockidp_host = 0.0.0.0\nmockidp_allow_remote = true\n")
        args: list[str] = []
    else:
        args = ["--mockidp-host", "0.0.0.0", "--mockidp-allow-remote"]
    pytester.runpytest(*args).assert_outcomes(passed=1)


def test_serve_allow_remote_still_prints_its_generated_token() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--quiet", "--host",
         "0.0.0.0", "--allow-remote"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = dict(line.split(": ", 1) for line in
                      (process.stdout.readline().strip() for _ in range(6)) if ": " in line)
        token = banner["control token"].strip()
        port = int(banner["listening"].rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/_mockidp/state")
        assert connection.getresponse().status == 401
        connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/_mockidp/state",
                           headers={"Authorization": f"Bearer {token}"})
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "warning: listening beyond loopback" in err


# -- 6. no 5xx for unauthenticated requests ---------------------------------------------------

@pytest.mark.parametrize("name", ["control", "redirected", "attacker-certificate", "nothing"])
def test_redirected_to_an_endpoint_with_path_arguments_is_404_not_500(idp: MockIdP,
                                                                      name: str) -> None:
    status, _, data = call(idp, "GET", f"/_mockidp/redirected/{name}")
    assert status == 404, data
    idp.check()
    assert not idp.handler_errors  # no handler failed


def test_redirected_still_serves_the_endpoints_it_stands_for(idp: MockIdP) -> None:
    status, _, data = call(idp, "GET", "/_mockidp/redirected/jwks")
    assert status == 200 and json.loads(data) == idp.jwks()


NESTED = b"[" * 3000 + b"]" * 3000


@pytest.mark.parametrize(("method", "target", "body"), [
    ("POST", "/_mockidp/token", b'{"claims":' + NESTED + b"}"),
    ("POST", "/_mockidp/users", b'{"claims":' + NESTED + b"}"),
    ("POST", "/_mockidp/endpoints/jwks", b'{"action":"fail","x":' + NESTED + b"}"),
    ("POST", "/_mockidp/scenario", NESTED),
    ("POST", "/_mockidp/keys/rotate", b'{"alg":' + NESTED + b"}"),
])
def test_deeply_nested_control_json_is_400_not_500(idp: MockIdP, method: str, target: str,
                                                    body: bytes) -> None:
    status, _, data = call(idp, method, target, body=body,
                           headers={"Content-Type": "application/json"})
    assert status == 400, data
    assert error_of(data) == "invalid_request"
    idp.check()


def test_deeply_nested_dashboard_options_are_400_not_500(idp: MockIdP) -> None:
    from urllib.parse import urlencode

    form = urlencode({"endpoint": "jwks", "action": "fail",
                      "options": NESTED.decode()}).encode()
    status, _, _ = call(idp, "POST", "/_mockidp/ui/endpoint", body=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    idp.check()


def test_deeply_nested_login_claims_are_not_a_500(idp: MockIdP) -> None:
    """The login page's claims box is JSON too, and unauthenticated."""
    from urllib.parse import urlencode

    idp.login = "page"
    client = idp.clients.add(redirect_uris=["http://localhost/cb"])
    query = urlencode({"response_type": "code", "client_id": client.client_id,
                       "redirect_uri": "http://localhost/cb", "scope": "openid"})
    status, _, page = call(idp, "GET", "/authorize?" + query)
    assert status == 200
    match = re.search(rb'name=login_request value="([^"]+)"', page)
    assert match is not None
    form = urlencode({"login_request": match[1].decode(), "action": "approve",
                      "claims": NESTED.decode()}).encode()
    status, _, _ = call(idp, "POST", "/authorize", body=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= status < 500
    idp.check()


# -- 12, 13. log lines: injection and redaction ----------------------------------------------

FORGED = "/x%0d%0acontrol%20token:%20FAKE%1b]0;pwned%07%1b[2J%c2%85%e2%80%a8"


def test_request_path_cannot_forge_log_lines_or_drive_the_terminal(
        idp: MockIdP, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mockidp.requests"):
        call(idp, "GET", FORGED + "?a=%0d%0a")
        call(idp, "GET", "/.well-known/jwks.json?b=%1b")
    [forged, fast] = [r.getMessage() for r in caplog.records if r.name == "mockidp.requests"]
    for line in (forged, fast):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", line), line
    assert forged.startswith("GET /x\\x0d\\x0acontrol token: FAKE\\x1b]0;pwned\\x07")


def test_serve_prints_no_forged_line_and_no_escape_sequence() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(5)]
        port = int(banner[4].decode().rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", FORGED)
        connection.getresponse().read()
        connection.close()
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    lines = out.splitlines()
    assert not any(line.startswith(b"control token") for line in lines)
    assert b"\x1b" not in out and b"\x07" not in out and b"\r" not in out
    assert any(line.startswith(b"GET /x\\x0d\\x0acontrol token: FAKE") for line in lines)


@pytest.mark.parametrize("secret", [
    "client%5Fsecret=hunter2", "pass%77ord=hunter2", "client_secre%74=hunter2",
    "CLIENT%5fSECRET=hunter2", "user_code=hunter2", "login_hint=hunter2",
    "user%5Fcode=hunter2",
])
def test_percent_encoded_secret_names_are_redacted(idp: MockIdP, secret: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mockidp.requests"):
        call(idp, "GET", f"/userinfo?{secret}&state=s1")
        call(idp, "GET", f"/.well-known/jwks.json?{secret}")
    text = caplog.text
    assert "hunter2" not in text
    assert "=***" in text and "state=s1" in text


# -- 16. security headers ---------------------------------------------------------------------

def _csp(response: http.client.HTTPResponse) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.partition(" ")[2] for d in policy.split(";") if d.strip()
            for d in [d.strip()]}


def test_login_and_device_pages_allow_no_script(idp: MockIdP) -> None:
    from urllib.parse import urlencode

    idp.login = "page"
    client = idp.clients.add(redirect_uris=["http://localhost/cb"])
    query = urlencode({"response_type": "code", "client_id": client.client_id,
                       "redirect_uri": "http://localhost/cb"})
    for target in ("/authorize?" + query, "/device"):
        status, response, page = call(idp, "GET", target)
        assert status == 200 and response.headers["Content-Type"].startswith("text/html")
        policy = _csp(response)
        assert "unsafe-inline" not in policy.get("script-src", "")
        assert policy["default-src"] == "'none'" and "script-src" not in policy
        assert policy["frame-ancestors"] == "'none'"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert b"<script" not in page and not re.search(rb"\son\w+=", page)


def test_form_post_page_runs_only_its_own_script(idp: MockIdP) -> None:
    from urllib.parse import urlencode

    client = idp.clients.add(redirect_uris=["http://localhost/cb"])
    query = urlencode({"response_type": "code", "client_id": client.client_id,
                       "redirect_uri": "http://localhost/cb", "response_mode": "form_post",
                       "state": "</script><script>alert(1)</script>"})
    status, response, page = call(idp, "GET", "/authorize?" + query)
    assert status == 200
    policy = _csp(response)
    scripts = re.findall(rb"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and b"onload" not in page
    digest = base64.b64encode(hashlib.sha256(scripts[0]).digest()).decode()
    assert policy["script-src"] == f"'sha256-{digest}'"
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_logout_page_and_json_answers_send_security_headers(idp: MockIdP) -> None:
    status, response, _ = call(idp, "GET", "/logout")
    assert status == 200 and response.headers["Content-Type"].startswith("text/html")
    assert _csp(response)["default-src"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for method, target in [("GET", "/.well-known/jwks.json"),
                           ("GET", "/.well-known/openid-configuration"),
                           ("POST", "/token"), ("GET", "/userinfo"), ("GET", "/nowhere"),
                           ("GET", "/_mockidp/state"), ("POST", "/_mockidp/token")]:
        status, response, _ = call(idp, method, target, body=b"" if method == "POST" else None)
        assert response.headers["Content-Type"] == "application/json", target
        assert response.headers["X-Content-Type-Options"] == "nosniff", target


def test_dashboard_script_runs_by_a_fresh_nonce(idp: MockIdP) -> None:
    nonces = []
    for _ in range(2):
        status, response, page = call(idp, "GET", "/_mockidp/ui")
        assert status == 200
        policy = _csp(response)
        [nonce] = re.findall(rb'<script nonce="([^"]+)">', page)
        assert policy["script-src"] == f"'nonce-{nonce.decode()}'"
        assert policy["connect-src"] == "'self'"
        assert page.count(b"<script") == 1
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 16


def test_dashboard_cookie_is_secure_under_tls() -> None:
    import ssl

    secret = "dashboard-secret-long-enough"
    with MockIdP(tls=True, control_token=secret) as idp:
        context = ssl.create_default_context(cafile=idp.ca_bundle)
        connection = http.client.HTTPSConnection("127.0.0.1", idp.port, timeout=5,
                                                 context=context)
        connection.request("GET", f"/_mockidp/ui?control_token={secret}",
                           headers={"Host": f"localhost:{idp.port}"})
        response = connection.getresponse()
        response.read()
        connection.close()
    assert response.status == 200
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with MockIdP(control_token=secret) as idp:
        status, response, _ = call(idp, "GET", f"/_mockidp/ui?control_token={secret}")
    assert status == 200 and "Secure" not in response.headers["Set-Cookie"]
