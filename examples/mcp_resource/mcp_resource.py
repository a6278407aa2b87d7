"""A small MCP-style protected resource (Flask): it publishes RFC 9728 protected-resource
metadata naming its authorization server, answers a request without a token with a 401 whose
``WWW-Authenticate`` points at that metadata, and accepts only access tokens whose ``aud`` is
its own resource identifier (RFC 8707) and whose scope holds ``mcp:tools``.

``make_app(issuer, resource, broken=...)`` also builds the variants that get one of these
wrong, which ``mockidp.audit_resource`` must catch."""

from __future__ import annotations

from urllib.parse import urlsplit

import jwt
from flask import Flask, jsonify, redirect, request

SCOPE = "mcp:tools"
#: Each way the resource can be wrong, for the audit's tests: no metadata; no
#: ``resource_metadata`` in the challenge; any audience accepted; no scope check;
#: ``authorization_servers`` a string naming the issuer, not an array (RFC 9728 §2); a 500
#: for a token of another audience (say, passed upstream, which refused it); a redirect to a
#: login page instead of a 401, as a web app answers a browser.
BROKEN = ("no-metadata", "no-challenge", "any-audience", "no-scope-check",
          "servers-not-an-array", "fails-other-audience", "redirects-to-login")


def make_app(issuer: str, resource: str, jwks_uri: str, broken: str | None = None) -> Flask:
    app = Flask(__name__)
    keys = jwt.PyJWKClient(jwks_uri, cache_keys=True)
    path = urlsplit(resource).path
    metadata_path = "/.well-known/oauth-protected-resource" + path
    metadata_url = resource.removesuffix(path) + metadata_path

    @app.get(metadata_path)
    def metadata():  # type: ignore[no-untyped-def]
        if broken == "no-metadata":
            return jsonify(error="not found"), 404
        servers = f"{issuer} and no other" if broken == "servers-not-an-array" else [issuer]
        return jsonify(resource=resource, authorization_servers=servers,
                       scopes_supported=[SCOPE], bearer_methods_supported=["header"])

    @app.get("/login")
    def login():  # type: ignore[no-untyped-def]
        return "<form>Sign in</form>"

    def challenge(status: int, **params: str):  # type: ignore[no-untyped-def]
        if broken == "redirects-to-login" and status == 401:
            return redirect("/login")
        fields = [f'resource_metadata="{metadata_url}"'] if broken != "no-challenge" else []
        fields += [f'{name}="{value}"' for name, value in params.items()]
        return jsonify(error=params.get("error", "unauthorized")), status, {
            "WWW-Authenticate": "Bearer " + ", ".join(fields) if fields else "Bearer"}

    @app.get(path)
    def tools():  # type: ignore[no-untyped-def]
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return challenge(401)
        try:
            key = keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key, algorithms=["RS256", "ES256"], issuer=issuer,
                audience=None if broken == "any-audience" else resource,
                options={"verify_aud": broken != "any-audience",
                         "require": ["exp", "iss", "aud", "sub"]})
        except jwt.InvalidAudienceError:
            if broken == "fails-other-audience":
                return jsonify(error="upstream refused the token"), 500
            return challenge(401, error="invalid_token", error_description="wrong audience")
        except jwt.PyJWTError as exc:
            return challenge(401, error="invalid_token", error_description=str(exc))
        if broken != "no-scope-check" and SCOPE not in str(claims.get("scope", "")).split():
            return challenge(403, error="insufficient_scope", scope=SCOPE)
        return jsonify(tools=["echo"], sub=claims["sub"])

    return app
