"""``mockidp.audit_login`` and ``mockidp audit-login``: sign-ins through a relying party written
here (PyJWT for the ID token, requests for HTTP; its checks switched on and off), its report,
and the command against a running app over real HTTP."""

from __future__ import annotations

import json
import secrets
import socket
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from servers import serving
from werkzeug.wrappers import Request, Response

from mockidp import (
    LOGIN_FAULTS,
    AuditReport,
    LoginAuditReport,
    LoginRefused,
    MockIdP,
    RemoteIdP,
    UnknownLoginFaultError,
    audit_login,
)
from mockidp.cli import main

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CALLBACK = "http://127.0.0.1:9/callback"


class RP:
    """A small relying party: the code flow (or ``response_type``), its checks each a flag."""

    def __init__(self, idp: MockIdP, *, response_type: str = "code", nonce: bool = True,
                 verify: bool = True, escape: bool = True, compare: bool = True,
                 via: str = "query",
                 client: tuple[str, str] = ("mockidp-client", "mockidp-client-secret")
                 ) -> None:
        self.idp, self.response_type, self.nonce, self.verify = idp, response_type, nonce, verify
        self.escape, self.compare, self.via, self.client = escape, compare, via, client
        self.keys = jwt.PyJWKClient(idp.jwks_uri)

    def __call__(self, idp: MockIdP) -> str:
        state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
        query = {"client_id": self.client[0], "response_type": self.response_type,
                 "redirect_uri": CALLBACK, "scope": "openid", "state": state,
                 **({"nonce": nonce} if self.nonce else {})}
        back = requests.get(idp.authorization_endpoint, params=self.sent(idp, query),
                            allow_redirects=False, timeout=5)
        location = urlsplit(back.headers["Location"])
        params = {k: v[0] for k, v in parse_qs(location.query or location.fragment).items()}
        if "error" in params:
            shown = params["error_description"]
            raise LoginRefused("refused", shown.replace("<", "&lt;") if self.escape else shown)
        if self.compare and params["state"] != state:
            raise PermissionError("state")
        id_token = params.get("id_token")
        if id_token is None:
            tokens = requests.post(idp.token_endpoint, data={
                "grant_type": "authorization_code", "code": params["code"],
                "redirect_uri": CALLBACK}, auth=self.client, timeout=5).json()
            id_token = tokens["id_token"]
        if self.verify:
            key = self.keys.get_signing_key_from_jwt(id_token)
            claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=self.client[0],
                                issuer=idp.issuer, options={"require": ["sub", "iat"]})
        else:
            claims = jwt.decode(id_token, options={"verify_signature": False})
        if self.compare and self.nonce and claims.get("nonce") != nonce:
            raise PermissionError("nonce")
        return str(claims.get("sub"))

    def sent(self, idp: MockIdP, params: dict[str, str]) -> dict[str, str]:
        """What goes in the authorization request's query: ``params`` themselves, or pushed
        to the PAR endpoint (RFC 9126 §2.1), or signed into a request object (RFC 9101 §4,
        HS256 with the client secret), the query then naming only the client and the
        request."""
        client, secret = self.client
        if self.via == "par":
            pushed = requests.post(idp.url_for("par"), data=params, auth=self.client, timeout=5)
            return {"client_id": client, "request_uri": pushed.json()["request_uri"]}
        if self.via == "jar":
            claims = {**params, "iss": client, "aud": idp.issuer, "exp": int(time.time()) + 60}
            return {"client_id": client, "request": jwt.encode(claims, secret, "HS256")}
        return params


def test_a_careful_code_flow_rp_passes(idp: MockIdP) -> None:
    report = audit_login(RP(idp), idp)
    assert isinstance(report, AuditReport) and isinstance(report, LoginAuditReport)
    assert report.cases[0].name == "valid sign-in" and report.cases[-1].name == \
        "valid sign-in again"
    report.assert_safe()
    # Where the code flow gives a fault no way in, the report says why (OIDC Core §3.3.2.11).
    assert report.not_reached["id-token-wrong-c-hash"] == \
        "no ID token comes with a code through the browser"
    assert report.not_reached["userinfo-wrong-sub"] == "the app never calls userinfo"
    assert "not reached: userinfo-wrong-sub" in str(report)


def test_an_rp_without_a_nonce_check_is_caught_with_its_faults(idp: MockIdP) -> None:
    """OIDC Core §3.1.3.7 step 11: an RP that sends a nonce and never compares it."""
    rp = RP(idp)
    checked = rp.__call__

    def login(idp: MockIdP) -> str:
        rp.nonce = True
        try:
            return checked(idp)
        except PermissionError as exc:
            if str(exc) == "nonce":
                return "signed in anyway"
            raise

    report = audit_login(login, idp)
    assert [c.name for c in report.failures()] == ["id-token-wrong-nonce",
                                                   "id-token-missing-nonce"]
    with pytest.raises(AssertionError, match="sign-in audit failed"):
        report.assert_safe()


def test_an_rp_that_starts_a_new_sign_in_after_refusing_is_safe(idp: MockIdP) -> None:
    """An RP that refuses a sign-in and starts a new one (back to the authorization endpoint,
    as an app that redirects a failure to its login page does) refused the fault planted in
    the first: the clean second sign-in that succeeds is no acceptance."""
    rp = RP(idp)

    def login(idp: MockIdP) -> str:
        try:
            return rp(idp)
        except Exception:  # any refusal: sign in again
            return rp(idp)

    faults = ["id-token-wrong-nonce", "id-token-bad-signature", "response-wrong-state",
              "id-token-wrong-iss"]
    report = audit_login(login, idp, faults=faults)
    report.assert_safe()
    assert {c.note for c in report if c.kind == "fault"} == \
        {"the app refused and started a new sign-in"}


def test_a_sign_in_of_two_authorization_requests_is_judged_against_its_baseline(
        idp: MockIdP) -> None:
    """A valid sign-in that needs two authorization requests (a second one for step-up) is
    not a retry: its baselines pass, and a fault is judged by what the app did; one that
    refuses and starts over (a third request) refused it."""
    careful, careless = RP(idp), RP(idp, nonce=True, compare=False)

    def twice(idp: MockIdP) -> str:
        careful(idp)
        return careful(idp)

    report = audit_login(twice, idp, faults=["id-token-wrong-nonce", "id-token-wrong-iss"])
    report.assert_safe()
    assert [c.verdict for c in report if c.kind == "baseline"] == ["ok", "ok"]
    assert all(c.note == "" for c in report)

    def careless_then_careful(idp: MockIdP) -> str:
        careless(idp)  # the planted fault goes here, and is let through
        return careful(idp)

    report = audit_login(careless_then_careful, idp, faults=["id-token-wrong-nonce"])
    assert [c.name for c in report.failures()] == ["id-token-wrong-nonce"]


@pytest.mark.parametrize("via", ["query", "par", "jar"])
def test_a_pushed_or_signed_request_is_audited_as_a_plain_one(idp: MockIdP, via: str) -> None:
    """RFC 9126 §4 and RFC 9101 §6.3: through PAR or a request object the authorization
    request's query holds only client_id and request_uri or request. The audit reads the
    parameters the endpoint resolved (the request log's ``authorization``), so the nonce and
    state this RP never compares are caught whichever way it sends them."""
    client = idp.clients.add("rp", "a-client-secret-of-thirty-two-bytes!",
                             redirect_uris=[CALLBACK])
    rp = RP(idp, compare=False, via=via, client=(client.client_id, client.client_secret or ""))
    report = audit_login(rp, idp, faults=["id-token-wrong-nonce", "response-wrong-state"])
    assert {c.name: c.verdict for c in report} == {
        "valid sign-in": "ok", "id-token-wrong-nonce": "vulnerable",
        "response-wrong-state": "vulnerable", "valid sign-in again": "ok"}
    assert report.not_reached == {}
    authorize = idp.requests_to("authorize")[-1]
    assert authorize.authorization["nonce"] and authorize.authorization["state"]
    assert authorize.authorization["client_id"] == "rp"
    assert ("nonce" in authorize.query) is (via == "query")


def test_the_request_log_keeps_the_resolved_parameters(idp: MockIdP) -> None:
    """The authorization request's entry keeps what the endpoint acted on (RFC 9126 §4), in
    ``idp.requests`` and through the control API's /requests (RemoteIdP); other entries
    keep nothing there."""
    RP(idp, via="par")(idp)
    for provider in (idp, RemoteIdP(idp.issuer)):
        pushed, authorize, token = provider.requests[:3]
        assert set(authorize.query) == {"client_id", "request_uri"}
        assert dict(authorize.authorization) == dict(pushed.form) | {
            "client_id": "mockidp-client"}
        assert dict(token.authorization) == {} == dict(pushed.authorization)


def test_the_pushed_response_type_decides_what_applies(idp: MockIdP) -> None:
    """As for a plain request (OIDC Core §3.3.2.11): a hybrid request pushed to PAR gets the
    c_hash fault (this RP never checks c_hash: caught, critical through the browser), a code
    one does not."""
    code = audit_login(RP(idp, via="par"), idp, faults=["id-token-wrong-c-hash"])
    hybrid = audit_login(RP(idp, via="par", response_type="code id_token"), idp,
                         faults=["id-token-wrong-c-hash"])
    assert code.not_reached == {
        "id-token-wrong-c-hash": "no ID token comes with a code through the browser"}
    assert not hybrid.not_reached
    assert hybrid["id-token-wrong-c-hash"].verdict == "vulnerable"


def test_signature_faults_are_graded_by_where_the_id_token_came_from(idp: MockIdP) -> None:
    """OIDC Core §3.1.3.7 step 6: from the token endpoint TLS may stand in for the signature
    (hardening); through the browser it must be checked (§3.2.2.11: critical)."""
    code_flow = audit_login(RP(idp, verify=False), idp, faults=["id-token-alg-none"])
    hybrid = audit_login(RP(idp, verify=False, response_type="code id_token"), idp,
                         faults=["id-token-alg-none"])
    assert code_flow["id-token-alg-none"].severity == "hardening"
    assert code_flow["id-token-alg-none"].verdict == "weak"
    assert hybrid["id-token-alg-none"].severity == "critical"
    assert hybrid["id-token-alg-none"].verdict == "vulnerable"


def test_markup_shown_unescaped_is_found_in_the_page(idp: MockIdP) -> None:
    """The error-markup fault: refusing is right, echoing error_description as HTML is not."""
    escaped = audit_login(RP(idp), idp, faults=["error-markup"])["error-markup"]
    raw = audit_login(RP(idp, escape=False), idp, faults=["error-markup"])["error-markup"]
    assert escaped.verdict == "ok" and not escaped.accepted
    assert raw.verdict == "vulnerable" and "unescaped" in raw.note


def test_an_rp_that_never_sends_a_nonce(idp: MockIdP) -> None:
    report = audit_login(RP(idp, nonce=False), idp)
    assert report.not_reached["id-token-wrong-nonce"] == "the app sends no nonce"
    assert "id-token-wrong-nonce" not in {c.name for c in report}


def test_the_client_decides_what_applies(idp: MockIdP) -> None:
    """A client without a secret cannot be sent an ID token MACed with it (OIDC Core §10.1);
    one not registered for signed userinfo answers gets no unsigned-userinfo fault."""
    public = idp.clients.add("spa", public=True)
    for client in (public, "spa"):
        report = audit_login(RP(idp), idp, client, faults=["id-token-hs256-client-secret",
                                                           "userinfo-unsigned"])
        assert report.not_reached["id-token-hs256-client-secret"] == "the client has no secret"
        assert "userinfo_signed_response_alg" in report.not_reached["userinfo-unsigned"]
    assert "id-token-hs256-client-secret" not in audit_login(
        RP(idp), idp, faults=["id-token-hs256-client-secret"]).not_reached


def test_a_broken_sign_in_stops_the_audit(idp: MockIdP) -> None:
    def login(idp: MockIdP) -> str:
        raise RuntimeError("the app is down")

    report = audit_login(login, idp)
    assert [c.name for c in report] == ["valid sign-in"] and report.broken
    assert not report.safe

    def nowhere(idp: MockIdP) -> str:
        return "never went to the provider"

    assert "never reached the authorization endpoint" in \
        (audit_login(nowhere, idp).broken[0].error or "")


def test_the_provider_is_left_as_it_was(idp: MockIdP) -> None:
    jwks = idp.jwks()
    audit_login(RP(idp), idp, faults=["id-token-unknown-kid", "id-token-bad-signature"])
    assert idp.jwks() == jwks
    assert idp.users.take_login() is None  # no planned sign-in left behind


def test_reports_in_every_format(idp: MockIdP) -> None:
    report = audit_login(RP(idp, verify=False), idp, faults=["id-token-wrong-iss"])
    data = json.loads(report.to_json())
    assert data["safe"] is False
    assert [c["verdict"] for c in data["cases"]] == ["ok", "vulnerable", "ok"]
    xml = report.to_junit_xml()
    assert 'testsuite name="mockidp sign-in audit" tests="3" failures="1"' in xml


def test_misuse(idp: MockIdP) -> None:
    with pytest.raises(UnknownLoginFaultError):
        audit_login(RP(idp), idp, faults=["expired"])
    with pytest.raises(Exception, match="function of the provider"):
        audit_login("not a function", idp)  # type: ignore[arg-type]


def test_every_fault_is_planted_by_the_fixture(idp_login_fault: str) -> None:
    assert idp_login_fault in LOGIN_FAULTS


# -- mockidp audit-login, over HTTP ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web_app(issuer: str, *, check_nonce: bool, pending: str = "pending") -> Callable[..., Any]:
    """A WSGI app that signs people in with the code flow: state and nonce in the cookie
    ``pending`` (``session``: in the session cookie, as Flask with Authlib keeps them), the ID
    token verified with PyJWT (and its nonce compared if ``check_nonce``); the signed-in user
    in the ``session`` cookie."""
    keys = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json")

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        if request.path == "/login":
            state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
            query = urlencode({"client_id": "mockidp-client", "response_type": "code",
                               "scope": "openid", "state": state, "nonce": nonce,
                               "redirect_uri": f"{request.host_url}callback"})
            response = Response(status=302, headers={"Location": f"{issuer}/authorize?{query}"})
            response.set_cookie(pending, f"{state}.{nonce}")
            return response
        if request.path == "/callback":
            state, _, nonce = request.cookies.get(pending, "").partition(".")
            if "error" in request.args or request.args.get("state") != state:
                return Response("sign-in failed", status=401)
            tokens = requests.post(f"{issuer}/token", timeout=5, data={
                "grant_type": "authorization_code", "code": request.args["code"],
                "redirect_uri": f"{request.host_url}callback"},
                auth=("mockidp-client", "mockidp-client-secret")).json()
            try:
                key = keys.get_signing_key_from_jwt(tokens["id_token"])
                claims = jwt.decode(tokens["id_token"], key, algorithms=["RS256"],
                                    audience="mockidp-client", issuer=issuer)
            except jwt.PyJWTError:
                return Response("bad ID token", status=401)
            if check_nonce and claims.get("nonce") != nonce:
                return Response("replayed", status=401)
            response = Response(status=302, headers={"Location": "/me"})
            response.set_cookie("session", f"user:{claims['sub']}")
            return response
        if request.cookies.get("session", "").startswith("user:"):
            return Response(f"signed in as {request.cookies['session'][5:]}")
        return Response("who are you?", status=401)

    return app


@pytest.fixture
def running_app() -> Iterator[Callable[..., tuple[str, int]]]:
    with ExitStack() as running:

        def start(check_nonce: bool, pending: str = "pending") -> tuple[str, int]:
            idp_port = _free_port()
            app = web_app(f"http://127.0.0.1:{idp_port}", check_nonce=check_nonce,
                          pending=pending)
            return running.enter_context(serving(app)), idp_port

        yield start


FAULTS = ["--fault", "id-token-wrong-nonce", "--fault", "id-token-bad-signature",
          "--fault", "response-wrong-state"]


@pytest.mark.parametrize(("check_nonce", "exit_code"), [(True, 0), (False, 1)])
def test_audit_login_command(running_app: Callable[..., tuple[str, int]],
                             capsys: pytest.CaptureFixture[str], check_nonce: bool,
                             exit_code: int) -> None:
    app, idp_port = running_app(check_nonce)
    code = main(["audit-login", "--start", f"{app}/login", "--signed-in", "text:signed in as",
                 "--idp-port", str(idp_port), "--format", "json", *FAULTS])
    out, err = capsys.readouterr()
    assert code == exit_code, out
    cases = {c["name"]: c for c in json.loads(out)["cases"]}
    assert cases["valid sign-in"]["verdict"] == "ok"
    assert cases["id-token-bad-signature"]["verdict"] == "ok"
    assert cases["id-token-wrong-nonce"]["accepted"] is not check_nonce
    assert "mockidp audit-login: provider" in err


@pytest.mark.parametrize("check", ["url:{app}/me", "status:200", "cookie:session"])
def test_signed_in_checks(running_app: Callable[..., tuple[str, int]],
                          capsys: pytest.CaptureFixture[str], check: str) -> None:
    app, idp_port = running_app(True)
    assert main(["audit-login", "--start", f"{app}/login", "--signed-in",
                 check.format(app=app), "--idp-port", str(idp_port),
                 "--fault", "response-wrong-state"]) == 0
    assert "response-wrong-state" in capsys.readouterr().out


@pytest.mark.parametrize(("check_nonce", "verdicts"), [
    (True, ["ok", "ok", "ok", "ok"]), (False, ["ok", "vulnerable", "ok", "ok"])])
def test_a_cookie_from_before_the_callback_is_no_sign_in(
        running_app: Callable[..., tuple[str, int]], capsys: pytest.CaptureFixture[str],
        check_nonce: bool, verdicts: list[str]) -> None:
    """The app keeps state and nonce in its session cookie from /login on, as Flask with
    Authlib does, and refuses a wrong state (RFC 6749 §10.12) without touching it:
    ``cookie:session`` counts only a cookie set or changed from the callback on, so that
    refusal is no sign-in, and the session the app sets for an accepted fault still is."""
    app, idp_port = running_app(check_nonce, pending="session")
    main(["audit-login", "--start", f"{app}/login", "--signed-in", "cookie:session",
          "--idp-port", str(idp_port), "--format", "json", "--fault", "id-token-wrong-nonce",
          "--fault", "response-wrong-state"])
    cases = json.loads(capsys.readouterr().out)["cases"]
    assert [c["name"] for c in cases] == ["valid sign-in", "id-token-wrong-nonce",
                                          "response-wrong-state", "valid sign-in again"]
    assert [c["verdict"] for c in cases] == verdicts


@pytest.mark.parametrize(("argv", "message"), [
    (["--start", "ftp://x/login", "--signed-in", "status:200"], "must be an http(s) URL"),
    (["--start", "http://192.0.2.1/login", "--signed-in", "status:200"], "not on loopback"),
    (["--start", "http://127.0.0.1:9/login", "--signed-in", "page:yes"], "url:PREFIX"),
    (["--start", "http://127.0.0.1:9/login", "--signed-in", "status:ok"], "is a number"),
    (["--start", "http://127.0.0.1:9/login", "--signed-in", "status:200", "--fault", "x"],
     "unknown sign-in fault"),
])
def test_audit_login_command_misuse(capsys: pytest.CaptureFixture[str], argv: list[str],
                                    message: str) -> None:
    assert main(["audit-login", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
