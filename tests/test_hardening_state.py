"""Attacks an adversarial probe made on a running provider, each reproduced over real HTTP on
loopback (or through the Python API) and answered safely: no 5xx for what an unauthenticated
client sends, no state that grows without bound in a long-running ``mockidp serve``, bounded
endpoint controls, no redirect URI that runs script, and a validated ``id_token_hint``."""

from __future__ import annotations

import base64
import json
import math
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from mockidp import ConfigurationError, ServerError
from mockidp.core.endpoints import MAX_BODY, MAX_DELAY, MAX_HUGE_COUNT, MAX_TIMES
from mockidp.core.issuer import HANDLER_ERROR_LIMIT

if TYPE_CHECKING:
    from mockidp import MockIdP

CLIENT = ("mockidp-client", "mockidp-client-secret")
REDIRECT = "http://127.0.0.1:9/cb"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: JSON nested deeper than Python's decoder goes: json.loads raises RecursionError.
DEEP = b"[" * 3000 + b"]" * 3000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def deep_tokens(idp: MockIdP) -> list[str]:
    """Compact JWS whose header or payload is JSON nested ~3,000 deep."""
    header = b64(json.dumps({"alg": "RS256", "kid": idp.keys.active.kid}).encode())
    member = b64(b'{"a":' + DEEP + b"}")
    return [f"{b64(DEEP)}.{b64(b'{}')}.c2ln", f"{header}.{b64(DEEP)}.c2ln",
            f"{header}.{member}.c2ln"]


def post(idp: MockIdP, path: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.post(idp.issuer + path, data=data, timeout=10, **kwargs)


def authorize(idp: MockIdP, **params: str) -> requests.Response:
    query = {"client_id": "mockidp-client", "response_type": "code", "redirect_uri": REDIRECT,
             "scope": "openid", **params}
    return requests.get(idp.authorization_endpoint, params=query, timeout=10,
                        allow_redirects=False)


def code_of(response: requests.Response) -> str:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def ticket_of(page: requests.Response) -> str:
    assert page.status_code == 200, page.text
    marker = 'name=login_request value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start:page.text.index('"', start)]


@pytest.fixture
def page_idp(idp: MockIdP) -> MockIdP:
    idp.login = "page"  # reset() puts back "auto"
    return idp


# -- 6: no 5xx for what an unauthenticated client sends --------------------------------------

@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke", "/device_authorization"])
def test_basic_credentials_with_a_non_ascii_byte_are_invalid_client(idp: MockIdP,
                                                                     path: str) -> None:
    # requests sends a str header as latin-1: the byte 0xff on the wire.
    response = post(idp, path, {"grant_type": "client_credentials", "token": "t"},
                    headers={"Authorization": "Basic \xff"})
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_deeply_nested_bearer_token_at_userinfo_is_invalid_token(idp: MockIdP) -> None:
    for token in deep_tokens(idp):
        response = requests.get(idp.userinfo_endpoint, timeout=10,
                                headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_token"


def test_deeply_nested_token_at_introspection_is_inactive(idp: MockIdP) -> None:
    # RFC 7662 §2.2: a token the server cannot use is {"active": false}, a 200, not an error.
    for token in deep_tokens(idp):
        response = post(idp, "/introspect", {"token": token}, auth=CLIENT)
        assert response.status_code == 200 and response.json() == {"active": False}
        assert post(idp, "/revoke", {"token": token}, auth=CLIENT).status_code == 200


def test_deeply_nested_jwt_bearer_assertion_is_invalid_grant(idp: MockIdP) -> None:
    signer = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(signer.public_key()))
    idp.clients.add("signer", jwks={"keys": [{**jwk, "kid": "k1", "alg": "ES256"}]})
    for token in deep_tokens(idp):
        for client in ("mockidp-client", "signer"):  # verified as ours / with client keys
            data = {"grant_type": JWT_BEARER, "assertion": token}
            if client == "signer":
                data |= {"client_id": "signer", "client_assertion_type": ASSERTION_TYPE,
                         "client_assertion": jwt.encode(
                             {"iss": "signer", "sub": "signer", "aud": idp.token_endpoint,
                              "exp": int(time.time()) + 60, "jti": f"{client}{token[-20:]}"
                              + str(time.perf_counter_ns())},
                             signer, "ES256", headers={"kid": "k1"})}
                response = post(idp, "/token", data)
            else:
                response = post(idp, "/token", data, auth=CLIENT)
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_grant"


def test_deeply_nested_client_assertion_is_invalid_client(idp: MockIdP) -> None:
    for token in deep_tokens(idp):
        for path in ("/token", "/introspect"):
            response = post(idp, path, {
                "grant_type": "client_credentials", "token": "t",
                "client_assertion_type": ASSERTION_TYPE, "client_assertion": token})
            assert response.status_code == 401, response.text
            assert response.json()["error"] == "invalid_client"


def test_deeply_nested_subject_token_and_logout_hint_are_invalid_request(idp: MockIdP) -> None:
    for token in deep_tokens(idp):
        exchange = post(idp, "/token", {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token"},
            auth=CLIENT)
        assert exchange.status_code == 400 and exchange.json()["error"] == "invalid_request"
        logout = requests.get(idp.url_for("end-session"), timeout=10, params={
            "id_token_hint": token, "post_logout_redirect_uri": REDIRECT})
        assert logout.status_code == 400 and logout.json()["error"] == "invalid_request"


def test_deeply_nested_claims_on_the_login_page_are_a_400_page(page_idp: MockIdP) -> None:
    ticket = ticket_of(authorize(page_idp))
    response = post(page_idp, "/authorize", {"login_request": ticket, "action": "approve",
                                             "claims": DEEP.decode()})
    assert response.status_code == 400 and "nested too deep" in response.text
    # The same sign-in can still be finished with good claims.
    retry = post(page_idp, "/authorize", {"login_request": ticket, "action": "approve",
                                          "claims": '{"acr": "mfa"}'}, allow_redirects=False)
    assert "code" in parse_qs(urlsplit(retry.headers["Location"]).query)
    page_idp.check()


def test_failing_handlers_keep_only_the_most_recent_tracebacks(idp: MockIdP) -> None:
    for n in range(HANDLER_ERROR_LIMIT * 5):
        idp.handler_failed(f"failure {n}\n" + "x" * 100_000)
    assert len(idp.handler_errors) == HANDLER_ERROR_LIMIT
    assert all(len(e) < 20_000 for e in idp.handler_errors)
    with pytest.raises(ServerError, match=f"{HANDLER_ERROR_LIMIT * 4} earlier failures") as err:
        idp.check()
    assert "x" * 100 in str(err.value)
    idp.check()  # cleared


# -- 9: per-request state is expired and bounded on the provider's clock ---------------------

def test_unredeemed_codes_expire_and_are_bounded(idp: MockIdP,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    codes = idp.flows.codes
    for _ in range(5):
        code_of(authorize(idp))
    assert len(codes) == 5
    idp.clock.advance(61)  # past the code lifetime: the next code issued sweeps them
    fresh = code_of(authorize(idp))
    assert len(codes) == 1
    monkeypatch.setattr(codes, "limit", 3)
    later = [code_of(authorize(idp)) for _ in range(4)]
    assert len(codes) == 3  # the oldest went first
    for code, works in ((fresh, False), (later[0], False), (later[-1], True)):
        response = post(idp, "/token", {"grant_type": "authorization_code", "code": code,
                                        "redirect_uri": REDIRECT}, auth=CLIENT)
        assert (response.status_code == 200) is works, response.text


def test_refresh_tokens_expire_and_are_bounded(idp: MockIdP,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tickets = idp.flows.refresh_tokens

    def refresh_token() -> str:
        response = post(idp, "/token", {"grant_type": "password", "username":
                                        idp.users.default.sub, "password": "password"},
                        auth=CLIENT)
        return str(response.json()["refresh_token"])

    first = refresh_token()
    idp.clock.advance(31 * 24 * 3600)
    refresh_token()
    assert len(tickets) == 1
    monkeypatch.setattr(tickets, "limit", 2)
    oldest, *_ = [refresh_token() for _ in range(3)]
    assert len(tickets) == 2
    for token in (first, oldest):
        assert post(idp, "/introspect", {"token": token}, auth=CLIENT).json() == {
            "active": False}


def test_login_pages_nobody_submits_expire_and_are_bounded(
        page_idp: MockIdP, monkeypatch: pytest.MonkeyPatch) -> None:
    pending = page_idp.flows.pending_logins
    stale = ticket_of(authorize(page_idp))
    page_idp.clock.advance(3600)
    ticket_of(authorize(page_idp))
    assert len(pending) == 1 and stale not in pending
    monkeypatch.setattr(pending, "limit", 2)
    tickets = [ticket_of(authorize(page_idp)) for _ in range(3)]
    assert list(pending) == tickets[1:]


def test_devices_that_never_poll_are_forgotten_and_bounded(
        idp: MockIdP, monkeypatch: pytest.MonkeyPatch) -> None:
    devices = idp.flows.devices

    def start() -> str:
        response = post(idp, "/device_authorization", {"scope": "openid"}, auth=CLIENT)
        return str(response.json()["device_code"])

    first = start()
    idp.clock.advance(601)  # expired: a late poll still hears so (RFC 8628 §3.5)
    late = post(idp, "/token", {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                "device_code": first}, auth=CLIENT)
    assert late.json()["error"] == "expired_token"
    idp.clock.advance(600)  # a lifetime after expiry it is forgotten at the next start
    start()
    assert len(devices) == 1 and devices.by_device_code(first) is None
    monkeypatch.setattr(devices, "limit", 2)
    for _ in range(3):
        start()
    assert len(devices) == 2


def test_revoked_tokens_are_forgotten_once_expired(idp: MockIdP) -> None:
    revoked = idp.flows.revoked
    token = idp.token(expires_in=60)
    assert post(idp, "/revoke", {"token": token}, auth=CLIENT).status_code == 200
    assert len(revoked) == 1
    idp.clock.advance(120)
    assert post(idp, "/revoke", {"token": idp.token()}, auth=CLIENT).status_code == 200
    assert len(revoked) == 1  # the first token expired, so it would be refused anyway


def test_used_client_assertions_are_bounded(idp: MockIdP,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    signer = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(signer.public_key()))
    idp.clients.add("signer", jwks={"keys": [{**jwk, "kid": "k1", "alg": "ES256"}]})
    monkeypatch.setattr(idp.flows.used_assertions, "limit", 2)

    def authenticate(jti: str) -> int:
        assertion = jwt.encode({"iss": "signer", "sub": "signer", "aud": idp.token_endpoint,
                                "exp": int(time.time()) + 60, "jti": jti},
                               signer, "ES256", headers={"kid": "k1"})
        return post(idp, "/token", {"grant_type": "client_credentials",
                                    "client_assertion_type": ASSERTION_TYPE,
                                    "client_assertion": assertion}).status_code

    assert [authenticate(j) for j in ("a", "a", "b", "c")] == [200, 401, 200, 200]
    assert len(idp.flows.used_assertions) == 2
    assert authenticate("c") == 401  # a replay of a kept jti is still refused


def test_users_typed_on_the_login_page_are_bounded(page_idp: MockIdP) -> None:
    page_idp.flows.login_page_user_limit = 3
    try:
        for n in range(3):
            ticket = ticket_of(authorize(page_idp))
            done = post(page_idp, "/authorize", {"login_request": ticket, "action": "approve",
                                                 "new_sub": f"typed-{n}"},
                        allow_redirects=False)
            assert done.status_code == 302
        ticket = ticket_of(authorize(page_idp))
        refused = post(page_idp, "/authorize", {"login_request": ticket, "action": "approve",
                                                "new_sub": "one-too-many"})
        assert refused.status_code == 400 and "choose one of them" in refused.text
        assert "one-too-many" not in page_idp.users and len(page_idp.users) == 4
        existing = post(page_idp, "/authorize", {"login_request": ticket, "action": "approve",
                                                 "new_sub": "typed-0"}, allow_redirects=False)
        assert existing.status_code == 302  # choosing a known user still works
        page_idp.reset()
        assert page_idp.flows.login_page_users == 0
    finally:
        page_idp.flows.login_page_user_limit = 100


# -- 10: endpoint controls refuse unbounded sizes --------------------------------------------

@pytest.mark.parametrize(("call", "match"), [
    (lambda c: c.huge(count=200_000), "count"),
    (lambda c: c.huge(count=-1), "count"),
    (lambda c: c.delay(1e300), "delay"),
    (lambda c: c.delay(math.nan), "delay"),
    (lambda c: c.delay(math.inf), "delay"),
    (lambda c: c.delay(10**400), "delay"),
    (lambda c: c.delay(MAX_DELAY + 1), "delay"),
    (lambda c: c.fail(503, times=MAX_TIMES + 1), "times"),
    (lambda c: c.flap(10**30), "times"),
    (lambda c: c.respond(b"x" * (MAX_BODY + 1)), "body"),
    (lambda c: c.fail(500, body={"n": math.nan}), "body"),
], ids=["huge", "huge-negative", "delay-1e300", "delay-nan", "delay-inf", "delay-bigint",
        "delay-over-max", "times", "flap", "body-size", "body-nan"])
def test_unbounded_endpoint_controls_are_configuration_errors(idp: MockIdP, call: Any,
                                                              match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        call(idp.endpoint("jwks"))
    assert not idp.endpoint("jwks").active
    assert idp.endpoint("jwks").huge(count=MAX_HUGE_COUNT).delay(MAX_DELAY, times=1).active


@pytest.mark.parametrize("body", [
    {"action": "huge", "count": 200_000},
    {"action": "delay", "seconds": 1e300},
    {"action": "delay", "seconds": math.nan},  # json.dumps writes NaN, json.loads reads it
    {"action": "fail", "status": 503, "times": 10**12},
])
def test_unbounded_endpoint_controls_are_400_over_the_control_api(idp: MockIdP,
                                                                  body: dict[str, Any]) -> None:
    response = requests.post(idp.issuer + "/_mockidp/endpoints/jwks", timeout=10,
                             data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert requests.get(idp.jwks_uri, timeout=10).status_code == 200


# -- 11: no redirect URI that runs script ----------------------------------------------------

SCRIPT_URIS = ["javascript:alert(document.domain)", "JavaScript:alert(1)",
               "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
               "file:///etc/passwd", "blob:http://127.0.0.1/x", "myapp:/cb",
               "/relative/cb", "http:///no-host", "http://127.0.0.1/cb#frag",
               " javascript:alert(1)", "java\tscript:alert(1)"]


@pytest.mark.parametrize("uri", SCRIPT_URIS)
def test_script_redirect_uris_are_refused_at_registration(idp: MockIdP, uri: str) -> None:
    with pytest.raises(ConfigurationError, match="redirect URI"):
        idp.clients.add("evil", redirect_uris=[REDIRECT, uri])
    assert "evil" not in idp.clients
    response = requests.post(idp.issuer + "/_mockidp/clients", timeout=10,
                             json={"client_id": "evil", "redirect_uris": [uri]})
    assert response.status_code == 400, response.text


def test_web_and_native_redirect_uris_are_accepted(idp: MockIdP) -> None:
    uris = ["http://127.0.0.1:8080/cb", "https://app.example/cb?x=1",
            "com.example.app:/oauth2redirect", "com.example.app://cb"]
    client = idp.clients.add("native", public=True, redirect_uris=uris)
    assert client.redirect_uris == tuple(uris)
    response = authorize(idp, client_id="native", redirect_uri="com.example.app:/oauth2redirect",
                         code_challenge="x" * 43, code_challenge_method="plain")
    assert response.headers["Location"].startswith("com.example.app:/oauth2redirect?code=")


@pytest.mark.parametrize("mode", ["query", "form_post"])
@pytest.mark.parametrize("uri", ["javascript:alert(document.domain)//",
                                 "data:text/html,<script>alert(1)</script>"])
def test_script_redirect_uri_of_a_client_without_registered_uris_is_refused(
        idp: MockIdP, uri: str, mode: str) -> None:
    response = authorize(idp, redirect_uri=uri, response_mode=mode)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert "Location" not in response.headers and "<form" not in response.text


# -- 15: the id_token_hint at logout is validated --------------------------------------------

def logout(idp: MockIdP, **params: str) -> requests.Response:
    return requests.get(idp.url_for("end-session"), params=params, timeout=10,
                        allow_redirects=False)


def test_unsigned_id_token_hint_cannot_pick_the_client_at_logout(idp: MockIdP) -> None:
    idp.clients.add("strict", "s", redirect_uris=[REDIRECT])
    claims = {"iss": idp.issuer, "aud": "mockidp-client", "sub": "x",
              "exp": int(time.time()) + 600}
    unsigned = jwt.encode(claims, "", algorithm="none")
    forged = jwt.encode(claims, "not-the-providers-key-0123456789abcdef", algorithm="HS256",
                        headers={"kid": idp.keys.active.kid})
    for hint in (unsigned, forged, unsigned.rsplit(".", 1)[0] + ".c2ln"):
        response = logout(idp, id_token_hint=hint,
                          post_logout_redirect_uri="http://attacker.example/")
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
        assert "Location" not in response.headers


def test_expired_id_token_hint_still_signs_out(idp: MockIdP) -> None:
    # RP-Initiated Logout 1.0 §2: the OP accepts a hint whose exp has passed.
    hint = idp.id_token(expires_in=-3600)
    response = logout(idp, id_token_hint=hint, post_logout_redirect_uri=REDIRECT, state="s")
    assert response.status_code == 302 and response.headers["Location"] == REDIRECT + "?state=s"


def test_id_token_hint_for_another_client_than_client_id_is_refused(idp: MockIdP) -> None:
    idp.clients.add("strict", "s", redirect_uris=[REDIRECT])
    hint = idp.id_token(aud="strict")
    mismatch = logout(idp, id_token_hint=hint, client_id="mockidp-client",
                      post_logout_redirect_uri="http://attacker.example/")
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_request"
    match = logout(idp, id_token_hint=hint, client_id="strict",
                   post_logout_redirect_uri=REDIRECT)
    assert match.status_code == 302


@pytest.mark.parametrize("name", ["claims", "scope", "nonce", "state", "acr_values"])
def test_authorization_parameters_a_code_keeps_are_bounded(idp: MockIdP, name: str) -> None:
    """The codes, refresh tokens and pending sign-ins are bounded by count; what each keeps of
    the request is bounded too, or one 600 KB ``claims`` would pin megabytes per code. Over
    the limit: invalid_request on the redirect (RFC 6749 §4.1.2.1), pushed requests alike."""
    import requests

    value = '{"userinfo":{' + ",".join(f'"c{i}":null' for i in range(2000)) + "}}" \
        if name == "claims" else "x" * 9000
    redirect = "http://127.0.0.1:9/cb"
    idp.clients.add("bounded", "s", redirect_uris=[redirect])
    request = {"client_id": "bounded", "response_type": "code", "redirect_uri": redirect,
               "scope": "openid", name: value}
    answer = requests.post(idp.authorization_endpoint, data=request, allow_redirects=False,
                           timeout=5)
    assert answer.status_code == 302
    assert "error=invalid_request" in answer.headers["Location"]
    assert "longer+than" in answer.headers["Location"]
    pushed = requests.post(idp.url_for("par"), data=request, auth=("bounded", "s"), timeout=5)
    assert pushed.status_code == 400 and pushed.json()["error"] == "invalid_request"
