"""The DPoP audit over real HTTP (``http_verifier(url, dpop=True)``, ``mockidp audit --dpop``):
the provider's own userinfo, a correct DPoP resource server (RFC 9449 §7), is audited clean
on every proof fault, with and without the nonces it demands (§9); a service that reads the
token and never the proof is caught."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from servers import serving
from werkzeug.wrappers import Request, Response

import mockidp
from mockidp import DPOP_FAULTS, ConfigurationError, MockIdP
from mockidp.cli import main
from mockidp.drivers.consumer_audit import http_verifier


def _proof_cases(report: mockidp.AuditReport) -> dict[str, str]:
    return {c.name: c.verdict for c in report if c.name in DPOP_FAULTS}


@pytest.mark.parametrize("nonce", [False, True])
def test_the_providers_userinfo_passes_every_proof_fault(idp: MockIdP, nonce: bool) -> None:
    """RFC 9449 §7.1, §9: every DPOP_FAULTS entry is sent for real (bound token as Bearer,
    two DPoP headers included); with nonces on, the audit follows the DPoP-Nonce challenge
    and the nonce faults are run too."""
    if nonce:
        idp.endpoint("userinfo").require_dpop_nonce()
    url = idp.userinfo_endpoint
    report = mockidp.audit(http_verifier(url, dpop=True), idp, dpop=True, url=url)
    verdicts = _proof_cases(report)
    expected = set(DPOP_FAULTS) - (set() if nonce else {"nonce-missing", "nonce-stale"})
    assert set(verdicts) == expected
    assert set(verdicts.values()) == {"ok"}, report
    assert report["valid DPoP ES256"].verdict == "ok"
    assert report["valid RS256"].verdict == "ok"


@pytest.fixture
def naive_service(idp: MockIdP) -> Iterator[str]:
    """A service that checks the token's signature and never the proof."""
    keys = jwt.PyJWKClient(idp.jwks_uri)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        _, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            jwt.decode(token, keys.get_signing_key_from_jwt(token), algorithms=["RS256"],
                       audience=idp.audience, issuer=idp.issuer)
        except jwt.PyJWTError:
            return Response("no", 401)(environ, start_response)
        return Response("yes")(environ, start_response)

    with serving(app) as base:
        yield f"{base}/api"


def test_a_naive_service_is_caught_over_http(idp: MockIdP, naive_service: str) -> None:
    report = mockidp.audit(http_verifier(naive_service, dpop=True), idp, dpop=True,
                           url=naive_service, faults=list(DPOP_FAULTS))
    caught = {name for name, verdict in _proof_cases(report).items() if verdict != "ok"}
    assert caught == set(DPOP_FAULTS) - {"htu-query", "nonce-missing", "nonce-stale"}


def test_cli_audit_dpop(idp: MockIdP, tmp_path: Path) -> None:
    """``mockidp audit --url URL --dpop`` against a running provider's userinfo."""
    out = tmp_path / "report.json"
    url = idp.userinfo_endpoint
    code = main(["audit", "--url", url, "--issuer", idp.issuer, "--dpop", "--format", "json",
                 "--output", str(out)])
    cases = {c["name"]: c for c in json.loads(out.read_text())["cases"]}
    assert {name: cases[name]["verdict"] for name in cases if name in DPOP_FAULTS} == {
        name: "ok" for name in DPOP_FAULTS if not DPOP_FAULTS[name].needs_nonce}
    # userinfo does not check aud (it is the provider's own endpoint): the token audit says so.
    assert code == 1
    assert cases["wrong-audience"]["verdict"] == "vulnerable"


def test_dpop_audit_misuse(idp: MockIdP) -> None:
    with pytest.raises(ConfigurationError, match="asymmetric"):
        mockidp.audit(lambda *a: None, idp, dpop=True, dpop_alg="HS256")
    with pytest.raises(ConfigurationError, match="verify_for"):
        mockidp.audit(lambda *a: None, idp, dpop=True, verify_for=lambda aud: print)


def test_cli_lists_the_dpop_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "--dpop"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(DPOP_FAULTS)
    assert "htu-query         accept" in "\n".join(lines)
