"""The same Flask app with one mistake: it takes the user from userinfo, trusting its ``sub``
(OIDC Core §5.3.4 has the client compare it with the ID token's). ``mockidp.audit_login``
catches it; ``test_flask_login_app.py`` shows the report."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, session, url_for


def create_app(discovery_url: str, client_id: str, client_secret: str) -> Flask:
    app = Flask(__name__)
    app.secret_key = "example-only"
    oauth = OAuth(app)
    oauth.register("idp", server_metadata_url=discovery_url, client_id=client_id,
                   client_secret=client_secret,
                   client_kwargs={"scope": "openid profile email",
                                  "code_challenge_method": "S256"})

    @app.get("/login")
    def login() -> Any:
        return oauth.idp.authorize_redirect(url_for("callback", _external=True))

    @app.get("/callback")
    def callback() -> Any:
        token = oauth.idp.authorize_access_token()
        session["user"] = dict(oauth.idp.userinfo(token=token))  # the mistake
        return redirect(url_for("me"))

    @app.get("/me")
    def me() -> Any:
        user = session.get("user")
        if user is None:
            return {"error": "not signed in"}, 401
        return {"sub": user["sub"], "email": user.get("email")}

    return app
