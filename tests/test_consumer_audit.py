"""The audit against validators built the right way and the wrong ways."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from servers import serving
from werkzeug.wrappers import Request, Response

from mockidp import FAULTS, AuditReport, MockIdP, audit, audit_resource
from mockidp.drivers.consumer_audit import http_verifier
from mockidp.drivers.resource_audit import OTHER_RESOURCE
from mockidp.drivers.service_http import ServiceFailure, send

STRICT_B64 = re.compile(r"^[A-Za-z0-9_-]*$")


def strict_pyjwt(idp: MockIdP, skip: str = ""):  # type: ignore[no-untyped-def]
    """PyJWT plus the checks it leaves to its caller: size, base64url, duplicate members,
    NumericDate types and typ. ``skip`` breaks it in one way, as real validators are broken."""
    client = jwt.PyJWKClient(idp.jwks_uri, cache_jwk_set=False)

    def no_duplicates(pairs: list) -> dict:  # type: ignore[type-arg]
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate member")
        return dict(pairs)

    def verify(token: str) -> dict:  # type: ignore[type-arg]
        if len(token) > 16 * 1024:
            raise ValueError("token too large")
        segments = token.split(".")
        if len(segments) != 3 or not all(STRICT_B64.match(s) for s in segments):
            raise ValueError("not strict base64url")
        payload = base64.urlsafe_b64decode(segments[1] + "=" * (-len(segments[1]) % 4))
        claims = json.loads(payload, object_pairs_hook=no_duplicates)
        dates = ("iat", "nbf") if skip == "exp" else ("exp", "iat", "nbf")
        if not all(isinstance(claims.get(c), int) for c in dates):
            raise ValueError("NumericDate claims must be numbers")
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "JWT":
            raise ValueError("wrong typ")
        strong_enough(idp, token)
        if skip == "jku" and "jku" in header:  # trusts the key set the token points to
            key = jwt.PyJWKClient(header["jku"]).get_signing_key_from_jwt(token)
        else:
            key = client.get_signing_key_from_jwt(token)
        checks = {"verify_signature": skip != "signature", "verify_exp": skip != "exp",
                  "verify_aud": skip != "audience", "verify_iss": True, "verify_nbf": True,
                  "verify_iat": True,
                  "require": [c for c in ("exp", "iat", "nbf", "sub")
                              if not (skip == "exp" and c == "exp")]}
        algorithms = [header["alg"]] if skip == "alg" else [key.algorithm_name]
        return jwt.decode(token, key.key if skip == "alg" else key, algorithms=algorithms,
                          audience=idp.audience, issuer=idp.issuer, options=checks)

    return verify


def test_a_strict_validator_is_safe(idp: MockIdP) -> None:
    before = idp.jwks()
    report = audit(strict_pyjwt(idp), idp)
    report.assert_safe(min_severity="hardening")  # safe even counting defence in depth
    assert {c.name for c in report if c.kind == "fault"} == set(FAULTS)
    assert [c.name for c in report if c.kind == "baseline"] == ["valid RS256",
                                                               "valid after rotation"]
    assert idp.jwks() == before  # the audit leaves the keys as they were


def test_pyjwt_as_its_documentation_recommends_passes(idp: MockIdP) -> None:
    """PyJWKClient, then jwt.decode with an algorithm allow-list, audience, issuer and the
    required claims: sound. What it leaves out is defence in depth, reported as such."""
    client = jwt.PyJWKClient(idp.jwks_uri, cache_jwk_set=False)

    def verify(token: str) -> dict:  # type: ignore[type-arg]
        key = client.get_signing_key_from_jwt(token)
        return jwt.decode(token, key, algorithms=["RS256"], audience=idp.audience,
                          issuer=idp.issuer, options={"require": ["exp", "iat"]})

    report = audit(verify, idp)
    report.assert_safe()
    assert report.vulnerabilities == [] and report.broken == []
    assert {c.name for c in report.weaknesses} == {
        "string-iat", "oversized", "wrong-typ", "missing-sub"}
    # PyJWT keeps the last of two "sub" members, as RFC 7519 §4 allows: no weakness at all.
    duplicate = report["duplicate-claims"]
    assert duplicate.accepted and duplicate.verdict == "ok" and "last sub" in duplicate.note
    with pytest.raises(AssertionError, match="string-iat"):
        report.assert_safe(min_severity="hardening")


def test_a_first_wins_parser_is_critical_on_duplicate_claims(idp: MockIdP) -> None:
    """The same token, read by a parser that keeps the first member: the forged subject."""
    def verify(token: str) -> dict:  # type: ignore[type-arg]
        claims = jwt.decode(token, options={"verify_signature": False})
        first = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="),
                           object_pairs_hook=lambda pairs: dict(reversed(pairs)))
        return {**claims, "sub": first["sub"]}

    case = audit(verify, idp, faults=["duplicate-claims"])["duplicate-claims"]
    assert case.severity == "critical" and case.verdict == "vulnerable"


SIGNATURE_FAULTS = {"bad-signature", "tampered-payload", "stripped-signature", "alg-none",
                    "alg-none-capitalized", "alg-none-uppercase", "alg-confusion",
                    "alg-confusion-jwk", "alg-confusion-pkcs1", "alg-confusion-ssh",
                    "hs-empty-key", "psychic-signature", "der-signature", "alg-mismatch",
                    "curve-mismatch", "kid-mismatch",
                    # PyJWT turns its claim-type checks off with verify_signature=False
                    "sub-not-string"}


@pytest.mark.parametrize(
    ("skip", "flagged"),
    [
        ("signature", SIGNATURE_FAULTS),
        ("audience", {"wrong-audience", "aud-array", "audience-substring", "missing-aud"}),
        ("exp", {"expired", "missing-exp", "string-exp"}),
        ("alg", {"alg-mismatch"}),
        ("jku", {"jku-injection"}),
    ],
    ids=["no-signature-check", "no-audience-check", "no-exp-check", "alg-from-header",
         "jku-followed"],
)
def test_broken_validators_are_caught_exactly(idp: MockIdP, skip: str, flagged: set) -> None:
    report = audit(strict_pyjwt(idp, skip=skip), idp)
    assert {c.name for c in report.failures("hardening")} == flagged
    assert report.broken == []


def test_report_formats(idp: MockIdP) -> None:
    report = audit(lambda token: None, idp, faults=["expired", "alg-none"])
    assert isinstance(report, AuditReport) and len(report) == 4
    assert report["expired"].verdict == "vulnerable" and report["valid RS256"].verdict == "ok"
    assert (report["expired"].severity, report["alg-none"].severity) == ("high", "critical")
    table = str(report)
    assert "VULNERABLE" in table and "2 critical or high fault(s) accepted" in table
    assert "critical" in table and "a correct consumer would never accept" in table
    document = json.loads(report.to_json())
    assert document["safe"] is False and len(document["cases"]) == 4
    assert {c["name"]: c["severity"] for c in document["cases"]}["alg-none"] == "critical"
    suite = ET.fromstring(report.to_junit_xml())
    assert suite.get("failures") == "2" and len(suite.findall("testcase")) == 4


def test_a_validator_that_rejects_everything_is_broken(idp: MockIdP) -> None:
    def reject(token: str) -> None:
        raise PermissionError("no")

    report = audit(reject, idp, faults=["expired"])
    assert [c.name for c in report.broken] == ["valid RS256", "valid after rotation"]
    assert "PermissionError: no" in str(report)


def test_audience_and_algorithms_match_the_validator(idp: MockIdP) -> None:
    seen: list[dict] = []

    def verify(token: str) -> None:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        seen.append({"alg": header.get("alg"), "aud": claims.get("aud")})

    audit(verify, idp, audience="orders", algorithms=["ES256", "EdDSA"], faults=["expired"])
    assert {s["alg"] for s in seen} >= {"ES256", "EdDSA"}
    assert {s["aud"] for s in seen} == {"orders"}


def test_misuse(idp: MockIdP) -> None:
    from mockidp import ConfigurationError

    with pytest.raises(ConfigurationError, match="function of the token"):
        audit("not callable", idp)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown token fault"):
        audit(lambda t: None, idp, faults=["nope"])


def test_idp_fault_fixture_parametrizes_over_the_catalog(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import jwt, pytest

        def test_rejects(idp, idp_fault):
            key = idp.keys.active.public_key
            with pytest.raises(Exception):
                jwt.decode(idp.token(fault=idp_fault), key, algorithms=["RS256"],
                           audience=idp.audience, issuer=idp.issuer,
                           options={"require": ["exp", "iat", "sub"]})
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-v")
    result.stdout.fnmatch_lines(["*test_rejects[[]alg-confusion[]] PASSED*"])
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] + outcomes.get("failed", 0) == len(FAULTS)


def test_http_audit_of_a_service_in_a_subprocess(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from mockidp.cli import main

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        idp_port = sock.getsockname()[1]
    service = Path(__file__).resolve().parent.parent / "examples" / "integration"
    process = subprocess.Popen([sys.executable, str(service / "protected_service.py"),
                                f"http://127.0.0.1:{idp_port}"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        report_file = tmp_path / "report.json"
        code = main(["audit", "--url", url, "--idp-port", str(idp_port), "--format", "json",
                     "--output", str(report_file)])
    finally:
        process.terminate()
        process.communicate(timeout=10)
    report = json.loads(report_file.read_text())
    verdicts = {case["name"]: case["verdict"] for case in report["cases"]}
    assert code == 1 and report["safe"] is False
    assert verdicts["valid RS256"] == "ok" and verdicts["alg-none"] == "ok"
    # the example service skips the audience check and takes PyJWT's defaults:
    assert {"wrong-audience", "missing-aud"} <= {
        name for name, verdict in verdicts.items() if verdict == "vulnerable"}
    assert verdicts["string-exp"] == "ok"  # PyJWT reads the string, and finds it expired


def test_http_audit_refuses_remote_urls(capsys: pytest.CaptureFixture[str]) -> None:
    from mockidp.cli import main

    assert main(["audit", "--url", "http://example.com/api"]) == 2
    assert "not on loopback" in capsys.readouterr().err


def hardened(idp: MockIdP, library_verify, typ: str):  # type: ignore[no-untyped-def]
    """A library's validator plus the checks every library here leaves to its caller."""
    def no_duplicates(pairs: list) -> dict:  # type: ignore[type-arg]
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate member")
        return dict(pairs)

    def verify(token: str) -> object:
        segments = token.split(".")
        if len(token) > 16 * 1024 or len(segments) != 3 or not all(
                STRICT_B64.match(s) for s in segments):
            raise ValueError("oversized or not strict base64url")
        for segment in segments[:2]:
            document = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)),
                                  object_pairs_hook=no_duplicates)
        if not all(isinstance(document.get(c), int) for c in ("exp", "iat", "nbf")):
            raise ValueError("NumericDate claims must be numbers")
        if document["iat"] > time.time() + 60:  # not every library checks iat
            raise ValueError("issued in the future")
        if jwt.get_unverified_header(token).get("typ") != typ:
            raise ValueError("wrong typ")
        if "kid" not in jwt.get_unverified_header(token):
            raise ValueError("kid required")
        strong_enough(idp, token)
        return library_verify(token)
    return verify


def strong_enough(idp: MockIdP, token: str) -> None:
    """RFC 7518 §3.3: RSA keys of 2048 bits or more."""
    kid = jwt.get_unverified_header(token).get("kid")
    for key in idp.jwks()["keys"]:
        if key["kid"] == kid and key["kty"] == "RSA" and \
                len(base64.urlsafe_b64decode(key["n"] + "==")) * 8 < 2048:
            raise ValueError("RSA key under 2048 bits")


@pytest.mark.parametrize("library", ["pyjwt", "joserfc", "jwcrypto", "python-jose"])
def test_hardened_library_validators_are_safe(idp: MockIdP, library: str) -> None:
    from verifiers import EXPECTED_TYP, VERIFIERS, python_jose_verifier

    make = python_jose_verifier if library == "python-jose" else VERIFIERS[library]
    verify = hardened(idp, make(idp), EXPECTED_TYP)
    audit(verify, idp, typ=EXPECTED_TYP).assert_safe(min_severity="hardening")


def test_audit_through_remote_idp_restores_the_keys(idp: MockIdP) -> None:
    from mockidp import RemoteIdP

    before = idp.jwks()
    report = audit(strict_pyjwt(idp), RemoteIdP(idp.issuer))
    report.assert_safe()
    assert idp.jwks() == before


def test_http_audit_against_a_running_provider(idp: MockIdP, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    from pathlib import Path

    from mockidp.cli import main

    service = Path(__file__).resolve().parent.parent / "examples" / "integration"
    process = subprocess.Popen([sys.executable, str(service / "protected_service.py"),
                                idp.issuer], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        output = tmp_path / "report.xml"
        code = main(["audit", "--url", url, "--issuer", idp.issuer, "--format", "junit",
                     "--output", str(output)])
    finally:
        process.terminate()
        process.communicate(timeout=10)
    suite = ET.fromstring(output.read_text())
    failed = {case.get("name") for case in suite.findall("testcase")
              if case.find("failure") is not None}
    assert code == 1 and {"wrong-audience", "missing-aud"} <= failed
    assert "valid RS256" not in failed


@pytest.mark.parametrize("library", ["pyjwt", "joserfc", "jwcrypto", pytest.param(
    "python-jose", marks=pytest.mark.xfail(strict=True, reason=(
        "python-jose accepts a token whose crit names an extension it does not understand, "
        "b64 included (RFC 7515 §4.1.11: MUST reject)")))])
def test_documented_library_validators_pass_by_default(idp: MockIdP, library: str) -> None:
    """Each library's validator as its documentation shows it (tests/verifiers.py) is sound:
    no critical or high finding; what it leaves to its caller is reported as hardening."""
    from verifiers import EXPECTED_TYP, VERIFIERS, python_jose_verifier

    make = python_jose_verifier if library == "python-jose" else VERIFIERS[library]
    report = audit(make(idp), idp, typ=EXPECTED_TYP)
    report.assert_safe()
    assert all(case.severity == "hardening" for case in report.weaknesses)


def _cached_validators(idp: MockIdP, key_by_audience: bool):  # type: ignore[no-untyped-def]
    """Validators for several audiences sharing one verification cache, as a gateway has."""
    cache: dict[object, dict] = {}  # type: ignore[type-arg]
    client = jwt.PyJWKClient(idp.jwks_uri)

    def verify_for(audience: str):  # type: ignore[no-untyped-def]
        def verify(token: str) -> dict:  # type: ignore[type-arg]
            slot = (token, audience) if key_by_audience else token
            if slot not in cache:
                key = client.get_signing_key_from_jwt(token)
                cache[slot] = jwt.decode(token, key, algorithms=["RS256"], audience=audience,
                                         issuer=idp.issuer)
            return cache[slot]
        return verify
    return verify_for


def test_a_cache_keyed_without_the_audience_is_caught(idp: MockIdP) -> None:
    naive = _cached_validators(idp, key_by_audience=False)
    report = audit(naive(idp.audience), idp, faults=[], verify_for=naive)
    case = report["audience-cache"]
    assert case.accepted and case.severity == "high" and case.verdict == "vulnerable"
    correct = _cached_validators(idp, key_by_audience=True)
    audit(correct(idp.audience), idp, faults=[], verify_for=correct).assert_safe()


def test_a_validator_that_crashes_on_a_resource_fault_is_caught(idp: MockIdP) -> None:
    """A RecursionError on deep nesting is the weakness CVE-2025-53864 names, not a refusal:
    one failed request (hardening); a validator that runs out of memory is high."""
    def recursive(token: str) -> object:
        return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))

    case = audit(recursive, idp, faults=["deep-nesting"])["deep-nesting"]
    assert case.crashed and case.verdict == "weak" and case.severity == "hardening"
    assert "RecursionError" in case.note

    def exhausted(token: str) -> object:
        raise MemoryError

    case = audit(exhausted, idp, faults=["oversized"])["oversized"]
    assert case.crashed and case.verdict == "vulnerable" and case.severity == "high"


@contextmanager
def login_redirecting_service(idp: MockIdP, *, everything: bool) -> Iterator[str]:
    """A service that answers as a web app answers a browser: a 302 to its login page (which
    answers 200) for every request (``everything``), or for a token PyJWT refuses."""
    keys = jwt.PyJWKClient(idp.jwks_uri)

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        if request.path == "/login":
            return Response("<form>Sign in</form>")
        _, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if everything:
                raise jwt.InvalidTokenError
            jwt.decode(token, keys.get_signing_key_from_jwt(token), algorithms=["RS256"],
                       audience=idp.audience, issuer=idp.issuer)
        except jwt.PyJWTError:
            return Response(status=302, headers={"Location": "/login"})
        return Response("yes")

    with serving(app) as base:
        yield f"{base}/api"


@pytest.mark.parametrize("dpop", [False, True])
def test_a_redirect_to_a_login_page_is_a_refusal(idp: MockIdP, dpop: bool) -> None:
    """The HTTP verifier follows no redirect: an API refuses a bad token with 401 or 403
    (RFC 6750 §3.1), and the login page a 302 points to answers 200 to anyone. A service
    that redirects every request is broken (its valid tokens are not accepted either), and
    the case says where it pointed; one that redirects bad tokens refused them."""
    faults = ["alg-none", "bad-signature", "expired"]
    with login_redirecting_service(idp, everything=True) as url:
        report = audit(http_verifier(url, dpop=dpop), idp, faults=faults,
                       dpop=dpop, url=url if dpop else None)
        assert {c.verdict for c in report if c.kind == "fault"} == {"ok"}, report
        assert report.broken and all(c.kind == "baseline" for c in report.broken)
        assert "HTTP 302, a redirect to '/login'" in (report["valid RS256"].error or "")
        if not dpop:  # where a redirect is the accepting answer, expect_status says so
            redirected = audit(http_verifier(url, expect_status=[302]), idp, faults=faults)
            assert not redirected.broken and len(redirected.vulnerabilities) == 3
    with login_redirecting_service(idp, everything=False) as url:
        audit(http_verifier(url), idp, faults=faults).assert_safe()


@contextmanager
def dropping_service(idp: MockIdP) -> Iterator[str]:
    """A service that verifies tokens with PyJWT (for the provider's audience or its own URL),
    but whose worker dies (the connection is
    closed without an answer) on a deeply nested payload or a token for another resource,
    as a crashed worker process behind a server would."""
    keys = jwt.PyJWKClient(idp.jwks_uri)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            token = self.headers.get("Authorization", "").partition(" ")[2]
            try:
                payload = token.split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                dies = claims.get("aud") == OTHER_RESOURCE
            except RecursionError:
                dies = True
            except (ValueError, IndexError, AttributeError):
                dies = False
            if dies:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            try:
                own = f"http://127.0.0.1:{self.server.server_address[1]}/api"
                jwt.decode(token, keys.get_signing_key_from_jwt(token), algorithms=["RS256"],
                           audience=[idp.audience, own], issuer=idp.issuer)
            except jwt.PyJWTError:
                self.send_response(401)
                self.send_header("WWW-Authenticate", "Bearer")
                self.end_headers()
                return
            self.send_response(200)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_connection_closed_without_an_answer_is_no_answer(idp: MockIdP) -> None:
    """A service whose worker dies on a request (the connection closed, reset or refused)
    gave no answer: a ServiceFailure, not a refusal. On an exhaustion fault that is a crash
    of high severity, as a timeout is; the resource audit's other-resource check is broken,
    not a traceback."""
    with dropping_service(idp) as url:
        case = audit(http_verifier(url), idp, faults=["deep-nesting"])["deep-nesting"]
        assert case.crashed and case.verdict == "vulnerable" and case.severity == "high"
        assert "no answer" in (case.error or ""), case
        report = audit_resource(url, idp, faults=["alg-none"])
        other = report["token-for-another-resource"]
        assert other.crashed and other.verdict == "broken" and "no answer" in (other.error or "")
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        with pytest.raises(ServiceFailure, match="no answer"):
            send(urllib.request.Request(f"http://127.0.0.1:{refused.getsockname()[1]}/"), 5)
    finally:
        refused.close()


def test_loopback_is_reached_directly_never_through_a_proxy() -> None:
    """With ``http_proxy`` set when the process starts (as on many CI machines), neither the
    audit's requests to a service on loopback nor the provider's fetch of a loopback document
    may go through the proxy: it would get the tokens, and answer from its own loopback."""
    import os
    import subprocess
    import sys

    seen: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.server.server_address[1])
            body = b'{"keys": []}'
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
               for s in servers]
    for thread in threads:
        thread.start()
    service, proxy = (s.server_address[1] for s in servers)
    script = (
        "import sys\n"
        "from mockidp.drivers.consumer_audit import http_verifier\n"
        "from mockidp.core.fetch import FetchError, fetch_json\n"
        f"url = 'http://127.0.0.1:{service}/api'\n"
        "try:\n    http_verifier(url)('a.b.c')\nexcept PermissionError:\n    pass\n"
        "try:\n    fetch_json(url)\nexcept FetchError:\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env["http_proxy"] = f"http://127.0.0.1:{proxy}"
    try:
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=60)
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            server.server_close()
            thread.join(5)
    assert run.returncode == 0, run.stderr
    assert seen == [service, service]
