"""The Flask app's OIDC login against mockidp, end to end: the authorize redirect is followed
without a browser, the code exchanged, the ID token verified with the JWKS."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from flask_login_app import create_app

if TYPE_CHECKING:
    from mockidp import MockIdP

CALLBACK = "http://localhost/callback"


def sign_in(idp: MockIdP) -> tuple:  # type: ignore[type-arg]
    client = idp.clients.add("flask-app", "flask-secret", redirect_uris=[CALLBACK])
    app = create_app(idp.discovery_url, client.client_id, client.client_secret or "")
    browser = app.test_client()
    to_idp = browser.get("/login")
    assert to_idp.status_code == 302 and to_idp.location.startswith(idp.authorization_endpoint)
    back = requests.get(to_idp.location, allow_redirects=False, timeout=5)
    callback = urlsplit(back.headers["Location"])
    return browser, browser.get(f"{callback.path}?{callback.query}")


def test_login(idp: MockIdP) -> None:
    alice = idp.users.add("alice", email="alice@example.com")
    idp.users.next_login(alice)
    browser, done = sign_in(idp)
    assert done.status_code == 302
    assert browser.get("/me").json == {"sub": "alice", "email": "alice@example.com"}
    assert len(idp.requests_to("token")) == 1 and len(idp.requests_to("jwks")) == 1


def test_user_refuses(idp: MockIdP) -> None:
    idp.users.next_login(deny=True)
    browser, done = sign_in(idp)
    assert done.status_code == 401 and done.json == {"error": "access_denied"}
    assert browser.get("/me").status_code == 401
