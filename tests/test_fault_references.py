"""Every catalog entry that cites a CVE or a library bug reproduces it: a validator written with
that weakness — the vulnerable logic, in a few lines — accepts the entry's token, and a correct
validator refuses it. If a fault stopped triggering what it cites, its test here fails.

The weak validators verify signatures for real (with the provider's published keys) and get
exactly one thing wrong, as the cited code did.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from verifiers import EXPECTED_TYP, joserfc_verifier, pyjwt_verifier

from mockidp import FAULTS, MockIdP

Verify = Callable[[str], Any]


def b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def lenient_b64(segment: str) -> bytes:
    """Decode as lenient base64 decoders do: characters outside the alphabet are dropped."""
    return base64.b64decode(segment.replace("-", "+").replace("_", "/") + "==", validate=False)


def published(idp: MockIdP, kid: str) -> jwt.PyJWK:
    return jwt.PyJWK(next(k for k in idp.jwks()["keys"] if k["kid"] == kid))


def signature_ok(idp: MockIdP, token: str) -> dict[str, Any]:
    """Signature checked with the published key the kid names, nothing else: the claims."""
    header = jwt.get_unverified_header(token)
    key = published(idp, header["kid"])
    return jwt.decode(token, key, algorithms=[key.algorithm_name],
                      options={"verify_aud": False, "verify_iss": False, "verify_exp": False,
                               "verify_nbf": False, "verify_iat": False, "verify_sub": False})


def claims_of(token: str) -> dict[str, Any]:
    """The payload, read without any check at all."""
    claims: dict[str, Any] = json.loads(b64(token.split(".")[1]))
    return claims


def hmac_ok(token: str, secret: bytes) -> dict[str, Any]:
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, b64(signature)):
        raise ValueError("bad HMAC")
    return claims_of(token)


def key_of(idp: MockIdP, token: str) -> Any:
    """The public key object of the published key the token's kid names."""
    return published(idp, jwt.get_unverified_header(token)["kid"]).key


# -- the weak validators, one per cited bug --------------------------------------------------


def pyjwt_2_10_0_issuer(idp: MockIdP) -> Verify:
    """PyJWT 2.10.0 (CVE-2024-53861): with issuer a string, the check was `iss not in issuer`."""
    def verify(token: str) -> Any:
        claims = signature_ok(idp, token)
        if claims["iss"] not in idp.issuer:
            raise ValueError("wrong issuer")
        return claims
    return verify


def jwt_go_audience(idp: MockIdP) -> Verify:
    """jwt-go < 4 (CVE-2020-26160): an aud array failed the string type assertion, became "",
    and the optional check passed an empty audience."""
    def verify(token: str) -> Any:
        claims = signature_ok(idp, token)
        aud = claims.get("aud") if isinstance(claims.get("aud"), str) else ""
        if aud and aud != idp.audience:
            raise ValueError("wrong audience")
        return claims
    return verify


def flask_of_oil_audience(idp: MockIdP) -> Verify:
    """flask-of-oil < 1.2.0 (curityio/flask-of-oil#12): `if self.aud not in aud`."""
    def verify(token: str) -> Any:
        claims = signature_ok(idp, token)
        if idp.audience not in claims["aud"]:
            raise ValueError("wrong audience")
        return claims
    return verify


def fast_jwt_issuer_array(idp: MockIdP) -> Verify:
    """fast-jwt < 5.0.6 (CVE-2025-30144): an array iss passed when one member matched."""
    def verify(token: str) -> Any:
        claims = signature_ok(idp, token)
        iss = claims["iss"]
        if idp.issuer not in (iss if isinstance(iss, list) else [iss]):
            raise ValueError("wrong issuer")
        return claims
    return verify


def python_jwt_3_3_3(idp: MockIdP) -> Verify:
    """python-jwt < 3.3.4 (CVE-2022-39227): jwcrypto verified the JSON serialization; the
    claims came from the second dot-separated segment, decoded leniently."""
    from jwcrypto import jwk, jws

    def verify(token: str) -> Any:
        keys = jwk.JWKSet.from_json(json.dumps(idp.jwks()))
        checked = jws.JWS()
        checked.deserialize(token)
        checked.verify(keys.get_key(json.loads(lenient_b64(token.split(".")[0]))["kid"]))
        return json.loads(lenient_b64(token.split(".")[1]))
    return verify


def none_fallback(idp: MockIdP) -> Verify:
    """node jsonwebtoken <= 8.5.1 (CVE-2022-23540): no key and no algorithms meant "none"."""
    def verify(token: str) -> Any:
        if jwt.get_unverified_header(token)["alg"] == "none":
            return claims_of(token)
        return signature_ok(idp, token)
    return verify


def hmac_with_public_key(encoding: str) -> Callable[[MockIdP], Verify]:
    """Algorithm taken from the header, and an HMAC keyed with the public key in the form the
    library held it: SPKI PEM (Authlib < 1.3.1, CVE-2024-37568), PKCS#1 PEM (PyJWT < 1.5.1,
    CVE-2017-11424), OpenSSH (python-jose < 3.4.0, CVE-2024-33663) or the JWK's JSON text
    (PyJWT < 2.13.0, CVE-2026-48526)."""
    def make(idp: MockIdP) -> Verify:
        def verify(token: str) -> Any:
            header = jwt.get_unverified_header(token)
            if header["alg"] != "HS256":
                return signature_ok(idp, token)
            public = key_of(idp, token)
            secret = {
                "pem": lambda: public.public_bytes(Encoding.PEM,
                                                   PublicFormat.SubjectPublicKeyInfo),
                "pkcs1": lambda: public.public_bytes(Encoding.PEM, PublicFormat.PKCS1),
                "ssh": lambda: public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH),
                "jwk": lambda: json.dumps(next(k for k in idp.jwks()["keys"]
                                               if k["kid"] == header["kid"])).encode(),
            }[encoding]()
            return hmac_ok(token, secret)
        return verify
    return make


def empty_key_lookup(idp: MockIdP) -> Verify:
    """LibJWT 3.0.0-3.3.2 (CVE-2026-44699) and the key lookups of ruby-jwt, fast-jwt and
    joserfc: an HS token verified with whatever the lookup gave, here an empty key."""
    def verify(token: str) -> Any:
        if jwt.get_unverified_header(token)["alg"].startswith("HS"):
            return hmac_ok(token, b"")
        return signature_ok(idp, token)
    return verify


def dates_skipped_when_mistyped(idp: MockIdP) -> Verify:
    """Rust jsonwebtoken < 10.3.0 (CVE-2026-25537), Hono < 4.12.18 (CVE-2026-44459): a date
    that is not a number counts as absent."""
    def verify(token: str) -> Any:
        claims = signature_ok(idp, token)
        now = time.time()
        for name, refuse in (("exp", lambda v: v <= now), ("nbf", lambda v: v > now),
                             ("iat", lambda v: v > now + 60)):
            value = claims.get(name)
            if isinstance(value, int | float) and refuse(value):
                raise ValueError(f"{name} refused")
        return claims
    return verify


def ecdsa_without_range_check(idp: MockIdP) -> Verify:
    """Java 15-18 (CVE-2022-21449): r and s were not checked to be in [1, n-1]."""
    def verify(token: str) -> Any:
        signature = b64(token.rpartition(".")[2])
        if not any(signature):
            return claims_of(token)  # r = s = 0 passed the broken equation
        return signature_ok(idp, token)
    return verify


def hash_from_header(idp: MockIdP) -> Verify:
    """go-jose before PR #293 (go-jose/go-jose#267): the hash from the header's alg, the
    curve from whatever key the kid names."""
    def verify(token: str) -> Any:
        header = jwt.get_unverified_header(token)
        signing_input, _, signature = token.rpartition(".")
        raw = b64(signature)
        half = len(raw) // 2
        der = encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                   int.from_bytes(raw[half:], "big"))
        digest = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(),
                  "ES512": hashes.SHA512()}[header["alg"]]
        key_of(idp, token).verify(der, signing_input.encode(), ec.ECDSA(digest))
        return claims_of(token)
    return verify


def crit_ignored(idp: MockIdP) -> Verify:
    """PyJWT < 2.12.0 (CVE-2026-32597), Authlib < 1.6.4 (CVE-2025-59420): crit not checked."""
    def verify(token: str) -> Any:
        header = json.loads(b64(token.split(".")[0]))
        key = published(idp, header["kid"])
        signing_input, _, signature = token.rpartition(".")
        if not key.Algorithm.verify(signing_input.encode(), key.key, b64(signature)):
            raise ValueError("bad signature")
        return claims_of(token)
    return verify


def key_from_header(member: str) -> Callable[[MockIdP], Verify]:
    """Verification with a key the token brings: jwk (Authlib < 1.6.9, CVE-2026-27962), jku (an
    application that hands the URL to a key fetcher, CVE-2026-48522 blocking only file:, ftp:
    and data:)."""
    def make(idp: MockIdP) -> Verify:
        def verify(token: str) -> Any:
            header = jwt.get_unverified_header(token)
            if member == "jwk":
                key = jwt.PyJWK(header["jwk"])
            else:
                key = jwt.PyJWKClient(header["jku"]).get_signing_key_from_jwt(token)
            return jwt.decode(token, key, algorithms=[header["alg"]], audience=idp.audience)
        return verify
    return make


def claim_types_unchecked(idp: MockIdP) -> Verify:
    """joserfc < 1.7.3 (CVE-2026-75509): iss, sub and jti of any JSON type."""
    def verify(token: str) -> Any:
        claims = signature_ok(idp, token)
        if claims["iss"] != idp.issuer or claims["aud"] != idp.audience:
            raise ValueError("wrong issuer or audience")
        return claims
    return verify


def lenient_base64(idp: MockIdP) -> Verify:
    """joserfc <= 1.7.1 (CVE-2026-62995): padding and the standard alphabet accepted."""
    def verify(token: str) -> Any:
        head, body, signature = token.split(".")
        canonical = base64.urlsafe_b64encode(lenient_b64(signature)).rstrip(b"=").decode()
        return signature_ok(idp, f"{head}.{body}.{canonical}")
    return verify


def extra_segments_ignored(idp: MockIdP) -> Verify:
    """The splitting of go-jose < 4.0.5 (CVE-2025-27144) and golang-jwt < 5.2.2
    (CVE-2025-30204): every dot split first, and the first three segments taken."""
    def verify(token: str) -> Any:
        return signature_ok(idp, ".".join(token.split(".")[:3]))
    return verify


def no_size_bound(idp: MockIdP) -> Verify:
    """Authlib < 1.6.5 (CVE-2025-61920): header and signature of any size decoded."""
    return lambda token: signature_ok(idp, token)


#: Fault -> the weak validator that reproduces what the fault cites.
WEAK: dict[str, Callable[[MockIdP], Verify]] = {
    "issuer-substring": pyjwt_2_10_0_issuer,
    "aud-array": jwt_go_audience,
    "audience-substring": flask_of_oil_audience,
    "iss-array": fast_jwt_issuer_array,
    "json-polyglot": python_jwt_3_3_3,
    "alg-none": none_fallback,
    "alg-confusion": hmac_with_public_key("pem"),
    "alg-confusion-pkcs1": hmac_with_public_key("pkcs1"),
    "alg-confusion-ssh": hmac_with_public_key("ssh"),
    "alg-confusion-jwk": hmac_with_public_key("jwk"),
    "hs-empty-key": empty_key_lookup,
    "string-exp": dates_skipped_when_mistyped,
    "string-nbf": dates_skipped_when_mistyped,
    "string-iat": dates_skipped_when_mistyped,
    "psychic-signature": ecdsa_without_range_check,
    "curve-mismatch": hash_from_header,
    "crit-unknown": crit_ignored,
    "sub-not-string": claim_types_unchecked,
    "jwk-injection": key_from_header("jwk"),
    "jku-injection": key_from_header("jku"),
    "bad-base64": lenient_base64,
    "dot-flood": extra_segments_ignored,
    "oversized": no_size_bound,
}

#: Where PyJWT, correctly configured, takes the fault too (a weakness recorded in
#: tests/test_faults.py), the correct validator is joserfc's.
CORRECT: dict[str, Callable[[MockIdP], Verify]] = {
    "string-iat": joserfc_verifier, "oversized": joserfc_verifier,
}


#: Cited entries reproduced elsewhere, and where.
ELSEWHERE = {
    "deep-nesting": "test_deep_nesting_exhausts_a_recursive_parser_and_a_bounded_one_refuses_it",
}


def test_every_entry_that_cites_a_cve_is_reproduced_here() -> None:
    cited = {str(f) for f in FAULTS.values()
             if "CVE-" in f.reference or "CVE-" in f.weakness or "#" in f.weakness}
    missing = cited - set(WEAK) - set(ELSEWHERE)
    assert not missing, f"cited but not reproduced: {sorted(missing)}"


@pytest.mark.parametrize("fault", list(WEAK))
def test_the_cited_weakness_accepts_it_and_a_correct_validator_refuses_it(
        idp: MockIdP, fault: str) -> None:
    token = idp.token(typ=EXPECTED_TYP, fault=fault)
    accepted = WEAK[fault](idp)(token)
    assert accepted is not None
    correct = CORRECT.get(fault, pyjwt_verifier)(idp)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal will do
        correct(token)


def test_the_polyglot_carries_forged_claims_past_the_weak_parser(idp: MockIdP) -> None:
    claims = python_jwt_3_3_3(idp)(idp.token(fault="json-polyglot"))
    assert claims["sub"] == "admin"  # what CVE-2022-39227 let through


def test_deep_nesting_exhausts_a_recursive_parser_and_a_bounded_one_refuses_it(
        idp: MockIdP) -> None:
    """Nimbus JOSE+JWT < 9.37.4 (CVE-2025-53864) recursed until its stack overflowed; Python's
    recursive json parser does the same, and a validator that bounds the depth refuses first."""
    token = idp.token(fault="deep-nesting")
    with pytest.raises(RecursionError):
        json.loads(b64(token.split(".")[1]))

    def bounded(token: str) -> Any:
        body = b64(token.split(".")[1])
        depth = deepest = 0
        for byte in body:
            depth += (byte in b"[{") - (byte in b"]}")
            deepest = max(deepest, depth)
        if deepest > 32:
            raise ValueError("claims nested too deep")
        return pyjwt_verifier(idp)(token)

    with pytest.raises(ValueError, match="too deep"):
        bounded(token)
