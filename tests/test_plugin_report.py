"""The "mockidp" section of a failing test's report: what the provider served during it."""

from __future__ import annotations

import pytest

from mockidp import MockIdP
from mockidp.plugin import REPORT_REQUESTS, REPORT_TOKENS, REPORT_VALUE, report

TESTS = """
import json, urllib.request

def test_fails(idp):
    idp.keys.rotate("ES256", kid="es-1")
    with urllib.request.urlopen(idp.jwks_uri) as response:
        json.load(response)
    idp.token(claims={"role": "reader"}, sub="alice")
    assert False, "the consumer rejected the token"

def test_passes(idp):
    idp.token(claims={"role": "passing"})

def test_fails_without_idp():
    assert False
"""


def test_a_failing_test_shows_what_the_provider_served(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*_ test_fails _*",
        "*- Captured mockidp call -*",
        "issuer http://127.0.0.1:*",
        "requests served: 1",
        "  GET /.well-known/jwks.json -> 200 (jwks)",
        "keys:",
        "  es-1 ES256 active",
        "tokens minted (the last 1, oldest first):",
        '  header {"alg": "RS256", "kid": *',
        '  claims {*"role": "reader"*"sub": "alice"*}',
        "*_ test_fails_without_idp _*",
    ])
    text = result.stdout.str()
    assert text.count("Captured mockidp call") == 1  # neither the passing test nor no idp
    assert "passing" not in text


@pytest.mark.parametrize("how", [["--mockidp-no-report"], ["-o", "mockidp_report=false"]])
def test_the_section_can_be_turned_off(pytester: pytest.Pytester, how: list[str]) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("-p", "no:randomly", *how)
    result.assert_outcomes(passed=1, failed=2)
    assert "Captured mockidp" not in result.stdout.str()


def test_the_report_is_bounded() -> None:
    with MockIdP() as provider:
        import urllib.request

        for _ in range(REPORT_REQUESTS + 5):
            with urllib.request.urlopen(provider.jwks_uri) as response:
                response.read()
        for n in range(REPORT_TOKENS + 5):
            provider.token(claims={"n": n, "big": "x" * (REPORT_VALUE * 3)})
        provider.token(fault="alg-none")
        provider.token(fault="malformed")
        text = report(provider)
    lines = text.splitlines()
    assert f"requests served: {REPORT_REQUESTS + 5} (the last {REPORT_REQUESTS})" in lines
    assert sum(line.startswith("  GET ") for line in lines) == REPORT_REQUESTS
    assert sum(line.startswith(("  header ", "  not a compact JWS")) for line in lines) \
        == REPORT_TOKENS
    assert '"n": 7' in text and '"n": 6,' not in text  # the oldest went first
    assert f"[{REPORT_VALUE * 2} more]" in text and "x" * (REPORT_VALUE + 1) not in text
    assert '"alg": "none"' in text  # a fault's token is shown as it was made
    assert lines[-1].startswith("  not a compact JWS")


def test_a_reset_forgets_the_tokens_minted() -> None:
    with MockIdP() as provider:
        provider.token()
        assert len(provider.minter.minted) == 1
        provider.reset()
        assert "tokens minted: none" in report(provider)
