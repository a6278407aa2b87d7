"""A Flask web app that signs users in with OpenID Connect through Authlib."""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, request, session, url_for
from joserfc.errors import JoseError


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
        # RFC 9207: the response names the provider that sent it (Authlib leaves this to us).
        if request.args.get("iss") != oauth.idp.load_server_metadata()["issuer"]:
            return {"error": "the response is not from our provider"}, 401
        try:
            token = oauth.idp.authorize_access_token()  # checks the ID token, nonce included
        except (OAuthError, JoseError) as exc:  # access_denied, or an ID token to refuse
            return {"error": exc.error}, 401
        claims = token.get("userinfo")  # the ID token's claims: None without an ID token
        # OIDC Core §3.1.3.7 step 3: no audience but us (Authlib accepts any list with us).
        if claims is None or claims["aud"] not in (client_id, [client_id]):
            return {"error": "no ID token for this app"}, 401
        session["user"] = dict(claims)
        return redirect(url_for("me"))

    @app.get("/me")
    def me() -> Any:
        user = session.get("user")
        if user is None:
            return {"error": "not signed in"}, 401
        return {"sub": user["sub"], "email": user.get("email")}

    return app
