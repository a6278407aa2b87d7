"""The same Flask app with one mistake: it takes the user from userinfo, trusting its ``sub``
(OIDC Core §5.3.4 has the client compare it with the ID token's). ``mockidp.audit_login``
catches it; ``test_flask_login_app.py`` shows the report."""

from __future__ import annotations

from typing import Any

import flask_login_app
from flask import Flask, redirect, session, url_for


def create_app(discovery_url: str, client_id: str, client_secret: str) -> Flask:
    app = flask_login_app.create_app(discovery_url, client_id, client_secret)
    oauth = app.extensions["authlib.integrations.flask_client"]

    def callback() -> Any:
        token = oauth.idp.authorize_access_token()
        session["user"] = dict(oauth.idp.userinfo(token=token))  # the mistake
        return redirect(url_for("me"))

    app.view_functions["callback"] = callback
    return app
