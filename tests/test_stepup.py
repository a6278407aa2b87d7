"""Step-up and authentication requirements: acr_values, the claims parameter's acr (OIDC
Core §5.5.1.1), max_age with auth_time, prompt=login, and
unmet_authentication_requirements."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from mockidp import ConfigurationError, MockIdP

REDIRECT = "http://127.0.0.1:9/cb"


def sign_in(idp: MockIdP, **params: Any) -> dict[str, list[str]]:
    answer = requests.get(idp.authorization_endpoint, allow_redirects=False, timeout=5, params={
        "client_id": "mockidp-client", "response_type": "code", "redirect_uri": REDIRECT,
        "scope": "openid", "state": "s", **params})
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def id_token(idp: MockIdP, query: dict[str, list[str]]) -> dict[str, Any]:
    client = idp.clients.default
    body = requests.post(idp.token_endpoint, auth=(client.client_id, client.client_secret or ""),
                         timeout=5, data={"grant_type": "authorization_code",
                                          "code": query["code"][0],
                                          "redirect_uri": REDIRECT}).json()
    assert idp.verify(body["access_token"]).get("acr") == idp.verify(body["id_token"]).get("acr")
    return idp.verify(body["id_token"])


def test_oidc_3_1_2_1_acr_values_are_met(idp: MockIdP) -> None:
    """OIDC Core §3.1.2.1 acr_values (voluntary): the first asked is achieved without a
    plan; a planned acr is reported as it is, without an error."""
    assert id_token(idp, sign_in(idp, acr_values="urn:mace:incommon:iap:silver gold"))[
        "acr"] == "urn:mace:incommon:iap:silver"
    idp.users.next_login(acr="bronze", amr=["pwd"])
    claims = id_token(idp, sign_in(idp, acr_values="gold"))
    assert claims["acr"] == "bronze" and claims["amr"] == ["pwd"]


def test_oidc_5_5_1_1_essential_acr_unmet(idp: MockIdP) -> None:
    """OIDC Core §5.5.1.1 an essential acr the sign-in did not achieve:
    unmet_authentication_requirements (OpenID Connect Core Unmet Authentication Requirements
    1.0 §2), on the redirect with state."""
    request = json.dumps({"id_token": {"acr": {"essential": True, "values": ["mfa"]}}})
    idp.users.next_login(acr="pwd")
    query = sign_in(idp, claims=request)
    assert query["error"] == ["unmet_authentication_requirements"] and query["state"] == ["s"]
    idp.users.next_login(acr="mfa", amr=["pwd", "otp"])
    assert id_token(idp, sign_in(idp, claims=request))["amr"] == ["pwd", "otp"]


@pytest.mark.parametrize("claims", ["not json", "[1]", '{"id_token": 5}',
                                    '{"id_token": {"acr": {"values": [1]}}}'])
def test_oidc_5_5_malformed_claims_parameter(idp: MockIdP, claims: str) -> None:
    """OIDC Core §5.5: the claims parameter is a JSON object of objects; else
    invalid_request."""
    assert sign_in(idp, claims=claims)["error"] == ["invalid_request"]


def test_oidc_3_1_2_1_max_age_and_auth_time(idp: MockIdP) -> None:
    """OIDC Core §3.1.2.1 max_age: a fresh sign-in, whose auth_time the ID token carries;
    a malformed max_age is invalid_request."""
    before = int(idp.clock.time())
    claims = id_token(idp, sign_in(idp, max_age="0"))
    assert claims["auth_time"] >= before
    for malformed in ("-1", "²", "9" * 5000):  # str.isdigit takes "²"; int() does not
        assert sign_in(idp, max_age=malformed)["error"] == ["invalid_request"]
    idp.check()


def test_max_age_and_prompt_login_skip_the_session(idp: MockIdP) -> None:
    """OIDC Core §3.1.2.1: with a login page, prompt=login and max_age ask again rather
    than reuse the session; with prompt=none as well, login_required."""
    idp.login = "page"
    session = {"mockidp_session": idp.users.default.sub}
    for params in ({"prompt": "login"}, {"max_age": "60"}):
        page = requests.get(idp.authorization_endpoint, cookies=session, timeout=5,
                            allow_redirects=False, params={
                                "client_id": "mockidp-client", "response_type": "code",
                                "redirect_uri": REDIRECT, **params})
        assert page.status_code == 200 and "name=acr" in page.text  # the login page
    silent = requests.get(idp.authorization_endpoint, cookies=session, timeout=5,
                          allow_redirects=False, params={
                              "client_id": "mockidp-client", "response_type": "code",
                              "redirect_uri": REDIRECT, "prompt": "none", "max_age": "60"})
    assert parse_qs(urlsplit(silent.headers["Location"]).query)["error"] == ["login_required"]


def test_login_page_chooses_acr_and_amr(idp: MockIdP) -> None:
    """The login page's acr / amr fields are what the sign-in achieved."""
    idp.login = "page"
    page = requests.get(idp.authorization_endpoint, timeout=5, params={
        "client_id": "mockidp-client", "response_type": "code", "redirect_uri": REDIRECT,
        "scope": "openid"})
    ticket = page.text.split('name=login_request value="')[1].split('"')[0]
    answer = requests.post(idp.authorization_endpoint, allow_redirects=False, timeout=5, data={
        "login_request": ticket, "action": "approve", "acr": "loa2", "amr": "pwd hwk"})
    claims = id_token(idp, parse_qs(urlsplit(answer.headers["Location"]).query))
    assert claims["acr"] == "loa2" and claims["amr"] == ["pwd", "hwk"]


def test_next_login_checks_acr_and_amr(idp: MockIdP) -> None:
    with pytest.raises(ConfigurationError):
        idp.users.next_login(amr="pwd")  # type: ignore[arg-type]
