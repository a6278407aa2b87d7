"""Every catalog fault against real consumer libraries, each correctly configured (see
``verifiers.py``). A fault a library accepts is not hidden: it is marked as that library's
known weakness, with the reason, and the test fails if the library starts rejecting it."""

from __future__ import annotations

import json
import warnings

import jwt
import pytest
from verifiers import EXPECTED_TYP, VERIFIERS

from mockidp import FAULTS, ConfigurationError, Fault, MockIdP
from mockidp.core.faults import UnknownFaultError
from mockidp.core.jws import b64url_decode

# The exception each library raises for each fault (its class name).
REJECTED_WITH: dict[str, dict[str, str]] = {
    "pyjwt": {
        "expired": "ExpiredSignatureError",
        "not-yet-valid": "ImmatureSignatureError",
        "issued-in-future": "ImmatureSignatureError",
        "missing-exp": "MissingRequiredClaimError",
        "wrong-issuer": "InvalidIssuerError",
        "issuer-substring": "InvalidIssuerError",
        "iss-array": "InvalidIssuerError",
        "wrong-audience": "InvalidAudienceError",
        "aud-array": "InvalidAudienceError",
        "audience-substring": "InvalidAudienceError",
        "missing-aud": "MissingRequiredClaimError",
        "wrong-typ": "ValueError",
        "token-type-confusion": "ValueError",
        "bad-signature": "InvalidSignatureError",
        "tampered-payload": "InvalidSignatureError",
        "json-polyglot": "DecodeError",
        "stripped-signature": "InvalidSignatureError",
        "alg-none": "InvalidAlgorithmError",
        "alg-none-capitalized": "InvalidAlgorithmError",
        "alg-none-uppercase": "InvalidAlgorithmError",
        "alg-confusion": "InvalidAlgorithmError",
        "alg-confusion-jwk": "InvalidAlgorithmError",
        "alg-confusion-pkcs1": "InvalidAlgorithmError",
        "alg-confusion-ssh": "InvalidAlgorithmError",
        "hs-empty-key": "InvalidAlgorithmError",
        "curve-mismatch": "InvalidAlgorithmError",
        "psychic-signature": "InvalidSignatureError",
        "der-signature": "InvalidSignatureError",
        "alg-mismatch": "InvalidAlgorithmError",
        "string-exp": "ExpiredSignatureError",
        "string-nbf": "ImmatureSignatureError",
        "sub-not-string": "InvalidSubjectError",
        "missing-iat": "MissingRequiredClaimError",
        "missing-sub": "MissingRequiredClaimError",
        "unknown-kid": "PyJWKClientError",
        "missing-kid": "PyJWKClientError",
        "kid-mismatch": "InvalidSignatureError",
        "revoked-key": "PyJWKClientError",
        "kid-injection": "PyJWKClientError",
        "kid-injection-sql": "PyJWKClientError",
        "kid-injection-command": "PyJWKClientError",
        "jku-injection": "PyJWKClientError",
        "x5u-injection": "PyJWKClientError",
        "jwk-injection": "PyJWKClientError",
        "x5c-injection": "PyJWKClientError",
        "crit-unknown": "InvalidTokenError",
        "b64-false": "DecodeError",
        "malformed": "DecodeError",
        "bad-base64": "DecodeError",
        "dot-flood": "DecodeError",
        "deep-nesting": "DecodeError",
    },
    "joserfc": {
        "expired": "ExpiredTokenError",
        "not-yet-valid": "InvalidClaimError",
        "issued-in-future": "InvalidClaimError",
        "missing-exp": "MissingClaimError",
        "wrong-issuer": "InvalidClaimError",
        "issuer-substring": "InvalidClaimError",
        "iss-array": "InvalidClaimError",
        "wrong-audience": "InvalidClaimError",
        "aud-array": "InvalidClaimError",
        "audience-substring": "InvalidClaimError",
        "missing-aud": "MissingClaimError",
        "wrong-typ": "ValueError",
        "token-type-confusion": "ValueError",
        "bad-signature": "BadSignatureError",
        "tampered-payload": "BadSignatureError",
        "json-polyglot": "DecodeError",
        "stripped-signature": "BadSignatureError",
        "alg-none": "UnsupportedAlgorithmError",
        "alg-none-capitalized": "UnsupportedAlgorithmError",
        "alg-none-uppercase": "UnsupportedAlgorithmError",
        "alg-confusion": "UnsupportedAlgorithmError",
        "alg-confusion-jwk": "UnsupportedAlgorithmError",
        "alg-confusion-pkcs1": "UnsupportedAlgorithmError",
        "alg-confusion-ssh": "UnsupportedAlgorithmError",
        "hs-empty-key": "UnsupportedAlgorithmError",
        "curve-mismatch": "UnsupportedAlgorithmError",
        "psychic-signature": "BadSignatureError",
        "der-signature": "BadSignatureError",
        "alg-mismatch": "UnsupportedAlgorithmError",
        "string-exp": "InvalidClaimError",
        "string-nbf": "InvalidClaimError",
        "string-iat": "InvalidClaimError",
        "sub-not-string": "InvalidClaimError",
        "missing-iat": "MissingClaimError",
        "missing-sub": "MissingClaimError",
        "unknown-kid": "InvalidKeyIdError",
        "missing-kid": "InvalidKeyIdError",
        "kid-mismatch": "BadSignatureError",
        "revoked-key": "InvalidKeyIdError",
        "kid-injection": "UnsupportedAlgorithmError",
        "kid-injection-sql": "UnsupportedAlgorithmError",
        "kid-injection-command": "UnsupportedAlgorithmError",
        "jku-injection": "InvalidKeyIdError",
        "x5u-injection": "InvalidKeyIdError",
        "jwk-injection": "ExceededSizeError",
        "x5c-injection": "ExceededSizeError",
        "b64-false": "InvalidPayloadError",
        "crit-unknown": "UnsupportedHeaderError",
        "malformed": "DecodeError",
        "bad-base64": "BadSignatureError",
        "oversized": "ExceededSizeError",
        "dot-flood": "ExceededSizeError",
        "deep-nesting": "RecursionError",
    },
    "jwcrypto": {
        "expired": "JWTExpired",
        "not-yet-valid": "JWTNotYetValid",
        "missing-exp": "JWTMissingClaim",
        "wrong-issuer": "JWTInvalidClaimValue",
        "issuer-substring": "JWTInvalidClaimValue",
        "iss-array": "JWTInvalidClaimFormat",
        "wrong-audience": "JWTInvalidClaimValue",
        "aud-array": "JWTInvalidClaimValue",
        "audience-substring": "JWTInvalidClaimValue",
        "missing-aud": "JWTMissingClaim",
        "wrong-typ": "ValueError",
        "token-type-confusion": "ValueError",
        "bad-signature": "JWTMissingKey",
        "tampered-payload": "JWTMissingKey",
        "stripped-signature": "JWTMissingKey",
        "alg-none": "JWTMissingKey",
        "alg-none-capitalized": "JWTMissingKey",
        "alg-none-uppercase": "JWTMissingKey",
        "alg-confusion": "JWTMissingKey",
        "alg-confusion-jwk": "JWTMissingKey",
        "alg-confusion-pkcs1": "JWTMissingKey",
        "alg-confusion-ssh": "JWTMissingKey",
        "hs-empty-key": "JWTMissingKey",
        "curve-mismatch": "JWTMissingKey",
        "psychic-signature": "JWTMissingKey",
        "der-signature": "JWTMissingKey",
        "alg-mismatch": "JWTMissingKey",
        "string-exp": "TypeError",
        "string-nbf": "TypeError",
        "sub-not-string": "JWTInvalidClaimFormat",
        "missing-iat": "JWTMissingClaim",
        "missing-sub": "JWTMissingClaim",
        "unknown-kid": "JWTMissingKey",
        "kid-mismatch": "JWTMissingKey",
        "revoked-key": "JWTMissingKey",
        "kid-injection": "JWTMissingKey",
        "kid-injection-sql": "JWTMissingKey",
        "kid-injection-command": "JWTMissingKey",
        "jku-injection": "JWTMissingKey",
        "x5u-injection": "JWTMissingKey",
        "jwk-injection": "JWTMissingKey",
        "x5c-injection": "JWTMissingKey",
        "b64-false": "JWTMissingKey",
        "crit-unknown": "InvalidJWSSignature",
        "malformed": "ValueError",
        "dot-flood": "ValueError",
        "deep-nesting": "RecursionError",
    },
}

# Faults each library accepts, and why. These are the library's weaknesses, not the fault's.
ACCEPTED_BY: dict[str, dict[str, str]] = {
    "pyjwt": {
        "string-iat": "PyJWT reads a string iat with int() (RFC 7519 §2 wants a number)",
        "weak-key": "PyJWT only warns (InsecureKeyLengthWarning) about RSA keys under 2048 bits",
        "duplicate-claims": "json.loads keeps the last duplicate member",
        "oversized": "PyJWT has no token size limit",
    },
    "joserfc": {
        "weak-key": "joserfc takes RSA keys of any size",
        "duplicate-claims": "json.loads keeps the last duplicate member",
    },
    "jwcrypto": {
        "issued-in-future": "jwcrypto checks iat for presence only, not for being in the past",
        "json-polyglot": ("jwcrypto reads the JSON serialization and verifies its genuine "
                          "payload, so it returns the genuine claims"),
        "string-iat": "jwcrypto checks iat for presence only",
        "missing-kid": "jwcrypto tries every key in the set when the token has no kid",
        "weak-key": "jwcrypto takes RSA keys of any size",
        "bad-base64": "jwcrypto decodes padded, standard-alphabet base64",
        "duplicate-claims": "json.loads keeps the last duplicate member",
        "oversized": "jwcrypto has no token size limit",
    },
}


def cases() -> list[pytest.param]:  # type: ignore[valid-type]
    found = []
    for library in VERIFIERS:
        for fault in FAULTS:
            reason = ACCEPTED_BY[library].get(fault)
            if reason is not None:
                marks = [pytest.mark.xfail(reason=f"{library} weakness: {reason}", strict=True)]
                found.append(pytest.param(library, fault, "ACCEPTED", marks=marks,
                                          id=f"{library}-{fault}-ACCEPTED"))
            else:
                error = REJECTED_WITH[library][fault]
                found.append(pytest.param(library, fault, error, id=f"{library}-{fault}-{error}"))
    return found


def test_every_fault_has_an_outcome_for_every_library() -> None:
    for library in VERIFIERS:
        assert set(REJECTED_WITH[library]) | set(ACCEPTED_BY[library]) == set(FAULTS), library
        assert not set(REJECTED_WITH[library]) & set(ACCEPTED_BY[library]), library


@pytest.mark.parametrize("library", VERIFIERS)
def test_valid_baseline_is_accepted(idp: MockIdP, library: str) -> None:
    claims = VERIFIERS[library](idp)(idp.token(typ=EXPECTED_TYP))
    assert claims["iss"] == idp.issuer


@pytest.mark.parametrize(("library", "fault", "error"), cases())
def test_fault_is_rejected(idp: MockIdP, library: str, fault: str, error: str) -> None:
    verify = VERIFIERS[library](idp)
    token = idp.token(typ=EXPECTED_TYP, fault=fault)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. jwcrypto's notes on what it tried
        with pytest.raises(Exception) as caught:  # noqa: PT011 - the name is checked below
            verify(token)
    assert type(caught.value).__name__ == error, f"{fault}: {caught.value!r}"


def test_no_consumer_fetched_attacker_urls(idp: MockIdP) -> None:
    for library, make in VERIFIERS.items():
        verify = make(idp)
        for fault in ("jku-injection", "x5u-injection"):
            with pytest.raises(Exception):  # noqa: B017, PT011
                verify(idp.token(typ=EXPECTED_TYP, fault=fault))
        fetched = [r.path for r in idp.requests if "/attacker/" in r.path]
        assert fetched == [], library


def segments(token: str) -> list[dict]:
    head, body = token.split(".")[:2]
    return [json.loads(b64url_decode(head)), json.loads(b64url_decode(body))]


def verify_id_token(idp: MockIdP, token: str) -> dict:
    key = jwt.PyJWKClient(idp.jwks_uri, cache_jwk_set=False).get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=[key.algorithm_name], issuer=idp.issuer,
                      audience=idp.clients.default.client_id,
                      options={"require": ["exp", "iat", "iss", "aud", "sub"]})


# PyJWT checks no typ of ID tokens, and an ID token is what token-type-confusion makes; the
# others are its weaknesses listed above.
PYJWT_ACCEPTS_ID_TOKEN = {"wrong-typ", "token-type-confusion", *ACCEPTED_BY["pyjwt"]}


@pytest.mark.parametrize("fault", FAULTS)
def test_id_tokens_take_every_fault(idp: MockIdP, fault: str) -> None:
    token = idp.id_token(fault=fault, nonce="n")
    assert token != idp.id_token(nonce="n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT's warning about a short RSA key (weak-key)
        if fault in PYJWT_ACCEPTS_ID_TOKEN:
            assert verify_id_token(idp, token)["nonce"] == "n"
        else:
            with pytest.raises(jwt.PyJWTError):
                verify_id_token(idp, token)


def test_fault_shapes(idp: MockIdP) -> None:
    header, claims = segments(idp.token(fault="alg-none"))
    assert header["alg"] == "none" and idp.token(fault="alg-none").endswith(".")
    header, _ = segments(idp.token(fault="jku-injection"))
    assert header["jku"] == idp.url_for("attacker-jwks")
    assert header["kid"] == idp.attacker.key("RS256").kid
    header, _ = segments(idp.token(fault="jwk-injection"))
    assert header["jwk"] == idp.attacker.key("RS256").public_jwk
    _, claims = segments(idp.token(fault="expired"))
    assert claims["exp"] < idp.clock.time() and claims["iat"] < claims["exp"]
    _, claims = segments(idp.token(fault="string-exp"))
    assert isinstance(claims["exp"], str) and int(claims["exp"]) < idp.clock.time()
    assert len(idp.token(fault="oversized")) > 256 * 1024
    assert idp.token(fault="malformed").count(".") == 1
    body = b64url_decode(idp.token(fault="duplicate-claims").split(".")[1]).decode()
    assert body.count('"sub"') == 2


def test_faults_that_need_keys_publish_them_for_the_test_only(idp: MockIdP) -> None:
    before = idp.jwks()
    header, _ = segments(idp.token(fault="psychic-signature"))
    assert header["alg"] == "ES256" and header["kid"] in {k["kid"] for k in idp.jwks()["keys"]}
    header, _ = segments(idp.token(fault="revoked-key"))
    assert idp.keys.state(header["kid"]) == "revoked"
    idp.reset()
    assert idp.jwks() == before


def test_catalog_entries_are_documented() -> None:
    for fault in FAULTS.values():
        assert isinstance(fault, Fault) and fault.name == fault
        assert fault.description and fault.reference and fault.check and fault.category
        assert FAULTS[str(fault)] is fault
    required = {"expired", "not-yet-valid", "issued-in-future", "bad-signature",
                "tampered-payload", "stripped-signature", "alg-none", "alg-confusion",
                "unknown-kid", "missing-kid", "revoked-key", "wrong-issuer", "wrong-audience",
                "missing-exp", "jku-injection", "jwk-injection", "x5u-injection",
                "kid-injection", "malformed"}
    assert required <= set(FAULTS)


def test_unknown_fault_names_the_choices(idp: MockIdP) -> None:
    with pytest.raises(UnknownFaultError, match=r"unknown token fault 'melted'.*expired"):
        idp.token(fault="melted")
    assert issubclass(UnknownFaultError, ConfigurationError)
