from __future__ import annotations

import os
import ssl
import urllib.request

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from mockidp import ConfigurationError, MockIdP


@pytest.fixture(scope="module")
def tls_idp() -> MockIdP:
    with MockIdP(tls=True) as idp:
        yield idp


def test_https_issuer_and_ca_bundle(tls_idp: MockIdP) -> None:
    assert tls_idp.issuer.startswith("https://127.0.0.1:")
    metadata = requests.get(tls_idp.discovery_url, verify=tls_idp.ca_bundle, timeout=5).json()
    assert metadata["jwks_uri"].startswith("https://")
    with pytest.raises(requests.exceptions.SSLError):  # not trusted without the bundle
        requests.get(tls_idp.discovery_url, timeout=5)


def test_pyjwkclient_over_https(tls_idp: MockIdP) -> None:
    token = tls_idp.token()
    client = jwt.PyJWKClient(tls_idp.jwks_uri, ssl_context=tls_idp.ssl_context())
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=tls_idp.audience,
                        issuer=tls_idp.issuer)
    assert claims["iss"].startswith("https://")


def test_authlib_over_https(tls_idp: MockIdP) -> None:
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import KeySet

    default = tls_idp.clients.default
    session = OAuth2Session(default.client_id, default.client_secret)
    token = session.fetch_token(tls_idp.token_endpoint, grant_type="client_credentials",
                                verify=tls_idp.ca_bundle)
    keys = KeySet.import_key_set(session.get(tls_idp.jwks_uri, verify=tls_idp.ca_bundle).json())
    decoded = jose_jwt.decode(token["access_token"], keys, algorithms=["RS256"])
    assert decoded.claims["client_id"] == default.client_id


def test_a_stalled_tls_client_does_not_block_others(tls_idp: MockIdP) -> None:
    import socket

    stalled = socket.create_connection(("127.0.0.1", tls_idp.port))  # never says hello
    try:
        context = ssl.create_default_context(cafile=tls_idp.ca_bundle)
        with urllib.request.urlopen(tls_idp.jwks_uri, context=context, timeout=5) as response:
            assert response.status == 200
    finally:
        stalled.close()


def test_bundle_is_removed_on_stop() -> None:
    idp = MockIdP(tls=True).start()
    bundle = idp.ca_bundle
    assert os.path.exists(bundle)
    idp.stop()
    assert not os.path.exists(bundle)
    with pytest.raises(ConfigurationError, match="plain HTTP"):
        MockIdP().ca_bundle  # noqa: B018
