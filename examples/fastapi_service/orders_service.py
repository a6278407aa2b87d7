"""A FastAPI service that accepts bearer tokens from an OpenID provider, the usual way: PyJWT's
PyJWKClient fetches (and caches) the provider's JWKS, picks the key by kid, and the token's
signature, issuer, audience and lifetime are checked."""

# No "from __future__ import annotations": FastAPI reads these annotations at run time, and
# they name objects local to create_app().
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer


@dataclass(frozen=True)
class Settings:
    issuer: str
    audience: str
    jwks_uri: str


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI()
    # cooldown_duration=0: refetch at once when a token names a kid the cache does not know
    # (a rotation). PyJWKClient otherwise waits 30 s between fetches.
    jwks = jwt.PyJWKClient(settings.jwks_uri, cooldown_duration=0)
    bearer = HTTPBearer()

    def claims(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]
               ) -> dict[str, Any]:
        token = credentials.credentials
        try:
            key = jwks.get_signing_key_from_jwt(token)
            return jwt.decode(token, key, algorithms=["RS256", "ES256"],
                              audience=settings.audience, issuer=settings.issuer,
                              options={"require": ["exp", "iat", "sub"]})
        except jwt.PyJWTError as exc:
            raise HTTPException(401, f"invalid token: {exc}",
                                headers={"WWW-Authenticate": "Bearer"}) from None

    @app.get("/orders")
    def orders(user: Annotated[dict[str, Any], Depends(claims)]) -> dict[str, Any]:
        if "orders:read" not in user.get("scope", "").split():
            raise HTTPException(403, "needs scope orders:read")
        return {"owner": user["sub"], "orders": [{"id": 1, "item": "tea"}]}

    return app
