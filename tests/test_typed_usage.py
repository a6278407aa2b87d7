"""The documented calls as user code writes them, fully typed: CI runs ``mypy --strict`` on this
file (``.ci/run``), so a public call that returns or raises a type users cannot import, or that
does not type-check as the README shows it, fails the build. The tests also run, so every call
here is real."""

from __future__ import annotations

import ssl
from datetime import timedelta

import jwt
import pytest

import mockidp
from mockidp import (
    FAULTS,
    LOGIN_FAULTS,
    AuditCase,
    AuditReport,
    Client,
    DiscoveryControl,
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
    token_endpoint: EndpointControl = idp.endpoint("token")
    token_endpoint.fail(503, times=2).delay(0)
    log: list[RecordedRequest] = idp.requests_to("jwks")
    assert log == []
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
    assert isinstance(ssl.create_default_context(), ssl.SSLContext)


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
