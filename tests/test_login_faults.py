"""The sign-in fault catalog: each fault, planted with ``idp.users.next_login(fault=...)``,
changes exactly what its name says in exactly one place of one sign-in — and nothing in the
sign-ins before or after it. A hybrid sign-in (``code id_token token``, with nonce and state,
a client with a secret and signed userinfo answers) reaches every fault; a strict checker
written here on PyJWT lists what is wrong with each ID token (OIDC Core §3.1.3.7, §3.3.2.12)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from mockidp import FAULTS, LOGIN_FAULTS, LoginFault, UnknownFaultError, UnknownLoginFaultError
from mockidp.core import login_faults

if TYPE_CHECKING:
    from mockidp import MockIdP

REDIRECT = "http://127.0.0.1:9/callback"
NONCE, STATE = "n-0S6_WzA2Mj", "af0ifjsldkj"

#: What the strict checker finds wrong in the ID token that comes through the browser, for
#: each ID token fault.
ID_TOKEN_PROBLEMS = {
    "id-token-wrong-nonce": {"nonce"}, "id-token-missing-nonce": {"nonce"},
    "id-token-wrong-aud": {"aud"}, "id-token-missing-aud": {"aud"},
    "id-token-untrusted-audience": {"audiences"}, "id-token-azp-missing": {"audiences", "azp"},
    "id-token-wrong-azp": {"azp"}, "id-token-wrong-iss": {"iss"}, "id-token-expired": {"exp"},
    "id-token-issued-in-future": {"iat"}, "id-token-missing-iat": {"iat"},
    "id-token-missing-sub": {"sub"}, "id-token-alg-none": {"alg"},
    "id-token-bad-signature": {"signature"}, "id-token-unknown-kid": {"kid"},
    "id-token-hs256-client-secret": {"alg"}, "id-token-wrong-at-hash": {"at_hash"},
    "id-token-missing-at-hash": {"at_hash"}, "id-token-wrong-c-hash": {"c_hash"},
    "id-token-missing-c-hash": {"c_hash"},
}
#: The faults an ID token from the token endpoint does not show: it has no c_hash, and its
#: at_hash is OPTIONAL (OIDC Core §3.1.3.6).
FRONT_ONLY = {"id-token-missing-at-hash", "id-token-wrong-c-hash", "id-token-missing-c-hash"}


def _half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def problems(idp: MockIdP, token: str, client_id: str, *, code: str | None = None,
             access_token: str | None = None, front: bool = True) -> set[str]:
    """Everything OIDC Core §3.1.3.7 / §3.3.2.12 has a strict client refuse in ``token``."""
    found: set[str] = set()
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    keys = {k["kid"]: k for k in idp.jwks()["keys"]}
    if header.get("alg") != "RS256":
        found.add("alg")
    elif header.get("kid") not in keys:
        found.add("kid")
    else:
        key = jwt.PyJWK(keys[header["kid"]]).key
        try:
            jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False,
                                                                  "verify_exp": False,
                                                                  "verify_iat": False})
        except jwt.InvalidSignatureError:
            found.add("signature")
    if claims.get("iss") != idp.issuer:
        found.add("iss")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud or []
    if client_id not in audiences:
        found.add("aud")
    elif len(audiences) > 1:
        found.add("audiences")
    if (len(audiences) > 1 and "azp" not in claims) or claims.get("azp", client_id) != client_id:
        found.add("azp")
    now = idp.clock.time()
    if not claims.get("exp", 0) > now:
        found.add("exp")
    if not claims.get("iat", now + 3600) <= now + 60:
        found.add("iat")
    if claims.get("nonce") != NONCE:
        found.add("nonce")
    if "sub" not in claims:
        found.add("sub")
    for name, value in (("at_hash", access_token), ("c_hash", code)):
        if value is not None and (name in claims or front) \
                and claims.get(name) != _half_hash(value):
            found.add(name)
    return found


@dataclass
class SignIn:
    """Everything one hybrid sign-in got, at each place a fault can be planted."""

    authorization: dict[str, str]
    tokens: dict[str, Any] = field(default_factory=dict)
    userinfo_type: str = ""
    userinfo: dict[str, Any] = field(default_factory=dict)


def sign_in(idp: MockIdP, client_id: str, secret: str) -> SignIn:
    """``code id_token token`` with nonce and state; the code redeemed; userinfo asked."""
    answer = requests.get(idp.authorization_endpoint, params={
        "client_id": client_id, "response_type": "code id_token token", "scope": "openid email",
        "redirect_uri": REDIRECT, "state": STATE, "nonce": NONCE}, allow_redirects=False,
        timeout=5)
    location = urlsplit(answer.headers["Location"])
    done = SignIn({k: v[0] for k, v in parse_qs(location.fragment).items()})
    if "code" not in done.authorization:
        return done
    done.tokens = requests.post(idp.token_endpoint, data={
        "grant_type": "authorization_code", "code": done.authorization["code"],
        "redirect_uri": REDIRECT}, auth=(client_id, secret), timeout=5).json()
    info = requests.get(idp.userinfo_endpoint, timeout=5, headers={
        "Authorization": f"Bearer {done.authorization['access_token']}"})
    done.userinfo_type = info.headers["Content-Type"]
    done.userinfo = jwt.decode(info.text, options={"verify_signature": False}) \
        if done.userinfo_type == "application/jwt" else info.json()
    return done


@pytest.fixture
def client(idp: MockIdP) -> tuple[str, str]:
    idp.clients.add("rp", "rp-secret", userinfo_signed_response_alg="RS256")
    return "rp", "rp-secret"


def test_each_fault_changes_one_thing_in_one_place(idp: MockIdP, client: tuple[str, str],
                                                    idp_login_fault: str) -> None:
    """The catalog's promise, fault by fault (the idp_login_fault fixture): the stage the
    fault names shows exactly its problem; every other stage is what a valid sign-in gets."""
    fault = LOGIN_FAULTS[idp_login_fault]
    client_id, secret = client
    idp.users.next_login(fault=fault)
    got = sign_in(idp, client_id, secret)
    params = got.authorization
    if fault.stage == "authorization":
        changed = {"response-wrong-iss": params.get("iss") == login_faults.EVIL_ISSUER,
                   "response-missing-iss": "iss" not in params,
                   "response-wrong-state": params.get("state") == login_faults.FORGED_STATE,
                   "error-markup": params.get("error") == "access_denied"
                   and login_faults.MARKUP in params.get("error_description", "")
                   and "code" not in params}
        assert changed[fault]
        if fault != "error-markup":
            assert not problems(idp, params["id_token"], client_id, code=params["code"],
                                access_token=params["access_token"])
        return
    assert params["iss"] == idp.issuer and params["state"] == STATE
    front = problems(idp, params["id_token"], client_id, code=params["code"],
                     access_token=params["access_token"])
    back = problems(idp, got.tokens["id_token"], client_id, front=False,
                    access_token=got.tokens["access_token"]) if "id_token" in got.tokens \
        else set()
    expected = ID_TOKEN_PROBLEMS.get(fault, set())
    assert front == expected
    assert back == (set() if fault in FRONT_ONLY else expected)
    assert ("id_token" in got.tokens) == (fault != "token-response-without-id-token")
    assert (got.tokens["token_type"] == "Bearer") == (fault != "token-type-unknown")
    assert (got.userinfo["sub"] == idp.users.default.sub) == (fault != "userinfo-wrong-sub")
    assert (got.userinfo_type == "application/jwt") == (fault != "userinfo-unsigned")


def test_a_fault_plants_one_sign_in_only(idp: MockIdP, client: tuple[str, str]) -> None:
    """next_login queues one sign-in: the next one is valid again, and a refresh of the
    faulted grant carries no fault (the grant's fault is the sign-in's, OIDC Core §12.2)."""
    client_id, secret = client
    idp.users.next_login(fault="id-token-wrong-iss")
    faulted = sign_in(idp, client_id, secret)
    assert problems(idp, faulted.authorization["id_token"], client_id) >= {"iss"}
    refreshed = requests.post(idp.token_endpoint, data={
        "grant_type": "refresh_token", "refresh_token": faulted.tokens["refresh_token"]},
        auth=(client_id, secret), timeout=5).json()
    assert idp.verify(refreshed["id_token"])["iss"] == idp.issuer
    after = sign_in(idp, client_id, secret)
    assert not problems(idp, after.authorization["id_token"], client_id,
                        code=after.authorization["code"],
                        access_token=after.authorization["access_token"])


def test_an_unknown_fault_names_the_catalog(idp: MockIdP) -> None:
    with pytest.raises(UnknownLoginFaultError, match="id-token-wrong-nonce") as caught:
        idp.users.next_login(fault="expired")  # a token fault, not a sign-in fault
    assert isinstance(caught.value, UnknownFaultError)
    assert "LOGIN_FAULTS" in str(caught.value)


def test_the_catalog_has_the_shape_of_faults() -> None:
    """Same facts as mockidp.FAULTS (description, reference, check, weakness, severity), each
    entry its own name, every severity and stage one of the documented ones."""
    token_fault = next(iter(FAULTS.values()))
    for name, fault in LOGIN_FAULTS.items():
        assert isinstance(fault, LoginFault) and fault == name and fault.name == name
        for attr in ("description", "reference", "check", "weakness", "severity", "why"):
            assert isinstance(getattr(token_fault, attr), str)
            assert getattr(fault, attr), (name, attr)
        assert fault.stage in ("authorization", "id_token", "token", "userinfo")
        assert fault.severity in ("critical", "high", "hardening")
        assert fault.code_flow_severity in ("critical", "high", "hardening", None)
    assert set(ID_TOKEN_PROBLEMS) == {f for f in LOGIN_FAULTS.values()
                                      if f.stage == "id_token"}


def test_the_issue_and_the_conformance_suite_are_covered() -> None:
    """Issue 18's list, and the oidcc-client-test-* modules of the OpenID conformance suite
    that test what a client checks in one sign-in, each name a catalog entry."""
    references = " ".join(f.reference for f in LOGIN_FAULTS.values())
    for module in ("nonce-invalid", "invalid-aud", "missing-aud", "invalid-iss",
                   "idtoken-sig-none", "invalid-sig-rs256", "invalid-sig-hs256",
                   "invalid-athash", "missing-athash", "invalid-chash", "missing-chash",
                   "missing-iat", "missing-sub", "userinfo-invalid-sub", "userinfo-signed"):
        assert f"oidcc-client-test-{module}" in references, module
