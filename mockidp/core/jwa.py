"""The JWS algorithm table (RFC 7518 §3, RFC 8037, RFC 8812, RFC 9864).

One row per algorithm name: which key family it uses, how to make a key for it, which hash it
signs with (for ``at_hash`` / ``c_hash``) and which PyJWT algorithm object signs with it. PyJWT
knows no fully-specified ``Ed25519`` / ``Ed448`` names, but its EdDSA signer works for either
curve, so those rows reuse it under the RFC 9864 name.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigurationError, UnknownAlgorithmError
from .rsapool import RSA_POOL

if TYPE_CHECKING:
    from collections.abc import Callable

    from jwt.algorithms import Algorithm as PyJWTAlgorithm

__all__ = ["ALGORITHMS", "Algorithm", "KeyType", "get"]

KeyType = Literal["RSA", "EC", "OKP", "oct"]

RSA_DEFAULT_BITS = 2048
RSA_MIN_BITS = 1024
#: The largest RSA key made on request. An 8192-bit key takes seconds to find and a 16384-bit
#: one minutes, pinning a core past SIGTERM; no provider signs with more than 4096 bits.
RSA_MAX_BITS = 8192
#: The largest HS* secret made on request: 8 KiB. HMAC hashes a longer key down to the hash
#: size first (RFC 2104 §3), so a larger one proves nothing and only costs memory.
HMAC_MAX_BITS = 8 * 1024 * 8


@dataclass(frozen=True)
class Algorithm:
    """One JWA signing algorithm and the key family it needs."""

    name: str
    kty: KeyType
    hash_name: str
    #: For EC: the one curve the algorithm allows. For OKP: the allowed curves, first is default.
    curves: tuple[str, ...] = ()
    #: The PyJWT algorithm registered under this name (``EdDSA`` for the RFC 9864 names).
    pyjwt_name: str = ""
    description: str = ""

    @property
    def asymmetric(self) -> bool:
        return self.kty != "oct"

    @property
    def signer(self) -> PyJWTAlgorithm:
        """PyJWT's algorithm object: ``sign``, ``verify`` and ``to_jwk`` for this name."""
        return _pyjwt_algorithms()[self.pyjwt_name or self.name]

    def half_hash(self, data: bytes, crv: str | None = None) -> bytes:
        """The left half of the hash of ``data`` (OIDC Core §3.1.3.6 ``at_hash`` / ``c_hash``).

        EdDSA has no hash in its name: OIDC Core (errata set 2) names SHA-512 for Ed25519 and
        SHAKE256 with a 114-byte output for Ed448, so the key's curve decides.
        """
        if crv == "Ed448":
            return hashlib.shake_256(data).digest(114)[:57]
        digest = hashlib.new(self.hash_name, data).digest()
        return digest[: len(digest) // 2]

    def generate(self, *, size: int | None = None, crv: str | None = None) -> Any:
        """A fresh private key (or, for HS*, a random secret) that this algorithm can sign with."""
        if self.kty == "RSA":
            if crv is not None:
                raise ConfigurationError(f"{self.name} keys have no curve; drop crv={crv!r}")
            bits = RSA_DEFAULT_BITS if size is None else size
            if (isinstance(bits, bool) or not isinstance(bits, int)
                    or not RSA_MIN_BITS <= bits <= RSA_MAX_BITS):
                raise ConfigurationError(
                    f"RSA key size {size!r} is not usable; give an int of at least "
                    f"{RSA_MIN_BITS} and at most {RSA_MAX_BITS} bits (default "
                    f"{RSA_DEFAULT_BITS}; the limit keeps key generation to seconds)"
                )
            return RSA_POOL.take(bits)
        if size is not None and self.kty != "oct":
            raise ConfigurationError(
                f"{self.name} keys have a fixed size set by their curve; drop size={size!r}"
            )
        if self.kty == "oct":
            if crv is not None:
                raise ConfigurationError(f"{self.name} keys have no curve; drop crv={crv!r}")
            # RFC 7518 §3.2: a key of at least the hash size.
            nbytes = hashlib.new(self.hash_name).digest_size
            if size is not None:
                if (isinstance(size, bool) or not isinstance(size, int)
                        or not nbytes * 8 <= size <= HMAC_MAX_BITS):
                    raise ConfigurationError(
                        f"{self.name} secret size {size!r} is not usable; give at least "
                        f"{nbytes * 8} bits (RFC 7518 §3.2) and at most {HMAC_MAX_BITS} bits "
                        "(8 KiB)"
                    )
                nbytes = (size + 7) // 8
            return os.urandom(nbytes)
        curve = self._curve(crv)
        return _CURVE_GENERATORS[curve]()

    def _curve(self, crv: str | None) -> str:
        if crv is None:
            return self.curves[0]
        if crv not in self.curves:
            raise ConfigurationError(
                f"{self.name} cannot use curve {crv!r}; use one of: {', '.join(self.curves)}"
            )
        return crv


def _ec(curve_name: str) -> Callable[[], Any]:
    def generate() -> Any:
        from cryptography.hazmat.primitives.asymmetric import ec

        return ec.generate_private_key(getattr(ec, curve_name)())

    return generate


def _ed25519() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate()


def _ed448() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ed448

    return ed448.Ed448PrivateKey.generate()


_CURVE_GENERATORS: dict[str, Callable[[], Any]] = {
    "P-256": _ec("SECP256R1"),
    "P-384": _ec("SECP384R1"),
    "P-521": _ec("SECP521R1"),
    "secp256k1": _ec("SECP256K1"),
    "Ed25519": _ed25519,
    "Ed448": _ed448,
}


@cache
def _pyjwt_algorithms() -> dict[str, PyJWTAlgorithm]:
    from jwt.algorithms import get_default_algorithms

    return get_default_algorithms()


def _table() -> dict[str, Algorithm]:
    rows = [
        Algorithm("RS256", "RSA", "sha256", description="RSASSA-PKCS1-v1_5 with SHA-256"),
        Algorithm("RS384", "RSA", "sha384", description="RSASSA-PKCS1-v1_5 with SHA-384"),
        Algorithm("RS512", "RSA", "sha512", description="RSASSA-PKCS1-v1_5 with SHA-512"),
        Algorithm("PS256", "RSA", "sha256", description="RSASSA-PSS with SHA-256"),
        Algorithm("PS384", "RSA", "sha384", description="RSASSA-PSS with SHA-384"),
        Algorithm("PS512", "RSA", "sha512", description="RSASSA-PSS with SHA-512"),
        Algorithm("ES256", "EC", "sha256", ("P-256",), description="ECDSA P-256 with SHA-256"),
        Algorithm("ES384", "EC", "sha384", ("P-384",), description="ECDSA P-384 with SHA-384"),
        Algorithm("ES512", "EC", "sha512", ("P-521",), description="ECDSA P-521 with SHA-512"),
        Algorithm(
            "ES256K", "EC", "sha256", ("secp256k1",),
            description="ECDSA secp256k1 with SHA-256 (RFC 8812)",
        ),
        Algorithm(
            "EdDSA", "OKP", "sha512", ("Ed25519", "Ed448"),
            description="EdDSA, Ed25519 or Ed448 (RFC 8037)",
        ),
        Algorithm(
            "Ed25519", "OKP", "sha512", ("Ed25519",), pyjwt_name="EdDSA",
            description="EdDSA on Ed25519, fully specified (RFC 9864)",
        ),
        Algorithm(
            "Ed448", "OKP", "sha512", ("Ed448",), pyjwt_name="EdDSA",
            description="EdDSA on Ed448, fully specified (RFC 9864)",
        ),
        Algorithm("HS256", "oct", "sha256", description="HMAC with SHA-256"),
        Algorithm("HS384", "oct", "sha384", description="HMAC with SHA-384"),
        Algorithm("HS512", "oct", "sha512", description="HMAC with SHA-512"),
    ]
    return {row.name: row for row in rows}


#: Every algorithm mockidp can make keys for and sign with, by JWS ``alg`` name.
ALGORITHMS: dict[str, Algorithm] = _table()


def get(name: object) -> Algorithm:
    """The table row for ``name``, or :class:`UnknownAlgorithmError` naming the choices."""
    try:
        return ALGORITHMS[name]  # type: ignore[index]
    except (KeyError, TypeError):
        raise UnknownAlgorithmError(name, ALGORITHMS) from None
