"""The Flask app's OIDC login against mockidp, end to end: the authorize redirect is followed
without a browser, the code exchanged, the ID token verified with the JWKS; then every sign-in
fault through it (``mockidp.audit_login``), and through a naive variant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import naive_login_app
import requests
from flask_login_app import create_app

from mockidp import LoginRefused, audit_login

if TYPE_CHECKING:
    from collections.abc import Callable

    from flask import Flask
    from flask.testing import FlaskClient

    from mockidp import MockIdP

CALLBACK = "http://localhost/callback"


def make_app(idp: MockIdP, factory: Callable[[str, str, str], Flask] = create_app) -> Flask:
    client = idp.clients.add("flask-app", "flask-secret", redirect_uris=[CALLBACK])
    return factory(idp.discovery_url, client.client_id, client.client_secret or "")


def sign_in(idp: MockIdP, app: Flask) -> tuple[FlaskClient, Any]:
    browser = app.test_client()
    to_idp = browser.get("/login")
    assert to_idp.status_code == 302 and to_idp.location.startswith(idp.authorization_endpoint)
    back = requests.get(to_idp.location, allow_redirects=False, timeout=5)
    callback = urlsplit(back.headers["Location"])
    return browser, browser.get(f"{callback.path}?{callback.query}")


def login_through(app: Flask) -> Callable[[MockIdP], str]:
    """One sign-in for mockidp.audit_login: returns when /me knows the user, raises when the
    app refused (with its page, so the audit sees markup it echoed)."""

    def login(idp: MockIdP) -> str:
        browser, done = sign_in(idp, app)
        me = browser.get("/me")
        if me.status_code != 200:
            raise LoginRefused(f"HTTP {done.status_code}", done.get_data(as_text=True))
        return me.get_data(as_text=True)

    return login


def test_login(idp: MockIdP) -> None:
    alice = idp.users.add("alice", email="alice@example.com")
    idp.users.next_login(alice)
    browser, done = sign_in(idp, make_app(idp))
    assert done.status_code == 302
    assert browser.get("/me").json == {"sub": "alice", "email": "alice@example.com"}
    assert len(idp.requests_to("token")) == 1 and len(idp.requests_to("jwks")) == 1


def test_user_refuses(idp: MockIdP) -> None:
    idp.users.next_login(deny=True)
    browser, done = sign_in(idp, make_app(idp))
    assert done.status_code == 401 and done.json == {"error": "access_denied"}
    assert browser.get("/me").status_code == 401


def test_every_sign_in_fault_is_refused(idp: MockIdP) -> None:
    report = audit_login(login_through(make_app(idp)), idp)
    report.assert_safe(min_severity="hardening")  # not even a hardening fault gets through
    assert not report.broken and len(report.cases) > 20


def test_the_naive_app_is_caught_with_exactly_its_mistake(idp: MockIdP) -> None:
    """Taking the user from userinfo shows twice: a userinfo answer about someone else is
    believed (OIDC Core §5.3.4), and a sign-in without an ID token goes through (§3.1.3.3)."""
    report = audit_login(login_through(make_app(idp, naive_login_app.create_app)), idp)
    assert [case.name for case in report.failures()] == ["token-response-without-id-token",
                                                         "userinfo-wrong-sub"]
