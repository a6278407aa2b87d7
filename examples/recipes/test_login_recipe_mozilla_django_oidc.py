"""mozilla-django-oidc — a sign-in through `OIDCAuthenticationBackend.authenticate`

The backend redeems the code, verifies the ID token (signature with `OIDC_RP_SIGN_ALGO`,
`exp`, the nonce) and then takes the user from **userinfo**: its `verify_claims` wants an
email, `filter_users_by_claims` finds the account by that email. It never compares userinfo's
`sub` with the ID token's (OIDC Core §5.3.4) and never checks the ID token's `iss` or `aud`:
those are left to the app (override `verify_claims`). The callback view checks `state`; this
recipe does what that view does (the view itself needs a session and a user table), and
looks users up without a database by overriding the documented `filter_users_by_claims` hook.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import django
import pytest
import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.test import RequestFactory, override_settings
from django.urls import path

if not settings.configured:
    settings.configure(INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
                       DATABASES={}, USE_TZ=True)
    django.setup()

from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from mockidp import LoginRefused

if TYPE_CHECKING:
    from collections.abc import Callable

    from mockidp import MockIdP

CALLBACK = "http://testserver/oidc/callback/"


class URLs:
    """The URLconf the backend reverses its redirect URI in."""

    urlpatterns: ClassVar = [path("oidc/callback/", lambda request: None,
                        name="oidc_authentication_callback")]


class Backend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """The app's backend: one account per email (no database in this recipe)."""

    def filter_users_by_claims(self, claims: dict[str, Any]) -> list[dict[str, Any]]:
        return [dict(claims)]

    def update_user(self, user: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
        return user


def make_login(idp: MockIdP) -> Callable[[MockIdP], str]:
    client = idp.clients.add("django-app", "django-secret", redirect_uris=[CALLBACK])
    django_settings = override_settings(
        ROOT_URLCONF=URLs, ALLOWED_HOSTS=["testserver"], OIDC_RP_CLIENT_ID=client.client_id,
        OIDC_RP_CLIENT_SECRET=client.client_secret,
        OIDC_OP_AUTHORIZATION_ENDPOINT=idp.authorization_endpoint,
        OIDC_OP_TOKEN_ENDPOINT=idp.token_endpoint, OIDC_OP_USER_ENDPOINT=idp.userinfo_endpoint,
        OIDC_OP_JWKS_ENDPOINT=idp.jwks_uri, OIDC_RP_SIGN_ALGO="RS256")

    def login(idp: MockIdP) -> str:
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        back = requests.get(idp.authorization_endpoint, allow_redirects=False, timeout=5, params={
            "client_id": client.client_id, "response_type": "code", "scope": "openid email",
            "redirect_uri": CALLBACK, "state": state, "nonce": nonce})
        params = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["Location"]).query).items()}
        if "error" in params:  # the callback view redirects to the failure URL
            raise LoginRefused(params["error"], "<p>Sign-in failed.</p>")
        if params.get("state") != state:  # as OIDCAuthenticationCallbackView.get does
            raise SuspiciousOperation("OIDC callback state not found in session")
        with django_settings:
            request = RequestFactory().get("/oidc/callback/", params)
            request.session = {}  # where store_tokens() keeps the tokens
            user = Backend().authenticate(request, nonce=nonce)
        if user is None:
            raise PermissionError("authenticate() returned None")
        return str(user["email"])

    return login


def test_signs_in(idp: MockIdP) -> None:
    assert make_login(idp)(idp) == idp.users.default["email"]


@pytest.mark.parametrize("fault", ["id-token-wrong-nonce", "id-token-bad-signature"])
def test_refuses(idp: MockIdP, fault: str) -> None:
    login = make_login(idp)
    idp.users.next_login(fault=fault)
    with pytest.raises(SuspiciousOperation):
        login(idp)


def test_trusts_userinfo_and_the_id_token_issuer(idp: MockIdP) -> None:
    login = make_login(idp)
    for fault in ("userinfo-wrong-sub", "id-token-wrong-iss", "id-token-wrong-aud"):
        idp.users.next_login(fault=fault)
        login(idp)
