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

from mockidp import ConfigurationError
from mockidp.core.endpoints import MAX_BODY, MAX_DELAY, MAX_HUGE_COUNT, MAX_TIMES

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
