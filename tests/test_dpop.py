"""DPoP (RFC 9449) at the provider: proofs at the token endpoint (§4.3, §5), bound tokens at
userinfo and introspection (§7), server nonces (§8, §9), ``dpop_jkt`` (§10) and
``dpop_bound_access_tokens`` (§5.2); every proof fault of the catalog refused. All over real
HTTP on loopback, with proofs made by the holder key of ``idp.dpop_key()``.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from jwcrypto import jwk as jwcrypto_jwk

from mockidp import (
    DPOP_FAULTS,
    ConfigurationError,
    DPoPKey,
    MockIdP,
    UnknownDPoPFaultError,
    UnknownFaultError,
)
from mockidp.core.dpop import DPOP_ALGS, htu_of, thumbprint


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _client_credentials(idp: MockIdP, key: DPoPKey | None, proof: str | None = None,
                        **headers: str) -> requests.Response:
    client = idp.clients.default
    if key is not None and proof is None:
        proof = key.proof("POST", idp.token_endpoint)
    if proof is not None:
        headers["DPoP"] = proof
    return requests.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                         auth=(client.client_id, client.client_secret or ""), headers=headers,
                         timeout=5)


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
def test_rfc7638_thumbprint_matches_jwcrypto(alg: str) -> None:
    """RFC 7638 §3: cnf.jkt is the SHA-256 thumbprint jwcrypto computes for the same key."""
    key = DPoPKey(alg)
    assert key.jkt == jwcrypto_jwk.JWK(**key.jwk).thumbprint()
    assert "d" not in key.jwk


def test_discovery_advertises_the_proof_algorithms(idp: MockIdP) -> None:
    """RFC 9449 §5.1: dpop_signing_alg_values_supported lists what the token endpoint takes:
    asymmetric algorithms only (§4.3 step 5)."""
    document = requests.get(idp.discovery_url, timeout=5).json()
    assert document["dpop_signing_alg_values_supported"] == list(DPOP_ALGS)
    assert not {"none", "HS256"} & set(document["dpop_signing_alg_values_supported"])


def test_token_request_with_a_proof_gets_a_bound_dpop_token(idp: MockIdP) -> None:
    """RFC 9449 §5: token_type DPoP; §6.1: cnf.jkt is the proof key's thumbprint."""
    key = idp.dpop_key()
    answer = _client_credentials(idp, key)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "DPoP"
    assert _claims(body["access_token"])["cnf"] == {"jkt": key.jkt}
    assert "DPoP-Nonce" not in answer.headers  # nonces are off by default


def test_without_a_proof_the_token_is_bearer(idp: MockIdP) -> None:
    body = _client_credentials(idp, None).json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in _claims(body["access_token"])


def _userinfo(idp: MockIdP, token: str, proof: str | None, scheme: str = "DPoP",
              url: str | None = None, proofs: tuple[str, ...] | None = None
              ) -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return requests.get(url or idp.userinfo_endpoint, headers=headers, timeout=5)


def test_userinfo_accepts_a_bound_token_with_its_proof(idp: MockIdP) -> None:
    """RFC 9449 §7.1: Authorization: DPoP and a proof with ath, of the token's key."""
    key = idp.dpop_key()
    token = _client_credentials(idp, key).json()["access_token"]
    answer = _userinfo(idp, token, key.proof("GET", idp.userinfo_endpoint, access_token=token))
    assert answer.status_code == 200, answer.text


def test_userinfo_refuses_a_bound_token_as_bearer(idp: MockIdP) -> None:
    """RFC 9449 §7.2: a DPoP-bound token is no bearer token; the 401 challenges with DPoP."""
    key = idp.dpop_key()
    answer = _userinfo(idp, idp.token(dpop=key), None, scheme="Bearer")
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"
    assert answer.headers["WWW-Authenticate"].startswith('DPoP algs="')


def test_userinfo_refuses_an_unbound_token_in_the_dpop_scheme(idp: MockIdP) -> None:
    key = idp.dpop_key()
    token = idp.token()
    answer = _userinfo(idp, token, key.proof("GET", idp.userinfo_endpoint, access_token=token))
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


def _raw(url: str, method: str, headers: list[tuple[str, str]], body: str = ""
         ) -> tuple[int, dict[str, str], dict[str, Any]]:
    """A request with a header field repeated (two DPoP proofs), which requests cannot send:
    status, headers and JSON body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=5)
    try:
        connection.putrequest(method, parts.path)
        for name, value in [*headers, ("Content-Length", str(len(body)))]:
            connection.putheader(name, value)
        connection.endheaders(body.encode())
        answer = connection.getresponse()
        return answer.status, dict(answer.headers), json.loads(answer.read())
    finally:
        connection.close()


def _nonce(idp: MockIdP, endpoint: str, fault: str) -> str | None:
    """For a nonce fault, the endpoint demands nonces and this is the current one."""
    if not DPOP_FAULTS[fault].needs_nonce:
        return None
    idp.endpoint(endpoint).require_dpop_nonce()
    return idp.dpop.nonce(idp.clock.time())


#: The error each fault gets at userinfo, by §4.3 step (the description names it).
_STEP = {
    "missing-proof": "§4.3 step 1", "two-proofs": "§4.3 step 1", "wrong-typ": "§4.3 step 4",
    "alg-none": "§4.3 step 5", "symmetric-alg": "§4.3 step 5", "bad-signature": "§4.3 step 6",
    "private-jwk": "§4.3 step 7", "htm-mismatch": "§4.3 step 8", "htu-mismatch": "§4.3 step 9",
    "htu-other-host": "§4.3 step 9", "htu-other-scheme": "§4.3 step 9",
    "iat-stale": "§4.3 step 11", "iat-future": "§4.3 step 11", "missing-jti": "§4.3 step 3",
    "missing-htm": "§4.3 step 3", "missing-htu": "§4.3 step 3", "missing-iat": "§4.3 step 3",
    "jti-replay": "§11.1", "missing-ath": "§4.3 step 12", "ath-mismatch": "§4.3 step 12",
    "key-not-bound": "§4.3 step 12", "nonce-missing": "§4.3 step 10",
    "nonce-stale": "§4.3 step 10", "bearer-downgrade": "§7.1",
}


def test_every_fault_has_its_step() -> None:
    assert set(_STEP) | {"htu-query"} == set(DPOP_FAULTS)


@pytest.mark.parametrize("fault", list(DPOP_FAULTS))
def test_userinfo_refuses_each_proof_fault(idp: MockIdP, fault: str) -> None:
    """Each DPOP_FAULTS entry sent to the provider's own userinfo is refused with the RFC 9449
    §7.1 answer (401, a DPoP challenge naming the error) and the §4.3 step it fails; htu-query
    (the query left out of htu, as §4.2 says) is accepted."""
    entry = DPOP_FAULTS[fault]
    nonce = _nonce(idp, "userinfo", fault)
    key = idp.dpop_key()
    token = idp.token(dpop=key)
    url = idp.userinfo_endpoint

    def proof(**options: Any) -> str:
        return key.proof("GET", url, access_token=token, nonce=nonce, **options)

    if fault == "htu-query":
        answer = _userinfo(idp, token, proof(), url=url + "?page=2")
        assert answer.status_code == 200, answer.text
        return
    if fault == "two-proofs":
        status, headers, body = _raw(url, "GET", [
            ("Authorization", f"DPoP {token}"), ("DPoP", proof()), ("DPoP", proof())])
    else:
        if fault == "jti-replay":
            once = proof()
            assert _userinfo(idp, token, once).status_code == 200
            answer = _userinfo(idp, token, once)
        elif fault in ("missing-proof", "bearer-downgrade"):
            answer = _userinfo(idp, token, None,
                               scheme="Bearer" if fault == "bearer-downgrade" else "DPoP")
        else:
            answer = _userinfo(idp, token, proof(fault=fault))
        status, headers, body = answer.status_code, dict(answer.headers), answer.json()
    assert status == 401, body
    error = "use_dpop_nonce" if entry.needs_nonce else (
        "invalid_token" if fault == "bearer-downgrade" else "invalid_dpop_proof")
    assert body["error"] == error
    assert _STEP[fault] in body["error_description"]
    assert f'error="{error}"' in headers["WWW-Authenticate"]
    assert headers["WWW-Authenticate"].startswith("DPoP ")
    if entry.needs_nonce:
        assert headers["DPoP-Nonce"] == nonce


#: Faults of a proof sent with an access token only (§4.3 step 12), or of the request.
_RESOURCE_ONLY = {"missing-ath", "ath-mismatch", "key-not-bound", "htu-query", "missing-proof",
                  "bearer-downgrade", "two-proofs", "jti-replay"}


@pytest.mark.parametrize("fault", [f for f in DPOP_FAULTS if f not in _RESOURCE_ONLY])
def test_token_endpoint_refuses_each_proof_fault(idp: MockIdP, fault: str) -> None:
    """RFC 9449 §5: a token request whose proof fails a §4.3 check gets 400
    invalid_dpop_proof (use_dpop_nonce for the nonce faults, §8, with DPoP-Nonce)."""
    entry = DPOP_FAULTS[fault]
    nonce = _nonce(idp, "token", fault)
    key = idp.dpop_key()
    answer = _client_credentials(idp, key, key.proof("POST", idp.token_endpoint, nonce=nonce,
                                                     fault=fault))
    assert answer.status_code == 400, answer.text
    error = "use_dpop_nonce" if entry.needs_nonce else "invalid_dpop_proof"
    assert answer.json()["error"] == error
    assert _STEP[fault] in answer.json()["error_description"]


def test_token_endpoint_refuses_two_proofs_and_a_replay(idp: MockIdP) -> None:
    """RFC 9449 §4.3 step 1 (one DPoP header) and §11.1 (a jti once per target URI)."""
    key = idp.dpop_key()
    proof = key.proof("POST", idp.token_endpoint)
    assert _client_credentials(idp, key, proof).status_code == 200
    replay = _client_credentials(idp, key, proof)
    assert replay.json()["error"] == "invalid_dpop_proof"
    assert "§11.1" in replay.json()["error_description"]
    client = idp.clients.default
    status, _, payload = _raw(idp.token_endpoint, "POST", [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("DPoP", key.proof("POST", idp.token_endpoint)),
        ("DPoP", key.proof("POST", idp.token_endpoint))],
        f"grant_type=client_credentials&client_id={client.client_id}"
        f"&client_secret={client.client_secret}")
    assert status == 400
    assert payload["error"] == "invalid_dpop_proof"
    assert "§4.3 step 1" in payload["error_description"]


def test_token_endpoint_nonce_challenge_and_rotation(idp: MockIdP) -> None:
    """RFC 9449 §8: with nonces on, a proof without one gets use_dpop_nonce and a DPoP-Nonce
    header; the nonce given works; it rotates on the provider's clock (§8.2), and a nonce two
    periods old is refused."""
    idp.endpoint("token").require_dpop_nonce()
    key = idp.dpop_key()
    first = _client_credentials(idp, key)
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    ok = _client_credentials(idp, key, key.proof("POST", idp.token_endpoint, nonce=nonce))
    assert ok.status_code == 200, ok.text
    assert ok.headers["DPoP-Nonce"] == nonce
    idp.clock.advance(700)
    stale = _client_credentials(idp, key, key.proof("POST", idp.token_endpoint, nonce=nonce))
    assert stale.json()["error"] == "use_dpop_nonce"
    assert stale.headers["DPoP-Nonce"] != nonce


def test_nonces_per_client(idp: MockIdP) -> None:
    """Nonces on for one client only (``dpop_nonce=True``): others are not asked."""
    strict = idp.clients.add("strict", "s3cret", dpop_nonce=True)
    key = idp.dpop_key()
    answer = requests.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                           auth=(strict.client_id, "s3cret"),
                           headers={"DPoP": key.proof("POST", idp.token_endpoint)}, timeout=5)
    assert answer.json()["error"] == "use_dpop_nonce"
    assert _client_credentials(idp, key).status_code == 200


def test_nonces_for_the_whole_provider_are_its_start_up_state() -> None:
    """``idp.require_dpop_nonce = True`` before start (or ``require_dpop_nonce = true`` in
    the config file) demands nonces of every client at every DPoP endpoint (§8, §9), and a
    reset keeps it: it is the provider's setting, not a test's fault."""
    from mockidp.drivers._toml import loads
    from mockidp.drivers.config import Config

    config = Config.from_data(loads("require_dpop_nonce = true\n"), "test")
    idp = MockIdP(alg="ES256")
    config.apply(idp)
    with idp:
        key = idp.dpop_key()
        assert _client_credentials(idp, key).json()["error"] == "use_dpop_nonce"
        idp.reset()
        answer = _client_credentials(idp, key)
        assert answer.json()["error"] == "use_dpop_nonce"
        proof = key.proof("POST", idp.token_endpoint, nonce=answer.headers["DPoP-Nonce"])
        assert _client_credentials(idp, key, proof).status_code == 200
        token = idp.token(dpop=key)
        refused = _userinfo(idp, token, key.proof("GET", idp.userinfo_endpoint,
                                                  access_token=token))
        assert refused.status_code == 401 and "use_dpop_nonce" in refused.headers[
            "WWW-Authenticate"]


def test_dpop_bound_access_tokens_client_must_send_a_proof(idp: MockIdP) -> None:
    """RFC 9449 §5.2: a client registered with dpop_bound_access_tokens is refused without a
    proof."""
    idp.clients.add("bound", "s3cret", dpop_bound_access_tokens=True)
    answer = requests.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                           auth=("bound", "s3cret"), timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_dpop_proof"
    assert "§5.2" in answer.json()["error_description"]


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _code(idp: MockIdP, client_id: str, challenge: str, **extra: str) -> str:
    answer = requests.get(idp.authorization_endpoint, params={
        "response_type": "code", "client_id": client_id, "redirect_uri": "http://127.0.0.1/cb",
        "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256",
        **extra}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def _redeem(idp: MockIdP, client_id: str, code: str, verifier: str, proof: str | None
            ) -> requests.Response:
    return requests.post(idp.token_endpoint, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": "http://127.0.0.1/cb", "client_id": client_id},
        headers={"DPoP": proof} if proof else {}, timeout=5)


def test_dpop_jkt_binds_the_code_to_a_key(idp: MockIdP) -> None:
    """RFC 9449 §10: a code asked for with dpop_jkt is redeemed only with a proof of that
    key."""
    idp.clients.add("spa", public=True, redirect_uris=["http://127.0.0.1/cb"])
    key, other = idp.dpop_key(), idp.dpop_key()
    verifier, challenge = _pkce()
    code = _code(idp, "spa", challenge, dpop_jkt=key.jkt)
    refused = _redeem(idp, "spa", code, verifier, other.proof("POST", idp.token_endpoint))
    assert refused.json()["error"] == "invalid_dpop_proof"
    code = _code(idp, "spa", challenge, dpop_jkt=key.jkt)
    answer = _redeem(idp, "spa", code, verifier, key.proof("POST", idp.token_endpoint))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"


def _push(idp: MockIdP, client_id: str, challenge: str, proof: str | None = None,
          **extra: str) -> requests.Response:
    return requests.post(idp.url_for("par"), data={
        "response_type": "code", "client_id": client_id, "redirect_uri": "http://127.0.0.1/cb",
        "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256",
        **extra}, headers={"DPoP": proof} if proof else {}, timeout=5)


def _pushed_code(idp: MockIdP, client_id: str, pushed: requests.Response) -> str:
    assert pushed.status_code == 201, pushed.text
    answer = requests.get(idp.authorization_endpoint, params={
        "client_id": client_id, "request_uri": pushed.json()["request_uri"]},
        allow_redirects=False, timeout=5)
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def test_rfc9449_10_1_a_proof_at_par_binds_the_code(idp: MockIdP) -> None:
    """RFC 9449 §10.1: a DPoP proof sent to the PAR endpoint binds the code to its key as
    dpop_jkt would: redeemed with a proof of another key it is refused, with the key's own
    proof it gives a DPoP token; a dpop_jkt equal to the proof key's thumbprint is taken."""
    idp.clients.add("spa", public=True, redirect_uris=["http://127.0.0.1/cb"])
    key, other = idp.dpop_key(), idp.dpop_key()
    par = idp.url_for("par")
    verifier, challenge = _pkce()
    code = _pushed_code(idp, "spa", _push(idp, "spa", challenge, key.proof("POST", par)))
    refused = _redeem(idp, "spa", code, verifier, other.proof("POST", idp.token_endpoint))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
    code = _pushed_code(idp, "spa", _push(idp, "spa", challenge, key.proof("POST", par),
                                          dpop_jkt=key.jkt))
    answer = _redeem(idp, "spa", code, verifier, key.proof("POST", idp.token_endpoint))
    assert answer.status_code == 200, answer.text
    assert _claims(answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}


def test_rfc9449_10_1_par_checks_the_proof_as_4_3_says(idp: MockIdP) -> None:
    """RFC 9449 §10.1: the PAR endpoint checks a proof as §4.3 says (htu its own URL, not
    the token endpoint's) and refuses a push whose dpop_jkt is not the proof key's
    thumbprint: 400 invalid_dpop_proof, nothing pushed."""
    idp.clients.add("spa", public=True, redirect_uris=["http://127.0.0.1/cb"])
    key, other = idp.dpop_key(), idp.dpop_key()
    par = idp.url_for("par")
    challenge = _pkce()[1]
    for proof in ("garbage", key.proof("POST", idp.token_endpoint)):
        answer = _push(idp, "spa", challenge, proof)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_dpop_proof"
    mismatch = _push(idp, "spa", challenge, key.proof("POST", par), dpop_jkt=other.jkt)
    assert mismatch.status_code == 400
    assert mismatch.json()["error"] == "invalid_dpop_proof"
    assert "§10.1" in mismatch.json()["error_description"]
    assert len(idp.pushed) == 0


def test_rfc9449_10_1_par_asks_for_the_providers_nonce(idp: MockIdP) -> None:
    """RFC 9449 §8 at the PAR endpoint: for a client registered with dpop_nonce, a proof
    without the nonce gets use_dpop_nonce with a DPoP-Nonce header; with it the push is
    taken and the answer hands the nonce on (§8.2)."""
    idp.clients.add("spa", public=True, redirect_uris=["http://127.0.0.1/cb"], dpop_nonce=True)
    key = idp.dpop_key()
    par = idp.url_for("par")
    challenge = _pkce()[1]
    first = _push(idp, "spa", challenge, key.proof("POST", par))
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    ok = _push(idp, "spa", challenge, key.proof("POST", par, nonce=nonce))
    assert ok.status_code == 201, ok.text
    assert ok.headers["DPoP-Nonce"] == nonce


def test_malformed_dpop_jkt_is_refused(idp: MockIdP) -> None:
    idp.clients.add("spa", public=True, redirect_uris=["http://127.0.0.1/cb"])
    answer = requests.get(idp.authorization_endpoint, params={
        "response_type": "code", "client_id": "spa", "redirect_uri": "http://127.0.0.1/cb",
        "code_challenge": _pkce()[1], "code_challenge_method": "S256", "dpop_jkt": "short"},
        allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    assert "error=invalid_request" in answer.headers["Location"]


def test_public_client_refresh_token_is_bound_to_the_key(idp: MockIdP) -> None:
    """RFC 9449 §5: a public client's refresh token is bound to the DPoP key; a refresh with
    another key's proof (or none) is refused, with the key's proof it gets a DPoP token."""
    idp.clients.add("spa", public=True, redirect_uris=["http://127.0.0.1/cb"])
    key = idp.dpop_key()
    verifier, challenge = _pkce()
    tokens = _redeem(idp, "spa", _code(idp, "spa", challenge), verifier,
                     key.proof("POST", idp.token_endpoint)).json()

    def refresh(proof: str | None) -> requests.Response:
        return requests.post(idp.token_endpoint, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": "spa"}, headers={"DPoP": proof} if proof else {}, timeout=5)

    assert refresh(None).json()["error"] == "invalid_dpop_proof"
    other = idp.dpop_key().proof("POST", idp.token_endpoint)
    assert refresh(other).json()["error"] == "invalid_dpop_proof"
    renewed = refresh(key.proof("POST", idp.token_endpoint))
    assert renewed.status_code == 200, renewed.text
    assert _claims(renewed.json()["access_token"])["cnf"] == {"jkt": key.jkt}


def test_introspection_returns_cnf_and_takes_a_dpop_caller(idp: MockIdP) -> None:
    """RFC 9449 §6.2: introspection of a bound token gives cnf.jkt and token_type DPoP; the
    caller may authorize with its own DPoP-bound token and a proof (§7.1)."""
    key = idp.dpop_key()
    token = idp.token(dpop=key)
    caller = idp.token(dpop=key)
    answer = requests.post(idp.url_for("introspect"), data={"token": token}, headers={
        "Authorization": f"DPoP {caller}",
        "DPoP": key.proof("POST", idp.url_for("introspect"), access_token=caller)}, timeout=5)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["active"] is True
    assert body["cnf"] == {"jkt": key.jkt}
    assert body["token_type"] == "DPoP"


def test_userinfo_nonce_challenge(idp: MockIdP) -> None:
    """RFC 9449 §9: a resource demanding nonces answers 401 use_dpop_nonce with DPoP-Nonce;
    the proof carrying it is accepted."""
    idp.endpoint("userinfo").require_dpop_nonce()
    key = idp.dpop_key()
    token = idp.token(dpop=key)
    url = idp.userinfo_endpoint
    first = _userinfo(idp, token, key.proof("GET", url, access_token=token))
    assert first.status_code == 401
    assert 'error="use_dpop_nonce"' in first.headers["WWW-Authenticate"]
    nonce = first.headers["DPoP-Nonce"]
    answer = _userinfo(idp, token, key.proof("GET", url, access_token=token, nonce=nonce))
    assert answer.status_code == 200, answer.text


def test_reset_turns_nonces_off(idp: MockIdP) -> None:
    idp.endpoint("token").require_dpop_nonce()
    idp.reset()
    assert _client_credentials(idp, idp.dpop_key()).status_code == 200


@pytest.mark.parametrize("url", ["HTTPS://Example.COM:443/a/./b/../c?q=1#f",
                                 "https://example.com/a/%63"])
def test_htu_normalisation(url: str) -> None:
    """RFC 9449 §4.3 step 9 with RFC 3986 §6.2.2-6.2.3 normalisation; query and fragment
    are not compared."""
    assert htu_of(url) == "https://example.com/a/c"


def test_misuse_is_a_configuration_error(idp: MockIdP) -> None:
    with pytest.raises(ConfigurationError, match="asymmetric"):
        idp.dpop_key("HS256")
    with pytest.raises(UnknownFaultError):
        idp.dpop_key().proof("GET", "https://x.example/", fault="nope")
    with pytest.raises(UnknownDPoPFaultError, match="unknown DPoP proof fault 'iat-stal'.*"
                       r"DPOP_FAULTS.*did you mean 'iat-stale'\?"):
        idp.dpop_key().proof("GET", "https://x.example/", fault="iat-stal")
    with pytest.raises(ConfigurationError, match="fault of the request"):
        idp.dpop_key().proof("GET", "https://x.example/", fault="missing-proof")
    with pytest.raises(ConfigurationError, match="dpop takes"):
        idp.token(dpop=42)  # type: ignore[typeddict-item]


def test_hostile_proofs_get_400_not_500(idp: MockIdP) -> None:
    """Bad input: junk, a huge header, a jwk that is no key: the spec's error, never a 5xx."""
    key = idp.dpop_key()
    for proof in ("junk", "a.b.c", "x" * 9000, key.proof("POST", idp.token_endpoint)[:-5]):
        answer = _client_credentials(idp, key, proof)
        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_dpop_proof"
    idp.check()


@pytest.mark.parametrize("claims", [{"htu": "http://[::1"}, {"iat": 10**400}],
                         ids=["htu-not-a-uri", "iat-beyond-a-float"])
def test_hostile_proof_claims_get_400_not_500(idp: MockIdP, claims: dict[str, object]) -> None:
    """A proof whose htu urlsplit cannot read (§4.3 step 9), or whose iat is an integer past
    a float's range (step 11): the spec's error, never a 5xx."""
    key = idp.dpop_key()
    proof = jwt.encode({"jti": "j-1", "htm": "POST", "htu": idp.token_endpoint,
                        "iat": int(idp.clock.time()), **claims},
                       jwt.PyJWK(key.private_jwk()).key, algorithm="ES256",
                       headers={"typ": "dpop+jwt", "jwk": key.jwk})
    answer = _client_credentials(idp, key, proof)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_dpop_proof"
    idp.check()


def test_thumbprint_refuses_a_jwk_without_members() -> None:
    with pytest.raises(ValueError, match="RFC 7638"):
        thumbprint({"kty": "EC"})


def test_dashboard_decoder_shows_the_binding_and_checks_a_proof(idp: MockIdP) -> None:
    """The token decoder names a bound token's cnf.jkt (RFC 9449 §6.1) and checks a pasted
    proof's signature with its own jwk (§4.3 steps 2-7)."""
    from werkzeug.test import Client

    client = Client(idp.app)
    key = idp.dpop_key()

    def decoded(token: str) -> str:
        return client.post("/_mockidp/ui/decode", data={"token": token}).get_data(as_text=True)

    assert f"DPoP-bound: cnf.jkt {key.jkt}" in decoded(idp.token(dpop=key))
    assert f"key thumbprint {key.jkt}" in decoded(key.proof("GET", idp.userinfo_endpoint))
    bad = decoded(key.proof("GET", idp.userinfo_endpoint, fault="bad-signature"))
    assert "a DPoP proof, not valid" in bad
    assert "§4.3 step 6" in bad


def test_an_invalid_token_in_the_dpop_scheme_gets_a_dpop_challenge(idp: MockIdP) -> None:
    """RFC 9449 §7.1: a request in the DPoP scheme is answered with a DPoP challenge."""
    key = idp.dpop_key()
    token = idp.token(dpop=key, fault="expired")
    answer = _userinfo(idp, token, key.proof("GET", idp.userinfo_endpoint, access_token=token))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('DPoP algs="')
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
