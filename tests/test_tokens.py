from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from mockidp import (
    ConfigurationError,
    InvalidTokenError,
    KeyStateError,
    MockIdP,
    TokenContext,
    UnknownKeyError,
)
from mockidp.core.jws import b64url_encode


def half_sha256(data: bytes) -> str:
    return b64url_encode(hashlib.sha256(data).digest()[:16]).decode()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_default_access_token_profile(idp: MockIdP) -> None:
    idp.clock.freeze(datetime(2031, 5, 6, tzinfo=timezone.utc))
    token = idp.token()
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": idp.keys.active.kid, "typ": "JWT"}
    claims = claims_of(token)
    now = int(idp.clock.time())
    assert claims == {
        "iss": idp.issuer, "sub": idp.users.default.sub, "aud": "mockidp-api",
        "exp": now + 3600, "iat": now, "nbf": now, "jti": claims["jti"],
    }
    assert claims_of(idp.token())["jti"] != claims["jti"]


def test_claims_and_headers_override_add_and_remove(idp: MockIdP) -> None:
    token = idp.token(
        {"exp": None, "role": "admin", "aud": ["a", "b"]},
        headers={"typ": None, "x-test": 1},
        sub="alice", scope=["read", "write"], client_id="svc",
    )
    header, claims = jwt.get_unverified_header(token), claims_of(token)
    assert "typ" not in header and header["x-test"] == 1
    assert "exp" not in claims
    assert claims["aud"] == ["a", "b"] and claims["sub"] == "alice"
    assert claims["scope"] == "read write" and claims["client_id"] == "svc"


def test_expired_token_is_rejected_by_pyjwt(idp: MockIdP) -> None:
    token = idp.token(expires_in=-60)
    key = idp.keys.active.public_key
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, key, algorithms=["RS256"], audience=idp.audience)
    token = idp.token(expires_in=timedelta(minutes=5))
    assert claims_of(token)["exp"] - claims_of(token)["iat"] == 300


def test_rfc9068_profile(idp: MockIdP) -> None:
    token = idp.token(typ="at+jwt")
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    assert claims_of(token)["client_id"] == idp.clients.default.client_id


def test_revoked_key_can_still_mint(idp: MockIdP) -> None:
    old = idp.keys.active
    idp.keys.rotate()
    idp.keys.revoke(old.kid)
    assert jwt.get_unverified_header(idp.token(kid=old.kid))["kid"] == old.kid


def test_id_token_claims(idp: MockIdP) -> None:
    user = idp.users.add("bob", email="bob@example.test")
    access = idp.token(sub="bob")
    token = idp.id_token(sub="bob", nonce="abc", access_token=access, code="the-code",
                         alg="ES256")
    claims = jwt.decode(token, idp.keys.active_for("ES256").public_key, algorithms=["ES256"],
                        audience=idp.clients.default.client_id, issuer=idp.issuer)
    assert claims["email"] == user.claims["email"] and claims["nonce"] == "abc"
    assert claims["azp"] == idp.clients.default.client_id
    assert claims["auth_time"] == claims["iat"]
    assert claims["at_hash"] == half_sha256(access.encode())
    assert claims["c_hash"] == half_sha256(b"the-code")


def test_id_token_at_hash_for_ed448_uses_shake256(idp: MockIdP) -> None:
    key = idp.keys.add("EdDSA", crv="Ed448")
    claims = claims_of(idp.id_token(kid=key.kid, access_token="tok"))
    assert claims["at_hash"] == b64url_encode(hashlib.shake_256(b"tok").digest(114)[:57]).decode()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"alg": "XX999"}, ConfigurationError, "unknown JWS algorithm 'XX999'"),
        ({"kid": "missing"}, UnknownKeyError, "missing"),
        ({"expires_in": "1h"}, ConfigurationError, "expires_in must be seconds"),
        ({"claims": ["sub"]}, ConfigurationError, "claims must be a dict"),
        ({"headers": "x"}, ConfigurationError, "headers must be a dict"),
    ],
)
def test_minting_misuse(idp: MockIdP, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        idp.token(**kwargs)


def test_alg_and_kid_must_agree(idp: MockIdP) -> None:
    with pytest.raises(ConfigurationError, match="signs RS256, not ES256"):
        idp.token(kid=idp.keys.active.kid, alg="ES256")


def test_alg_without_active_key_says_how_to_fix(idp: MockIdP) -> None:
    idp.keys.add("ES384", activate=False)
    with pytest.raises(KeyStateError, match="staged or revoked"):
        idp.token(alg="ES384")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expires_in": float("inf")}, "finite"),
        ({"expires_in": float("nan")}, "finite"),
        ({"expires_in": 1e300}, "finite"),
        ({"claims": {"when": object()}}, "JSON values"),
        ({"headers": {"x": {1, 2}}}, "JSON values"),
    ],
)
def test_unrepresentable_values(idp: MockIdP, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        idp.token(**kwargs)
    with pytest.raises(ConfigurationError, match=message):
        idp.id_token(**kwargs)


@pytest.mark.parametrize(
    ("method", "kwargs", "message"),
    [
        ("token", {"typ": 60}, "typ must be a string"),
        ("token", {"sub": 7}, "sub must be a string"),
        ("token", {"client_id": []}, "client_id must be a string"),
        ("token", {"aud": [1, 2]}, "aud must be a string or a list"),
        ("token", {"scope": 5}, "scope must be a string or a list"),
        ("token", {"aud": []}, "at least one audience"),
        ("id_token", {"aud": ""}, "at least one audience"),
        ("id_token", {"access_token": []}, "access_token must be a string"),
        ("id_token", {"nonce": 1}, "nonce must be a string"),
        ("id_token", {"auth_time": "now"}, "auth_time must be a POSIX timestamp"),
        ("id_token", {"auth_time": float("inf")}, "auth_time must be a POSIX timestamp"),
    ],
)
def test_wrongly_typed_arguments(idp: MockIdP, method: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        getattr(idp, method)(**kwargs)


def test_typ_none_means_no_typ_header(idp: MockIdP) -> None:
    assert "typ" not in jwt.get_unverified_header(idp.token(typ=None))
    assert "typ" not in jwt.get_unverified_header(idp.token(typ=None, headers={"x": 1}))


def test_one_pipeline_every_token_goes_through_the_hooks(idp: MockIdP) -> None:
    """idp.token(), idp.id_token(), the control API and the token endpoint all mint through
    the same pipeline: each token passes the hooks, which may also plant a fault in it."""
    import requests

    seen: list[tuple[str, str | None, str]] = []

    @idp.on_token
    def mark(context: TokenContext) -> None:
        seen.append((context.kind, context.grant_type, context.client.client_id))
        context.claims["pipeline"] = True
        if context.claims.get("plant") == "expired":
            context.fault = "expired"

    client = idp.clients.default
    minted = [
        idp.token(),
        idp.id_token(),
        requests.post(idp.issuer + "/_mockidp/token", json={"client_id": "svc"},
                      timeout=5).json()["token"],
        requests.post(idp.issuer + "/_mockidp/id_token", json={}, timeout=5).json()["token"],
        requests.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                      auth=(client.client_id, client.client_secret),
                      timeout=5).json()["access_token"],
    ]
    assert all(jwt.decode(t, options={"verify_signature": False})["pipeline"] for t in minted)
    assert seen == [("access_token", None, client.client_id), ("id_token", None, client.client_id),
                    ("access_token", None, client.client_id), ("id_token", None, client.client_id),
                    ("access_token", "client_credentials", client.client_id)]
    with pytest.raises(InvalidTokenError, match="expired"):
        idp.verify(idp.token({"plant": "expired"}))


@pytest.mark.parametrize("fault", ["crit-unknown", "b64-false"])
def test_the_provider_refuses_critical_extensions_it_does_not_understand(
        idp: MockIdP, fault: str) -> None:
    """RFC 7515 §4.1.11: its own endpoints (userinfo, introspection) refuse a token whose
    ``crit`` lists an extension; the provider supports none, RFC 7797's b64 included."""
    with pytest.raises(InvalidTokenError, match=r"RFC 7515 §4\.1\.11"):
        idp.verify(idp.token(fault=fault))
