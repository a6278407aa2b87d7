"""DPoP (RFC 9449): proofs checked as §4.3 says, key thumbprints (RFC 7638), server nonces
(§8, §9), the holder key a test signs proofs with, and the proof fault catalog.

The provider's endpoints check the proofs they are sent with :func:`check_proof`; a test that
checks proofs itself (a resource server) gets valid ones, or ones wrong in exactly one way, from
a :class:`DPoPKey` (``idp.dpop_key()``): ``key.proof(method, url, access_token=..., fault=...)``.
Nothing here knows HTTP frameworks: the web face hands over the header values, the method and
the URL the proof must name, and turns a :class:`ProofError` into its answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..errors import ConfigurationError, UnknownDPoPFaultError
from . import jwa
from .faults import CatalogEntry, catalog_table
from .flows import ExpiringStore
from .jws import MalformedJWS, b64url_encode, dumps, parse_compact, sign_compact

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .faults import Severity

__all__ = [
    "DPOP_ALGS",
    "DPOP_FAULTS",
    "JKT_FORM",
    "PROOF_MAX_AGE",
    "DPoPFault",
    "DPoPKey",
    "DPoPState",
    "Proof",
    "ProofError",
    "access_token_hash",
    "check_proof",
    "htu_of",
    "parse_proof",
    "thumbprint",
]

#: The proof algorithms served (``dpop_signing_alg_values_supported``): asymmetric only
#: (§4.3 step 5: never ``none`` or a MAC), each one PyJWT verifies.
DPOP_ALGS: tuple[str, ...] = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256",
                              "RS384", "RS512", "EdDSA", "Ed25519")
PROOF_TYP = "dpop+jwt"
#: How old a proof's ``iat`` may be, and how far ahead of the provider's clock (§4.3 step 11,
#: §11.1: "a relatively brief period"; the leeway is for the client's clock).
PROOF_MAX_AGE = 300
PROOF_LEEWAY = 60
#: A DPoP header longer than this is refused before it is parsed (an RSA-4096 proof is ~2 KiB).
PROOF_MAX_BYTES = 8 * 1024
JTI_MAX_CHARS = 256
#: The ``(htu, jti)`` pairs kept against replay, at most (each until its proof is too old).
JTI_LIMIT = 100_000
#: A server nonce is good for this long, then one more period (§8: rotated by the server).
NONCE_PERIOD = 300
#: JWK members that make it a private key (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: RFC 7638 §3.2: the members a thumbprint hashes, by key type.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                       "OKP": ("crv", "kty", "x"), "oct": ("k", "kty")}

#: A SHA-256 JWK thumbprint, base64url (``dpop_jkt``, §10; ``cnf.jkt``, §6.1).
JKT_FORM = re.compile(r"[A-Za-z0-9_-]{43}")

ProofErrorCode = Literal["invalid_dpop_proof", "use_dpop_nonce"]


class ProofError(Exception):
    """A proof refused: ``error`` is ``invalid_dpop_proof`` or ``use_dpop_nonce`` (§7.1,
    §8), ``step`` the §4.3 check that failed."""

    def __init__(self, description: str, step: str,
                 error: ProofErrorCode = "invalid_dpop_proof") -> None:
        super().__init__(f"{error}: {description} (RFC 9449 {step})")
        self.error: ProofErrorCode = error
        self.description = f"{description} (RFC 9449 {step})"
        self.step = step


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a JWK, base64url (``cnf.jkt``, RFC 9449 §6.1).

    Neither PyJWT nor cryptography computes one, and it is four lines: the required members
    (§3.2) in lexicographic order, JSON without whitespace (§3.3), hashed."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise ValueError(f"not a JWK with the members RFC 7638 §3.2 hashes: {sorted(jwk)}")
    text = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(text.encode()).digest()).decode()


def access_token_hash(access_token: str) -> str:
    """``ath`` (§4.2): base64url of the SHA-256 of the access token's ASCII."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii", "replace")).digest()
                         ).decode()


_DEFAULT_PORTS = {"http": 80, "https": 443}


def htu_of(url: str) -> str:
    """``url`` as a proof's ``htu`` is compared (§4.3 step 9): without query and fragment,
    with RFC 3986 §6.2.2 syntax-based normalisation (case of scheme and host, percent-encoding,
    dot segments) and §6.2.3 scheme-based normalisation (default port, empty path)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    segments: list[str] = []
    for segment in parts.path.split("/")[1:]:
        if segment == "..":
            if segments:
                segments.pop()
        elif segment != ".":
            segments.append(quote(unquote(segment), safe="!$&'()*+,;=:@~"))
    path = "/" + "/".join(segments)
    return urlunsplit((scheme, netloc, path, "", ""))


@dataclass(frozen=True)
class Proof:
    """An accepted proof: the thumbprint of its key (``cnf.jkt``), its claims and header."""

    jkt: str
    claims: dict[str, Any]
    header: dict[str, Any]


class DPoPState:
    """What a provider remembers for DPoP: the ``(htu, jti)`` of proofs seen (§11.1: servers
    SHOULD refuse a replay for as long as the proof would be accepted, so each is kept until
    then, at most :data:`JTI_LIMIT`), and the secret its nonces (§8, §9) are made from.

    A nonce is an HMAC of the current period of the provider's clock, so nonces rotate with
    the clock (``idp.clock.advance()`` makes one stale) and nothing is stored per client."""

    def __init__(self) -> None:
        self.seen: ExpiringStore[bool] = ExpiringStore(JTI_LIMIT)
        self._secret = secrets.token_bytes(32)

    def nonce(self, now: float, *, period_offset: int = 0) -> str:
        """The nonce of the period ``now`` falls in (or one ``period_offset`` periods away)."""
        period = math.floor(now / NONCE_PERIOD) + period_offset
        mac = hmac.new(self._secret, str(period).encode(), hashlib.sha256).digest()
        return b64url_encode(mac[:18]).decode()

    def nonce_valid(self, nonce: object, now: float) -> bool:
        """Whether ``nonce`` is this period's or the last one's (a client that fetched one just
        before the rotation is not sent back at once)."""
        return isinstance(nonce, str) and any(
            hmac.compare_digest(nonce.encode(), self.nonce(now, period_offset=o).encode())
            for o in (0, -1))

    def clear(self) -> None:
        self.seen.clear()


def _number(value: object) -> bool:
    """A JSON number that compares with the clock: an int of any size, or a finite float
    (``math.isfinite`` of an int beyond a float's range raises)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def parse_proof(proof: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A proof's header, claims and key thumbprint, once RFC 9449 §4.3 steps 2-7 hold: a JWS
    with the required members, ``typ`` ``dpop+jwt``, an asymmetric ``alg`` served here, a
    public ``jwk`` that verifies the signature. The rest depends on the request
    (:func:`check_proof`). Raises :class:`ProofError` naming the step."""
    if len(proof) > PROOF_MAX_BYTES:
        raise ProofError(f"the proof is over {PROOF_MAX_BYTES} bytes", "§4.3 step 2")
    try:
        header, claims, message, signature = parse_compact(proof)
    except (MalformedJWS, UnicodeError) as exc:
        raise ProofError(f"the proof is not a JWS: {exc}", "§4.3 step 2") from None
    for name in ("typ", "alg", "jwk"):
        if name not in header:
            raise ProofError(f"the proof's header has no {name}", "§4.3 step 3")
    for name in ("jti", "htm", "htu", "iat"):
        if name not in claims:
            raise ProofError(f"the proof has no {name} claim", "§4.3 step 3")
    if header["typ"] != PROOF_TYP:
        raise ProofError(f"typ is {header['typ']!r}, not {PROOF_TYP!r}", "§4.3 step 4")
    alg = header["alg"]
    if alg not in DPOP_ALGS:
        raise ProofError(f"alg {alg!r} is not an asymmetric algorithm served here; use one of "
                         f"{', '.join(DPOP_ALGS)}", "§4.3 step 5")
    jwk = header["jwk"]
    if not isinstance(jwk, dict):
        raise ProofError("jwk is not a JSON object", "§4.3 step 3")
    private = sorted(PRIVATE_MEMBERS & set(jwk))
    if private:
        raise ProofError(f"jwk holds private key members ({', '.join(private)})", "§4.3 step 7")
    algorithm = jwa.get(alg)
    if jwk.get("kty") != algorithm.kty or (algorithm.curves
                                          and jwk.get("crv") not in algorithm.curves):
        raise ProofError(f"jwk is no {alg} key (kty {jwk.get('kty')!r}, crv "
                         f"{jwk.get('crv')!r})", "§4.3 step 6")
    try:
        public_key = algorithm.signer.from_jwk(jwk)
        valid = algorithm.signer.verify(message, public_key, signature)
        key_thumbprint = thumbprint(jwk)
    except Exception:  # any unusable key is the sender's error
        valid = False
    if not valid:
        raise ProofError("the signature does not verify with the proof's jwk", "§4.3 step 6")
    return header, claims, key_thumbprint


def check_proof(
    values: list[str],
    *,
    method: str,
    url: str,
    now: float,
    state: DPoPState,
    access_token: str | None = None,
    jkt: str | None = None,
    nonce_required: bool = False,
) -> Proof:
    """The proof among ``values`` (the request's ``DPoP`` header fields) checked as RFC 9449
    §4.3 lists, for a request of ``method`` to ``url``; with ``access_token`` also ``ath`` and
    the key binding (step 12, §7.1) against ``jkt``, the token's ``cnf.jkt``. With
    ``nonce_required`` the proof must carry this provider's current nonce (step 10; §8
    ``use_dpop_nonce``). Raises :class:`ProofError` naming the step.

    Repeated fields may arrive combined into one, comma-separated (RFC 9110 §5.3): a compact
    JWS holds no comma, so each part counts as one proof."""
    values = [part for value in values for part in value.split(",")]
    if len(values) != 1:
        raise ProofError(f"send exactly one DPoP header, not {len(values)}", "§4.3 step 1")
    proof = values[0].strip()
    header, claims, key_thumbprint = parse_proof(proof)
    if not isinstance(claims["htm"], str) or claims["htm"] != method.upper():
        raise ProofError(f"htm {claims['htm']!r} is not this request's method {method}",
                         "§4.3 step 8")
    try:
        same_uri = isinstance(claims["htu"], str) and htu_of(claims["htu"]) == htu_of(url)
    except ValueError:  # not a URI urlsplit can read, such as "http://[::1"
        same_uri = False
    if not same_uri:
        raise ProofError(f"htu {claims['htu']!r} is not this request's URI {htu_of(url)}",
                         "§4.3 step 9")
    if nonce_required and not state.nonce_valid(claims.get("nonce"), now):
        given = "no nonce" if "nonce" not in claims else "a stale nonce"
        raise ProofError(f"the proof has {given}: use the nonce in the DPoP-Nonce header",
                         "§4.3 step 10, §8", "use_dpop_nonce")
    iat = claims["iat"]
    if not _number(iat) or not now - PROOF_MAX_AGE <= iat <= now + PROOF_LEEWAY:
        raise ProofError(f"iat {iat!r} is not within {PROOF_MAX_AGE} s before and "
                         f"{PROOF_LEEWAY} s after the server's time {int(now)}", "§4.3 step 11")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > JTI_MAX_CHARS:
        raise ProofError(f"jti must be a string of 1 to {JTI_MAX_CHARS} characters",
                         "§4.3 step 3")
    if access_token is not None:
        ath = claims.get("ath")
        if ath is None:
            raise ProofError("the proof has no ath, which a proof with an access token must "
                             "carry", "§4.3 step 12")
        if not isinstance(ath, str) or not hmac.compare_digest(
                ath.encode(), access_token_hash(access_token).encode()):
            raise ProofError("ath is not the hash of the access token", "§4.3 step 12")
        if jkt is None or not hmac.compare_digest(jkt.encode(), key_thumbprint.encode()):
            raise ProofError("the proof's key is not the key the access token is bound to "
                             "(cnf.jkt)", "§4.3 step 12, §7.1")
    if not state.seen.add_new(f"{htu_of(url)} {jti}", True, now + PROOF_MAX_AGE + PROOF_LEEWAY,
                              now):
        raise ProofError("this proof's jti was seen before: make a new proof for each request",
                         "§11.1")
    return Proof(key_thumbprint, claims, header)


# -- the holder's key and its proofs ------------------------------------------------------------


@dataclass(frozen=True)
class _ProofDraft:
    """A proof about to be signed, for a fault to change."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: DPoPKey


class DPoPKey:
    """A DPoP holder's key pair (RFC 9449 §2), for a test that plays the client: proofs,
    the public ``jwk`` and its thumbprint ``jkt`` (what ``cnf.jkt`` of a bound token names).

    ``idp.dpop_key(alg)`` makes one whose proofs take ``iat`` from the provider's clock."""

    def __init__(self, alg: str = "ES256", *, clock: Callable[[], float] | None = None) -> None:
        if alg not in DPOP_ALGS:
            raise ConfigurationError(f"a DPoP key signs with an asymmetric algorithm (RFC 9449 "
                                     f"§4.3 step 5); use one of {', '.join(DPOP_ALGS)}, not "
                                     f"{alg!r}")
        algorithm = jwa.get(alg)
        #: The proof ``alg``.
        self.alg = alg
        self._algorithm = algorithm
        self._private = algorithm.generate()
        self._clock = clock or time.time
        jwk: dict[str, Any] = json.loads(algorithm.signer.to_jwk(self._private.public_key()))
        #: The public key, as a proof's header carries it (no private members, §4.2).
        self.jwk: dict[str, Any] = {k: v for k, v in jwk.items()
                                    if k in _THUMBPRINT_MEMBERS[algorithm.kty]}
        #: Its RFC 7638 thumbprint: the ``cnf.jkt`` of tokens bound to this key (§6.1).
        self.jkt = thumbprint(self.jwk)

    def proof(self, method: str, url: str, access_token: str | None = None,
              nonce: str | None = None, fault: str | None = None) -> str:
        """A DPoP proof (§4.2) for a ``method`` request to ``url`` (query and fragment are
        left out of ``htu``), with ``ath`` for ``access_token`` and the server's ``nonce``.
        ``fault`` names a proof fault of :data:`DPOP_FAULTS`: the proof is then wrong in
        exactly that way and right in every other."""
        for name, value in (("method", method), ("url", url)):
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}")
        entry = _fault(fault) if fault is not None else None
        if entry is not None and entry.build is None:
            raise ConfigurationError(f"{fault!r} is a fault of the request, not of the proof "
                                     "(send it as such: mockidp.audit(..., dpop=True) does)")
        header = {"typ": PROOF_TYP, "alg": self.alg, "jwk": dict(self.jwk)}
        claims: dict[str, Any] = {"jti": b64url_encode(os.urandom(16)).decode(),
                                  "htm": method.upper(), "htu": htu_of(url),
                                  "iat": int(self._clock())}
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        draft = _ProofDraft(header, claims, self)
        if entry is not None and entry.build is not None:
            return entry.build(draft)
        return self._sign(draft)

    def _sign(self, draft: _ProofDraft) -> str:
        return sign_compact(draft.header, draft.claims, self._algorithm.signer, self._private)

    def private_jwk(self) -> dict[str, Any]:
        """The key with its private members, as a JWK (for a client library to sign with)."""
        jwk: dict[str, Any] = json.loads(self._algorithm.signer.to_jwk(self._private))
        return jwk

    def __repr__(self) -> str:
        return f"<DPoPKey {self.alg} jkt={self.jkt}>"


# -- the proof fault catalog --------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    description: str
    reference: str
    check: str
    severity: Severity
    why: str
    build: Callable[[_ProofDraft], str] | None = None
    weakness: str = ""
    #: A correct verifier accepts this request (the audit reports it "broken" if refused).
    must_accept: bool = False
    #: Only a service that demands nonces can be asked to refuse it.
    needs_nonce: bool = False
    #: Only distinct over HTTP (a verify function is given one proof and no scheme).
    http_only: bool = False


class DPoPFault(CatalogEntry):
    """A proof fault: an entry of :data:`DPOP_FAULTS`, in the shape of
    :class:`~mockidp.Fault` (description, reference, check, weakness, severity, why)."""

    build: Callable[[_ProofDraft], str] | None
    must_accept: bool
    needs_nonce: bool
    http_only: bool
    _FIELDS = ("build", "must_accept", "needs_nonce", "http_only")

    @property
    def of_proof(self) -> bool:
        """Whether ``key.proof(fault=...)`` makes it (else it is a fault of the request)."""
        return self.build is not None


def _edit(**changes: Any) -> Callable[[_ProofDraft], str]:
    """A fault that changes header members (``h_`` prefix) or claims; ``None`` removes one,
    a function computes the value from the draft."""
    def build(d: _ProofDraft) -> str:
        for name, value in changes.items():
            target = d.header if name.startswith("h_") else d.claims
            member = name.removeprefix("h_")
            if value is None:
                target.pop(member, None)
            else:
                target[member] = value(d) if callable(value) else value
        return d.key._sign(d)
    return build


def _alg_none(d: _ProofDraft) -> str:
    d.header["alg"] = "none"
    return (b64url_encode(dumps(d.header)) + b"." + b64url_encode(dumps(d.claims)) + b".").decode()


def _symmetric(d: _ProofDraft) -> str:
    """HS256 under an ``oct`` jwk that carries its own secret: anyone can make this proof."""
    secret = os.urandom(32)
    d.header.update(alg="HS256", jwk={"kty": "oct", "k": b64url_encode(secret).decode()})
    return sign_compact(d.header, d.claims, jwa.get("HS256").signer, secret)


def _bad_signature(d: _ProofDraft) -> str:
    """One base64url character of the signature replaced by another (the middle one, never
    the last, whose spare bits a decoder may ignore): still well-formed, no longer valid."""
    head, body, signature = d.key._sign(d).split(".")
    middle = len(signature) // 2
    other = "A" if signature[middle] != "A" else "B"
    return f"{head}.{body}.{signature[:middle]}{other}{signature[middle + 1:]}"


def _private_jwk(d: _ProofDraft) -> str:
    d.header["jwk"] = d.key.private_jwk()
    return d.key._sign(d)


def _htu(change: Callable[[str], str]) -> Callable[[_ProofDraft], str]:
    return _edit(htu=lambda d: change(d.claims["htu"]))


def _other_path(htu: str) -> str:
    parts = urlsplit(htu)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/other"))


def _other_host(htu: str) -> str:
    parts = urlsplit(htu)
    return urlunsplit(parts._replace(netloc="attacker.invalid"))


def _other_scheme(htu: str) -> str:
    parts = urlsplit(htu)
    return urlunsplit(parts._replace(scheme="https" if parts.scheme == "http" else "http"))


def _other_key(d: _ProofDraft) -> str:
    """Signed, with its own jwk, by a key the token is not bound to: what an attacker holding
    a stolen token sends."""
    other = DPoPKey(d.key.alg if d.key.alg.startswith("E") else "ES256", clock=d.key._clock)
    d.header.update(alg=other.alg, jwk=dict(other.jwk))
    return other._sign(_ProofDraft(d.header, d.claims, other))


def _stale_nonce(d: _ProofDraft) -> str:
    d.claims["nonce"] = "stale-" + b64url_encode(os.urandom(12)).decode()
    return d.key._sign(d)


_ENTRIES: list[tuple[str, _Entry]] = [
    ("missing-proof", _Entry(
        "a DPoP-bound access token sent with Authorization: DPoP and no DPoP header",
        "RFC 9449 §7.1", "require a proof with every DPoP-bound token", "critical",
        "a token used without a proof is a bearer token again: whoever stole it can use it")),
    ("bearer-downgrade", _Entry(
        "a DPoP-bound access token (cnf.jkt) sent as Authorization: Bearer, no proof",
        "RFC 9449 §7.1, §7.2", "refuse a token with cnf.jkt in the Bearer scheme", "critical",
        "the binding is ignored: a stolen bound token works as a bearer token",
        http_only=True)),
    ("two-proofs", _Entry(
        "two DPoP headers, each a valid proof", "RFC 9449 §4.3 step 1",
        "refuse a request with more than one DPoP header", "hardening",
        "step 1 is a MUST, but a verifier that checks the one proof it reads smuggles nothing "
        "in; the rule guards against two components reading different proofs",
        http_only=True)),
    ("wrong-typ", _Entry(
        "typ is JWT, not dpop+jwt", "RFC 9449 §4.3 step 4", "require typ dpop+jwt", "high",
        "another JWT signed by the holder (an assertion, a token) passes as a proof "
        "(RFC 8725 §3.11 explicit typing)", _edit(h_typ="JWT"))),
    ("alg-none", _Entry(
        "alg none and no signature", "RFC 9449 §4.3 step 5; RFC 8725 §3.1",
        "accept only the asymmetric algorithms you list; never none", "critical",
        "anyone can make the proof: it names the holder's public key and proves nothing",
        _alg_none)),
    ("symmetric-alg", _Entry(
        "HS256 under an oct jwk that carries the MAC secret", "RFC 9449 §4.3 step 5",
        "accept only asymmetric algorithms", "critical",
        "the key in the header is the secret itself: the proof proves possession of nothing",
        _symmetric)),
    ("bad-signature", _Entry(
        "the proof's signature is altered", "RFC 9449 §4.3 step 6",
        "verify the signature with the jwk in the proof's header", "critical",
        "an unverified proof is a forgery anyone can write", _bad_signature)),
    ("private-jwk", _Entry(
        "the jwk in the header includes the private key (d)", "RFC 9449 §4.3 step 7",
        "refuse a jwk with private members", "high",
        "the key is published with every request; whoever sees one proof can make the next",
        _private_jwk)),
    ("htm-mismatch", _Entry(
        "htm names another method than the request's", "RFC 9449 §4.3 step 8",
        "compare htm with the request method", "high",
        "a proof made for one request is accepted for another", _edit(htm="DELETE"))),
    ("htu-mismatch", _Entry(
        "htu names another path of the same server", "RFC 9449 §4.3 step 9",
        "compare htu (normalised, without query and fragment) with the request URI", "high",
        "a proof made for one resource is accepted at another", _htu(_other_path))),
    ("htu-other-host", _Entry(
        "htu names another host", "RFC 9449 §4.3 step 9",
        "compare htu's host with the URI the service is reached at", "high",
        "a proof made for another server (which may be the attacker's) is accepted here",
        _htu(_other_host))),
    ("htu-other-scheme", _Entry(
        "htu names the other scheme (http for https, or the reverse)", "RFC 9449 §4.3 step 9",
        "compare htu's scheme too", "high",
        "a proof sent in the clear over http is accepted over https", _htu(_other_scheme))),
    ("htu-query", _Entry(
        "the request URI has a query; htu, as §4.2 says, leaves it out", "RFC 9449 §4.2, §4.3 "
        "step 9", "compare htu without the request's query and fragment", "high",
        "a verifier that compares the query refuses every valid proof for a URI with one",
        must_accept=True)),
    ("iat-stale", _Entry(
        "iat is an hour in the past", "RFC 9449 §4.3 step 11, §11.1",
        "accept proofs only for a brief time after iat", "high",
        "a proof captured an hour ago is replayed",
        _edit(iat=lambda d: d.claims["iat"] - 3600))),
    ("iat-future", _Entry(
        "iat is an hour in the future", "RFC 9449 §4.3 step 11, §11.2",
        "refuse proofs made for the future (beyond a small leeway)", "high",
        "proofs made in advance by an attacker with brief access to the key stay usable",
        _edit(iat=lambda d: d.claims["iat"] + 3600))),
    ("missing-jti", _Entry(
        "no jti claim", "RFC 9449 §4.2, §4.3 step 3", "require jti", "high",
        "without jti a replayed proof cannot be told from a new one", _edit(jti=None))),
    ("missing-htm", _Entry(
        "no htm claim", "RFC 9449 §4.2, §4.3 steps 3 and 8", "require htm", "high",
        "a verifier that compares htm only when present takes the proof for any method",
        _edit(htm=None))),
    ("missing-htu", _Entry(
        "no htu claim", "RFC 9449 §4.2, §4.3 steps 3 and 9", "require htu", "high",
        "a verifier that compares htu only when present takes the proof at any URI",
        _edit(htu=None))),
    ("missing-iat", _Entry(
        "no iat claim", "RFC 9449 §4.2, §4.3 steps 3 and 11", "require iat", "high",
        "a proof without a time never grows too old to replay", _edit(iat=None))),
    ("jti-replay", _Entry(
        "a valid proof sent a second time", "RFC 9449 §11.1",
        "remember each jti (per target URI) while its proof is accepted; refuse a repeat",
        "hardening",
        "§11.1 says SHOULD: the short iat window already limits a replay")),
    ("missing-ath", _Entry(
        "the proof sent with the access token has no ath", "RFC 9449 §4.2, §4.3 step 12, §7",
        "require ath with an access token", "high",
        "a proof of the same key made for another token (or for the token endpoint) is "
        "accepted with this one", _edit(ath=None))),
    ("ath-mismatch", _Entry(
        "ath is the hash of another access token", "RFC 9449 §4.3 step 12",
        "compare ath with the SHA-256 of the token sent", "high",
        "a proof made for another token is accepted with this one",
        _edit(ath=lambda d: access_token_hash("another access token")))),
    ("key-not-bound", _Entry(
        "a valid proof signed by another key than the token's cnf.jkt", "RFC 9449 §4.3 "
        "step 12, §6.1, §7.1", "compare the proof key's RFC 7638 thumbprint with cnf.jkt",
        "critical", "whoever stole the token signs proofs with a key of their own",
        _other_key)),
    ("nonce-missing", _Entry(
        "no nonce, where the service demands one", "RFC 9449 §4.3 step 10, §9",
        "refuse (use_dpop_nonce) a proof without the nonce you gave", "high",
        "proofs made in advance, before the service's nonce, are accepted",
        _edit(nonce=None), needs_nonce=True)),
    ("nonce-stale", _Entry(
        "a nonce the service never gave (or no longer takes)", "RFC 9449 §4.3 step 10, §9",
        "compare the nonce with those you currently accept", "high",
        "the nonce checks nothing if any value passes", _stale_nonce, needs_nonce=True)),
]

#: Every DPoP proof fault, by name, in the shape of :data:`mockidp.FAULTS`.
DPOP_FAULTS: Mapping[str, DPoPFault] = {f: f for f in (DPoPFault(n, e) for n, e in _ENTRIES)}


def markdown() -> str:
    """The DPoP catalog as the second part of ``docs/faults.md``."""
    lines = [
        "# DPoP proof fault catalog",
        "",
        "`key.proof(method, url, access_token=..., fault=NAME)` (a key of `idp.dpop_key()`)",
        "returns a proof wrong in exactly that way; the faults of the request (no proof, the",
        "token as Bearer, two proofs, a replay, a query in the URI) are sent by",
        "`mockidp.audit(verify, idp, dpop=True)` and `mockidp audit --dpop`.",
        "`mockidp.DPOP_FAULTS` holds the same entries, with the severities of the token catalog.",
        "",
        *catalog_table(DPOP_FAULTS.values(), [
            ("severity", lambda f: "must be accepted" if f.must_accept else f.severity),
            ("what is wrong", lambda f: f.description), ("reference", lambda f: f.reference),
            ("a correct resource server", lambda f: f.check),
            ("why this severity", lambda f: f.why)]),
        "",
    ]
    return "\n".join(lines)


def _fault(name: object) -> DPoPFault:
    try:
        return DPOP_FAULTS[name]  # type: ignore[index]
    except (KeyError, TypeError):
        raise UnknownDPoPFaultError(name, DPOP_FAULTS) from None
