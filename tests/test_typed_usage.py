"""The documented calls as user code writes them, fully typed: CI runs ``mypy --strict`` on this
file (``.ci/run``), so a public call that returns or raises a type users cannot import, or that
does not type-check as the README shows it, fails the build. The tests also run, so every call
here is real."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

import jwt
import pytest

import mockidp
from mockidp import (
    DPOP_FAULTS,
    FAULTS,
    LOGIN_FAULTS,
    AuditCase,
    AuditReport,
    Client,
    DiscoveryControl,
    DPoPControl,
    DPoPFault,
    DPoPKey,
    EndpointControl,
    InvalidTokenError,
    JwksControl,
    Key,
    LoginAuditReport,
    LoginFault,
    LoginRefused,
    MockIdP,
    RecordedRequest,
    RemoteIdP,
    RemoteKey,
    Scenario,
    ScenarioRun,
    Tenant,
    TokenContext,
    UnknownClientError,
    UnknownEndpointError,
    UnknownUserError,
    User,
)


def test_minting_and_keys(idp: MockIdP) -> None:
    token: str = idp.token({"role": "admin"}, sub="alice", scope=["read", "write"],
                           expires_in=timedelta(minutes=5), alg="ES256")
    id_token: str = idp.id_token(nonce="n", access_token=token)
    assert jwt.get_unverified_header(token)["alg"] == "ES256" and id_token
    first: Key = idp.keys.active
    staged: Key = idp.keys.add("RS256", activate=False)
    idp.keys.activate(staged.kid)
    idp.keys.revoke(first.kid)
    idp.keys.corrupt(staged.kid, how="other-key")
    idp.keys.repair(staged.kid)
    assert idp.keys.state(first.kid) == "revoked"
    claims: dict[str, object] = idp.verify(idp.token())
    assert claims["iss"] == idp.issuer
    with pytest.raises(InvalidTokenError):
        idp.verify(idp.token(fault="expired"))
    assert "alg-none" in FAULTS


def test_endpoint_controls_are_typed_by_endpoint(idp: MockIdP) -> None:
    jwks: JwksControl = idp.endpoint("jwks")
    jwks.empty(times=1).rate_limited(retry_after=5, times=1)
    discovery: DiscoveryControl = idp.endpoint("discovery")
    discovery.wrong_issuer()
    token_endpoint: DPoPControl = idp.endpoint("token")
    token_endpoint.fail(503, times=2).delay(0)
    token_endpoint.require_dpop_nonce()
    other: EndpointControl = idp.endpoint("certs")
    other.delay(0)
    log: list[RecordedRequest] = idp.requests_to("jwks")
    assert log == []
    resolved: list[Mapping[str, str]] = [e.authorization for e in idp.requests_to("authorize")]
    assert resolved == []
    with pytest.raises(UnknownEndpointError):
        idp.endpoint("nope")


def test_directory_hooks_and_scenarios(idp: MockIdP) -> None:
    user: User = idp.users.add("dana", password="s3cret", email="dana@example.com")
    client: Client = idp.clients.add("svc", "secret", redirect_uris=["http://localhost/cb"])
    seen: list[str | None] = []

    @idp.on_token
    def shape(context: TokenContext) -> None:
        seen.append(context.grant_type)
        context.claims["roles"] = ["reader"]

    assert idp.verify(idp.token(sub=user.sub, client_id=client.client_id))["roles"] == ["reader"]
    assert seen == [None]
    with pytest.raises(UnknownUserError):
        idp.users["nobody"]
    with pytest.raises(UnknownClientError):
        idp.clients["nobody"]
    run: ScenarioRun = idp.run_scenario(Scenario.load('[[step]]\nat = "1m"\naction = "rotate"\n'))
    run.finish()
    assert run.done
    idp.users.next_login(user, claims={"acr": "mfa"})
    idp.clock.advance(60)


def test_tenants_profiles_and_remote(idp: MockIdP) -> None:
    tenant: Tenant = idp.tenant("acme")
    assert tenant.issuer == idp.issuer + "/acme"
    with MockIdP(profile="keycloak", profile_options={"realm": "demo"}) as keycloak:
        assert keycloak.issuer.endswith("/realms/demo")
    remote = RemoteIdP(idp.issuer, control_token=None, ssl_context=None)
    key: RemoteKey = remote.keys.rotate()
    assert remote.keys.state(key.kid) == "active"
    remote.endpoint("jwks").fail(503, times=1)
    resource: str = remote.add_resource("https://api.example.test/r")
    assert resource in idp.resources
    assert isinstance(ssl.create_default_context(), ssl.SSLContext)


def test_public_url_and_interception() -> None:
    with MockIdP(profile="entra", public_url=True) as idp:
        public: str | None = idp.public_url
        hosts: tuple[str, ...] = idp.public_hosts
        with idp.intercept():
            client = jwt.PyJWKClient(idp.jwks_uri)
            assert client.get_signing_key_from_jwt(idp.token()).key_id == idp.keys.active.kid
    assert public == "https://login.microsoftonline.com" and hosts == ("login.microsoftonline.com",)
    with MockIdP(alg="ES256") as plain, pytest.raises(mockidp.InterceptError):
        plain.intercept()


@pytest.mark.idp(profile="google", intercept=True)
def test_the_marker_intercepts(idp: MockIdP) -> None:
    assert idp.issuer == "https://accounts.google.com"


def test_audit_report(idp: MockIdP) -> None:
    client = jwt.PyJWKClient(idp.jwks_uri)

    def verify(token: str) -> object:
        key = client.get_signing_key_from_jwt(token)
        return jwt.decode(token, key, algorithms=["RS256"], audience=idp.audience,
                          issuer=idp.issuer)

    report: AuditReport = mockidp.audit(verify, idp, faults=["expired", "alg-none"])
    cases: list[AuditCase] = list(report)
    assert {case.name for case in cases} >= {"expired", "alg-none"}
    assert not report.vulnerabilities
    threshold: mockidp.Severity = "hardening"
    verdicts: set[mockidp.Verdict] = {case.verdict for case in report.failures(threshold)}
    assert verdicts == set()
    state: mockidp.KeyState = idp.keys.state(idp.keys.active.kid)
    options: mockidp.TokenOptions = {"sub": "alice", "typ": None}
    assert state == "active" and "typ" not in jwt.get_unverified_header(idp.token(**options))


def test_dpop(idp: MockIdP) -> None:
    key: DPoPKey = idp.dpop_key("ES256")
    token = idp.token(dpop=key)
    proof: str = key.proof("GET", "https://api.example/r", access_token=token, nonce=None,
                           fault="iat-stale")
    fault: DPoPFault = DPOP_FAULTS["iat-stale"]
    severity: mockidp.Severity = fault.severity
    assert proof and severity == "high" and key.jkt

    def verify(token: str, proof: str | None, method: str, url: str) -> object:
        raise PermissionError("refuses everything")

    report: AuditReport = mockidp.audit(verify, idp, dpop=True, faults=["alg-none"])
    assert report["valid DPoP ES256"].verdict == "broken"


class TypedTestCase(mockidp.IdPTestCase):
    """A unittest class as user code writes it: ``idp_options`` and ``self.idp`` typed."""

    idp_options: ClassVar[dict[str, object]] = {"alg": "ES256"}

    def test_mints(self) -> None:
        token: str = self.idp.token(sub="alice")
        assert token


def test_modern_requests_registration_and_step_up(idp: MockIdP) -> None:
    resource: str = idp.resources.add("https://api.example.test/mcp")
    assert resource in idp.resources
    idp.require_pushed_authorization_requests = False
    idp.registrations.initial_access_token = None
    options: mockidp.ClientOptions = {"redirect_uris": ["http://127.0.0.1:9/cb"],
                                      "require_pushed_authorization_requests": True}
    client: Client = idp.clients.add("typed-par", "secret", **options)
    assert client.require_pushed_authorization_requests
    document: Client = idp.clients.add_metadata_document(
        "https://app.example.test/client.json",
        {"client_id": "https://app.example.test/client.json",
         "redirect_uris": ["http://127.0.0.1:9/cb"]})
    assert document.public
    idp.users.next_login(acr="mfa", amr=["pwd", "otp"])
    # The provider's userinfo is a protected resource without RFC 9728 metadata.
    report: AuditReport = mockidp.audit_resource(idp.userinfo_endpoint, idp, faults=["expired"])
    assert report["resource-metadata"].verdict == "vulnerable"
    assert report["expired"].verdict == "ok"


def test_sign_in_audit(idp: MockIdP, idp_login_fault: str) -> None:
    import requests

    def login(idp: MockIdP) -> str:
        answer = requests.get(idp.authorization_endpoint, allow_redirects=False, timeout=5,
                              params={"client_id": "mockidp-client", "response_type": "code",
                                      "redirect_uri": "http://127.0.0.1:9/cb", "state": "s"})
        if "error=" in answer.headers["Location"]:
            raise LoginRefused("refused", "<p>no</p>")
        return "signed in"

    fault: LoginFault = LOGIN_FAULTS[idp_login_fault]
    idp.users.next_login(fault=fault)
    report: LoginAuditReport = mockidp.audit_login(login, idp, None, faults=[fault])
    reasons: dict[str, str] = report.not_reached
    cases: list[AuditCase] = list(report)
    assert cases[0].name == "valid sign-in" and isinstance(reasons, dict)
    grade: mockidp.Severity | None = fault.severity_for(front_channel=False)
    assert grade in (None, "critical", "high", "hardening")
