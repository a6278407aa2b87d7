"""A service in its own process that accepts bearer tokens from a provider it finds through
discovery. Run: python protected_service.py ISSUER_URL; it prints the URL it listens on."""

from __future__ import annotations

import json
import sys
import urllib.request

import jwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def create_app(issuer: str) -> object:
    found: dict[str, object] = {}

    def provider() -> tuple[dict, jwt.PyJWKClient]:  # type: ignore[type-arg]
        # Discovery on the first request: the service may start before its provider.
        if not found:
            with urllib.request.urlopen(issuer + "/.well-known/openid-configuration") as answer:
                found["metadata"] = json.load(answer)
            # A short cache lifespan bounds how long a revoked key keeps working here;
            # cooldown 0 refetches at once for a kid it has not seen (a rotation).
            found["jwks"] = jwt.PyJWKClient(found["metadata"]["jwks_uri"],  # type: ignore[index]
                                            lifespan=2, cooldown_duration=0)
        return found["metadata"], found["jwks"]  # type: ignore[return-value]

    @Request.application
    def app(request: Request) -> Response:
        metadata, jwks = provider()
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return Response("no token", 401)
        try:
            key = jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key, algorithms=metadata[
                "id_token_signing_alg_values_supported"], issuer=metadata["issuer"],
                options={"verify_aud": False})
        except jwt.PyJWTError as exc:
            return Response(f"rejected: {type(exc).__name__}", 401)
        return Response(json.dumps({"sub": claims["sub"]}), content_type="application/json")

    return app


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, create_app(sys.argv[1]), threaded=True)
    print(f"http://127.0.0.1:{server.port}", flush=True)
    server.serve_forever()
