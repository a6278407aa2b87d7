"""Pushed authorization requests (RFC 9126), request objects (RFC 9101), JARM and resource
indicators (RFC 8707), over HTTP on loopback; request objects are signed by joserfc and the
JARM responses read by PyJWT, as clients do."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, OctKey

from mockidp import MockIdP

REDIRECT = "http://127.0.0.1:9/cb"
API = "https://api.example.test/mcp"
VERIFIER = "v" * 43
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()
                                     ).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def client_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "client-1"})


def _secret_auth(idp: MockIdP) -> tuple[str, str]:
    client = idp.clients.default
    return client.client_id, client.client_secret or ""


def _params(**extra: Any) -> dict[str, Any]:
    return {"response_type": "code", "redirect_uri": REDIRECT, "scope": "openid",
            "code_challenge": CHALLENGE, "code_challenge_method": "S256", "state": "s-1",
            **extra}


def push(idp: MockIdP, form: dict[str, Any], auth: tuple[str, str] | None = None
         ) -> requests.Response:
    return requests.post(idp.url_for("par"), data=form, auth=auth or _secret_auth(idp),
                         timeout=5)


def authorize(idp: MockIdP, query: dict[str, Any]) -> requests.Response:
    return requests.get(idp.url_for("authorize"), params=query, allow_redirects=False,
                        timeout=5)


def redeem(idp: MockIdP, location: str, auth: tuple[str, str] | None = None,
           **extra: Any) -> requests.Response:
    code = parse_qs(urlsplit(location).query)["code"][0]
    return requests.post(idp.token_endpoint, auth=auth or _secret_auth(idp), timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER, **extra})


def request_object(idp: MockIdP, key: Any, issuer: str, alg: str = "ES256",
                   **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": issuer, "aud": idp.issuer, "client_id": issuer, "iat": now,
            "exp": now + 300, **_params(), **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jose_jwt.encode({"alg": alg, "kid": getattr(key, "kid", None) or "k"}, body, key)


# -- RFC 9126 PAR ----------------------------------------------------------------------------

def test_rfc9126_2_2_push_then_authorize(idp: MockIdP) -> None:
    """RFC 9126 §2.2: 201 with a request_uri URN and expires_in; §4: the authorization
    endpoint takes client_id and request_uri only, and the request_uri works once."""
    pushed = push(idp, {**_params(), "client_id": "mockidp-client"})
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert body["expires_in"] == 60
    assert pushed.headers["Cache-Control"] == "no-store"
    answer = authorize(idp, {"client_id": "mockidp-client", "request_uri": body["request_uri"]})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s-1"]
    assert redeem(idp, answer.headers["Location"]).status_code == 200
    again = authorize(idp, {"client_id": "mockidp-client", "request_uri": body["request_uri"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_request_uri"


def test_rfc9126_2_1_client_authentication_and_errors(idp: MockIdP) -> None:
    """RFC 9126 §2.1 client authentication as at the token endpoint; §2.3 errors: 401
    invalid_client, 400 for an invalid request (validated as the authorization endpoint
    would), a request_uri in the push refused, 405 for GET."""
    wrong = push(idp, _params(), auth=("mockidp-client", "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    idp.clients.add("strict", "s3cret", redirect_uris=[REDIRECT])
    bad = push(idp, _params(redirect_uri="http://elsewhere.test/cb"), auth=("strict", "s3cret"))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    nested = push(idp, _params(request_uri="urn:ietf:params:oauth:request_uri:x"))
    assert nested.status_code == 400 and nested.json()["error"] == "invalid_request"
    unsupported = push(idp, _params(response_type="token"))
    assert unsupported.json()["error"] == "unsupported_response_type"
    get = requests.get(idp.url_for("par"), timeout=5)
    assert get.status_code == 405


@pytest.mark.parametrize(("extra", "why"), [
    ({"response_mode": "bogus"}, "response_mode"),
    ({"response_type": "code id_token", "nonce": "n", "response_mode": "query"}, "query"),
    ({"prompt": "none login"}, "prompt=none"),
])
def test_rfc9126_2_1_push_validated_as_authorize_would(idp: MockIdP, extra: dict[str, str],
                                                        why: str) -> None:
    """RFC 9126 §2.1: the pushed request is validated as the authorization endpoint would:
    an unserved response_mode, query for a token-bearing response type (OAuth 2.0 Multiple
    Response Types §2.1) and prompt=none with another value (OIDC Core §3.1.2.1) are 400
    invalid_request at the push; the authorization endpoint answers them on the redirect."""
    pushed = push(idp, _params(**extra))
    assert pushed.status_code == 400 and pushed.json()["error"] == "invalid_request"
    assert why in pushed.json()["error_description"]
    direct = authorize(idp, {"client_id": "mockidp-client", **_params(**extra)})
    assert direct.status_code == 302
    parts = urlsplit(direct.headers["Location"])
    answer = parse_qs(parts.fragment if "id_token" in extra.get("response_type", "")
                      else parts.query)
    assert answer["error"] == ["invalid_request"] and answer["state"] == ["s-1"]


@pytest.mark.parametrize("audience", ["issuer", "token", "par"])
def test_rfc9126_2_assertion_audience(idp: MockIdP, client_key: ECKey, audience: str) -> None:
    """RFC 9126 §2: with private_key_jwt at the PAR endpoint the server MUST accept its
    issuer, its token endpoint URL or its PAR endpoint URL as the assertion's aud."""
    idp.clients.add("pk", jwks={"keys": [client_key.as_dict(private=False)]},
                    redirect_uris=[REDIRECT])
    aud = idp.issuer if audience == "issuer" else idp.url_for(audience)
    now = int(time.time())
    assertion = jose_jwt.encode({"alg": "ES256", "kid": "client-1"}, {
        "iss": "pk", "sub": "pk", "aud": aud, "exp": now + 60, "jti": f"par-{audience}"},
        client_key)
    answer = requests.post(idp.url_for("par"), timeout=5, data={
        **_params(), "client_id": "pk", "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    assert answer.status_code == 201, answer.text


def test_rfc9126_4_request_uri_of_another_client_or_expired(idp: MockIdP) -> None:
    """RFC 9126 §4: a request_uri is bound to the client that pushed it, and expires."""
    idp.clients.add("other", "other-secret")
    uri = push(idp, _params()).json()["request_uri"]
    theft = authorize(idp, {"client_id": "other", "request_uri": uri})
    assert theft.status_code == 400 and theft.json()["error"] == "invalid_request_uri"
    uri = push(idp, _params()).json()["request_uri"]
    idp.clock.advance(61)
    late = authorize(idp, {"client_id": "mockidp-client", "request_uri": uri})
    assert late.json()["error"] == "invalid_request_uri"


def test_rfc9126_5_6_required_per_provider_and_per_client(idp: MockIdP) -> None:
    """RFC 9126 §5 (provider) and §6 (client) require_pushed_authorization_requests: a
    plain authorization request is refused; discovery says so."""
    idp.clients.add("par-only", "s", require_pushed_authorization_requests=True)
    plain = authorize(idp, {"client_id": "par-only", **_params()})
    assert plain.status_code == 400 and "require_pushed" in plain.json()["error_description"]
    uri = push(idp, _params(), auth=("par-only", "s")).json()["request_uri"]
    assert authorize(idp, {"client_id": "par-only", "request_uri": uri}).status_code == 302
    key = "require_pushed_authorization_requests"
    assert requests.get(idp.discovery_url, timeout=5).json()[key] is False
    idp.require_pushed_authorization_requests = True
    assert requests.get(idp.discovery_url, timeout=5).json()[key] is True
    assert authorize(idp, {"client_id": "mockidp-client", **_params()}).status_code == 400


def test_par_is_advertised(idp: MockIdP) -> None:
    """RFC 9126 §5: pushed_authorization_request_endpoint; RFC 9101 §10.5 / OIDC Discovery
    §3: request objects by value and by reference are served and said to be."""
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    assert metadata["pushed_authorization_request_endpoint"] == idp.url_for("par")
    assert metadata["request_parameter_supported"] is True
    assert metadata["request_uri_parameter_supported"] is True
    assert "ES256" in metadata["request_object_signing_alg_values_supported"]
    assert "query.jwt" in metadata["response_modes_supported"]


# -- RFC 9101 JAR ----------------------------------------------------------------------------

@pytest.fixture
def jar_client(idp: MockIdP, client_key: ECKey) -> str:
    idp.clients.add("jar", "jar-secret", jwks={"keys": [client_key.as_dict(private=False)]},
                    redirect_uris=[REDIRECT])
    return "jar"


def test_rfc9101_request_by_value(idp: MockIdP, client_key: ECKey, jar_client: str) -> None:
    """RFC 9101 §5.1 / §6.3: the request object's parameters count, not the outer ones."""
    signed = request_object(idp, client_key, jar_client, state="inner")
    answer = authorize(idp, {"client_id": jar_client, "request": signed, "state": "outer",
                             "response_type": "code"})
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["inner"]
    assert redeem(idp, answer.headers["Location"], auth=("jar", "jar-secret")).ok


def test_rfc9101_pushed_request_object(idp: MockIdP, client_key: ECKey,
                                       jar_client: str) -> None:
    """RFC 9126 §3: a request object pushed to the PAR endpoint; the authorization request
    refers to it by request_uri."""
    signed = request_object(idp, client_key, jar_client)
    uri = push(idp, {"request": signed}, auth=("jar", "jar-secret")).json()["request_uri"]
    answer = authorize(idp, {"client_id": jar_client, "request_uri": uri})
    assert answer.status_code == 302


@pytest.mark.parametrize(("claims", "why"), [
    ({"iss": "someone-else"}, "iss"),
    ({"aud": "https://other.example"}, "Audience"),
    ({"exp": int(time.time()) - 10}, "expired"),
    ({"client_id": "other"}, "client_id"),
    ({"request_uri": "https://x.example/r"}, "request_uri"),
])
def test_rfc9101_6_validation(idp: MockIdP, client_key: ECKey, jar_client: str,
                              claims: dict[str, Any], why: str) -> None:
    """RFC 9101 §6.1-6.3 and §4: iss is the client, aud this issuer, exp in the future,
    client_id the request's, no nested request_uri; else invalid_request_object."""
    signed = request_object(idp, client_key, jar_client, **claims)
    answer = authorize(idp, {"client_id": jar_client, "request": signed})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request_object"
    assert why in answer.json()["error_description"]


def test_rfc9101_4_a_request_object_without_exp_is_taken(idp: MockIdP, client_key: ECKey,
                                                         jar_client: str) -> None:
    """RFC 9101 §4 (and OIDC Core §6.1) leave ``exp`` optional: an object without one is
    taken, as pyoidc sends it."""
    signed = request_object(idp, client_key, jar_client, exp=None)
    assert authorize(idp, {"client_id": jar_client, "request": signed}).status_code == 302


@pytest.mark.parametrize("member", [
    {"nonce": None}, {"state": {"a": 1}}, {"scope": ["openid"]}, {"max_age": 3.5},
    {"max_age": True}, {"claims": ["id_token"]}, {"resource": [1, 2]},
])
def test_rfc9101_6_3_members_are_request_parameters(idp: MockIdP, client_key: ECKey,
                                                     jar_client: str,
                                                     member: dict[str, Any]) -> None:
    """RFC 9101 §4 / §6.3: a request object's members are the authorization request's
    parameters, which are strings; only max_age (an integer), claims (an object, OIDC Core
    §5.5) and resource (a list of strings, RFC 8707) may take another JSON type. Any other
    value is invalid_request_object, never its text (a null nonce is no nonce "null")."""
    now = int(time.time())
    body = {"iss": jar_client, "aud": idp.issuer, "exp": now + 300, **_params(), **member}
    signed = jose_jwt.encode({"alg": "ES256", "kid": client_key.kid or "k"}, body, client_key)
    answer = authorize(idp, {"client_id": jar_client, "request": signed})
    assert answer.status_code == 400, answer.headers.get("Location")
    assert answer.json()["error"] == "invalid_request_object"
    assert next(iter(member)) in answer.json()["error_description"]


def test_rfc9101_typed_members_become_parameters(idp: MockIdP, client_key: ECKey,
                                                 jar_client: str) -> None:
    """OIDC Core §5.5 / RFC 9101 §4: an integer max_age and a claims object in a request
    object are the parameters max_age and claims (their text): the claims request and
    auth_time reach the ID token."""
    signed = request_object(idp, client_key, jar_client, nonce="n-1", max_age=600,
                            claims={"id_token": {"email": None}})
    answer = authorize(idp, {"client_id": jar_client, "request": signed})
    assert answer.status_code == 302, answer.text
    tokens = redeem(idp, answer.headers["Location"], auth=("jar", "jar-secret")).json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["nonce"] == "n-1" and "auth_time" in claims and "email" in claims


def test_rfc9101_signature_of_another_key_and_none(idp: MockIdP, jar_client: str) -> None:
    """RFC 9101 §6.1: the signature must verify with the client's registered keys; an
    unsigned object (alg none) only from a client that registered none (§10.5)."""
    stranger = ECKey.generate_key("P-256", parameters={"kid": "client-1"})
    forged = request_object(idp, stranger, jar_client)
    assert authorize(idp, {"client_id": jar_client, "request": forged}
                     ).json()["error"] == "invalid_request_object"
    unsigned = jwt.encode({"iss": jar_client, "aud": idp.issuer, "exp": int(time.time()) + 60,
                           **_params()}, None, algorithm="none")
    assert authorize(idp, {"client_id": jar_client, "request": unsigned}
                     ).json()["error"] == "invalid_request_object"
    idp.clients.add("lax", "s", request_object_signing_alg="none", redirect_uris=[REDIRECT])
    unsigned = jwt.encode({"iss": "lax", "aud": idp.issuer, "exp": int(time.time()) + 60,
                           **_params()}, None, algorithm="none")
    assert authorize(idp, {"client_id": "lax", "request": unsigned}).status_code == 302


def test_rfc9101_hs256_with_the_client_secret(idp: MockIdP) -> None:
    """RFC 9101 §6.1: a request object MACed with the client secret (HS256)."""
    secret = "a-client-secret-of-thirty-two-bytes!"
    idp.clients.add("hs", secret, redirect_uris=[REDIRECT])
    signed = request_object(idp, OctKey.import_key(secret), "hs", alg="HS256")
    assert authorize(idp, {"client_id": "hs", "request": signed}).status_code == 302


def test_rfc9101_10_5_require_signed_request_object(idp: MockIdP, client_key: ECKey) -> None:
    """RFC 9101 §10.5 require_signed_request_object: plain requests (and plain pushes)
    are refused, a signed one passes."""
    idp.clients.add("signed-only", "s", jwks={"keys": [client_key.as_dict(private=False)]},
                    require_signed_request_object=True, redirect_uris=[REDIRECT])
    assert authorize(idp, {"client_id": "signed-only", **_params()}).status_code == 400
    assert push(idp, _params(), auth=("signed-only", "s")).status_code == 400
    signed = request_object(idp, client_key, "signed-only")
    assert authorize(idp, {"client_id": "signed-only", "request": signed}).status_code == 302


@pytest.fixture
def served() -> Iterator[dict[str, bytes]]:
    """Documents served on loopback by path, as a test's own server would."""
    documents: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    documents["base"] = f"http://127.0.0.1:{server.server_address[1]}".encode()
    try:
        yield documents
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_rfc9101_5_2_request_uri_registered_only(idp: MockIdP, client_key: ECKey,
                                                served: dict[str, bytes]) -> None:
    """RFC 9101 §5.2 / §10.4: a request object by reference is fetched only from a URL the
    client registered (and only on loopback); any other request_uri is invalid_request_uri."""
    base = served["base"].decode()
    idp.clients.add("by-ref", "s", jwks={"keys": [client_key.as_dict(private=False)]},
                    redirect_uris=[REDIRECT], request_uris=[base + "/ro.jwt"])
    served["/ro.jwt"] = request_object(idp, client_key, "by-ref").encode()
    answer = authorize(idp, {"client_id": "by-ref", "request_uri": base + "/ro.jwt"})
    assert answer.status_code == 302, answer.text
    served["/other.jwt"] = served["/ro.jwt"]
    other = authorize(idp, {"client_id": "by-ref", "request_uri": base + "/other.jwt"})
    assert other.json()["error"] == "invalid_request_uri"


# -- JARM ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"])
def test_jarm_2_signed_response(idp: MockIdP, mode: str) -> None:
    """JARM §2.1: the response is one JWT with iss, aud (the client), exp, code and state,
    signed by a key of the JWKS; §2.3: delivered as the mode says."""
    answer = authorize(idp, {"client_id": "mockidp-client", **_params(response_mode=mode)})
    if mode == "form_post.jwt":
        assert answer.status_code == 200
        token = answer.text.split('name="response" value="')[1].split('"')[0]
    else:
        parts = urlsplit(answer.headers["Location"])
        fields = parse_qs(parts.fragment if mode == "fragment.jwt" else parts.query)
        assert set(fields) == {"response"}
        token = fields["response"][0]
    key = jwt.PyJWKClient(idp.jwks_uri).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="mockidp-client",
                        issuer=idp.issuer)
    assert claims["state"] == "s-1" and claims["code"]


def test_jarm_error_is_signed_too(idp: MockIdP) -> None:
    """JARM §2.1: an error response is a JWT as well."""
    answer = authorize(idp, {"client_id": "mockidp-client",
                             **_params(response_mode="jwt", code_challenge_method="S512")})
    token = parse_qs(urlsplit(answer.headers["Location"]).query)["response"][0]
    assert jwt.decode(token, options={"verify_signature": False})["error"] == "invalid_request"


# -- RFC 8707 resource indicators ------------------------------------------------------------

def test_rfc8707_resource_sets_aud(idp: MockIdP) -> None:
    """RFC 8707 §2: resource at the authorization request; the access token's aud is it."""
    idp.resources.add(API)
    answer = authorize(idp, {"client_id": "mockidp-client", **_params(resource=API)})
    token = redeem(idp, answer.headers["Location"]).json()["access_token"]
    assert idp.verify(token)["aud"] == API


def test_rfc8707_several_then_refresh_narrows(idp: MockIdP) -> None:
    """RFC 8707 §2: several resources give a token for all; §2.2 a token request may narrow
    to one the grant holds (refresh included); another is invalid_target."""
    other = "https://files.example.test/"
    idp.resources.add(API)
    idp.resources.add(other)
    answer = authorize(idp, {"client_id": "mockidp-client", **_params(resource=[API, other])})
    body = redeem(idp, answer.headers["Location"]).json()
    assert idp.verify(body["access_token"])["aud"] == [API, other]
    narrowed = requests.post(idp.token_endpoint, auth=_secret_auth(idp), timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"],
        "resource": other}).json()
    assert idp.verify(narrowed["access_token"])["aud"] == other
    idp.resources.add("https://third.example.test/")
    wider = requests.post(idp.token_endpoint, auth=_secret_auth(idp), timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"],
        "resource": "https://third.example.test/"})
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_target"


def test_rfc8707_unknown_resource_is_invalid_target(idp: MockIdP) -> None:
    """RFC 8707 §2: invalid_target for a resource the provider does not know, at the
    authorization endpoint (on the redirect) and at the token endpoint; a URI with a
    fragment is not a resource."""
    answer = authorize(idp, {"client_id": "mockidp-client", **_params(resource=API)})
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["invalid_target"]
    cc = requests.post(idp.token_endpoint, auth=_secret_auth(idp), timeout=5, data={
        "grant_type": "client_credentials", "resource": API + "#x"})
    assert cc.status_code == 400 and cc.json()["error"] == "invalid_target"
    idp.resources.add(API)
    ok = requests.post(idp.token_endpoint, auth=_secret_auth(idp), timeout=5, data={
        "grant_type": "client_credentials", "resource": API}).json()
    assert idp.verify(ok["access_token"])["aud"] == API


def test_pushed_requests_are_bounded(idp: MockIdP) -> None:
    """The PAR store keeps at most its limit: the oldest pushed request is forgotten."""
    idp.pushed.limit = 2
    first = push(idp, _params()).json()["request_uri"]
    for _ in range(2):
        push(idp, _params())
    assert len(idp.pushed) == 2
    assert authorize(idp, {"client_id": "mockidp-client", "request_uri": first}
                     ).json()["error"] == "invalid_request_uri"


def test_a_jwks_uri_whose_keys_are_not_jwks_is_refused(idp: MockIdP, client_key: ECKey,
                                                      served: dict[str, bytes]) -> None:
    """RFC 7517 §5: a JWK Set's keys are JSON objects. A client whose jwks_uri answers
    {"keys": [1]} is refused with the endpoint's error (401 invalid_client for its
    assertion, RFC 7523 §3; invalid_request_object for its request object, RFC 9101 §6),
    never a 5xx."""
    served["/bad-jwks"] = b'{"keys": [1]}'
    jwks_uri = served["base"].decode() + "/bad-jwks"
    idp.clients.add("bad-keys", jwks_uri=jwks_uri, redirect_uris=[REDIRECT])
    assertion = jose_jwt.encode({"alg": "ES256", "kid": "client-1"}, {
        "iss": "bad-keys", "sub": "bad-keys", "aud": idp.url_for("par"),
        "exp": int(time.time()) + 60, "jti": "bad-keys-1"}, client_key)
    pushed = requests.post(idp.url_for("par"), timeout=5, data={
        **_params(), "client_id": "bad-keys", "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    assert pushed.status_code == 401 and pushed.json()["error"] == "invalid_client"
    assert "JSON object" in pushed.json()["error_description"]
    answer = authorize(idp, {"client_id": "bad-keys",
                             "request": request_object(idp, client_key, "bad-keys")})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request_object"


def test_rfc9126_2_3_a_pushed_request_too_large_is_413(idp: MockIdP) -> None:
    """RFC 9126 §2.3: 413 for a request beyond the size the server takes (64 KiB here: the
    provider keeps up to idp.pushed.limit pushed requests for their lifetime); nothing is
    kept. One just under the bound is taken."""
    from mockidp.web.par import PUSH_LIMIT

    # Extension parameters, which the endpoint ignores (RFC 6749 §3.1) but a push keeps,
    # each within the 8 KiB a parameter may have.
    def padding(total: int) -> dict[str, str]:
        return {f"x_pad_{i}": "x" * 4096 for i in range(total // 4096)}

    big = push(idp, _params(**padding(PUSH_LIMIT)))
    assert big.status_code == 413 and big.json()["error"] == "invalid_request"
    assert len(idp.pushed) == 0
    assert push(idp, _params(**padding(PUSH_LIMIT - 4096))).status_code == 201


def test_request_uri_beyond_loopback_is_never_fetched(idp: MockIdP, client_key: ECKey
                                                      ) -> None:
    """RFC 9101 §10.4: even a registered request_uri is fetched only on loopback."""
    idp.clients.add("far", "s", jwks={"keys": [client_key.as_dict(private=False)]},
                    request_uris=["https://example.com/ro.jwt"])
    answer = authorize(idp, {"client_id": "far", "request_uri": "https://example.com/ro.jwt"})
    assert answer.status_code == 400 and "loopback" in answer.json()["error_description"]


def test_rfc8707_with_authlib(idp: MockIdP) -> None:
    """RFC 8707 through Authlib's OAuth2Session: resource on the authorization URL and on
    the token request (Authlib passes both through; it has no PAR, JAR or JARM client)."""
    from authlib.integrations.requests_client import OAuth2Session

    idp.resources.add(API)
    client = idp.clients.default
    session = OAuth2Session(client.client_id, client.client_secret, redirect_uri=REDIRECT,
                            scope="openid", code_challenge_method="S256")
    url, _ = session.create_authorization_url(idp.authorization_endpoint,
                                                  code_verifier=VERIFIER, resource=API)
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    tokens = session.fetch_token(idp.token_endpoint, authorization_response=location,
                                 code_verifier=VERIFIER, resource=API)
    assert idp.verify(tokens["access_token"])["aud"] == API
    assert idp.requests_to("authorize")[-1].query["resource"] == API
    assert idp.requests_to("token")[-1].form["resource"] == API
