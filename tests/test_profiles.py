from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mockidp import PROFILES, ConfigurationError, MockIdP, RemoteIdP, UnknownProfileError

OPTIONS = {"keycloak": {"realm": "demo"}, "okta": {"server": "aus1"},
           "entra": {"tenant_id": "0b7e6f1c-1111-4222-8333-444455556666"},
           "auth0": {}, "google": {}, "cognito": {"user_pool": "eu-west-1_Pool"}, "generic": {},
           "mcp": {}}


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def client_credentials(idp: MockIdP, **form: str) -> dict[str, Any]:
    body = "&".join(f"{k}={v}" for k, v in {"grant_type": "client_credentials", **form}.items())
    request = urllib.request.Request(
        idp.token_endpoint, body.encode(), headers={
            "Authorization": "Basic " + base64.b64encode(
                b"mockidp-client:mockidp-client-secret").decode()})
    with urllib.request.urlopen(request, timeout=5) as response:
        result: dict[str, Any] = json.load(response)
        return result


@pytest.fixture(scope="module", params=sorted(PROFILES))
def profiled(request: pytest.FixtureRequest) -> Any:
    with MockIdP(profile=request.param, **OPTIONS[request.param]) as idp:
        yield idp


def test_every_profile_serves_its_discovery_and_keys(profiled: MockIdP) -> None:
    metadata = get_json(profiled.discovery_url)
    assert metadata["issuer"] == profiled.issuer
    assert metadata["jwks_uri"] == profiled.jwks_uri
    assert metadata["token_endpoint"] == profiled.token_endpoint
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    token = profiled.token()
    client = jwt.PyJWKClient(metadata["jwks_uri"])
    claims = jwt.decode(token, client.get_signing_key_from_jwt(token), algorithms=["RS256"],
                        issuer=profiled.issuer, options={"verify_aud": False})
    assert claims["iss"] == profiled.issuer


def test_every_profile_issues_tokens_at_its_token_endpoint(profiled: MockIdP) -> None:
    answer = client_credentials(profiled, scope="read")
    claims = profiled.verify(answer["access_token"])
    assert claims["iss"] == profiled.issuer
    assert profiled.requests_to("token")[-1].path.endswith(
        profiled.layout.paths["token"])


@pytest.mark.parametrize(("profile", "paths"), [
    ("keycloak", {"issuer": "/realms/demo",
                  "jwks": "/realms/demo/protocol/openid-connect/certs",
                  "token": "/realms/demo/protocol/openid-connect/token",
                  "authorize": "/realms/demo/protocol/openid-connect/auth",
                  "discovery": "/realms/demo/.well-known/openid-configuration"}),
    ("okta", {"issuer": "/oauth2/aus1", "jwks": "/oauth2/aus1/v1/keys",
              "token": "/oauth2/aus1/v1/token",
              "discovery": "/oauth2/aus1/.well-known/openid-configuration"}),
    ("entra", {"issuer": "/0b7e6f1c-1111-4222-8333-444455556666/v2.0",
               "jwks": "/0b7e6f1c-1111-4222-8333-444455556666/discovery/v2.0/keys",
               "token": "/0b7e6f1c-1111-4222-8333-444455556666/oauth2/v2.0/token"}),
    ("auth0", {"issuer": "/", "jwks": "/.well-known/jwks.json", "token": "/oauth/token"}),
    ("google", {"issuer": "", "jwks": "/oauth2/v3/certs", "certs": "/oauth2/v1/certs",
                "authorize": "/o/oauth2/v2/auth"}),
    ("cognito", {"issuer": "/eu-west-1_Pool",
                 "jwks": "/eu-west-1_Pool/.well-known/jwks.json",
                 "token": "/oauth2/token"}),
])
def test_profile_url_layouts(profile: str, paths: dict[str, str]) -> None:
    with MockIdP(profile=profile, **OPTIONS[profile]) as idp:
        assert idp.issuer == idp.base_url + paths.pop("issuer")
        for name, path in paths.items():
            assert idp.url_for(name) == idp.base_url + path, name


def decoded(token: str) -> dict[str, Any]:
    result: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return result


def test_keycloak_claims() -> None:
    with MockIdP(profile="keycloak", realm="demo") as idp:
        access = decoded(idp.token(scope="openid email"))
        assert access["typ"] == "Bearer" and access["aud"] == "account"
        assert access["azp"] == "mockidp-client" and access["scope"] == "openid email"
        assert "default-roles-demo" in access["realm_access"]["roles"]
        assert decoded(idp.id_token())["typ"] == "ID"


def test_okta_claims() -> None:
    with MockIdP(profile="okta") as idp:
        access = decoded(idp.token(scope=["openid", "profile"]))
        assert access["ver"] == 1 and access["aud"] == "api://default"
        assert access["cid"] == "mockidp-client" and access["scp"] == ["openid", "profile"]
        assert access["uid"].startswith("00u")


def test_entra_claims_are_stable_per_user() -> None:
    with MockIdP(profile="entra") as idp:
        first, second = decoded(idp.token()), decoded(idp.token())
        assert first["ver"] == "2.0" and first["tid"] == idp.layout.options["tenant_id"]
        assert first["oid"] == second["oid"] and first["azp"] == "mockidp-client"
        other = idp.users.add()
        assert decoded(idp.token(sub=other.sub))["oid"] != first["oid"]
        assert decoded(idp.id_token())["tid"] == first["tid"]


def test_auth0_issuer_ends_with_a_slash() -> None:
    with MockIdP(profile="auth0") as idp:
        assert idp.issuer.endswith("/") and decoded(idp.token())["iss"] == idp.issuer
        assert get_json(idp.discovery_url)["issuer"] == idp.issuer


def test_auth0_tenant_is_accepted_and_changes_nothing() -> None:
    """Auth0 puts the tenant in the host name, which a path layout cannot give: ``tenant=``
    is still taken (code written with it keeps working) and documented as having no effect;
    ``issuer_url`` gives the host-style issuer."""
    with MockIdP(profile="auth0", tenant="acme") as idp:
        assert idp.issuer == idp.base_url + "/" and "acme" not in idp.jwks_uri
        assert "acme" not in json.dumps(get_json(idp.discovery_url))
    with MockIdP(profile="auth0", issuer_url="https://acme.auth0.com") as idp:
        assert idp.issuer == "https://acme.auth0.com/"
        assert idp.token_endpoint == "https://acme.auth0.com/oauth/token"


def test_the_readme_gives_every_profile_options_default() -> None:
    """The README's profile table names each option with its default, as the code has it."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line.split("|")[2] for line in readme.splitlines()
            if line.startswith("| `") and line.count("|") == 6}
    for name, profile in PROFILES.items():
        for option, default in profile.options.items():
            assert f"`{option}` (`{default}`" in rows[name], (name, option)


def test_cognito_access_tokens_carry_no_aud_unless_asked() -> None:
    with MockIdP(profile="cognito") as idp:
        access = decoded(idp.token())
        assert "aud" not in access and "nbf" not in access
        assert access["token_use"] == "access" and access["client_id"] == "mockidp-client"
        assert decoded(idp.token(aud="mine"))["aud"] == "mine"
        identity = decoded(idp.id_token())
        assert identity["token_use"] == "id" and identity["aud"] == "mockidp-client"
        assert identity["cognito:username"] == identity["sub"]


def test_callers_claims_beat_the_profiles() -> None:
    with MockIdP(profile="okta") as idp:
        assert decoded(idp.token({"ver": 2, "cid": "x"}))["cid"] == "x"


def check_certificate(jwk: dict[str, Any], public_key: Any) -> None:
    der = base64.b64decode(jwk["x5c"][0])
    certificate = x509.load_der_x509_certificate(der)
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert certificate.public_key().public_bytes(*spki) == public_key.public_bytes(*spki)
    assert jwk["x5t"] == base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()
    assert jwk["x5t#S256"] == base64.urlsafe_b64encode(
        hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert certificate.not_valid_after_utc.year == 9999


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_certificates_match_the_published_keys(alg: str) -> None:
    with MockIdP(certificates=True, alg=alg) as idp:
        # the default alg's key, and RS256's, which OIDC Discovery §3 has every provider serve
        keys = {jwk["kid"]: jwk for jwk in get_json(idp.jwks_uri)["keys"]}
        assert {key.alg for key in idp.keys.published()} == {alg, "RS256"}
        for key in idp.keys.published():
            check_certificate(keys[key.kid], key.public_key)


def test_certificates_only_where_asked() -> None:
    with MockIdP() as idp:
        assert "x5c" not in get_json(idp.jwks_uri)["keys"][0]
    with MockIdP(profile="entra") as idp:
        check_certificate(get_json(idp.jwks_uri)["keys"][0], idp.keys.active.public_key)
    with MockIdP(profile="entra", certificates=False) as idp:
        assert "x5c" not in get_json(idp.jwks_uri)["keys"][0]


def test_certificate_map_lists_the_published_keys() -> None:
    with MockIdP(profile="google") as idp:
        old = idp.keys.active
        new = idp.keys.rotate()
        certificates = get_json(idp.url_for("certs"))
        assert sorted(certificates) == sorted([old.kid, new.kid])
        idp.keys.revoke(old.kid)
        certificates = get_json(idp.url_for("certs"))
        assert list(certificates) == [new.kid]
        certificate = x509.load_pem_x509_certificate(certificates[new.kid].encode())
        assert certificate.public_key().public_numbers() == new.public_key.public_numbers()


@pytest.mark.parametrize(("options", "message"), [
    ({"profile": "keycloack"}, "unknown profile 'keycloack'; use one of: generic, keycloak"),
    ({"profile": "keycloak", "server": "x"},
     "unknown keyword(s) server: neither an argument of MockIdP nor an option of profile "
     "'keycloak' (its options: realm)"),
    ({"profile": "generic", "realm": "x"}, "option of profile 'generic' (its options: none)"),
    ({"algo": "ES256"}, "unknown keyword(s) algo: neither an argument of MockIdP nor an option "
                        "of profile 'generic' (its options: none); did you mean alg?"),
    ({"profile_options": {"server": "x"}}, "has no option(s) server; its options: none"),
    ({"profile": "keycloak", "realm": "a/b"}, "must be one URL path segment"),
    ({"profile": "okta", "alg": "ES256"}, "the okta profile signs with RS256, not ES256"),
])
def test_profile_misuse_is_explained(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        MockIdP(**options)
    assert message in str(caught.value)


def test_unknown_profile_error_lists_the_choices() -> None:
    with pytest.raises(UnknownProfileError) as caught:
        MockIdP(profile="nope")
    assert caught.value.supported == tuple(PROFILES)


def test_an_rsa_only_profile_still_adds_other_keys_on_request() -> None:
    with MockIdP(profile="entra") as idp:
        idp.keys.add("ES256")  # to break a consumer on purpose
        assert {k["kty"] for k in get_json(idp.jwks_uri)["keys"]} == {"RSA", "EC"}


def test_tenants_of_a_profiled_provider_keep_its_layout() -> None:
    with MockIdP(profile="keycloak", realm="demo") as idp:
        tenant = idp.tenant("second")
        assert tenant.issuer == idp.base_url + "/second/realms/demo"
        assert get_json(tenant.discovery_url)["jwks_uri"] == tenant.jwks_uri
        assert get_json(tenant.jwks_uri)["keys"][0]["kid"] == tenant.keys.active.kid
        with pytest.raises(ConfigurationError, match="realms"):
            idp.tenant("realms")


def test_remote_client_follows_the_layout() -> None:
    with MockIdP(profile="okta") as idp:
        remote = RemoteIdP(idp.base_url)
        assert remote.profile == "okta"
        assert remote.jwks_uri == idp.jwks_uri and remote.token_endpoint == idp.token_endpoint
        assert remote.issuer == idp.issuer


def test_issuer_url_is_the_root_of_the_layout() -> None:
    with MockIdP(profile="keycloak", issuer_url="https://sso.example.test/auth") as idp:
        assert idp.issuer == "https://sso.example.test/auth/realms/master"
        assert get_json(idp.url_for("discovery").replace(
            "https://sso.example.test/auth", f"http://127.0.0.1:{idp._server.port}"))[
            "jwks_uri"] == "https://sso.example.test/auth/realms/master/protocol/openid-connect/certs"


def test_replace_publishes_new_material_under_the_same_kid() -> None:
    with MockIdP() as idp:
        old = idp.keys.active
        client = jwt.PyJWKClient(idp.jwks_uri, cache_keys=True)
        client.get_signing_key_from_jwt(idp.token())  # caches the old key
        new = idp.keys.replace(old.kid)
        assert new.kid == old.kid and idp.keys.active is new
        assert new.public_jwk != old.public_jwk and idp.keys.state(new.kid) == "active"
        token = idp.token()
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, client.get_signing_key_from_jwt(token), algorithms=["RS256"],
                       audience=idp.audience)
        fresh = jwt.PyJWKClient(idp.jwks_uri)
        assert jwt.decode(token, fresh.get_signing_key_from_jwt(token), algorithms=["RS256"],
                          audience=idp.audience)["iss"] == idp.issuer


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token",
                                           "code token", "id_token token"])
def test_mcp_profile_serves_the_code_flow_only(response_type: str) -> None:
    """OAuth 2.1 (draft-ietf-oauth-v2-1 §10.1, on which the MCP authorization spec builds)
    removes the implicit grant and response types that carry tokens: the mcp profile
    advertises response_types_supported ["code"] and no implicit grant (RFC 8414 §2), and
    answers a token-bearing response_type with unsupported_response_type (RFC 6749
    §4.1.2.1), at the authorization endpoint (on the redirect) and the PAR endpoint."""
    import requests

    redirect = "http://127.0.0.1:9/cb"
    with MockIdP(profile="mcp", alg="ES256") as idp:
        metadata = get_json(idp.discovery_url)
        assert metadata["response_types_supported"] == ["code"]
        assert "implicit" not in metadata["grant_types_supported"]
        idp.clients.add("app", "s", redirect_uris=[redirect],
                        grant_types=["authorization_code", "implicit"])
        request = {"client_id": "app", "response_type": response_type, "nonce": "n",
                   "redirect_uri": redirect, "code_challenge": "c" * 43,
                   "code_challenge_method": "S256"}
        answer = requests.get(idp.authorization_endpoint, params=request,
                              allow_redirects=False, timeout=5)
        assert answer.status_code == 302
        assert "error=unsupported_response_type" in answer.headers["Location"]
        pushed = requests.post(idp.url_for("par"), data=request, auth=("app", "s"), timeout=5)
        assert pushed.status_code == 400
        assert pushed.json()["error"] == "unsupported_response_type"
        code = requests.get(idp.authorization_endpoint, allow_redirects=False, timeout=5,
                            params={**request, "response_type": "code"})
        assert "code=" in code.headers["Location"]


def test_mcp_profile_serves_no_password_grant() -> None:
    """OAuth 2.1 §10.2 leaves out the resource owner password credentials grant: the mcp
    profile does not advertise it (RFC 8414 §2) and answers it unsupported_grant_type
    (RFC 6749 §5.2), even for a client registered with it."""
    import requests

    with MockIdP(profile="mcp", alg="ES256") as idp:
        assert "password" not in get_json(idp.discovery_url)["grant_types_supported"]
        idp.clients.add("legacy", "s", grant_types=["password"])
        answer = requests.post(idp.token_endpoint, auth=("legacy", "s"), timeout=5, data={
            "grant_type": "password", "username": idp.users.default.sub, "password": "x"})
        assert answer.status_code == 400
        assert answer.json()["error"] == "unsupported_grant_type"



def test_generic_profile_serves_implicit_and_hybrid() -> None:
    """OIDC Core §3.2, §3.3: outside a code_only profile the implicit and hybrid response
    types are served and advertised, with the implicit grant."""
    assert not PROFILES["generic"].code_only and PROFILES["mcp"].code_only
    with MockIdP(alg="ES256") as idp:
        metadata = get_json(idp.discovery_url)
        assert "code id_token" in metadata["response_types_supported"]
        assert "implicit" in metadata["grant_types_supported"]
