"""The standalone server's dashboard, in-process and in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
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


def test_timeline_has_key_changes_and_each_consumers_fetches(idp: MockIdP) -> None:
    requests.get(idp.jwks_uri, headers={"User-Agent": "orders/1.0"}, timeout=5)
    old, new = idp.keys.active.kid, idp.keys.rotate().kid
    idp.endpoint("jwks").fail(503, times=1)
    requests.get(idp.jwks_uri, headers={"User-Agent": "orders/1.0"}, timeout=5)
    requests.get(idp.discovery_url, headers={"User-Agent": "billing/2"}, timeout=5)
    requests.get(idp.issuer + "/userinfo", timeout=5)  # not a key fetch: not on the timeline
    timeline = requests.get(idp.issuer + "/_mockidp/timeline", timeout=5).json()
    changes = [(c["kid"], c["state"]) for c in timeline["keys"]]
    assert changes[-2:] == [(old, "previous"), (new, "active")]
    marks = [(r["consumer"], r["endpoint"], r["status"]) for r in timeline["requests"]]
    assert marks == [("127.0.0.1 orders/1.0", "jwks", 200), ("127.0.0.1 orders/1.0", "jwks", 503),
                     ("127.0.0.1 billing/2", "discovery", 200)]
    assert all(c["time"] <= r["time"] <= timeline["now"] for c in timeline["keys"][:1]
               for r in timeline["requests"])


def test_a_consumer_is_an_address_and_a_user_agent(idp: MockIdP) -> None:
    """Two instances of one service (one User-Agent, two addresses) are two consumers on the
    timeline; an in-process client with no address is its User-Agent alone."""
    client = Client(idp.app)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.1"):
        client.get("/.well-known/jwks.json", headers=SERVICE,
                   environ_base={"REMOTE_ADDR": address})
    client.get("/.well-known/jwks.json", headers=SERVICE)
    timeline = client.get("/_mockidp/timeline").get_json()
    assert [r["consumer"] for r in timeline["requests"]] == [
        "192.0.2.1 orders/1.0", "192.0.2.2 orders/1.0", "192.0.2.1 orders/1.0", "orders/1.0"]
    assert [r.remote_addr for r in idp.requests] == ["192.0.2.1", "192.0.2.2", "192.0.2.1", ""]


def test_timeline_has_the_scenario_steps_as_they_played(idp: MockIdP) -> None:
    """Each scenario started since the last reset, its steps on the provider's clock: played,
    failed at play time (the scenario stopped there, with the error), or still to come."""
    run = idp.run_scenario('''
        [[step]]
        at = "0s"
        action = "rotate"

        [[step]]
        at = "10s"
        action = "activate"
        kid = "next"

        [[step]]
        at = "20s"
        action = "revoke"
        kid = "previous"
    ''')
    idp.clock.advance(15)  # no next key: step 2 fails and step 3 never plays
    client = Client(idp.app)
    scenarios = client.get("/_mockidp/timeline").get_json()["scenarios"]
    assert [(s["number"], s["action"], s["state"]) for s in scenarios[0]["steps"]] == [
        (1, "rotate", "applied"), (2, "activate", "failed"), (3, "revoke", "pending")]
    steps = scenarios[0]["steps"]
    assert [s["time"] - run.start for s in steps] == pytest.approx([0, 10, 20])
    assert "step 2 (activate at 10s) failed" in steps[1]["error"] and steps[0]["error"] is None
    idp.reset()
    assert client.get("/_mockidp/timeline").get_json()["scenarios"] == []


def test_key_history_is_on_the_provider_clock_and_sees_a_reset(idp: MockIdP) -> None:
    idp.clock.advance(3600)
    rotated = idp.keys.rotate()
    idp.reset()
    history = idp.keys.history
    assert [c.state for c in history if c.kid == rotated.kid] == ["active", "gone"]
    stamp = next(c.time for c in history if c.kid == rotated.kid)
    assert abs(stamp - (idp.clock.time() + 3600)) < 60  # the clock the rotation saw


def test_favicon_is_served_and_not_logged(idp: MockIdP) -> None:
    answer = requests.get(idp.issuer + "/favicon.ico", timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/svg+xml"
    assert answer.content.startswith(b"<svg") and idp.requests == []


def test_decoder_shows_time_claims_as_dates(idp: MockIdP) -> None:
    idp.clock.freeze(1_700_000_000)
    page = Client(idp.app).post("/_mockidp/ui/decode", data={"token": idp.token()})
    assert "iat: 2023-11-14 22:13:20 UTC" in page.get_data(as_text=True)
    assert "exp: 2023-11-14 23:13:20 UTC" in page.get_data(as_text=True)


def test_a_browser_without_the_control_token_gets_a_sign_in_form(idp: MockIdP) -> None:
    idp.control_token = "dashboard-secret-long-enough"
    client = Client(idp.app)
    try:
        page = client.get("/_mockidp/ui", headers={"Accept": "text/html,*/*;q=0.8"})
        assert page.status_code == 401 and page.mimetype == "text/html"
        assert 'action="/_mockidp/ui/signin"' in page.get_data(as_text=True)
        assert page.headers["WWW-Authenticate"].startswith("Bearer")
        script = client.get("/_mockidp/ui", headers={"Accept": "application/json"})
        assert script.status_code == 401 and script.json["error"] == "invalid_token"  # type: ignore[index]
        wrong = client.post("/_mockidp/ui/signin", data={"control_token": "guess"})
        assert wrong.status_code == 401 and "not the control token" in wrong.get_data(
            as_text=True)
        right = client.post("/_mockidp/ui/signin", data={"control_token": idp.control_token})
        assert right.status_code == 303 and right.headers["Location"] == "/_mockidp/ui"
        cookie = right.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        assert client.get("/_mockidp/ui").status_code == 200  # the cookie opens it
        foreign = client.post("/_mockidp/ui/signin", headers={"Origin": "http://evil.test"},
                              data={"control_token": idp.control_token})
        assert foreign.status_code == 403
    finally:
        idp.control_token = None


def _png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n"), path


SERVICE = {"User-Agent": "orders/1.0"}


def _console_errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The page's script errors and CSP refusals, which Chromium reports on the console."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_timeline_and_log_filters_in_a_real_browser(  # type: ignore[no-untyped-def]
        idp: MockIdP, browser, tmp_path: Path) -> None:
    """The timeline shows each consumer's fetches and token requests; the log filters by
    endpoint and status and gives the provider's time of day."""
    from playwright.sync_api import expect

    requests.get(idp.jwks_uri, headers=SERVICE, timeout=5)
    requests.post(idp.token_endpoint, headers=SERVICE, timeout=5, data={
        "grant_type": "client_credentials", "client_id": "mockidp-client",
        "client_secret": "mockidp-client-secret"})
    requests.get(idp.issuer + "/nowhere", timeout=5)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = _console_errors(page)
    try:
        page.goto(idp.issuer + "/_mockidp/ui")
        consumer = page.locator('#timeline g.consumer[data-consumer="127.0.0.1 orders/1.0"]')
        expect(consumer.locator(".fetch.jwks")).to_have_count(1)
        expect(consumer.locator(".fetch.token")).to_have_count(1)
        row = page.locator(f'#timeline g.key-row[data-kid="{idp.keys.active.kid}"]')
        expect(row.locator(".segment").last).to_have_attribute("data-state", "active")
        expect(page.locator("#log tr")).to_have_count(3)
        page.select_option("#filter-status", "4xx")
        expect(page.locator("#log tr")).to_have_count(1)
        expect(page.locator("#log tr td").nth(4)).to_have_text("404")
        page.select_option("#filter-status", "")
        page.select_option("#filter-endpoint", "jwks")
        expect(page.locator("#log tr")).to_have_count(1)
        expect(page.locator("#log tr td").first).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
        page.screenshot(path=tmp_path / "dashboard.png")
    finally:
        page.close()
    _png(tmp_path / "dashboard.png")
    assert errors == []


def test_timeline_updates_live_in_a_real_browser(  # type: ignore[no-untyped-def]
        idp: MockIdP, browser, tmp_path: Path) -> None:
    """A rotation made elsewhere (here, by a scenario started in Python) appears without a
    reload, with the scenario's step and the consumer's refetch after it, and the keys
    table's states follow (the page polls)."""
    from playwright.sync_api import expect

    first = idp.keys.active.kid
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = _console_errors(page)
    try:
        page.goto(idp.issuer + "/_mockidp/ui")
        expect(page.locator(f'#timeline g.key-row[data-kid="{first}"]')).to_have_count(1)
        second = idp.run_scenario('[[step]]\nat = "0s"\naction = "rotate"\n').issuer \
            .keys.active.kid
        requests.get(idp.jwks_uri, headers=SERVICE, timeout=5)
        consumer = page.locator('#timeline g.consumer[data-consumer="127.0.0.1 orders/1.0"]')
        expect(consumer.locator(".fetch.jwks")).to_have_count(1)
        expect(page.locator('#timeline g.scenario .step[data-action="rotate"]')
               ).to_have_attribute("data-state", "applied")
        expect(page.locator(f'#timeline .rotation[data-kid="{second}"]')).to_have_count(1)
        row = page.locator(f'#timeline g.key-row[data-kid="{first}"]')
        expect(row.locator(".segment").last).to_have_attribute("data-state", "previous")
        expect(page.locator(f'#keys tr[data-kid="{first}"] .state')).to_have_text("previous")
        expect(page.locator("#keys-stale")).to_be_visible()
        page.screenshot(path=tmp_path / "rotated.png")
    finally:
        page.close()
    _png(tmp_path / "rotated.png")
    assert errors == []


def test_sign_in_form_in_a_real_browser(  # type: ignore[no-untyped-def]
        idp: MockIdP, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    idp.control_token = "dashboard-secret-long-enough"
    page = browser.new_page()
    try:
        answer = page.goto(idp.issuer + "/_mockidp/ui")
        assert answer is not None and answer.status == 401
        page.screenshot(path=tmp_path / "signin.png")
        page.fill("#control-token", idp.control_token)
        page.click("#signin-submit")
        expect(page.locator("h1")).to_have_text("mockidp dashboard")
        active = f'#timeline g.key-row[data-kid="{idp.keys.active.kid}"]'
        expect(page.locator(active)).to_have_count(1)  # its fetches work too
        page.reload()
        expect(page.locator("h1")).to_have_text("mockidp dashboard")  # the cookie stays
    finally:
        page.close()
        idp.control_token = None
    _png(tmp_path / "signin.png")


def test_a_tenants_dashboard_signs_in_below_its_path() -> None:
    """The cookie the sign-in sets is scoped to the tenant's control path, so the tenant's
    dashboard opens after it."""
    import requests

    secret = "a-control-token-of-some-length"
    with MockIdP(control_token=secret) as idp:
        idp.tenant("acme")
        base = idp.base_url + "/acme/_mockidp"
        session = requests.Session()
        session.post(base + "/ui/signin", data={"control_token": secret},
                     allow_redirects=False, timeout=5)
        assert session.get(base + "/ui", timeout=5).status_code == 200


def test_key_actions_on_a_kid_with_a_slash(idp: MockIdP) -> None:
    import re

    import requests

    idp.keys.add("ES256", kid="a/b#1")
    page = requests.get(idp.issuer + "/_mockidp/ui", timeout=5).text
    action = re.search(r'action="([^"]*a%2Fb%231/revoke)"', page)
    assert action is not None
    assert requests.post(idp.base_url + action[1], allow_redirects=False,
                         timeout=5).status_code == 303
    assert idp.keys.state("a/b#1") == "revoked"
