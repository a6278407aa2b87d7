"""Conformance: one test (or a few) per specification section the provider must meet, over real
HTTP on loopback against a real MockIdP, with Authlib as the client where it helps. Each test
names its section; docs/conformance.md maps the sections to these tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import parse_qs, quote_plus, urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
from joserfc.jwk import OKPKey

from mockidp import ConfigurationError, MockIdP
from mockidp.core import jwa
from mockidp.core.jws import b64url_encode, sign_compact
from mockidp.core.keys import Key

REDIRECT = "http://127.0.0.1:9/cb"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def basic(client_id: str, secret: str) -> str:
    """HTTP Basic as RFC 6749 §2.3.1 defines it for clients: each part form-urlencoded
    (Appendix B), then joined with ":" and Base64-encoded."""
    raw = f"{quote_plus(client_id, safe='')}:{quote_plus(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode("ascii")).decode()


def client_credentials(idp: MockIdP, headers: dict[str, str] | None = None,
                       data: dict[str, str] | None = None) -> requests.Response:
    return requests.post(idp.token_endpoint, timeout=5, headers=headers or {},
                         data={"grant_type": "client_credentials", **(data or {})})


def code_flow(idp: MockIdP, client_id: str = "mockidp-client", nonce: str = "n-1",
              extra: dict[str, str] | None = None) -> requests.Response:
    """The authorization request over HTTP (login="auto" signs in the default user)."""
    return requests.get(idp.url_for("authorize"), allow_redirects=False, timeout=5, params={
        "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT,
        "scope": "openid profile", "nonce": nonce, **(extra or {})})


def tokens(idp: MockIdP) -> dict:
    location = code_flow(idp).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    default = idp.clients.default
    response = requests.post(idp.token_endpoint, timeout=5, headers={
        "Authorization": basic(default.client_id, default.client_secret or "")}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert response.status_code == 200, response.text
    return response.json()


def default_auth(idp: MockIdP) -> dict[str, str]:
    default = idp.clients.default
    return {"Authorization": basic(default.client_id, default.client_secret or "")}


# -- RFC 6749 §2.3.1 and Appendix B: Basic credentials are form-urlencoded first ------------

SECRETS = ["with space", "a+b", "100%", "x:y", "p%41ss", "pässwörd-ключ-秘密", "+ %:+"]


@pytest.mark.parametrize("secret", SECRETS)
def test_rfc6749_2_3_1_basic_credentials_are_form_urlencoded(idp: MockIdP, secret: str) -> None:
    """RFC 6749 §2.3.1: the client id and password are encoded with
    application/x-www-form-urlencoded (Appendix B: UTF-8, then percent-encoding, space as "+")
    before HTTP Basic, so the server form-decodes them: "+" is a space, "%2B" a plus."""
    idp.clients.add("id with:colon+plus", secret)
    ok = client_credentials(idp, {"Authorization": basic("id with:colon+plus", secret)})
    assert ok.status_code == 200, ok.text
    # the same secret in the body (client_secret_post) is form-encoded by construction
    post = client_credentials(idp, data={"client_id": "id with:colon+plus",
                                         "client_secret": secret})
    assert post.status_code == 200, post.text


def test_rfc6749_2_3_1_plus_in_basic_is_a_space(idp: MockIdP) -> None:
    """Appendix B: "+" in the form encoding stands for a space. A client that puts a raw "+"
    of its secret into Basic (no form encoding) sends a different secret and is refused."""
    idp.clients.add("c", "a+b")
    raw = "Basic " + base64.b64encode(b"c:a+b").decode()
    refused = client_credentials(idp, {"Authorization": raw})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    idp.clients.add("d", "a b")
    assert client_credentials(idp, {"Authorization": "Basic " + base64.b64encode(
        b"d:a+b").decode()}).status_code == 200


def test_rfc6749_2_3_1_percent_escapes_must_decode_to_utf8(idp: MockIdP) -> None:
    """Appendix B encodes UTF-8 octets; an escape of bytes that are not UTF-8 is malformed
    (RFC 6749 §5.2 invalid_client), not a secret with U+FFFD in it."""
    idp.clients.add("c", "\ufffd")
    raw = "Basic " + base64.b64encode(b"c:%FF").decode()
    refused = client_credentials(idp, {"Authorization": raw})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_rfc6749_2_3_one_authentication_method_per_request(idp: MockIdP) -> None:
    """RFC 6749 §2.3: the client MUST NOT use more than one authentication method in each
    request; Basic plus a body secret, or a body client_id unlike Basic's, is
    ``invalid_request`` (§5.2)."""
    default = idp.clients.default
    auth = {"Authorization": basic(default.client_id, default.client_secret or "")}
    two = client_credentials(idp, auth, {"client_secret": default.client_secret or ""})
    assert two.status_code == 400 and two.json()["error"] == "invalid_request"
    other = client_credentials(idp, auth, {"client_id": "someone-else"})
    assert other.status_code == 400 and other.json()["error"] == "invalid_request"


# -- RFC 8414 §2, RFC 7523 §2.2, OIDC Core §9: assertion algorithms --------------------------

def test_rfc8414_2_assertion_algs_listed_for_every_endpoint_that_takes_assertions(
        idp: MockIdP) -> None:
    """RFC 8414 §2: when an endpoint's ``*_auth_methods_supported`` lists ``private_key_jwt``
    or ``client_secret_jwt``, its ``*_auth_signing_alg_values_supported`` MUST be present
    (and ``none`` MUST NOT be in it)."""
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    for endpoint in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        methods = metadata[f"{endpoint}_auth_methods_supported"]
        assert {"private_key_jwt", "client_secret_jwt"} <= set(methods)
        algs = metadata[f"{endpoint}_auth_signing_alg_values_supported"]
        assert "none" not in algs
        assert {"RS256", "ES256", "EdDSA", "Ed25519", "Ed448", "HS256", "HS384",
                "HS512"} <= set(algs)


def _okp_client(idp: MockIdP, alg: str) -> tuple[str, object]:
    private = ed25519.Ed25519PrivateKey.generate() if alg == "Ed25519" \
        else ed448.Ed448PrivateKey.generate()
    jwk = json.loads(jwa.get(alg).signer.to_jwk(private.public_key()))
    jwk.update(kid="k1", alg=alg)
    client = idp.clients.add(f"okp-{alg}", jwks={"keys": [jwk]})
    return client.client_id, private


def _assertion(client_id: str, aud: str, alg: str, key: object, **claims: object) -> str:
    body = {"iss": client_id, "sub": client_id, "aud": aud, "jti": uuid.uuid4().hex,
            "exp": int(time.time()) + 60, **claims}
    return sign_compact({"alg": alg, "kid": "k1"}, body, jwa.get(alg).signer, key)


@pytest.mark.parametrize("alg", ["Ed25519", "Ed448"])
def test_rfc9864_fully_specified_eddsa_client_assertions(idp: MockIdP, alg: str) -> None:
    """RFC 7523 §2.2 with the RFC 9864 names: an assertion signed with ``Ed25519`` /
    ``Ed448`` by the client's registered key of that curve is accepted (and advertised);
    the other curve's name, a wrong key or a replayed ``jti`` is refused."""
    client_id, key = _okp_client(idp, alg)
    assertion = _assertion(client_id, idp.token_endpoint, alg, key)
    form = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    ok = client_credentials(idp, data=form)
    assert ok.status_code == 200, ok.text
    replay = client_credentials(idp, data=form)
    assert replay.status_code == 401
    other = "Ed448" if alg == "Ed25519" else "Ed25519"
    mislabelled = sign_compact({"alg": other, "kid": "k1"}, {
        "iss": client_id, "sub": client_id, "aud": idp.token_endpoint, "jti": "x",
        "exp": int(time.time()) + 60}, jwa.get(alg).signer, key)
    refused = client_credentials(idp, data={"client_assertion_type": ASSERTION_TYPE,
                                            "client_assertion": mislabelled})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    forged = _assertion(client_id, idp.token_endpoint, alg,
                        ed25519.Ed25519PrivateKey.generate() if alg == "Ed25519"
                        else ed448.Ed448PrivateKey.generate())
    refused = client_credentials(idp, data={"client_assertion_type": ASSERTION_TYPE,
                                            "client_assertion": forged})
    assert refused.status_code == 401 and "Signature" in refused.json()["error_description"]
    expired = _assertion(client_id, idp.token_endpoint, alg, key, exp=int(time.time()) - 5)
    refused = client_credentials(idp, data={"client_assertion_type": ASSERTION_TYPE,
                                            "client_assertion": expired})
    assert refused.status_code == 401 and "expired" in refused.json()["error_description"]


def test_rfc9864_ed25519_private_key_jwt_with_authlib(idp: MockIdP) -> None:
    """RFC 7523 §2.2 through a real client: Authlib's ``PrivateKeyJWT(alg="Ed25519")``."""
    private = OKPKey.generate_key("Ed25519", private=True)
    public = {**private.as_dict(private=False), "kid": "k1"}
    idp.clients.add("authlib-ed", jwks={"keys": [public]})
    session = OAuth2Session("authlib-ed", private, token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(idp.token_endpoint, alg="Ed25519",
                                                      headers={"kid": "k1"}))
    token = session.fetch_token(idp.token_endpoint, grant_type="client_credentials")
    assert idp.verify(token["access_token"])["client_id"] == "authlib-ed"


LONG_SECRET = "s" * 64  # RFC 7518 §3.2: at least the hash size, here for HS512 too


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_oidc_core_9_client_secret_jwt(idp: MockIdP, alg: str) -> None:
    """RFC 7523 §2.2 / OIDC Core §9 ``client_secret_jwt``: an HMAC assertion keyed with the
    client secret, through Authlib's ``ClientSecretJWT``; a wrong secret is refused."""
    idp.clients.add("hmac", LONG_SECRET)
    session = OAuth2Session("hmac", LONG_SECRET, token_endpoint_auth_method="client_secret_jwt")
    session.register_client_auth_method(ClientSecretJWT(idp.token_endpoint, alg=alg))
    token = session.fetch_token(idp.token_endpoint, grant_type="client_credentials")
    assert idp.verify(token["access_token"])["client_id"] == "hmac"
    refused = requests.post(idp.token_endpoint, timeout=5, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": _hmac_assertion("hmac", "t" * 64, idp.token_endpoint, alg)})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def _hmac_assertion(client_id: str, secret: str, aud: str, alg: str) -> str:
    header = b64url_encode(json.dumps({"alg": alg}).encode())
    body = b64url_encode(json.dumps({"iss": client_id, "sub": client_id, "aud": aud,
                                     "jti": uuid.uuid4().hex,
                                     "exp": int(time.time()) + 60}).encode())
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(secret.encode(), header + b"." + body, digest).digest()
    return (header + b"." + body + b"." + b64url_encode(signature)).decode()


def test_oidc_core_9_client_secret_jwt_needs_a_secret_client(idp: MockIdP) -> None:
    """A client without a secret (public, or keys only) cannot use client_secret_jwt: there
    is no shared key, and an HMAC keyed with anything else proves nothing."""
    idp.clients.add("spa", public=True)
    assertion = _hmac_assertion("spa", "", idp.token_endpoint, "HS256")
    refused = client_credentials(idp, data={"client_assertion_type": ASSERTION_TYPE,
                                            "client_assertion": assertion})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


# -- RFC 7662 §2.1: introspection requires authorization -------------------------------------

def test_rfc7662_2_1_public_client_cannot_introspect(idp: MockIdP) -> None:
    """RFC 7662 §2.1: the endpoint MUST require some form of authorization (against token
    scanning). A public client's bare client_id authorizes nothing: 401 invalid_client, and
    discovery does not list ``none`` for introspection."""
    idp.clients.add("spa", public=True)
    access = tokens(idp)["access_token"]
    scan = requests.post(idp.url_for("introspect"), timeout=5,
                         data={"client_id": "spa", "token": access})
    assert scan.status_code == 401 and scan.json()["error"] == "invalid_client"
    assert "active" not in scan.json()
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]
    assert "none" in metadata["revocation_endpoint_auth_methods_supported"]  # RFC 7009 §2.1


def test_rfc7662_2_1_confidential_clients_and_bearer_tokens_may_introspect(
        idp: MockIdP) -> None:
    """RFC 7662 §2.1: client authentication, or a separate bearer access token, authorizes
    the call; an invalid bearer token gets RFC 6750 §3's 401 ``invalid_token`` (§2.3)."""
    access = tokens(idp)["access_token"]
    url = idp.url_for("introspect")
    by_client = requests.post(url, timeout=5, headers=default_auth(idp), data={"token": access})
    assert by_client.json()["active"] is True
    resource_server = idp.token(sub="rs", client_id="rs")
    by_bearer = requests.post(url, timeout=5, data={"token": access},
                              headers={"Authorization": f"Bearer {resource_server}"})
    assert by_bearer.status_code == 200 and by_bearer.json()["active"] is True
    bad = requests.post(url, timeout=5, data={"token": access},
                        headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    both = requests.post(url, timeout=5, headers={"Authorization": f"Bearer {resource_server}"},
                         data={"token": access, "client_id": "mockidp-client",
                               "client_secret": "mockidp-client-secret"})
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


def test_rfc7662_2_1_introspection_with_authlib_client_secret_jwt(idp: MockIdP) -> None:
    """A resource server authenticating with ``client_secret_jwt`` at the introspection
    endpoint (Authlib puts that endpoint's URL in ``aud``, which RFC 7523 §3 allows)."""
    access = tokens(idp)["access_token"]
    idp.clients.add("rs", LONG_SECRET)
    session = OAuth2Session("rs", LONG_SECRET, token_endpoint_auth_method="client_secret_jwt")
    session.register_client_auth_method(ClientSecretJWT())
    answer = session.introspect_token(idp.url_for("introspect"), token=access)
    assert answer.status_code == 200 and answer.json()["active"] is True


# -- RFC 6750 §2.2, §2, §3.1: the bearer token at userinfo -----------------------------------

def test_rfc6750_2_2_form_encoded_body_token_at_userinfo(idp: MockIdP) -> None:
    """RFC 6750 §2.2: a form-encoded POST body may carry ``access_token``."""
    access = tokens(idp)["access_token"]
    answer = requests.post(idp.userinfo_endpoint, data={"access_token": access}, timeout=5)
    assert answer.status_code == 200 and answer.json()["sub"] == idp.users.default.sub
    bad = requests.post(idp.userinfo_endpoint, data={"access_token": "x.y.z"}, timeout=5)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"


def test_rfc6750_2_one_method_per_request(idp: MockIdP) -> None:
    """RFC 6750 §2: clients MUST NOT use more than one method per request; the header and
    the body at once is ``invalid_request`` (§3.1: 400)."""
    access = tokens(idp)["access_token"]
    answer = requests.post(idp.userinfo_endpoint, data={"access_token": access}, timeout=5,
                           headers={"Authorization": f"Bearer {access}"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in answer.headers["WWW-Authenticate"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic Zm9vOmJhcg=="}])
def test_rfc6750_3_1_no_credentials_no_error_code(idp: MockIdP, headers: dict) -> None:
    """RFC 6750 §3.1: a request without any authentication information (or with a scheme the
    resource does not use) gets the challenge with no error code or other error information;
    §3: the 401 carries ``WWW-Authenticate``."""
    answer = requests.get(idp.userinfo_endpoint, headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="mockidp", DPoP algs="')
    assert answer.json() == {}  # no error information in the body either


# -- OIDC Core §12.2: the ID token on refresh -----------------------------------------------

def test_oidc_core_12_2_refreshed_id_token_has_no_nonce(idp: MockIdP) -> None:
    """OIDC Core §12.2: the ID token from a refresh SHOULD NOT contain ``nonce``; ``iss``,
    ``sub``, ``aud`` and ``auth_time`` are the original's. Refreshed through Authlib."""
    first = tokens(idp)
    original = idp.verify(first["id_token"])
    assert original["nonce"] == "n-1"
    default = idp.clients.default
    session = OAuth2Session(default.client_id, default.client_secret, token=first)
    refreshed = session.refresh_token(idp.token_endpoint, refresh_token=first["refresh_token"])
    claims = idp.verify(refreshed["id_token"])
    assert "nonce" not in claims
    for name in ("iss", "sub", "aud", "auth_time"):
        assert claims[name] == original[name]


# -- RFC 7009 §2.1: revoking a refresh token revokes its grant's access tokens ---------------

def test_rfc7009_2_1_refresh_revocation_revokes_the_grants_access_tokens(
        idp: MockIdP) -> None:
    """RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the access tokens of
    the same grant: the first one and those refreshed since, at userinfo and introspection;
    another grant's tokens stay active."""
    first = tokens(idp)
    other = tokens(idp)
    auth = default_auth(idp)
    refreshed = requests.post(idp.token_endpoint, timeout=5, headers=auth, data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json()
    revoke = requests.post(idp.url_for("revoke"), timeout=5, headers=auth,
                           data={"token": first["refresh_token"],
                                 "token_type_hint": "refresh_token"})
    assert revoke.status_code == 200
    for access in (first["access_token"], refreshed["access_token"]):
        info = requests.get(idp.userinfo_endpoint, timeout=5,
                            headers={"Authorization": f"Bearer {access}"})
        assert info.status_code == 401 and info.json()["error"] == "invalid_token"
        intro = requests.post(idp.url_for("introspect"), timeout=5, headers=auth,
                              data={"token": access})
        assert intro.json() == {"active": False}
    intro = requests.post(idp.url_for("introspect"), timeout=5, headers=auth,
                          data={"token": other["access_token"]})
    assert intro.json()["active"] is True


def test_rfc7009_2_1_with_rotation(idp: MockIdP) -> None:
    """The same with refresh token rotation: the grant outlives each rotated token."""
    idp.refresh_token_rotation = True
    first = tokens(idp)
    auth = default_auth(idp)
    second = requests.post(idp.token_endpoint, timeout=5, headers=auth, data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json()
    requests.post(idp.url_for("revoke"), timeout=5, headers=auth,
                  data={"token": second["refresh_token"]})
    for access in (first["access_token"], second["access_token"]):
        intro = requests.post(idp.url_for("introspect"), timeout=5, headers=auth,
                              data={"token": access})
        assert intro.json() == {"active": False}


# -- RFC 8414 §3: the metadata of an issuer with a path, at the server's root ----------------

def _inserted_metadata_url(issuer: str) -> str:
    """RFC 8414 §3: ``/.well-known/oauth-authorization-server`` inserted between the host and
    the issuer's path, any terminating "/" removed first."""
    parts = urlsplit(issuer)
    return (f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server"
            f"{parts.path.rstrip('/')}")


@pytest.mark.parametrize("profile", ["keycloak", "okta", "entra", "cognito", "generic", "auth0"])
def test_rfc8414_3_metadata_at_the_inserted_well_known_location(profile: str) -> None:
    """RFC 8414 §3: for an issuer ``https://host/path`` the metadata is at
    ``https://host/.well-known/oauth-authorization-server/path``, and §3.3: its ``issuer`` is
    that issuer. Served for the provider and for a tenant (``{root}/name{path}``), whose
    request the root routes; the appended form (``{issuer}/.well-known/...``) stays, and for an
    issuer at the root the two are one path."""
    with MockIdP(profile=profile) as idp:
        tenant = idp.tenant("team")
        for issuer in (idp, tenant):
            url = _inserted_metadata_url(issuer.issuer)
            response = requests.get(url, timeout=5)
            assert response.status_code == 200, (url, response.text)
            assert response.json()["issuer"] == issuer.issuer
            appended = requests.get(issuer.url_for("oauth-metadata"), timeout=5)
            assert appended.status_code == 200 and appended.json() == response.json()
            assert issuer.requests_to("oauth-metadata")[-2].path == urlsplit(url).path
            # the endpoint's controls act on both locations (the general path, not the cache)
            issuer.endpoint("oauth-metadata").fail(503, times=1)
            assert requests.get(url, timeout=5).status_code == 503
        if profile in ("generic", "auth0"):
            assert _inserted_metadata_url(idp.issuer) == idp.url_for("oauth-metadata")


# -- OIDC Discovery §3 / Registration §2: RS256 is always served; each client its own alg ----

def _client_tokens(idp: MockIdP, client_id: str, secret: str, scope: str = "openid profile"
                   ) -> dict:
    """The code flow for ``client_id`` over HTTP, then its token response."""
    location = code_flow(idp, client_id, extra={"scope": scope}).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = requests.post(idp.token_endpoint, timeout=5, auth=(client_id, secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert response.status_code == 200, response.text
    return response.json()


def _verified(idp: MockIdP, token: str, audience: str) -> tuple[dict, dict]:
    """The header and claims of ``token``, its signature checked against the key the
    advertised ``jwks_uri`` publishes under its kid, as a relying party does."""
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key(header["kid"])
    claims = jwt.decode(token, key, algorithms=[header["alg"]], audience=audience,
                        issuer=metadata["issuer"])
    return header, claims


def _signed_userinfo_header(idp: MockIdP, metadata: dict, alg: str) -> dict:
    """The verified header of the userinfo answer a client registered for ``alg`` gets."""
    client = idp.clients.add(userinfo_signed_response_alg=alg)
    access = _client_tokens(idp, client.client_id, client.client_secret or "")["access_token"]
    answer = requests.get(metadata["userinfo_endpoint"], timeout=5,
                          headers={"Authorization": f"Bearer {access}"})
    header: dict = _verified(idp, answer.text, client.client_id)[0]
    return header


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_oidc_discovery_3_rs256_is_advertised_and_served(alg: str) -> None:
    """OIDC Discovery 1.0 §3: ``id_token_signing_alg_values_supported`` MUST include RS256.
    A provider whose default is another algorithm still lists it, publishes its key, and
    signs with it the ID tokens of a client registered with ``id_token_signed_response_alg``
    RS256 (OIDC Registration §2); a client that registered nothing gets the provider's
    default. Every listed algorithm has a published key (advertise exactly what is served)."""
    with MockIdP(alg=alg) as idp:
        idp.clients.add("rs", "rs-secret", id_token_signed_response_alg="RS256")
        metadata = requests.get(idp.discovery_url, timeout=5).json()
        advertised = metadata["id_token_signing_alg_values_supported"]
        assert "RS256" in advertised and alg in advertised
        published = {jwk["alg"] for jwk in requests.get(metadata["jwks_uri"], timeout=5)
                     .json()["keys"]}
        assert set(advertised) == published
        header, claims = _verified(idp, _client_tokens(idp, "rs", "rs-secret")["id_token"],
                                   "rs")
        assert header["alg"] == "RS256" and claims["aud"] == "rs"
        default = idp.clients.default
        header, _ = _verified(idp, _client_tokens(idp, default.client_id,
                                                  default.client_secret or "")["id_token"],
                              default.client_id)
        assert header["alg"] == alg


def test_oidc_registration_2_id_token_alg_of_a_client_is_advertised_once_registered(
        idp: MockIdP) -> None:
    """OIDC Registration §2: a client may register any algorithm the OP can sign with; the
    provider makes that key when the client is registered, so discovery lists it and the JWKS
    serves it before the first token. ``none`` and HMAC (keyed with the client's secret, OIDC
    Core §10.1) are not served, so not registrable."""
    assert "ES384" not in requests.get(idp.discovery_url, timeout=5).json()[
        "id_token_signing_alg_values_supported"]
    idp.clients.add("es", "es-secret", id_token_signed_response_alg="ES384")
    assert "ES384" in requests.get(idp.discovery_url, timeout=5).json()[
        "id_token_signing_alg_values_supported"]
    header, _ = _verified(idp, _client_tokens(idp, "es", "es-secret")["id_token"], "es")
    assert header["alg"] == "ES384"
    for refused in ("HS256", "none"):
        with pytest.raises(ConfigurationError):
            idp.clients.add(f"c-{refused}", id_token_signed_response_alg=refused)


# -- OIDC Core §5.3.2: signed userinfo for the clients that registered it --------------------

def test_oidc_core_5_3_2_signed_userinfo(idp: MockIdP) -> None:
    """OIDC Core §5.3.2: a client registered with ``userinfo_signed_response_alg`` (OIDC
    Registration §2) gets the userinfo answer as a JWT, ``Content-Type: application/jwt``,
    with ``iss`` (the issuer) and ``aud`` (its client id) added; other clients get JSON.
    Discovery lists exactly the algorithms that can be served, never ``none`` (an unsigned JWT
    is never served)."""
    idp.clients.add("signed-ui", "s-secret", userinfo_signed_response_alg="ES256")
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    advertised = metadata["userinfo_signing_alg_values_supported"]
    assert "none" not in advertised and "ES256" in advertised
    access = _client_tokens(idp, "signed-ui", "s-secret")["access_token"]
    response = requests.get(metadata["userinfo_endpoint"], timeout=5,
                            headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/jwt"
    header, claims = _verified(idp, response.text, "signed-ui")
    assert header["alg"] == "ES256"
    assert claims["iss"] == idp.issuer and claims["aud"] == "signed-ui"
    assert claims["sub"] == idp.users.default.sub and "name" in claims
    plain = requests.get(metadata["userinfo_endpoint"], timeout=5, headers={
        "Authorization": f"Bearer {tokens(idp)['access_token']}"})
    assert plain.headers["Content-Type"] == "application/json"
    assert "iss" not in plain.json()
    for alg in advertised:  # each advertised algorithm is served
        assert _signed_userinfo_header(idp, metadata, alg)["alg"] == alg


# -- RFC 9068: the token endpoint's access tokens in the at+jwt profile ----------------------

def _rfc9068_validator(idp: MockIdP) -> object:
    """Authlib's RFC 9068 resource server (``typ: at+jwt``; ``iss``, ``exp``, ``aud``, ``sub``,
    ``client_id``, ``iat``, ``jti`` required), on the advertised JWKS."""
    from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
    from joserfc.jwk import KeySet

    class Validator(JWTBearerTokenValidator):  # type: ignore[misc]
        def get_jwks(self) -> KeySet:
            metadata = requests.get(idp.discovery_url, timeout=5).json()
            return KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=5).json())

    return Validator(issuer=idp.issuer, resource_server=idp.audience)


def _access_header_and_claims(idp: MockIdP, client_id: str, secret: str) -> tuple[dict, dict]:
    response = requests.post(idp.token_endpoint, timeout=5, auth=(client_id, secret),
                             data={"grant_type": "client_credentials", "scope": "read"})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    validator = _rfc9068_validator(idp)
    header = jwt.get_unverified_header(token)
    if header.get("typ") == "at+jwt":
        claims = validator.authenticate_token(token)  # type: ignore[attr-defined]
        validator.validate_token(claims, scopes=["read"], request=None)  # type: ignore[attr-defined]
    else:
        claims = idp.verify(token)
    return header, dict(claims)


def test_rfc9068_2_token_endpoint_issues_at_jwt_when_chosen() -> None:
    """RFC 9068 §2.1: ``typ: at+jwt``; §2.2: ``iss``, ``exp``, ``aud``, ``sub``, ``client_id``,
    ``iat``, ``jti``. The provider chooses it (``MockIdP(access_token_typ="at+jwt")``, which its
    tenants share) or a client does (``clients.add(..., access_token_typ=...)``), the client's
    choice winning; the generic default stays ``JWT``. Checked by Authlib's RFC 9068 resource
    server over the advertised JWKS."""
    with MockIdP() as idp:
        default = idp.clients.default
        header, _ = _access_header_and_claims(idp, default.client_id,
                                              default.client_secret or "")
        assert header["typ"] == "JWT"
        idp.clients.add("rs9068", "s", access_token_typ="at+jwt")
        header, claims = _access_header_and_claims(idp, "rs9068", "s")
        assert header["typ"] == "at+jwt" and claims["client_id"] == "rs9068"
        with pytest.raises(ConfigurationError):
            idp.clients.add("bad", access_token_typ="jwt+at")
    with MockIdP(access_token_typ="at+jwt") as idp:
        for issuer in (idp, idp.tenant("t")):
            default = issuer.clients.default
            header, claims = _access_header_and_claims(issuer, default.client_id,
                                                       default.client_secret or "")
            assert header["typ"] == "at+jwt"
            assert {"iss", "exp", "aud", "sub", "client_id", "iat", "jti"} <= set(claims)
        idp.clients.add("plain", "s", access_token_typ="JWT")
        assert _access_header_and_claims(idp, "plain", "s")[0]["typ"] == "JWT"
    with pytest.raises(ConfigurationError):
        MockIdP(access_token_typ="application/jwt")


# -- OIDC Discovery §3, RFC 8414 §2: every advertised value is served ------------------------

def _code(idp: MockIdP, client_id: str, **params: str) -> str:
    """The code of an authorization request, whichever response mode carries it."""
    response = requests.get(idp.url_for("authorize"), allow_redirects=False, timeout=5, params={
        "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT,
        "scope": "openid profile", **params})
    mode = params.get("response_mode", "query")
    field = "response" if mode.endswith("jwt") else "code"  # JARM: the code inside a JWT
    if mode.startswith("form_post"):
        assert response.status_code == 200 and f'name="{field}"' in response.text
        value = response.text.split(f'name="{field}" value="')[1].split('"')[0]
    else:
        location = urlsplit(response.headers["Location"])
        value = parse_qs(location.fragment if mode.startswith("fragment")
                         else location.query)[field][0]
    return str(idp.verify(value)["code"]) if field == "response" else value


def _redeem(idp: MockIdP, code: str, auth: dict[str, object] | None = None,
            **form: str) -> dict:
    response = requests.post(idp.token_endpoint, timeout=5, **(auth or {}), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **form})
    assert response.status_code == 200, response.text
    return response.json()


def _grant(idp: MockIdP, grant_type: str) -> requests.Response:
    """One request of ``grant_type`` by the default client, set up as that grant needs."""
    default = idp.clients.default
    auth = (default.client_id, default.client_secret or "")
    form: dict[str, str] = {"grant_type": grant_type}
    if grant_type == "authorization_code":
        form.update(code=_code(idp, default.client_id), redirect_uri=REDIRECT)
    elif grant_type == "refresh_token":
        form["refresh_token"] = _redeem(idp, _code(idp, default.client_id),
                                        {"auth": auth})["refresh_token"]
    elif grant_type == "password":
        form.update(username=idp.users.default.sub, password="password", scope="openid")
    elif grant_type.endswith(":token-exchange"):
        form.update(subject_token=idp.token(),
                    subject_token_type="urn:ietf:params:oauth:token-type:access_token")
    elif grant_type.endswith(":jwt-bearer"):
        form["assertion"] = idp.token()
    elif grant_type.endswith(":device_code"):
        device = requests.post(idp.url_for("device"), auth=auth, timeout=5,
                               data={"scope": "openid"}).json()
        idp.approve_device(device["user_code"])
        form["device_code"] = device["device_code"]
    return requests.post(idp.token_endpoint, auth=auth, data=form, timeout=5)


def test_every_advertised_value_is_served(idp: MockIdP) -> None:
    """OIDC Discovery 1.0 §3 and RFC 8414 §2 list what the provider supports; a client picks
    from those lists, so each value must work. The RFC 8414 document (at both §3 locations)
    is the discovery document; then every grant type, response mode, PKCE method, token
    endpoint auth method and its assertion algorithms, and every ID token and userinfo signing
    algorithm is exercised over HTTP."""
    idp.keys.add("PS256")  # the signing lists follow the key ring
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    for url in (idp.url_for("oauth-metadata"), _inserted_metadata_url(idp.issuer)):
        assert requests.get(url, timeout=5).json() == metadata
    default = idp.clients.default
    basic_auth = {"auth": (default.client_id, default.client_secret or "")}

    for grant_type in metadata["grant_types_supported"]:
        if grant_type == "implicit":  # the authorization endpoint's: test_front_channel.py
            continue
        response = _grant(idp, grant_type)
        assert response.status_code == 200, (grant_type, response.text)
        assert idp.verify(response.json()["access_token"])

    for mode in metadata["response_modes_supported"]:
        assert _redeem(idp, _code(idp, default.client_id, response_mode=mode), basic_auth)

    verifier = "v" * 43
    challenges = {"S256": b64url_encode(hashlib.sha256(verifier.encode()).digest()).decode(),
                  "plain": verifier}
    for method in metadata["code_challenge_methods_supported"]:
        code = _code(idp, default.client_id, code_challenge=challenges[method],
                     code_challenge_method=method)
        assert _redeem(idp, code, basic_auth, code_verifier=verifier)

    # client authentication: every method, and every assertion algorithm of the jwt ones
    keys = {alg: Key.generate(alg) for alg in metadata[
        "token_endpoint_auth_signing_alg_values_supported"] if jwa.get(alg).asymmetric}
    idp.clients.add("pk", jwks={"keys": [{**key.public_jwk, "kid": alg}  # type: ignore[dict-item]
                                         for alg, key in keys.items()]})
    idp.clients.add("hm", "h" * 64)
    idp.clients.add("pub", public=True)
    for method in metadata["token_endpoint_auth_methods_supported"]:
        form: dict[str, str] = {}
        extra: dict[str, object] = {}
        if method == "client_secret_basic":
            extra = basic_auth
        elif method == "client_secret_post":
            form = {"client_id": default.client_id, "client_secret": default.client_secret or ""}
        elif method == "none":  # a public client, with PKCE
            code = _code(idp, "pub", code_challenge=challenges["S256"],
                         code_challenge_method="S256")
            assert _redeem(idp, code, client_id="pub", code_verifier=verifier)
            continue
        if method in ("client_secret_jwt", "private_key_jwt"):
            for alg in metadata["token_endpoint_auth_signing_alg_values_supported"]:
                if jwa.get(alg).asymmetric != (method == "private_key_jwt"):
                    continue
                if method == "private_key_jwt":
                    key = keys[alg]
                    body = {"iss": "pk", "sub": "pk", "aud": idp.token_endpoint,
                            "jti": uuid.uuid4().hex, "exp": int(time.time()) + 60}
                    assertion = sign_compact({"alg": alg, "kid": alg}, body,
                                             key.algorithm.signer, key.signing_key)
                else:
                    assertion = _hmac_assertion("hm", "h" * 64, idp.token_endpoint, alg)
                ok = client_credentials(idp, data={"client_assertion_type": ASSERTION_TYPE,
                                                   "client_assertion": assertion})
                assert ok.status_code == 200, (method, alg, ok.text)
            continue
        ok = requests.post(idp.token_endpoint, timeout=5, **extra,  # type: ignore[arg-type]
                           data={"grant_type": "client_credentials", **form})
        assert ok.status_code == 200, (method, ok.text)

    # every ID token and userinfo signing algorithm, for a client that registers it
    assert {"RS256", "PS256"} <= set(metadata["id_token_signing_alg_values_supported"])
    for alg in metadata["id_token_signing_alg_values_supported"]:
        client = idp.clients.add(id_token_signed_response_alg=alg)
        id_token = _client_tokens(idp, client.client_id, client.client_secret or "")["id_token"]
        assert _verified(idp, id_token, client.client_id)[0]["alg"] == alg
    for alg in metadata["userinfo_signing_alg_values_supported"]:
        assert _signed_userinfo_header(idp, metadata, alg)["alg"] == alg


def test_rfc8725_2_8_an_id_token_is_no_bearer_access_token(idp: MockIdP) -> None:
    """An ID token presented as the bearer token at userinfo or as introspection's
    authorization is refused (cross-JWT confusion), as real providers refuse it."""
    id_token = idp.id_token(nonce="n")
    answer = requests.get(idp.userinfo_endpoint, timeout=5,
                          headers={"Authorization": f"Bearer {id_token}"})
    assert answer.status_code == 401 and "ID token" in answer.json()["error_description"]
    access = idp.token(scope="openid")
    introspected = requests.post(idp.url_for("introspect"), data={"token": access}, timeout=5,
                                 headers={"Authorization": f"Bearer {id_token}"})
    assert introspected.status_code == 401
    assert requests.get(idp.userinfo_endpoint, timeout=5,
                        headers={"Authorization": f"Bearer {access}"}).status_code == 200
