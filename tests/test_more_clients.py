"""Real client libraries against the provider over loopback HTTP, through the newer
protocols: requests_oauth2client (PAR, DPoP, resource indicators, JWT client
authentication, refresh, revocation, introspection, device grant, token exchange, JAR),
pyoidc (dynamic registration, request objects, the implicit flow, ``claims``, RP-initiated
logout) and Authlib (PKCE S256, resource indicators, JWT client authentication). A strict
client's refusal here is a departure from the specs a user's client would meet too; a
client's own fault is a strict xfail naming its version and the spec section."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from joserfc.jwk import ECKey
from jwskate import Jwk, Jwt
from oic.oic import Client as PyoidcClient
from oic.oic.message import AuthorizationResponse as PyoidcAuthorizationResponse
from oic.oic.message import Claims, ClaimsRequest
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from oic.utils.keyio import KeyBundle
from requests_oauth2client import (
    BearerToken,
    ClientSecretJwt,
    DPoPToken,
    OAuth2Client,
    PrivateKeyJwt,
)
from requests_oauth2client.client import MissingEndpointUri

from mockidp import MockIdP

REDIRECT = "http://127.0.0.1/callback"
RESOURCE = "https://api.example.com/"
LOGGED_OUT = "http://127.0.0.1/logged-out"
SIGNING_KEY = Jwk.generate(alg="ES256", kid="rp-sig")  # the pyoidc clients' registered key


def es256_key(kid: str = "client-key") -> Jwk:
    """A fresh P-256 key with a ``kid``, as ``PrivateKeyJwt`` wants it."""
    return Jwk.generate(alg="ES256", kid=kid)


def roc(idp: MockIdP, **options: object) -> OAuth2Client:
    """requests_oauth2client's client made from the provider's discovery document
    (``testing=True``: plain HTTP on loopback)."""
    return OAuth2Client.from_discovery_endpoint(idp.discovery_url, redirect_uri=REDIRECT,
                                                testing=True, **options)  # type: ignore[arg-type]


def audience(idp: MockIdP, token: str) -> object:
    """The ``aud`` of an access token the provider accepts: a single resource is a string
    or a one-element list (RFC 7519 §4.1.3)."""
    aud = idp.verify(token)["aud"]
    return aud[0] if isinstance(aud, list) and len(aud) == 1 else aud


def follow(uri: object) -> str:
    """The authorization endpoint's redirect (the fixture's provider signs in at once)."""
    answer = requests.get(str(uri), allow_redirects=False, timeout=5)
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


# requests_oauth2client -------------------------------------------------------------------


def test_roc_par_with_resource_and_refresh(idp: MockIdP) -> None:
    """RFC 9126 §2.1-§4: the pushed request's ``request_uri`` at the authorization endpoint;
    RFC 8707 §2: the code's token is for the resource asked for; RFC 6749 §6 refresh."""
    idp.resources.add(RESOURCE)
    secret = idp.clients.add("rp", redirect_uris=[REDIRECT]).client_secret
    assert secret is not None
    client = roc(idp, client_id="rp", client_secret=secret)
    request = client.authorization_request(scope="openid offline_access", resource=RESOURCE)
    pushed = client.pushed_authorization_request(request)
    assert str(pushed.request_uri).startswith("urn:ietf:params:oauth:request_uri:")
    response = request.validate_callback(follow(pushed.uri))
    token = client.authorization_code(response)
    assert isinstance(token, BearerToken) and token.id_token is not None
    assert audience(idp, token.access_token) == RESOURCE
    renewed = client.refresh_token(token, resource=RESOURCE)
    assert audience(idp, renewed.access_token) == RESOURCE


def test_roc_par_with_dpop(idp: MockIdP) -> None:
    """RFC 9449 §10.1: a proof at the PAR endpoint binds the code to its key."""
    idp.clients.add("rp", public=True, redirect_uris=[REDIRECT])
    client = roc(idp, client_id="rp", dpop_bound_access_tokens=True)
    request = client.authorization_request(scope="openid", dpop=True)
    pushed = client.pushed_authorization_request(request)
    response = request.validate_callback(follow(pushed.uri))
    token = client.authorization_code(response, validate=False)
    assert isinstance(token, DPoPToken)
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert claims["cnf"]["jkt"] == request.dpop_key.dpop_jkt
    par = [r for r in idp.requests if r.endpoint == "par"]
    assert par and par[0].status == 201


def test_roc_client_secret_jwt_revocation_and_introspection(idp: MockIdP) -> None:
    """OIDC Core §9 ``client_secret_jwt`` at the token (RFC 7523 §2.2), introspection
    (RFC 7662 §2.1) and revocation (RFC 7009 §2.1) endpoints, each assertion's ``aud`` the
    endpoint it goes to."""
    secret = idp.clients.add("svc", token_endpoint_auth_method="client_secret_jwt") \
        .client_secret
    assert secret is not None
    idp.resources.add(RESOURCE)
    client = roc(idp, auth=ClientSecretJwt("svc", secret))
    token = client.client_credentials(scope="read", resource=RESOURCE)
    assert audience(idp, token.access_token) == RESOURCE
    assert client.introspect_token(token.access_token)["active"] is True
    assert client.revoke_access_token(token.access_token) is True
    assert client.introspect_token(token.access_token)["active"] is False


def test_roc_private_key_jwt(idp: MockIdP) -> None:
    """OIDC Core §9 ``private_key_jwt`` with an ES256 key the client registered."""
    key = es256_key()
    # jwskate's key object itself, as a user holding one passes it: kept as a plain dict
    idp.clients.add("svc", jwks={"keys": [key.public_jwk()]})
    client = roc(idp, auth=PrivateKeyJwt("svc", key))
    token = client.client_credentials(scope="read")
    assert idp.verify(token.access_token)["client_id"] == "svc"


def test_roc_device_authorization(idp: MockIdP) -> None:
    """RFC 8628 §3.1-§3.5: device authorization, pending, then the token once approved."""
    secret = idp.clients.add("tv").client_secret
    assert secret is not None
    client = roc(idp, client_id="tv", client_secret=secret,
                 device_authorization_endpoint=idp.url_for("device"))
    started = client.authorize_device(scope="openid")
    idp.approve_device(started.user_code)
    token = client.device_code(started)
    assert idp.verify(token.access_token)["client_id"] == "tv"


def test_roc_token_exchange(idp: MockIdP) -> None:
    """RFC 8693 §2.1-§2.2: an access token exchanged for one of another audience."""
    secret = idp.clients.add("gw").client_secret
    assert secret is not None
    client = roc(idp, client_id="gw", client_secret=secret)
    subject = idp.token(sub="alice")
    exchanged = client.token_exchange(subject_token=subject, subject_token_type="access_token",
                                      audience="downstream")
    assert idp.verify(exchanged.access_token)["sub"] == "alice"
    assert audience(idp, exchanged.access_token) == "downstream"
    assert exchanged.kwargs["issued_token_type"] == \
        "urn:ietf:params:oauth:token-type:access_token"


def test_roc_signed_request_object(idp: MockIdP) -> None:
    """RFC 9101 §5.1 a request object by value, signed with the client's key (§6.1). §4:
    ``iss`` and ``aud`` are a SHOULD; requests_oauth2client 1.8 sends neither, and the
    provider takes it (it checks them when present)."""
    key = es256_key()
    idp.clients.add("rp", jwks={"keys": [key.public_jwk().to_dict()]}, redirect_uris=[REDIRECT])
    client = roc(idp, auth=PrivateKeyJwt("rp", key))
    request = client.authorization_request(scope="openid")
    signed = request.sign(key, lifetime=60)
    assert not {"iss", "aud"} & set(signed.request.claims)
    forged = Jwt.sign({**signed.request.claims, "iss": "another-client"}, key)
    refused = requests.get(str(signed.uri).replace(str(signed.request), str(forged)),
                           allow_redirects=False, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request_object"
    response = request.validate_callback(follow(signed.uri))
    token = client.authorization_code(response)
    assert idp.verify(token.access_token)["client_id"] == "rp"


@pytest.mark.xfail(strict=True, raises=MissingEndpointUri,
                   reason="requests_oauth2client 1.8.0: from_discovery_document does not read "
                          "device_authorization_endpoint (RFC 8628 §4), which the provider "
                          "advertises")
def test_roc_discovery_reads_the_device_authorization_endpoint(idp: MockIdP) -> None:
    assert "device_authorization_endpoint" in requests.get(idp.discovery_url, timeout=5).json()
    roc(idp, client_id="mockidp-client").authorize_device()


# pyoidc ------------------------------------------------------------------------------------


def pyoidc_registered(idp: MockIdP, **metadata: object) -> PyoidcClient:
    """A pyoidc client that read discovery and registered itself dynamically (RFC 7591
    §3.1, OIDC Registration §3.1)."""
    rp = PyoidcClient(client_authn_method=CLIENT_AUTHN_METHOD)
    rp.keyjar.add_kb("", KeyBundle([dict(SIGNING_KEY)]))  # its request objects' key
    rp.base_url = "http://127.0.0.1/"  # where its request_uris would live (OIDC Reg. §2)
    rp.provider_config(idp.issuer)
    rp.register(rp.provider_info["registration_endpoint"], redirect_uris=[REDIRECT],
                post_logout_redirect_uris=[LOGGED_OUT],
                jwks={"keys": [SIGNING_KEY.public_jwk().to_dict()]}, **metadata)
    return rp


def pyoidc_fragment(rp: PyoidcClient, state: str, **request_args: object) -> Any:
    """An authorization request of ``rp``, its redirect's fragment parsed (and its ID token
    verified) by pyoidc."""
    request = rp.construct_AuthorizationRequest(request_args={
        "client_id": rp.client_id, "redirect_uri": REDIRECT, "state": state,
        **request_args})
    location = follow(request.request(rp.authorization_endpoint))
    return rp.parse_response(PyoidcAuthorizationResponse, info=urlsplit(location).fragment,
                             sformat="urlencoded")


def test_pyoidc_registration_implicit_claims_and_logout(idp: MockIdP) -> None:
    """OIDC Registration §3.2 (the registered client is the one that signs in); OIDC Core
    §3.2.2 ``id_token token`` (pyoidc checks the ID token, its ``nonce`` and ``at_hash``,
    §3.2.2.9); §5.5 ``claims`` asks for a userinfo claim in the ID token; RP-Initiated
    Logout §2-§3 back to the registered ``post_logout_redirect_uri`` with ``state``."""
    rp = pyoidc_registered(idp, response_types=["id_token token"])
    assert rp.client_id in [c.client_id for c in idp.clients]
    answer = pyoidc_fragment(
        rp, "s1", response_type=["id_token", "token"], scope=["openid"], nonce="n-1",
        claims=ClaimsRequest(id_token=Claims(email={"essential": True})))
    assert isinstance(answer, PyoidcAuthorizationResponse), answer
    id_token = answer["id_token"]
    assert id_token["nonce"] == "n-1" and "email" in id_token.to_dict()
    logout = rp.construct_EndSessionRequest(state="s1", request_args={
        "post_logout_redirect_uri": LOGGED_OUT, "state": "bye"})
    location = follow(logout.request(rp.provider_info["end_session_endpoint"]))
    assert location.startswith(LOGGED_OUT) and "state=bye" in location


def test_pyoidc_request_object_by_value(idp: MockIdP) -> None:
    """OIDC Core §6.1 / RFC 9101 §5.1: pyoidc's request object, signed ES256 with the key
    it registered (its ``jwks``, OIDC Registration §2)."""
    rp = pyoidc_registered(idp, response_types=["code"], request_object_signing_alg="ES256")
    request = rp.construct_AuthorizationRequest(
        request_args={"client_id": rp.client_id, "redirect_uri": REDIRECT, "state": "s2",
                      "response_type": "code", "scope": ["openid"]},
        request_method="request", request_object_signing_alg="ES256")
    location = follow(request.request(rp.authorization_endpoint))
    assert "code=" in location


# Authlib -----------------------------------------------------------------------------------


def authlib_code_flow(idp: MockIdP, session: OAuth2Session) -> dict[str, Any]:
    """Authorization code + PKCE S256 (RFC 7636 §4.2-4.5) for ``RESOURCE`` (RFC 8707 §2.1
    at the authorization endpoint, §2.2 at the token endpoint), driven by Authlib."""
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(
        idp.authorization_endpoint, code_verifier=verifier, scope="openid offline_access",
        resource=RESOURCE)
    assert "code_challenge_method=S256" in url
    callback = follow(url)
    token: dict[str, Any] = session.fetch_token(
        idp.token_endpoint, authorization_response=callback, state=state,
        code_verifier=verifier, resource=RESOURCE)
    assert audience(idp, token["access_token"]) == RESOURCE
    return token


def test_authlib_pkce_resource_client_secret_jwt_refresh_revoke(idp: MockIdP) -> None:
    """Authlib's ``ClientSecretJWT`` (RFC 7523 §2.2, OIDC Core §9, ``aud`` the URL posted
    to) at the token, introspection and revocation endpoints; RFC 6749 §6 refresh keeps the
    resource; RFC 7009 §2.2 a revoked token is inactive (RFC 7662 §2.2)."""
    idp.resources.add(RESOURCE)
    secret = secrets.token_urlsafe(32)
    idp.clients.add("web", secret, redirect_uris=[REDIRECT],
                    token_endpoint_auth_method="client_secret_jwt")
    session = OAuth2Session("web", secret, redirect_uri=REDIRECT,
                            code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_jwt",
                            revocation_endpoint_auth_method="client_secret_jwt")
    session.register_client_auth_method(ClientSecretJWT(alg="HS256"))
    token = authlib_code_flow(idp, session)
    renewed = session.refresh_token(idp.token_endpoint, resource=RESOURCE)
    assert audience(idp, renewed["access_token"]) == RESOURCE
    assert session.revoke_token(idp.url_for("revoke"), renewed["access_token"],
                                token_type_hint="access_token").status_code == 200
    session.token_endpoint_auth_method = "client_secret_jwt"
    answer = session.introspect_token(idp.url_for("introspect"), renewed["access_token"])
    assert answer.status_code == 200 and answer.json() == {"active": False}
    assert token["refresh_token"]


def test_authlib_private_key_jwt_code_flow(idp: MockIdP) -> None:
    """Authlib's ``PrivateKeyJWT`` (OIDC Core §9) with an ES256 key the client registered,
    through the code flow with PKCE S256 and a resource."""
    idp.resources.add(RESOURCE)
    idp.clients.add("web", jwks={"keys": [SIGNING_KEY.public_jwk().to_dict()]},
                    redirect_uris=[REDIRECT])
    session = OAuth2Session("web", ECKey.import_key(SIGNING_KEY.to_dict()),
                            redirect_uri=REDIRECT, code_challenge_method="S256",
                            token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(alg="ES256"))
    token = authlib_code_flow(idp, session)
    assert idp.verify(token["access_token"])["client_id"] == "web"
