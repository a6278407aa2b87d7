"""Who signs in at the authorization endpoint: automatic sign-in for tests, planned logins,
prompt=none, and the login page (in-process and in a real headless browser)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from werkzeug.test import Client

from mockidp import ConfigurationError, MockIdP

REDIRECT = "http://127.0.0.1:9/cb"
QUERY = {"client_id": "mockidp-client", "response_type": "code", "redirect_uri": REDIRECT,
         "scope": "openid", "state": "s"}


def callback(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.get_data(as_text=True)
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def exchange(idp: MockIdP, code: str) -> dict:
    response = requests.post(idp.token_endpoint, timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": "mockidp-client", "client_secret": "mockidp-client-secret"})
    assert response.status_code == 200, response.text
    return idp.verify(response.json()["id_token"])


def test_planned_logins_queue_up(idp: MockIdP) -> None:
    carol = idp.users.add("carol")
    idp.users.next_login(carol, claims={"acr": "mfa"})
    idp.users.next_login(None)
    idp.users.next_login(deny=True)
    client = Client(idp.app)
    first = callback(client.get("/authorize", query_string=QUERY))
    claims = exchange(idp, first["code"])
    assert claims["sub"] == "carol" and claims["acr"] == "mfa"
    assert callback(client.get("/authorize", query_string=QUERY))["error"] == "login_required"
    assert callback(client.get("/authorize", query_string=QUERY))["error"] == "access_denied"
    assert "code" in callback(client.get("/authorize", query_string=QUERY))  # back to normal
    with pytest.raises(KeyError):
        idp.users.next_login("nobody")


def test_prompt_none_in_auto_mode_signs_in(idp: MockIdP) -> None:
    response = Client(idp.app).get("/authorize", query_string={**QUERY, "prompt": "none"})
    assert "code" in callback(response)
    bad = Client(idp.app).get("/authorize", query_string={**QUERY, "prompt": "none login"})
    assert callback(bad)["error"] == "invalid_request"


@pytest.fixture
def page_idp(idp: MockIdP) -> MockIdP:
    idp.login = "page"  # reset() puts back "auto"
    return idp


def test_login_page_flow_in_process(page_idp: MockIdP) -> None:
    client = Client(page_idp.app)
    page = client.get("/authorize", query_string=QUERY)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "not a real identity provider" in html
    ticket = re.search(r'name=login_request value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    silent = client.get("/authorize", query_string={**QUERY, "prompt": "none"})
    assert callback(silent)["error"] == "login_required"  # no session yet
    bad = client.post("/authorize", data={"login_request": ticket, "claims": "[1]",
                                          "action": "approve"})
    assert bad.status_code == 400 and "JSON object" in bad.get_data(as_text=True)
    done = client.post("/authorize", data={"login_request": ticket, "new_sub": "erin",
                                           "claims": '{"groups": ["ops"]}',
                                           "action": "approve"})
    answer = callback(done)
    claims = exchange(page_idp, answer["code"])
    assert claims["sub"] == "erin" and claims["groups"] == ["ops"]
    assert page_idp.users["erin"].claims["name"]  # a new user, with a faker-made profile
    again = client.get("/authorize", query_string={**QUERY, "prompt": "none"})
    assert exchange(page_idp, callback(again)["code"])["sub"] == "erin"  # the session
    reused = client.post("/authorize", data={"login_request": ticket, "action": "approve"})
    assert reused.status_code == 400


def test_login_page_says_what_is_authorized_and_keeps_what_was_typed(
        page_idp: MockIdP) -> None:
    client = Client(page_idp.app)
    html = client.get("/authorize", query_string={**QUERY, "scope": "openid <b>"}).get_data(
        as_text=True)
    assert '<dd id=asking-client>mockidp-client</dd>' in html
    assert f"<dd id=asking-redirect>{REDIRECT}</dd>" in html
    assert "<dd id=asking-scope>openid &lt;b&gt;</dd>" in html  # escaped
    ticket = re.search(r'name=login_request value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    bad = client.post("/authorize", data={"login_request": ticket, "new_sub": "zoe",
                                          "claims": '{"a": </script>', "action": "approve"})
    again = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "<dd id=asking-client>mockidp-client</dd>" in again
    assert ">{&quot;a&quot;: &lt;/script&gt;</textarea>" in again  # kept, escaped
    assert 'id=new-sub value="zoe"' in again


def test_login_page_deny(page_idp: MockIdP) -> None:
    client = Client(page_idp.app)
    html = client.get("/authorize", query_string=QUERY).get_data(as_text=True)
    ticket = re.search(r'name=login_request value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    answer = callback(client.post("/authorize", data={"login_request": ticket,
                                                      "action": "deny"}))
    assert answer["error"] == "access_denied" and answer["state"] == "s"


def test_bad_login_mode() -> None:
    with pytest.raises(ConfigurationError, match="login must be"):
        MockIdP(login="sometimes")


def test_login_page_in_a_real_browser(page_idp: MockIdP, browser) -> None:  # type: ignore[no-untyped-def]
    """A person signs in on the page in headless Chromium; the app's callback gets a code that
    the token endpoint exchanges."""
    bob = page_idp.users.add("bob", name="Bob Builder")
    verifier = "v" * 43
    url = requests.Request("GET", page_idp.authorization_endpoint, params={
        **QUERY, "code_challenge": verifier, "code_challenge_method": "plain",
        "nonce": "n-42"}).prepare().url
    page = browser.new_page()
    try:
        page.goto(url)
        assert "not a real identity provider" in page.content()
        page.get_by_label(re.compile("Bob Builder")).check()
        page.fill("#claims", '{"role": "admin"}')
        # The app's redirect URI is not served: catch the navigation instead.
        with page.expect_request(lambda r: r.url.startswith(REDIRECT)) as caught:
            page.click("#approve")
        location = caught.value.url
    finally:
        page.close()
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = requests.post(page_idp.token_endpoint, timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier, "client_id": "mockidp-client",
        "client_secret": "mockidp-client-secret"})
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
    assert claims["sub"] == bob.sub and claims["nonce"] == "n-42" and claims["role"] == "admin"
