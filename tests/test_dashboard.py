"""The standalone server's dashboard, in-process and in headless Chromium."""

from __future__ import annotations

import re

import requests
from werkzeug.test import Client

from mockidp import MockIdP


def test_dashboard_actions_in_process(idp: MockIdP) -> None:
    client = Client(idp.app)
    page = client.get("/_mockidp/ui").get_data(as_text=True)
    assert idp.keys.active.kid in page and "not a real identity provider" in page
    assert client.post("/_mockidp/ui/rotate", data={"alg": "ES256"}).status_code == 303
    es = idp.keys.active_for("ES256")
    client.post(f"/_mockidp/ui/keys/{es.kid}/corrupt", data={"how": "wrong-crv"})
    assert idp.keys.corruption(es.kid) == "wrong-crv"
    client.post(f"/_mockidp/ui/keys/{es.kid}/revoke")
    assert idp.keys.state(es.kid) == "revoked"
    assert client.post(f"/_mockidp/ui/keys/{es.kid}/explode").status_code == 404


def test_token_decoder(idp: MockIdP) -> None:
    client = Client(idp.app)
    valid = client.post("/_mockidp/ui/decode", data={"token": idp.token(sub="ann")})
    assert "valid: this provider accepts it now" in valid.get_data(as_text=True)
    expired = client.post("/_mockidp/ui/decode", data={"token": idp.token(fault="expired")})
    assert "not valid: expired" in expired.get_data(as_text=True)
    junk = client.post("/_mockidp/ui/decode", data={"token": "junk"})
    assert "not a compact JWS" in junk.get_data(as_text=True)


def test_dashboard_needs_the_control_token_when_set(idp: MockIdP) -> None:
    idp.control_token = "dashboard-secret-long-enough"
    try:
        assert requests.get(idp.issuer + "/_mockidp/ui", timeout=5).status_code == 401
        with requests.Session() as browser:
            first = browser.get(idp.issuer + "/_mockidp/ui",
                                params={"control_token": idp.control_token}, timeout=5)
            assert first.status_code == 200
            assert browser.get(idp.issuer + "/_mockidp/ui", timeout=5).status_code == 200
    finally:
        idp.control_token = None


def test_dashboard_in_a_real_browser(idp: MockIdP, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    first = idp.keys.active.kid
    page = browser.new_page()
    try:
        page.goto(idp.issuer + "/_mockidp/ui")
        page.select_option("select[name=alg]", "RS256")
        page.click("#rotate")
        expect(page.locator("#keys tr[data-kid]")).to_have_count(2)
        expect(page.locator(f'tr[data-kid="{first}"] .state')).to_have_text("previous")
        page.locator(f'tr[data-kid="{first}"] button[data-action=revoke]').click()
        expect(page.locator(f'tr[data-kid="{first}"] .state')).to_have_text("revoked")
        page.fill("#token", idp.token(kid=first))
        page.click("#decode")
        expect(page.locator("#decoded")).to_contain_text("no published key")
        requests.get(idp.jwks_uri, timeout=5)  # the live log picks it up
        expect(page.locator("#log")).to_contain_text("/.well-known/jwks.json")
    finally:
        page.close()
    assert idp.keys.state(first) == "revoked"
    assert re.fullmatch(r"[\w-]+", idp.keys.active.kid)
