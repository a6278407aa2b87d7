"""A DPoP resource server (RFC 9449 §7) on PyJWT, audited with `mockidp.audit(dpop=True)`

No Python library verifies DPoP proofs at a resource server yet (Authlib and
requests_oauth2client make proofs, as clients), so this one is written out on PyJWT, with the
RFC 7638 thumbprint from jwcrypto: the access token as usual, then the proof, each check of
§4.3 in order. The audit passes it. A naive resource server that checks the access token and
never the proof is caught with exactly the proof faults a proof check would have refused.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from jwcrypto.jwk import JWK

import mockidp

if TYPE_CHECKING:
    from mockidp import MockIdP

PROOF_ALGS = ["ES256", "ES384", "PS256", "RS256", "EdDSA"]
PRIVATE = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def htu(url: str) -> str:
    """The URI a proof names: no query, no fragment, scheme and host in lower case."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


class ResourceServer:
    """Checks a request's DPoP-bound access token and its proof."""

    def __init__(self, idp: MockIdP, nonce: str | None = None) -> None:
        self.keys = jwt.PyJWKClient(idp.jwks_uri)
        self.idp = idp
        self.nonce = nonce
        self.seen: dict[str, float] = {}  # jti -> when it may be forgotten

    def token_claims(self, token: str) -> dict[str, Any]:
        key = self.keys.get_signing_key_from_jwt(token)
        return jwt.decode(token, key, algorithms=["RS256"], audience=self.idp.audience,
                          issuer=self.idp.issuer, options={"require": ["exp", "iat", "sub"]})

    def verify(self, token: str, proof: str | None, method: str, url: str) -> dict[str, Any]:
        claims = self.token_claims(token)
        jkt = claims.get("cnf", {}).get("jkt")
        if not isinstance(jkt, str):
            raise PermissionError("not a DPoP-bound token")
        if proof is None or "," in proof:
            raise PermissionError("exactly one DPoP proof is required")  # §4.3 step 1
        header = jwt.get_unverified_header(proof)
        if header.get("typ") != "dpop+jwt":  # step 4
            raise PermissionError("typ is not dpop+jwt")
        alg, jwk = header.get("alg"), header.get("jwk")
        if alg not in PROOF_ALGS or not isinstance(jwk, dict):  # step 5
            raise PermissionError("no asymmetric alg, or no jwk")
        if PRIVATE & set(jwk):  # step 7
            raise PermissionError("the jwk holds a private key")
        key = jwt.PyJWK(jwk, algorithm=alg)
        body = jwt.decode(proof, key, algorithms=[alg],  # step 6, and iat not in the future
                          options={"require": ["jti", "htm", "htu", "iat"]})
        if body["htm"] != method or htu(body["htu"]) != htu(url):  # steps 8, 9
            raise PermissionError("the proof is for another request")
        if self.nonce is not None and body.get("nonce") != self.nonce:  # step 10
            raise PermissionError("use_dpop_nonce")
        now = time.time()
        if not now - 60 <= body["iat"] <= now + 5:  # step 11
            raise PermissionError("the proof is too old")
        ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=")
        if body.get("ath") != ath.decode():  # step 12
            raise PermissionError("the proof is for another token")
        if JWK(**jwk).thumbprint() != jkt:  # step 12, §7.1
            raise PermissionError("the proof key is not the token's")
        self.seen = {k: t for k, t in self.seen.items() if t > now}
        if body["jti"] in self.seen:  # §11.1
            raise PermissionError("replayed proof")
        self.seen[body["jti"]] = now + 65
        return claims


def test_a_correct_resource_server_passes_the_audit(idp: MockIdP) -> None:
    report = mockidp.audit(ResourceServer(idp).verify, idp, dpop=True)
    assert not [c for c in report if c.name in mockidp.DPOP_FAULTS and c.verdict != "ok"]
    report.assert_safe()


def test_with_server_nonces(idp: MockIdP) -> None:
    server = ResourceServer(idp, nonce="n-1")
    report = mockidp.audit(server.verify, idp, dpop=True, dpop_nonce="n-1")
    assert report["nonce-missing"].verdict == report["nonce-stale"].verdict == "ok"
    report.assert_safe()


class NaiveResourceServer(ResourceServer):
    """Checks the access token, never the proof."""

    def verify(self, token: str, proof: str | None, method: str, url: str) -> dict[str, Any]:
        return self.token_claims(token)


def test_a_naive_resource_server_is_caught_with_exactly_its_faults(idp: MockIdP) -> None:
    report = mockidp.audit(NaiveResourceServer(idp).verify, idp, dpop=True)
    caught = {c.name for c in report if c.verdict != "ok" and c.name in mockidp.DPOP_FAULTS}
    assert caught == {
        "missing-proof", "wrong-typ", "alg-none", "symmetric-alg", "bad-signature",
        "private-jwk", "htm-mismatch", "htu-mismatch", "htu-other-host", "htu-other-scheme",
        "iat-stale", "iat-future", "missing-jti", "missing-htm", "missing-htu", "missing-iat",
        "jti-replay", "missing-ath", "ath-mismatch", "key-not-bound",
    }
    assert not report.safe
