"""The token fault catalog: each entry makes a token that is wrong in exactly one way.

``idp.token(fault="alg-confusion")`` first builds the token the call would otherwise make (header,
claims, signing key) as a :class:`Draft`, then hands it to the fault, which changes exactly what
its name says and signs (or mangles) the result. Everything else stays valid, so a consumer that
accepts the token has missed precisely that check.

Faults that need a key the provider does not have yet (a second published key, a revoked key,
an EC key for ECDSA-specific faults) use the key ring's *standard* keys: made once, reused in
every test, and put in the ring for this test only.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from ..errors import KeyStateError, UnknownFaultError
from .jws import b64url_decode, b64url_encode, dumps, sign_compact, signing_input

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    from typing_extensions import Self

    from .keys import Key, KeyRing

__all__ = ["FAULTS", "SEVERITIES", "Attacker", "CatalogEntry", "Draft", "Fault", "Severity",
           "at_least", "catalog_table", "get", "severity_sections"]

#: The ``typ`` values of RFC 9068 access tokens.
AT_JWT = ("at+jwt", "application/at+jwt")
#: What a wrong ``iss`` and ``aud`` look like.
EVIL_ISSUER = "https://attacker.invalid"
EVIL_AUDIENCE = "https://attacker.invalid/api"
_lock = threading.Lock()
#: The HMAC secret the kid-injection payloads make a naive key lookup return.
INJECTED_SECRET = b"mockidp-attacker-secret"


class Attacker:
    """Keys that belong to nobody the consumer should trust.

    Their JWKS and certificates are served under ``/_mockidp/attacker/`` so that the request log
    shows whether a consumer fetched a ``jku`` or ``x5u`` URL taken from a token header.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, Key] = {}

    def key(self, alg: str) -> Key:
        from .keys import Key

        with self._lock:
            key = self._keys.get(alg)
            if key is None:
                key = self._keys[alg] = Key.generate(alg)
            return key

    def jwks_bytes(self) -> bytes:
        with self._lock:
            keys = [k.public_jwk for k in self._keys.values()]
        return dumps({"keys": keys})

    def certificate_pem(self, kid: str) -> bytes | None:
        """A self-signed X.509 certificate for the attacker key ``kid`` (RFC 7515 §4.1.5)."""
        with self._lock:
            key = next((k for k in self._keys.values() if k.kid == kid), None)
        pem = None if key is None else key.certificate_pem
        return None if pem is None else pem.encode()


@dataclass
class Draft:
    """A token about to be signed: the fault edits it and produces the compact JWS."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: Key
    keys: KeyRing
    attacker: Attacker
    urls: Callable[[str], str]  # endpoint name -> URL (for jku / x5u)

    def sign(self, key: Key | None = None) -> str:
        key = key or self.key
        return sign_compact(self.header, self.claims, key.algorithm.signer, key.signing_key)

    def signed_parts(self) -> list[str]:
        return self.sign().split(".")

    def use_key(self, key: Key, *, kid: bool = True) -> None:
        self.key = key
        self.header["alg"] = key.alg
        if kid:
            self.header["kid"] = key.kid

    def asymmetric(self, family: str | None = None) -> Key:
        """The draft's key if it is asymmetric (and of ``family``), else the provider's standard
        key for a suitable algorithm, published for this test."""
        if self.key.kty != "oct" and family in (None, self.key.kty):
            return self.key
        alg = "ES256" if family == "EC" else "RS256"
        try:
            return self.keys.ensure_active(alg)
        except KeyStateError:  # that algorithm's keys are all staged or revoked
            return self.keys.include(self.keys.standard(alg, "fault"), publish=True)


Severity = Literal["critical", "high", "hardening"]
#: Severities from the most to the least severe.
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "hardening")


def at_least(severity: Severity, threshold: Severity) -> bool:
    """Whether ``severity`` is ``threshold`` or more severe."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class _Info:
    category: str
    description: str
    reference: str
    check: str
    weakness: str
    build: Callable[[Draft], str] = field(repr=False)
    #: critical: the consumer accepts a forged or unverified token; high: it accepts a genuine
    #: token it must refuse; hardening: defence in depth no spec requires of the verifier.
    severity: Severity = "critical"
    #: Why this severity, in a sentence a reviewer can check against the reference.
    why: str = ""
    #: The severity where the validator expects RFC 9068 access tokens (``typ="at+jwt"``).
    at_jwt_severity: Severity | None = None
    #: Only a validator that expects at+jwt can tell this token apart (no finding otherwise).
    at_jwt_only: bool = False
    #: A resource-exhaustion fault: a validator that crashes on it (stack, memory, a 5xx or a
    #: timeout over HTTP) has the weakness the reference cites, even though it accepted nothing.
    exhausts: bool = False
    #: For faults whose acceptance can be harmless: given what the validator returned and the
    #: severity, the severity that applies (``None``: no weakness) and why.
    judge: Callable[[object, Severity], tuple[Severity | None, str]] | None = None


class CatalogEntry(str):
    """An entry of a fault catalog (tokens here; DPoP proofs, sign-ins). It *is* its name (a
    ``str``), so ``idp.token(fault=f)`` and ``f == "expired"`` work, and it carries the
    entry's facts as attributes: those every catalog has, and the ``_FIELDS`` of its own."""

    description: str
    reference: str
    check: str
    weakness: str
    severity: Severity
    why: str
    #: The facts a catalog's entries have beyond the shared ones.
    _FIELDS: ClassVar[tuple[str, ...]] = ()

    def __new__(cls, name: str, info: object) -> Self:
        self = super().__new__(cls, name)
        for attr in ("description", "reference", "check", "weakness", "severity", "why",
                     *cls._FIELDS):
            object.__setattr__(self, attr, getattr(info, attr))
        return self

    @property
    def name(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {str(self)!r}: {self.description}>"


class Fault(CatalogEntry):
    """A token fault: an entry of :data:`FAULTS`."""

    category: str
    build: Callable[[Draft], str]
    at_jwt_severity: Severity | None
    at_jwt_only: bool
    exhausts: bool
    judge: Callable[[object, Severity], tuple[Severity | None, str]] | None
    _FIELDS = ("category", "build", "at_jwt_severity", "at_jwt_only", "exhausts", "judge")

    def severity_for(self, typ: str | None) -> Severity | None:
        """The severity for a validator that expects tokens of type ``typ``; ``None`` where
        such a validator cannot be expected to tell (``at_jwt_only``)."""
        if self.at_jwt_severity is not None and (typ or "").lower() in AT_JWT:
            return self.at_jwt_severity
        return None if self.at_jwt_only else self.severity


# -- builders -----------------------------------------------------------------------------------


def _claims(**changes: Any) -> Callable[[Draft], str]:
    """A fault that only changes claims (a value of ``None`` removes the claim)."""

    def build(d: Draft) -> str:
        for name, value in changes.items():
            if value is None:
                d.claims.pop(name, None)
            else:
                d.claims[name] = value(d) if callable(value) else value
        return d.sign()

    return build


def _shift_time(seconds: int, *names: str) -> Callable[[Draft], str]:
    def build(d: Draft) -> str:
        for name in names:
            base = d.claims.get(name)
            if isinstance(base, int | float):
                d.claims[name] = int(base) + seconds
        return d.sign()

    return build


def _expired(d: Draft) -> str:
    iat, exp = d.claims.get("iat"), d.claims.get("exp")
    if isinstance(iat, int) and isinstance(exp, int):
        lifetime = max(exp - iat, 60)
        d.claims["exp"] = iat - 60
        d.claims["iat"] = d.claims["exp"] - lifetime
        if "nbf" in d.claims:
            d.claims["nbf"] = d.claims["iat"]
    return d.sign()


def _not_yet_valid(d: Draft) -> str:
    iat, exp = d.claims.get("iat", 0), d.claims.get("exp", 0)
    d.claims["nbf"] = int(iat) + 3600
    d.claims["exp"] = int(exp) + 3600
    return d.sign()


def _wrong_typ(d: Draft) -> str:
    typ = str(d.header.get("typ", "")).lower()
    # RFC 9068 §4: an at+jwt consumer must refuse any other type; a consumer of plain JWTs
    # must still refuse a Security Event Token (RFC 8417) presented as an access token.
    d.header["typ"] = "JWT" if typ in ("at+jwt", "application/at+jwt") else "secevent+jwt"
    return d.sign()


def _bad_signature(d: Draft) -> str:
    head, body, sig = d.signed_parts()
    raw = bytearray(b64url_decode(sig))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{body}.{b64url_encode(bytes(raw)).decode()}"


def _tampered_payload(d: Draft) -> str:
    head, _, sig = d.signed_parts()
    d.claims["sub"] = "admin"
    d.claims["scope"] = "admin"
    return f"{head}.{b64url_encode(dumps(d.claims)).decode()}.{sig}"


def _stripped_signature(d: Draft) -> str:
    head, body, _ = d.signed_parts()
    return f"{head}.{body}."


def _alg_none(spelling: str) -> Callable[[Draft], str]:
    def build(d: Draft) -> str:
        d.header["alg"] = spelling
        return signing_input(d.header, d.claims).decode() + "."

    return build


def _alg_confusion(form: str) -> Callable[[Draft], str]:
    """HS256 keyed with the published public key in one of the encodings a library may turn a
    key into: SubjectPublicKeyInfo PEM, PKCS#1 PEM, OpenSSH, or the JWK's JSON text."""
    def build(d: Draft) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        key = d.asymmetric({"pkcs1": "RSA", "ssh": "EC"}.get(form))
        public = key.public_key
        if form == "jwk":
            secret: bytes = json.dumps(key.public_jwk).encode()
        else:
            encoding, public_format = {
                "pem": (Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
                "pkcs1": (Encoding.PEM, PublicFormat.PKCS1),
                "ssh": (Encoding.OpenSSH, PublicFormat.OpenSSH),
            }[form]
            secret = public.public_bytes(encoding, public_format)
        return _hs256(d, secret, key.kid)

    return build


def _empty_hmac_key(d: Draft) -> str:
    return _hs256(d, b"", d.asymmetric().kid)


def _hs256(d: Draft, secret: bytes, kid: str) -> str:
    """The draft signed HS256 with ``secret`` under ``kid``, by hand: PyJWT refuses to use a
    PEM or an empty string as an HMAC key, which is exactly what these faults need."""
    d.header.update(alg="HS256", kid=kid)
    message = signing_input(d.header, d.claims)
    signature = hmac.new(secret, message, "sha256").digest()
    return f"{message.decode()}.{b64url_encode(signature).decode()}"


def _ec_signature(mangle: Callable[[bytes, Key], bytes]) -> Callable[[Draft], str]:
    def build(d: Draft) -> str:
        d.use_key(d.asymmetric("EC"))
        head, body, sig = d.signed_parts()
        return f"{head}.{body}.{b64url_encode(mangle(b64url_decode(sig), d.key)).decode()}"

    return build


def _psychic(raw: bytes, key: Key) -> bytes:
    return bytes(len(raw))  # r = s = 0 (CVE-2022-21449)


def _der(raw: bytes, key: Key) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    half = len(raw) // 2
    r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    return encode_dss_signature(r, s)


_MISMATCH = {"RS256": "PS256", "RS384": "PS384", "RS512": "PS512", "PS256": "RS256",
             "PS384": "RS384", "PS512": "RS512", "ES256": "ES384", "ES384": "ES256",
             "ES512": "ES256", "ES256K": "ES256", "EdDSA": "Ed448", "Ed25519": "Ed448",
             "Ed448": "Ed25519", "HS256": "HS512", "HS384": "HS256", "HS512": "HS256"}


def _alg_mismatch(d: Draft) -> str:
    from . import jwa

    other = jwa.get(_MISMATCH[d.key.alg])
    d.header["alg"] = other.name
    return sign_compact(d.header, d.claims, other.signer, d.key.signing_key)


def _unknown_kid(d: Draft) -> str:
    d.header["kid"] = f"mockidp-unknown-{secrets.token_hex(8)}"
    return d.sign()


def _sibling(d: Draft) -> Key:
    """Another published key, of the draft's algorithm if there is one; the standard sibling
    key (published for this test) if there is none at all."""
    others = [k for k in d.keys.published() if k.kid != d.key.kid]
    same_alg = [k for k in others if k.alg == d.key.alg]
    if same_alg or others:
        return (same_alg or others)[0]
    return d.keys.include(d.keys.standard(d.key.alg, "sibling"), publish=True)


def _missing_kid(d: Draft) -> str:
    # OIDC Core §10.1 requires a kid only when the JWKS has several keys: make sure it has.
    _sibling(d)
    d.header.pop("kid", None)
    return d.sign()


def _kid_mismatch(d: Draft) -> str:
    d.header["kid"] = _sibling(d).kid
    return d.sign()


def _revoked_key(d: Draft) -> str:
    key = d.keys.include(d.keys.standard(d.key.alg, "revoked"), publish=False)
    d.use_key(key)
    return d.sign()


def _kid_injection(kid: str) -> Callable[[Draft], str]:
    secret = b"" if "dev/null" in kid else INJECTED_SECRET

    def build(d: Draft) -> str:
        return _hs256(d, secret, kid)

    return build


def _attacker_signed(member: str) -> Callable[[Draft], str]:
    def build(d: Draft) -> str:
        key = d.attacker.key(d.asymmetric().alg)
        d.use_key(key)
        if member == "jku":
            d.header["jku"] = d.urls("attacker-jwks")
        elif member == "x5u":
            d.attacker.certificate_pem(key.kid)
            d.header["x5u"] = d.urls("attacker-certificate").replace("{kid}", key.kid)
        else:
            d.header["jwk"] = key.public_jwk
        return d.sign()

    return build


def _unencoded_payload(d: Draft) -> str:
    """RFC 7797's ``b64: false`` (critical), over a payload that is still base64url text: the
    bytes signed are the usual ones, so a verifier that ignores the header accepts the claims,
    and one that honours it reads a payload that is no JSON at all."""
    d.header["b64"] = False
    d.header["crit"] = ["b64"]
    return d.sign()


def _crit_unknown(d: Draft) -> str:
    d.header["crit"] = ["x-mockidp-critical"]
    d.header["x-mockidp-critical"] = True
    return d.sign()


def _malformed(d: Draft) -> str:
    head, body, _ = d.signed_parts()
    return f"{head}.{body}"


def _bad_base64(d: Draft) -> str:
    head, body, sig = d.signed_parts()
    # The standard alphabet with padding: base64, not base64url (RFC 7515 §2).
    standard = base64.b64encode(b64url_decode(sig)).decode()
    if "=" not in standard:
        standard += "=="
    return f"{head}.{body}.{standard}"


def _duplicate_claims(d: Draft) -> str:
    body = dumps(d.claims).decode()
    # RFC 7515 §4 / RFC 7519 §4: parsers must reject duplicate names or take the last one; an
    # earlier "sub" lets first-wins and last-wins parsers disagree about the subject.
    text = '{"sub":"admin",' + body[1:]
    key = d.key
    return sign_compact(d.header, text.encode(), key.algorithm.signer, key.signing_key)


def _judged_by_sub(harmless: str) -> Callable[[object, Severity], tuple[Severity | None, str]]:
    """For tokens that carry a forged ``sub`` (admin) beside the genuine one: accepting them
    is harmless when the validator returned the genuine claims (``harmless`` says why), fatal
    when it returned the forged ones. Without claims returned the audit cannot tell, and keeps
    the entry's severity."""
    def judge(returned: object, severity: Severity) -> tuple[Severity | None, str]:
        if isinstance(returned, Mapping) and "sub" in returned:
            if returned["sub"] == "admin":
                return "critical", "the validator returned the forged sub (admin)"
            return None, harmless
        return severity, ("accepted; return the claims from verify and the audit can tell "
                          "whether the forged sub got through")

    return judge


def _nested(d: Draft) -> str:
    """A claim nested thousands of arrays deep: a recursive JSON parser runs out of stack."""
    depth = 10_000
    body = dumps(d.claims).decode()
    text = body[:-1] + ',"x-mockidp-nested":' + "[" * depth + "]" * depth + "}"
    key = d.key
    return sign_compact(d.header, text.encode(), key.algorithm.signer, key.signing_key)


def _dot_flood(d: Draft) -> str:
    return d.sign() + "." * 1_000_000


def _prefix_of(claim: str) -> Callable[[Draft], str]:
    """The expected value cut in half: a substring check (``in``) takes it for the whole."""
    def build(d: Draft) -> str:
        value = d.claims.get(claim)
        first = value if isinstance(value, str) else (value or [""])[0]
        d.claims[claim] = first[: max(1, len(first) // 2)]
        return d.sign()

    return build


def _id_token_as_access_token(d: Draft) -> str:
    """An ID token of the same issuer and audience (RFC 8725 §2.8): typ JWT, the sign-in's
    nonce, auth_time and azp, no scope or client_id."""
    d.header["typ"] = "JWT"
    for name in ("scope", "scp", "client_id", "cid"):
        d.claims.pop(name, None)
    d.claims.setdefault("nonce", "mockidp-nonce")
    d.claims.setdefault("auth_time", d.claims.get("iat"))
    d.claims.setdefault("azp", "mockidp-client")
    return d.sign()


def _injected_certificate(d: Draft) -> str:
    """Signed by the attacker's key, whose self-signed certificate rides in x5c."""
    import base64 as b64

    from cryptography.hazmat.primitives.serialization import Encoding

    key = d.attacker.key(d.asymmetric().alg)
    d.use_key(key)
    d.header["x5c"] = [b64.b64encode(key.certificate.public_bytes(Encoding.DER)).decode()]
    return d.sign()


_weak: dict[str, Key] = {}


def _weak_key(d: Draft) -> str:
    """Signed by a 1024-bit RSA key published for this test (RFC 7518 §3.3: 2048 or more)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .keys import Key

    with _lock:
        key = _weak.get("RS256")
        if key is None:
            material = rsa.generate_private_key(public_exponent=65537, key_size=1024)
            key = _weak["RS256"] = Key.from_material("RS256", material)
    d.use_key(d.keys.include(key, publish=True))
    return d.sign()


def _curve_mismatch(d: Draft) -> str:
    """ES384 in the header, signed with the published P-256 key over SHA-384."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key = d.asymmetric("EC")
    d.use_key(key)
    d.header["alg"] = "ES384"
    message = signing_input(d.header, d.claims)
    r, s = decode_dss_signature(key.private_key.sign(message, ec.ECDSA(hashes.SHA384())))
    signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")  # ES384's R||S size
    return f"{message.decode()}.{b64url_encode(signature).decode()}"


def _oversized(d: Draft) -> str:
    d.header["x-mockidp-padding"] = "A" * (300 * 1024)
    return d.sign()


def _string_date(claim: str, offset: int) -> Callable[[Draft], str]:
    """``claim`` as a string holding a failing time (``offset`` seconds from iat): a parser that
    coerces it refuses the token, one that skips a date it cannot read accepts it."""
    def build(d: Draft) -> str:
        d.claims[claim] = str(int(d.claims["iat"]) + offset)
        return d.sign()

    return build


def _around(claim: str) -> Callable[[Draft], str]:
    """The expected value inside a longer string: a check written ``expected in value`` takes
    it."""
    def build(d: Draft) -> str:
        value = d.claims.get(claim)
        first = value if isinstance(value, str) else (value or [""])[0]
        d.claims[claim] = f"not-{first}-at-all"
        return d.sign()

    return build


def _polyglot(d: Draft) -> str:
    """The CVE-2022-39227 shape: ``{"  H.P'.":"","protected":"H","payload":"P",
    "signature":"S"}`` where H.P.S is the genuine token and P' the edited claims."""
    head, body, signature = d.signed_parts()
    forged = b64url_encode(dumps({**d.claims, "sub": "admin", "scope": "admin"})).decode()
    return json.dumps({f"  {head}.{forged}.": "", "protected": head, "payload": body,
                       "signature": signature}, separators=(",", ":"))


# -- the catalog --------------------------------------------------------------------------------

_ENTRIES: list[tuple[str, _Info]] = [
    ("expired", _Info(
        "time", "exp is in the past", "RFC 7519 §4.1.4",
        "reject when now >= exp (with at most a small leeway)", "", _expired,
        severity="high",
        why="a genuine token past its exp must be refused (RFC 7519 §4.1.4 MUST)")),
    ("not-yet-valid", _Info(
        "time", "nbf is an hour in the future", "RFC 7519 §4.1.5",
        "reject when now < nbf",
        "accepted by jwskate (never checks nbf), okta-jwt-verifier, and jwcrypto when "
        "check_claims omits nbf", _not_yet_valid,
        severity="high",
        why="a genuine token before its nbf must be refused (RFC 7519 §4.1.5 MUST)")),
    ("issued-in-future", _Info(
        "time", "iat is an hour in the future", "RFC 7519 §4.1.6; OIDC Core §3.1.3.7",
        "reject tokens issued in the future",
        "accepted by jwcrypto, python-jose, okta-jwt-verifier, jwskate",
        _shift_time(3600, "iat"),
        severity="hardening",
        why=("RFC 7519 §4.1.6 sets no rule for iat; OIDC Core §3.1.3.7 lets a client refuse "
             "far-off iat (MAY)"))),
    ("missing-exp", _Info(
        "time", "no exp claim", "OIDC Core §2; RFC 9068 §2.2",
        "require exp",
        "accepted by PyJWT unless options.require lists exp; by python-jose, google-auth",
        _claims(exp=None),
        severity="high",
        why=("the token never expires: OIDC Core §2 and RFC 9068 §2.2 make exp REQUIRED and a "
             "verifier must check it"))),
    ("wrong-issuer", _Info(
        "identity", "iss is another issuer", "RFC 7519 §4.1.1; RFC 8725 §3.8",
        "compare iss with the expected issuer exactly",
        "mozilla-django-oidc and python-keycloak do not check iss by default",
        _claims(iss=EVIL_ISSUER),
        severity="high",
        why=("a genuine token from another issuer must be refused (RFC 8725 §3.8, OIDC Core "
             "§3.1.3.7)"))),
    ("issuer-substring", _Info(
        "identity", "iss is the first half of the expected issuer",
        "RFC 7519 §4.1.1; CVE-2024-53861",
        "compare iss with the expected issuer as whole strings, never with `in`",
        "PyJWT 2.10.0 (CVE-2024-53861) checked `iss in expected`", _prefix_of("iss"),
        severity="high",
        why="a token naming another issuer must be refused; only a substring test takes it")),
    ("iss-array", _Info(
        "identity", "iss is an array holding an attacker issuer and the expected one",
        "RFC 7519 §4.1.1 (iss is a StringOrURI)",
        "require iss to be a string equal to the expected issuer",
        "fast-jwt < 5.0.6 (CVE-2025-30144) and joserfc < 1.7.3 (CVE-2026-75509) took an "
        "array of issuers",
        _claims(iss=lambda d: [EVIL_ISSUER, d.claims.get("iss")]),
        severity="high",
        why="an issuer that is not a string names no single issuer; a membership test takes "
            "a token that also names the attacker")),
    ("wrong-audience", _Info(
        "identity", "aud is another audience", "RFC 7519 §4.1.3; RFC 8725 §3.9",
        "require the expected audience in aud",
        "mozilla-django-oidc and python-keycloak do not check aud by default",
        _claims(aud=EVIL_AUDIENCE),
        severity="high",
        why="a token for another audience must be refused (RFC 7519 §4.1.3 MUST, RFC 8725 §3.9)")),
    ("aud-array", _Info(
        "identity", "aud is an array holding only another audience", "RFC 7519 §4.1.3",
        "require the expected audience among the aud values, whatever their form",
        "jwt-go < 4 (CVE-2020-26160): an aud array failed its type assertion, became empty, "
        "and passed an optional audience check", _claims(aud=[EVIL_AUDIENCE]),
        severity="high",
        why="a token for another audience must be refused (RFC 7519 §4.1.3 MUST)")),
    ("audience-substring", _Info(
        "identity", "aud is the expected audience inside a longer string",
        "RFC 7519 §4.1.3",
        "compare audiences as whole strings (or members of the aud array), never with `in` "
        "on a string",
        "flask-of-oil < 1.2.0 (curityio/flask-of-oil#12) checked `expected in aud`",
        _around("aud"),
        severity="high",
        why="a token for another audience must be refused (RFC 7519 §4.1.3 MUST)")),
    ("missing-aud", _Info(
        "identity", "no aud claim", "RFC 8725 §3.9; RFC 9068 §2.2",
        "require aud", "python-jose skips the check when aud is absent", _claims(aud=None),
        severity="high",
        why=("a token for no one in particular can be replayed anywhere; RFC 9068 §4 and OIDC Core "
             "§3.1.3.7 require the audience check"))),
    ("wrong-typ", _Info(
        "identity", "typ is JWT where at+jwt is expected (secevent+jwt for JWT tokens)",
        "RFC 9068 §4; RFC 8725 §3.11",
        "check the typ header against the token type expected",
        "only Authlib's RFC 9068 validator checks typ", _wrong_typ,
        severity="hardening", at_jwt_severity="high",
        why=("explicit typing is a SHOULD for verifiers (RFC 8725 §3.11); high where the profile "
             "requires it (RFC 9068 §4: at+jwt)"))),
    ("token-type-confusion", _Info(
        "identity", "an ID token (nonce, auth_time, azp; no scope) for the expected audience",
        "RFC 8725 §2.8, §3.11, §3.12; RFC 9068 §4",
        "accept only the token type expected here (at+jwt for RFC 9068 access tokens)",
        "validators that check signature, iss, aud and exp only", _id_token_as_access_token,
        severity="high", at_jwt_severity="high", at_jwt_only=True,
        why="cross-JWT confusion: an RFC 9068 resource server must refuse a token that is not "
            "at+jwt; a validator of plain JWTs cannot tell the two apart, so the audit reports "
            "this only for validators that expect at+jwt")),
    ("bad-signature", _Info(
        "signature", "one bit of the signature flipped", "RFC 7515 §5.2",
        "verify the signature", "", _bad_signature,
        severity="critical",
        why="the signature does not verify: the token is forged")),
    ("tampered-payload", _Info(
        "signature", "payload changed (sub and scope: admin) after signing", "RFC 7515 §5.2",
        "verify the signature over the payload as received",
        "consumers that decode without verifying", _tampered_payload,
        severity="critical",
        why="claims changed after signing: the token is forged")),
    ("json-polyglot", _Info(
        "signature", "a JSON object whose first member name holds the genuine token with edited "
        "claims, and whose members carry the genuine signature", "CVE-2022-39227",
        "parse exactly one serialization: three base64url segments, nothing else",
        "python-jwt < 3.3.4 (CVE-2022-39227) split the JSON on dots and checked the signature "
        "over other bytes", _polyglot, judge=_judged_by_sub(
            "accepted as a JSON serialization whose genuine payload was verified and returned "
            "(RFC 7515 §7.2): no forged claim got through"),
        severity="critical", why="claims no key signed: the token is forged")),
    ("stripped-signature", _Info(
        "signature", "the signature segment is empty", "RFC 7515 §5.2; RFC 8725 §3.1",
        "reject an empty signature", "", _stripped_signature,
        severity="critical",
        why="no signature at all: the token is unverified")),
    ("alg-none", _Info(
        "signature", 'alg "none" and no signature', "RFC 7518 §3.6; RFC 8725 §3.1",
        "never accept unsecured JWS; allow-list algorithms",
        "node jsonwebtoken <= 8.5.1 fell back to none for a falsy key (CVE-2022-23540)",
        _alg_none("none"),
        severity="critical",
        why="an unsecured JWS: anyone can make it")),
    ("alg-none-capitalized", _Info(
        "signature", 'alg "None" and no signature', "RFC 7515 §4.1.1; RFC 7518 §3.6",
        "compare algorithm names case-sensitively against an allow-list", "",
        _alg_none("None"),
        severity="critical",
        why="an unsecured JWS: anyone can make it")),
    ("alg-none-uppercase", _Info(
        "signature", 'alg "NONE" and no signature', "RFC 7515 §4.1.1; RFC 7518 §3.6",
        "compare algorithm names case-sensitively against an allow-list", "",
        _alg_none("NONE"),
        severity="critical",
        why="an unsecured JWS: anyone can make it")),
    ("alg-confusion", _Info(
        "signature", "HS256 keyed with the published public key's PEM (SubjectPublicKeyInfo)",
        "RFC 8725 §2.1, §3.1; CVE-2024-37568",
        "take the algorithm from the key, never from the token header",
        "Authlib < 1.3.1 (CVE-2024-37568); node jsonwebtoken < 4.2.2 (CVE-2015-9235)",
        _alg_confusion("pem"),
        severity="critical",
        why="HMAC keyed with public material: anyone can make it")),
    ("alg-confusion-jwk", _Info(
        "signature", "HS256 keyed with the published public JWK as JSON text",
        "RFC 8725 §2.1, §3.1; CVE-2026-48526",
        "take the algorithm from the key, never from the token header",
        "PyJWT < 2.13.0 (CVE-2026-48526)", _alg_confusion("jwk"),
        severity="critical",
        why="HMAC keyed with public material: anyone can make it")),
    ("alg-confusion-pkcs1", _Info(
        "signature", "HS256 keyed with the published RSA key as PKCS#1 PEM",
        "RFC 8725 §2.1, §3.1; CVE-2017-11424",
        "take the algorithm from the key, never from the token header",
        "PyJWT < 1.5.1 (CVE-2017-11424) and fast-jwt < 3.3.2 (CVE-2023-48223) missed the "
        "PKCS#1 header in their PEM checks", _alg_confusion("pkcs1"),
        severity="critical", why="HMAC keyed with public material: anyone can make it")),
    ("alg-confusion-ssh", _Info(
        "signature", "HS256 keyed with the published EC key in OpenSSH form",
        "RFC 8725 §2.1, §3.1; CVE-2024-33663; CVE-2022-29217",
        "take the algorithm from the key, never from the token header",
        "python-jose < 3.4.0 (CVE-2024-33663) and PyJWT 1.5.0-2.3.x (CVE-2022-29217) blocked "
        "ssh-rsa but not ecdsa-sha2 keys", _alg_confusion("ssh"),
        severity="critical", why="HMAC keyed with public material: anyone can make it")),
    ("hs-empty-key", _Info(
        "signature", "HS256 with an empty secret under the provider's kid",
        "RFC 7518 §3.2; CVE-2026-44699",
        "never verify HMAC with an empty or missing key; allow-list algorithms",
        "LibJWT 3.0.0-3.3.2 (CVE-2026-44699); ruby-jwt < 2.10.3 (CVE-2026-45363), fast-jwt "
        "< 6.2.4 (CVE-2026-44351) and joserfc < 1.6.8 (CVE-2026-49852) when a key lookup "
        "yields an empty key",
        _empty_hmac_key,
        severity="critical", why="an HMAC anyone can compute: the token is forged")),
    ("curve-mismatch", _Info(
        "signature", "ES384 in the header, signed with the published P-256 key over SHA-384",
        "RFC 7518 §3.4 (ES384 is P-384 with SHA-384)",
        "use an EC key only with the algorithm of its curve",
        "go-jose before PR #293 (go-jose/go-jose#267); PyJWT < 2.11.0 did not enforce the "
        "curve",
        _curve_mismatch,
        severity="hardening",
        why="signed by the provider's own key: a spec violation, no forgery")),
    ("psychic-signature", _Info(
        "signature", "ECDSA signature with r = s = 0", "CVE-2022-21449; SEC 1 §4.1.4",
        "reject r or s outside [1, n-1]", "Java 15-18 ECDSA", _ec_signature(_psychic),
        severity="critical",
        why="an ECDSA signature anyone can make")),
    ("der-signature", _Info(
        "encoding", "ECDSA signature DER-encoded instead of R||S", "RFC 7518 §3.4",
        "take the 64/96/132-byte R||S form only",
        "verifiers that hand the signature to a DER API", _ec_signature(_der),
        severity="hardening",
        why="a genuine signature in another encoding: malleable bytes, no forgery")),
    ("alg-mismatch", _Info(
        "signature", "header alg differs from the key's alg (e.g. PS256 with an RS256 key)",
        "RFC 8725 §3.1; RFC 7517 §4.4",
        "use the key only with the algorithm its JWK names",
        "authlib.jose, jwcrypto, python-jose, okta-jwt-verifier ignore the JWK alg",
        _alg_mismatch,
        severity="hardening",
        why=("signed by the provider's own key under another algorithm of its family: no forgery "
             "without a further weakness (RFC 7517 §4.4 alg is OPTIONAL)"))),
    ("string-exp", _Info(
        "claims", "exp is a string holding a time an hour ago", "RFC 7519 §2, §4.1.4",
        "require NumericDate claims to be JSON numbers, and never treat a mistyped one as absent",
        "Rust jsonwebtoken < 10.3.0 (CVE-2026-25537) and Hono < 4.12.18 (CVE-2026-44459) "
        "skipped a date they could not read", _string_date("exp", -3600),
        severity="high",
        why="the token expired an hour ago; only a parser that skips the mistyped date takes "
            "it, and then it accepts an expired token")),
    ("string-nbf", _Info(
        "claims", "nbf is a string holding a time an hour ahead", "RFC 7519 §2, §4.1.5",
        "require NumericDate claims to be JSON numbers, and never treat a mistyped one as absent",
        "Rust jsonwebtoken < 10.3.0 (CVE-2026-25537): a mistyped nbf counted as absent",
        _string_date("nbf", 3600),
        severity="high",
        why="the token is not valid for an hour; only a parser that skips the mistyped date "
            "takes it")),
    ("string-iat", _Info(
        "claims", "iat is a string, not a JSON number", "RFC 7519 §2, §4.1.6",
        "require NumericDate claims to be JSON numbers",
        "Hono < 4.12.18 (CVE-2026-44459) skipped mistyped dates",
        _claims(iat=lambda d: str(d.claims.get("iat"))),
        severity="hardening",
        why="the provider's own signature over a mistyped date; the token is genuine")),
    ("sub-not-string", _Info(
        "claims", "sub is a number, not a string", "RFC 7519 §4.1.2 (sub is a StringOrURI)",
        "require sub to be a string before using it as an identity",
        "joserfc < 1.7.3 (CVE-2026-75509) did not check the claim types",
        _claims(sub=1234567),
        severity="hardening",
        why="the provider's own signature; the danger is in how the application uses sub")),
    ("missing-iat", _Info(
        "claims", "no iat claim", "OIDC Core §2; RFC 9068 §2.2",
        "require iat where the profile does", "most consumers do not require iat",
        _claims(iat=None),
        severity="hardening",
        why="no spec asks the verifier to require iat")),
    ("missing-sub", _Info(
        "claims", "no sub claim", "OIDC Core §2; RFC 9068 §2.2",
        "require sub", "most consumers do not require sub", _claims(sub=None),
        severity="hardening",
        why=("no spec asks a resource server to require sub; OIDC clients get it from the ID token "
             "the provider must fill"))),
    ("unknown-kid", _Info(
        "key-selection", "kid names no published key (signed by the real key)",
        "RFC 7515 §4.1.4; OIDC Core §10.1.1",
        "look the key up by kid; refetch the JWKS at most at a bounded rate",
        "python-jose ignores kid and tries every key", _unknown_kid,
        severity="hardening",
        why=("signed by the provider's own key: a verifier that tries every key accepts a genuine "
             "token"))),
    ("missing-kid", _Info(
        "key-selection", "no kid header while the JWKS has several keys",
        "RFC 7515 §4.1.4; RFC 7517 §4.5 (OIDC Core §10.1 obliges the signer)",
        "pick exactly one key: by kid, or without kid only if exactly one published key fits "
        "the algorithm; never try every key in turn",
        "jwcrypto, jwskate and python-keycloak try every key", _missing_kid,
        severity="hardening",
        why=("OIDC Core §10.1 obliges the signer to send kid; a verifier that then tries the "
             "provider's keys accepts a genuine token"))),
    ("kid-mismatch", _Info(
        "key-selection", "kid of another published key", "RFC 7515 §4.1.4",
        "verify with the key the kid names only", "", _kid_mismatch,
        severity="hardening",
        why=("signed by the provider's own key: a verifier that tries every key accepts a genuine "
             "token"))),
    ("revoked-key", _Info(
        "key-selection", "signed by a key that is not (or no longer) in the JWKS",
        "OIDC Core §10.1.1",
        "refetch the JWKS and drop keys it no longer lists",
        "PyJWKClient caches keys for 300 s; Authlib clients keep them for the process's life",
        _revoked_key,
        severity="high",
        why="a key the provider withdrew must no longer be trusted (OIDC Core §10.1.1)")),
    ("kid-injection", _Info(
        "key-selection", "kid is a path traversal to /dev/null; HS256 with an empty key",
        "RFC 8725 §3.10",
        "treat kid as an opaque lookup key, never as a path or query",
        "applications that read keys from files named by kid", _kid_injection(
            "../../../../../../../../dev/null"),
        severity="critical",
        why="an HMAC key the attacker chose through kid: anyone can make it")),
    ("kid-injection-sql", _Info(
        "key-selection", "kid is an SQL injection that selects a known secret; HS256",
        "RFC 8725 §3.10",
        "treat kid as an opaque lookup key, never as a path or query",
        "applications that look keys up in SQL by kid", _kid_injection(
            "x' UNION SELECT 'mockidp-attacker-secret' -- "),
        severity="critical",
        why="an HMAC key the attacker chose through kid: anyone can make it")),
    ("kid-injection-command", _Info(
        "key-selection", "kid is a shell command substitution (harmless echo); HS256",
        "RFC 8725 §3.10",
        "treat kid as an opaque lookup key, never as a path or query",
        "applications that pass kid to a shell", _kid_injection(
            "$(echo mockidp-kid-injection)`echo mockidp`"),
        severity="critical",
        why="an HMAC key the attacker chose through kid: anyone can make it")),
    ("jku-injection", _Info(
        "key-selection", "jku points to an attacker JWKS; signed by the attacker's key",
        "RFC 7515 §4.1.2; RFC 8725 §3.10",
        "never fetch keys from a URL in the token",
        "applications that pass jku to a key fetcher (PyJWKClient's scheme check, "
        "CVE-2026-48522, only blocks file:, ftp: and data:)", _attacker_signed("jku"),
        severity="critical",
        why="verified with the attacker's keys: anyone can make it")),
    ("x5u-injection", _Info(
        "key-selection", "x5u points to an attacker certificate; signed by the attacker's key",
        "RFC 7515 §4.1.5; RFC 8725 §3.10",
        "never fetch certificates from a URL in the token", "",
        _attacker_signed("x5u"),
        severity="critical",
        why="verified with the attacker's certificate: anyone can make it")),
    ("jwk-injection", _Info(
        "key-selection", "the attacker's public key embedded in the jwk header",
        "RFC 7515 §4.1.3; RFC 8725 §3.10",
        "never verify with a key taken from the token",
        "node-jose CVE-2018-0114; Authlib < 1.6.9 with key=None (CVE-2026-27962)",
        _attacker_signed("jwk"),
        severity="critical",
        why="verified with the attacker's key: anyone can make it")),
    ("x5c-injection", _Info(
        "key-selection", "the attacker's self-signed certificate in the x5c header",
        "RFC 7515 §4.1.6; RFC 8725 §3.10",
        "never verify with a certificate taken from the token without validating its chain "
        "to a trusted root", "verifiers that trust x5c as a key", _injected_certificate,
        severity="critical", why="verified with the attacker's key: anyone can make it")),
    ("weak-key", _Info(
        "key-selection", "signed by a 1024-bit RSA key published in the JWKS",
        "RFC 7518 §3.3 (RSA keys of 2048 bits or more)",
        "refuse RSA keys under 2048 bits", "most verifiers take any size the JWKS publishes",
        _weak_key,
        severity="hardening",
        why="the provider published the weak key; refusing it is defence in depth")),
    ("crit-unknown", _Info(
        "key-selection", "crit names a header parameter nobody understands",
        "RFC 7515 §4.1.11",
        "reject tokens with unknown critical headers",
        "PyJWT < 2.12.0 (CVE-2026-32597); Authlib < 1.6.4 (CVE-2025-59420); python-jose, "
        "jwskate", _crit_unknown,
        severity="high",
        why=("RFC 7515 §4.1.11: a recipient MUST reject a critical extension it does not "
             "understand"))),
    ("b64-false", _Info(
        "encoding", 'the header says b64: false (RFC 7797, marked critical)',
        "RFC 7797 §6, §7; RFC 7515 §4.1.11",
        "refuse b64: false in a JWT (RFC 7797 §7: JWTs must not use it) and any critical "
        "header it does not implement",
        "verifiers that ignore crit (see crit-unknown)", _unencoded_payload,
        severity="high",
        why="RFC 7515 §4.1.11: a recipient MUST reject a critical extension it does not "
            "understand; RFC 7797 §7 keeps b64: false out of JWTs")),
    ("malformed", _Info(
        "encoding", "two segments instead of three", "RFC 7515 §7.1",
        "reject anything but three segments", "", _malformed,
        severity="critical",
        why="no signature segment: the token is unverified")),
    ("bad-base64", _Info(
        "encoding", "signature in standard base64 with padding, not base64url",
        "RFC 7515 §2, Appendix C",
        "decode base64url strictly (no padding, no + or /)",
        "joserfc <= 1.7.1 (CVE-2026-62995); PyJWT took non-canonical signature segments "
        "(CVE-2026-102269)", _bad_base64,
        severity="hardening",
        why="a genuine signature in the padded standard alphabet: malleable bytes, no forgery")),
    ("duplicate-claims", _Info(
        "encoding", 'the payload has "sub" twice ("admin" first)', "RFC 7515 §4; RFC 7519 §4",
        "reject duplicate member names",
        "Python's json keeps the last value; first-wins parsers elsewhere see admin",
        _duplicate_claims, judge=_judged_by_sub(
            "accepted, and the validator kept the last sub, as RFC 7519 §4 allows"),
        severity="hardening",
        why=("RFC 7519 §4 lets a parser keep the last member (the real one); only a first-wins "
             "parser sees the forged sub, which the audit detects when the validator returns the "
             "claims"))),
    ("oversized", _Info(
        "encoding", "a protected header of 300 KiB", "CVE-2025-61920 (no RFC sets a bound)",
        "bound the size of tokens before parsing",
        "Authlib < 1.6.5 (CVE-2025-61920) decoded header and signature of any size; PyJWT "
        "and jwcrypto have no limit", _oversized,
        severity="hardening", exhausts=True,
        why="accepting it is no weakness; a validator that breaks on it is reported: hardening "
            "for a stack overflow or a 5xx, high when it runs out of memory or time")),
    ("dot-flood", _Info(
        "encoding", "a valid token followed by a million dots", "RFC 7515 §7.1; CVE-2025-27144",
        "reject anything but three segments before splitting further",
        "go-jose < 4.0.5 (CVE-2025-27144) and golang-jwt < 5.2.2 (CVE-2025-30204) split such "
        "input at length", _dot_flood,
        severity="hardening", exhausts=True,
        why="accepting it is no weakness; a validator that breaks on it is reported: hardening "
            "for a stack overflow or a 5xx, high when it runs out of memory or time")),
    ("deep-nesting", _Info(
        "encoding", "a claim nested 10,000 arrays deep", "CVE-2025-53864 (no RFC sets a bound)",
        "bound the nesting depth (and size) of what is parsed",
        "Nimbus JOSE+JWT < 9.37.4 (CVE-2025-53864) recursed until its stack overflowed",
        _nested,
        severity="hardening", exhausts=True,
        why="accepting it is no weakness; a validator that breaks on it is reported: hardening "
            "for a stack overflow or a 5xx, high when it runs out of memory or time")),
]

#: Every token fault, by name. Iterating gives :class:`Fault` objects (which are their names).
FAULTS: Mapping[str, Fault] = {f: f for f in (Fault(name, info) for name, info in _ENTRIES)}


def get(name: object) -> Fault:
    try:
        return FAULTS[name]  # type: ignore[index]
    except (KeyError, TypeError):
        raise UnknownFaultError(name, FAULTS) from None


def markdown() -> str:
    """The catalog as the Markdown page ``docs/faults.md`` (``mockidp faults --markdown``),
    grouped by severity."""
    lines = [
        "# Token fault catalog",
        "",
        "<!-- Generated by `mockidp faults --markdown > docs/faults.md`; do not edit. -->",
        "",
        "`idp.token(fault=NAME)` and `idp.id_token(fault=NAME)` return a token that is wrong in",
        "exactly that way and valid in every other. `mockidp.FAULTS` holds the same entries.",
        "",
        "Each entry has a severity: **critical** — a consumer that accepts it accepts a forged or",
        "unverified token; **high** — it accepts a genuine token it must refuse; **hardening** —",
        "defence in depth that no specification requires of the verifier. `assert_safe()` and",
        "`mockidp audit` fail on critical and high by default (`min_severity=` / `--fail-on`).",
        "",
    ]
    lines += severity_sections(FAULTS.values(), [
        ("what is wrong", lambda f: f.description), ("reference", lambda f: f.reference),
        ("a correct consumer", lambda f: f.check), ("why this severity", lambda f: f.why),
        ("known weaknesses", lambda f: f.weakness or "—")])
    return "\n".join(lines)


Entry = TypeVar("Entry", bound="CatalogEntry")
if TYPE_CHECKING:
    #: A column of a catalog table: its heading, and its cell for an entry.
    Column: TypeAlias = tuple[str, Callable[[Entry], str]]


def catalog_table(entries: Iterable[Entry], columns: Sequence[Column[Entry]]) -> list[str]:
    """A Markdown table of catalog ``entries`` (for ``docs/faults.md``): the fault's name,
    then one cell per ``(heading, cell)`` of ``columns``."""
    headings = ["fault", *(heading for heading, _ in columns)]
    return ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings),
            *(f"| `{entry}` | " + " | ".join(cell(entry) for _, cell in columns) + " |"
              for entry in entries)]


def severity_sections(entries: Iterable[Entry], columns: Sequence[Column[Entry]]
                      ) -> list[str]:
    """The ``entries`` as one :func:`catalog_table` per severity, most severe first."""
    entries = list(entries)
    lines: list[str] = []
    for severity in SEVERITIES:
        lines += [f"## {severity}", "",
                  *catalog_table([e for e in entries if e.severity == severity], columns), ""]
    return lines
