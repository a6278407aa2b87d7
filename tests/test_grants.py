"""Token endpoint grants beyond the code flow, client authentication with private_key_jwt,
introspection, revocation, logout and token hooks."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.test import Client

from mockidp import MockIdP
from mockidp.core.flows import TokenContext
from mockidp.core.keys import Key

REDIRECT = "http://127.0.0.1:9/cb"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


def post(idp: MockIdP, path: str, form: dict, auth: tuple[str, str] | None = None
         ) -> requests.Response:
    if auth is None:
        client = idp.clients.default
        auth = (client.client_id, client.client_secret or "")
    return requests.post(idp.issuer + path, data=form, auth=auth, timeout=5)


def code_flow(idp: MockIdP, scope: str = "openid profile") -> dict:
    client = Client(idp.app)
    location = client.get("/authorize", query_string={
        "client_id": "mockidp-client", "response_type": "code", "redirect_uri": REDIRECT,
        "scope": scope, "nonce": "n"}).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = post(idp, "/token", {"grant_type": "authorization_code", "code": code,
                                    "redirect_uri": REDIRECT})
    assert response.status_code == 200, response.json()
    return response.json()


def test_refresh_with_authlib(idp: MockIdP) -> None:
    tokens = code_flow(idp)
    assert tokens["refresh_token"]
    default = idp.clients.default
    session = OAuth2Session(default.client_id, default.client_secret, token=tokens)
    refreshed = session.refresh_token(idp.token_endpoint, refresh_token=tokens["refresh_token"])
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token"] == tokens["refresh_token"]  # rotation is off by default
    assert idp.verify(refreshed["id_token"])["sub"] == idp.users.default.sub


def test_refresh_token_rotation(idp: MockIdP) -> None:
    idp.refresh_token_rotation = True
    first = code_flow(idp)["refresh_token"]
    second = post(idp, "/token", {"grant_type": "refresh_token", "refresh_token": first}).json()
    assert second["refresh_token"] != first
    reused = post(idp, "/token", {"grant_type": "refresh_token", "refresh_token": first})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert "rotation" in reused.json()["error_description"]


def test_refresh_scope_cannot_grow(idp: MockIdP) -> None:
    refresh = code_flow(idp, "openid")["refresh_token"]
    response = post(idp, "/token", {"grant_type": "refresh_token", "refresh_token": refresh,
                                    "scope": "openid admin"})
    assert response.json()["error"] == "invalid_scope"
    narrowed = post(idp, "/token", {"grant_type": "refresh_token", "refresh_token": refresh,
                                    "scope": ""}).json()
    assert "id_token" not in narrowed


def test_refresh_token_of_another_client(idp: MockIdP) -> None:
    refresh = code_flow(idp)["refresh_token"]
    other = idp.clients.add("other", "other-secret")
    response = post(idp, "/token", {"grant_type": "refresh_token", "refresh_token": refresh},
                    auth=(other.client_id, "other-secret"))
    assert response.json()["error"] == "invalid_grant"


def test_password_grant(idp: MockIdP) -> None:
    user = idp.users.add("dana", email="dana@example.test", password="s3cret")
    ok = post(idp, "/token", {"grant_type": "password", "username": "dana@example.test",
                              "password": "s3cret", "scope": "openid"}).json()
    assert idp.verify(ok["access_token"])["sub"] == user.sub and "refresh_token" in ok
    assert idp.verify(ok["id_token"])["email"] == "dana@example.test"
    assert "s3cret" not in str(idp.verify(ok["id_token"]))
    wrong = post(idp, "/token", {"grant_type": "password", "username": "dana",
                                 "password": "guess"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = post(idp, "/token", {"grant_type": "password", "username": "dana"})
    assert missing.json()["error"] == "invalid_request"


def test_token_exchange(idp: MockIdP) -> None:
    subject = idp.token(sub="alice", scope="read")
    actor = idp.token(sub="gateway")
    response = post(idp, "/token", {
        "grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS,
        "actor_token": actor, "actor_token_type": ACCESS, "audience": "backend-api"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["issued_token_type"] == ACCESS
    claims = idp.verify(body["access_token"])
    assert claims["sub"] == "alice" and claims["aud"] == "backend-api"
    assert claims["act"] == {"sub": "gateway"} and claims["scope"] == "read"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"subject_token": None}, "required"),
        ({"subject_token_type": "urn:x"}, "not supported"),
        ({"subject_token": "not-a-token"}, "rejected"),
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
         "requested_token_type"),
    ],
)
def test_token_exchange_errors(idp: MockIdP, change: dict, fragment: str) -> None:
    form = {"grant_type": TOKEN_EXCHANGE, "subject_token": idp.token(),
            "subject_token_type": ACCESS, **change}
    response = post(idp, "/token", {k: v for k, v in form.items() if v is not None})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert fragment in response.json()["error_description"]


def client_key() -> tuple[Key, dict]:
    key = Key.from_material("ES256", ec.generate_private_key(ec.SECP256R1()), kid="client-key")
    return key, {"keys": [key.public_jwk]}


def assertion(idp: MockIdP, key: Key, iss: str, sub: str, **extra: object) -> str:
    now = int(time.time())
    claims = {"iss": iss, "sub": sub, "aud": idp.token_endpoint, "exp": now + 60, "iat": now,
              "jti": uuid.uuid4().hex, **extra}
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})


def test_private_key_jwt_client_authentication(idp: MockIdP) -> None:
    key, jwks = client_key()
    idp.clients.add("svc", jwks=jwks)
    token = assertion(idp, key, "svc", "svc")
    form = {"grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": token}
    ok = requests.post(idp.token_endpoint, data=form, timeout=5)
    assert ok.status_code == 200, ok.json()
    assert idp.verify(ok.json()["access_token"])["client_id"] == "svc"
    replay = requests.post(idp.token_endpoint, data=form, timeout=5)
    assert replay.status_code == 401 and "jti" in replay.json()["error_description"]
    forged = {**form, "client_assertion": assertion(idp, client_key()[0], "svc", "svc")}
    assert requests.post(idp.token_endpoint, data=forged, timeout=5).status_code == 401
    secretless = requests.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                               auth=("svc", ""), timeout=5)
    assert secretless.status_code == 401


def test_private_key_jwt_with_authlib(idp: MockIdP) -> None:
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

    key, jwks = client_key()
    idp.clients.add("svc", jwks=jwks)
    from cryptography.hazmat.primitives import serialization

    pem = key.private_key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    from joserfc.jwk import ECKey

    session = OAuth2Session("svc", ECKey.import_key(pem),
                            token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(idp.token_endpoint, alg="ES256"))
    token = session.fetch_token(idp.token_endpoint, grant_type="client_credentials")
    assert idp.verify(token["access_token"])["client_id"] == "svc"


def test_jwt_bearer_grant(idp: MockIdP) -> None:
    key, jwks = client_key()
    client = idp.clients.add("robot", "robot-secret", jwks=jwks)
    response = post(idp, "/token", {"grant_type": JWT_BEARER,
                                    "assertion": assertion(idp, key, "robot", "user-42")},
                    auth=(client.client_id, "robot-secret"))
    assert response.status_code == 200, response.json()
    assert idp.verify(response.json()["access_token"])["sub"] == "user-42"
    # without registered keys, a token this provider issued is the assertion
    response = post(idp, "/token", {"grant_type": JWT_BEARER, "assertion": idp.token(sub="u")})
    assert idp.verify(response.json()["access_token"])["sub"] == "u"
    bad = post(idp, "/token", {"grant_type": JWT_BEARER, "assertion": "x.y.z"})
    assert bad.json()["error"] == "invalid_grant"


def test_introspection(idp: MockIdP) -> None:
    tokens = code_flow(idp)
    active = post(idp, "/introspect", {"token": tokens["access_token"]}).json()
    assert active["active"] is True and active["sub"] == idp.users.default.sub
    assert active["client_id"] == "mockidp-client"
    refresh = post(idp, "/introspect", {"token": tokens["refresh_token"],
                                        "token_type_hint": "refresh_token"}).json()
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    assert post(idp, "/introspect", {"token": "junk"}).json() == {"active": False}
    assert post(idp, "/introspect", {"token": idp.token(expires_in=-1)}).json() == {
        "active": False}
    unauthenticated = requests.post(idp.issuer + "/introspect", data={"token": "x"}, timeout=5)
    assert unauthenticated.status_code == 401


def test_revocation(idp: MockIdP) -> None:
    tokens = code_flow(idp)
    for token in (tokens["access_token"], tokens["refresh_token"], "unknown"):
        assert post(idp, "/revoke", {"token": token}).status_code == 200
    assert post(idp, "/introspect", {"token": tokens["access_token"]}).json()["active"] is False
    assert post(idp, "/introspect", {"token": tokens["refresh_token"]}).json()["active"] is False
    userinfo = requests.get(idp.userinfo_endpoint, timeout=5,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    refresh = post(idp, "/token", {"grant_type": "refresh_token",
                                   "refresh_token": tokens["refresh_token"]})
    assert refresh.json()["error"] == "invalid_grant"
    assert post(idp, "/revoke", {}).json()["error"] == "invalid_request"


def test_another_client_cannot_revoke(idp: MockIdP) -> None:
    tokens = code_flow(idp)
    idp.clients.add("other", "o")
    post(idp, "/revoke", {"token": tokens["refresh_token"]}, auth=("other", "o"))
    assert post(idp, "/introspect", {"token": tokens["refresh_token"]}).json()["active"]


def test_end_session(idp: MockIdP) -> None:
    id_token = code_flow(idp)["id_token"]
    client = Client(idp.app)
    response = client.get("/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": REDIRECT + "?a=1",
        "state": "bye"})
    assert response.status_code == 302
    assert response.headers["Location"] == REDIRECT + "?a=1&state=bye"
    page = client.get("/logout")
    assert page.status_code == 200 and "Signed out" in page.get_data(as_text=True)
    orphan = client.get("/logout", query_string={"post_logout_redirect_uri": REDIRECT})
    assert orphan.status_code == 400 and orphan.get_json()["error"] == "invalid_request"
    idp.clients.add("strict", "s", redirect_uris=[REDIRECT])
    unregistered = client.get("/logout", query_string={
        "client_id": "strict", "post_logout_redirect_uri": "http://127.0.0.1:9/evil"})
    assert unregistered.status_code == 400


def test_token_hooks_shape_issued_tokens(idp: MockIdP) -> None:
    seen: list[tuple[str, str]] = []

    @idp.on_token
    def add_roles(context: TokenContext) -> None:
        seen.append((context.kind, context.grant_type))
        if context.kind == "access_token":
            context.claims["roles"] = ["admin"]
            context.header["x-test"] = "1"
        else:
            context.claims["acr"] = "urn:mace:incommon:iap:silver"

    tokens = code_flow(idp, "openid")
    assert idp.verify(tokens["access_token"])["roles"] == ["admin"]
    assert jwt.get_unverified_header(tokens["access_token"])["x-test"] == "1"
    assert idp.verify(tokens["id_token"])["acr"] == "urn:mace:incommon:iap:silver"
    assert seen == [("access_token", "authorization_code"), ("id_token", "authorization_code")]


def test_token_hook_can_set_a_fault(idp: MockIdP) -> None:
    idp.on_token(lambda context: setattr(context, "fault", "expired"))
    body = post(idp, "/token", {"grant_type": "client_credentials"}).json()
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(body["access_token"], idp.keys.active.public_key, algorithms=["RS256"],
                   audience=idp.audience)


def test_hooks_are_gone_after_reset(idp: MockIdP) -> None:
    idp.on_token(lambda context: context.claims.update(extra=1))
    idp.reset()
    body = post(idp, "/token", {"grant_type": "client_credentials"}).json()
    assert "extra" not in idp.verify(body["access_token"])


DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


def test_device_flow(idp: MockIdP) -> None:
    start = post(idp, "/device_authorization", {"scope": "openid"}).json()
    assert start["verification_uri"] == idp.url_for("device-verification")
    assert start["interval"] == 5 and start["expires_in"] == 600
    poll = {"grant_type": DEVICE, "device_code": start["device_code"]}
    assert post(idp, "/token", poll).json()["error"] == "authorization_pending"
    assert post(idp, "/token", poll).json()["error"] == "slow_down"
    idp.approve_device(start["user_code"])
    idp.clock.advance(10)
    tokens = post(idp, "/token", poll).json()
    assert idp.verify(tokens["id_token"])["sub"] == idp.users.default.sub
    assert post(idp, "/token", poll).json()["error"] == "invalid_grant"  # used


def test_device_flow_through_the_verification_page(idp: MockIdP) -> None:
    bob = idp.users.add("bob")
    start = post(idp, "/device_authorization", {}).json()
    page = requests.post(idp.url_for("device-verification"), timeout=5, data={
        "user_code": start["user_code"].lower().replace("-", ""), "login_hint": "bob",
        "action": "approve"})
    assert "Device approved." in page.text
    tokens = post(idp, "/token", {"grant_type": DEVICE,
                                  "device_code": start["device_code"]}).json()
    assert idp.verify(tokens["access_token"])["sub"] == bob.sub


def test_device_flow_denied_and_expired(idp: MockIdP) -> None:
    denied = post(idp, "/device_authorization", {}).json()
    idp.approve_device(denied["user_code"], deny=True)
    assert post(idp, "/token", {"grant_type": DEVICE, "device_code": denied["device_code"]}
                ).json()["error"] == "access_denied"
    expired = post(idp, "/device_authorization", {}).json()
    idp.clock.advance(601)
    assert post(idp, "/token", {"grant_type": DEVICE, "device_code": expired["device_code"]}
                ).json()["error"] == "expired_token"
    with pytest.raises(Exception, match="no pending device authorization"):
        idp.approve_device("NOPE-NOPE")


@pytest.mark.parametrize(
    ("path", "form", "auth", "status", "error"),
    [
        ("/token", {"grant_type": "password"}, True, 400, "invalid_request"),
        ("/token", {"grant_type": "refresh_token"}, True, 400, "invalid_request"),
        ("/token", {"grant_type": "refresh_token", "refresh_token": "x"}, True, 400,
         "invalid_grant"),
        ("/token", {"grant_type": TOKEN_EXCHANGE}, True, 400, "invalid_request"),
        ("/token", {"grant_type": JWT_BEARER}, True, 400, "invalid_request"),
        ("/token", {"grant_type": DEVICE}, True, 400, "invalid_request"),
        ("/token", {"grant_type": DEVICE, "device_code": "x"}, True, 400, "invalid_grant"),
        ("/token", {"grant_type": "client_credentials", "client_assertion": "x"}, False, 401,
         "invalid_client"),
        ("/token", {"grant_type": "client_credentials", "client_assertion": "x",
                    "client_assertion_type":
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, False, 401,
         "invalid_client"),
        ("/introspect", {"token": "x"}, False, 401, "invalid_client"),
        ("/introspect", {}, True, 400, "invalid_request"),
        ("/revoke", {"token": "x"}, False, 401, "invalid_client"),
        ("/device_authorization", {}, False, 401, "invalid_client"),
    ],
)
def test_error_answers(idp: MockIdP, path: str, form: dict, auth: bool, status: int,
                       error: str) -> None:
    if auth:
        response = post(idp, path, form)
    else:
        response = requests.post(idp.issuer + path, data=form, timeout=5)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")
