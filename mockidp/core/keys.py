"""Signing keys and the key ring a provider publishes as its JWKS (RFC 7517).

A :class:`Key` is immutable key material plus its public JWK. The :class:`KeyRing` holds every key
the provider ever had and their life-cycle state, the way real providers stage a rotation:

    next (published, not yet signing) -> active (signing) -> previous (published) -> revoked

The JWKS document is rebuilt once per change and served as ready bytes. The ring's whole state is
a handful of small dicts, so a snapshot taken after start-up restores in microseconds and no key
is generated twice: the provider's standard key for each algorithm is kept across restores.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ..errors import (
    ConfigurationError,
    KeyExistsError,
    KeyStateError,
    UnknownCorruptionError,
    UnknownKeyError,
)
from . import jwa
from .actions import action
from .jws import b64url_decode, b64url_encode

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = ["CORRUPTIONS", "Corruption", "Key", "KeyChange", "KeyRing", "KeyState"]

_NOT_BEFORE = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)

KeyState = Literal["next", "active", "previous", "revoked"]

# RFC 7638 §3.2: the required members, in lexicographic order, that a thumbprint hashes.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
                       "OKP": ("crv", "kty", "x"), "oct": ("k", "kty")}


def _compact(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 JWK thumbprint, base64url-encoded."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest()).decode("ascii")


@dataclass(frozen=True, eq=False, repr=False)
class Key:
    """One signing key: algorithm, kid, the cryptography key objects and the public JWK.

    For HS* keys there is no public half: ``private_key`` and ``public_key`` are ``None``, the
    shared secret is ``secret`` and ``public_jwk`` is ``None`` (symmetric keys are never published).
    """

    kid: str
    alg: str
    private_key: Any
    secret: bytes | None
    crv: str | None
    _jwk: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def generate(
        cls, alg: str, kid: str | None = None, *, size: int | None = None, crv: str | None = None
    ) -> Key:
        row = jwa.get(alg)
        return cls.from_material(row.name, row.generate(size=size, crv=crv), kid=kid)

    @classmethod
    def from_material(cls, alg: str, material: Any, kid: str | None = None) -> Key:
        """Wrap an existing cryptography private key (or, for HS*, secret bytes)."""
        row = jwa.get(alg)
        if kid is not None and (not isinstance(kid, str) or not kid):
            raise ConfigurationError(f"kid must be a non-empty string, not {kid!r}")
        if row.kty == "oct":
            if not isinstance(material, bytes):
                raise ConfigurationError(
                    f"{alg} needs the shared secret as bytes, not {type(material).__name__}"
                )
            kid = kid or thumbprint({"kty": "oct", "k": b64url_encode(material).decode()})
            return cls(kid, row.name, None, material, None)
        try:
            members = row.signer.to_jwk(material.public_key(), as_dict=True)
        except Exception as exc:
            raise ConfigurationError(
                f"{type(material).__name__} cannot sign {alg}: give a {row.kty} private key "
                "from cryptography"
            ) from exc
        if members.get("kty") != row.kty:  # PyJWT's RSA signer also takes RSA-PSS names
            raise ConfigurationError(f"{alg} needs a {row.kty} key, got {members.get('kty')}")
        crv = members.get("crv")
        if row.curves and crv not in row.curves:
            raise ConfigurationError(
                f"{alg} needs a key on {' or '.join(row.curves)}, got one on {crv}"
            )
        members.pop("key_ops", None)
        kid = kid or thumbprint(members)
        jwk = {"kty": members["kty"], "kid": kid, "use": "sig", "alg": row.name}
        jwk.update((k, v) for k, v in members.items() if k != "kty")
        return cls(kid, row.name, material, None, crv, jwk)

    @property
    def algorithm(self) -> jwa.Algorithm:
        return jwa.ALGORITHMS[self.alg]

    @property
    def kty(self) -> jwa.KeyType:
        return self.algorithm.kty

    @cached_property
    def public_key(self) -> Any:
        return None if self.private_key is None else self.private_key.public_key()

    @property
    def public_jwk(self) -> dict[str, Any] | None:
        """The JWK this key is published as (a fresh copy); ``None`` for HS* keys."""
        return dict(self._jwk) if self._jwk else None

    @cached_property
    def jwk_json(self) -> bytes:
        """The public JWK as compact JSON, as the JWKS serves it."""
        return _compact(self._jwk)

    @cached_property
    def certificate(self) -> Any:
        """A self-signed X.509 certificate of the public key (``cryptography`` object; CN is
        the kid), valid from 2000 to 9999 so that no clock move expires it. Made on first use;
        ``None`` for HS* keys. It is what ``x5c`` carries and the ``{kid: PEM}`` map serves."""
        if self.private_key is None:
            return None
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import NameOID

        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"mockidp {self.kid}")])
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOT_BEFORE)
            .not_valid_after(_NOT_AFTER)
            .sign(self.private_key, None if self.kty == "OKP" else hashes.SHA256())
        )

    @cached_property
    def certificate_pem(self) -> str | None:
        from cryptography.hazmat.primitives.serialization import Encoding

        certificate = self.certificate
        return None if certificate is None else certificate.public_bytes(Encoding.PEM).decode()

    @cached_property
    def jwk_with_certificate(self) -> dict[str, Any] | None:
        """The public JWK with ``x5c``, ``x5t`` and ``x5t#S256`` (RFC 7517 §4.7-4.9), as
        Entra ID, Keycloak and Auth0 publish keys."""
        if self.certificate is None:
            return None
        from cryptography.hazmat.primitives.serialization import Encoding

        der = self.certificate.public_bytes(Encoding.DER)
        return {**self._jwk, "x5c": [base64.b64encode(der).decode()],
                "x5t": b64url_encode(hashlib.sha1(der).digest()).decode(),
                "x5t#S256": b64url_encode(hashlib.sha256(der).digest()).decode()}

    @cached_property
    def jwk_json_with_certificate(self) -> bytes:
        return _compact(self.jwk_with_certificate or {})

    @property
    def signing_key(self) -> Any:
        """What the signer takes: the private key object, or the secret for HS*."""
        return self.secret if self.private_key is None else self.private_key

    @property
    def size(self) -> int:
        """Key size in bits (RSA modulus, curve order or secret length)."""
        if self.secret is not None:
            return len(self.secret) * 8
        size = getattr(self.private_key, "key_size", None)
        if size is None:  # Ed25519 / Ed448 keys have no key_size
            size = {"Ed25519": 256, "Ed448": 456}[self.crv or ""]
        return int(size)

    def __repr__(self) -> str:
        curve = f" {self.crv}" if self.crv else ""
        return f"<Key {self.alg}{curve} kid={self.kid!r}>"


# -- corruptions --------------------------------------------------------------------------------

#: The JWK members that carry key material, per key type.
_MATERIAL = {"RSA": ("n", "e"), "EC": ("x", "y"), "OKP": ("x",)}
_OTHER_CURVE = {"P-256": "P-384", "P-384": "P-256", "P-521": "P-256", "secp256k1": "P-256",
                "Ed25519": "Ed448", "Ed448": "Ed25519"}


@dataclass(frozen=True)
class Corruption:
    """A way to publish broken or wrong material under a key's kid (``keys.corrupt(kid, how)``)."""

    name: str
    description: str
    apply: Callable[[dict[str, Any], Key, Callable[[Key], Key]], dict[str, Any]]


def _other_key(jwk: dict[str, Any], key: Key, decoy: Callable[[Key], Key]) -> dict[str, Any]:
    other = decoy(key)._jwk
    jwk.update((name, other[name]) for name in _MATERIAL[key.kty])
    return jwk


def _truncated(jwk: dict[str, Any], key: Key, decoy: Callable[[Key], Key]) -> dict[str, Any]:
    first = _MATERIAL[key.kty][0]
    raw = b64url_decode(jwk[first])
    jwk[first] = b64url_encode(raw[: len(raw) // 2]).decode()
    if key.kty == "EC":
        raw = b64url_decode(jwk["y"])
        jwk["y"] = b64url_encode(raw[: len(raw) // 2]).decode()
    return jwk


def _bad_base64(jwk: dict[str, Any], key: Key, decoy: Callable[[Key], Key]) -> dict[str, Any]:
    first = _MATERIAL[key.kty][0]
    value = jwk[first]
    # Standard-alphabet characters, padding and characters of no base64 alphabet at all.
    jwk[first] = value[:8] + "+/!*" + value[12:] + "=="
    return jwk


def _wrong_kty(jwk: dict[str, Any], key: Key, decoy: Callable[[Key], Key]) -> dict[str, Any]:
    jwk["kty"] = "EC" if key.kty == "RSA" else "RSA"
    return jwk


def _wrong_alg(jwk: dict[str, Any], key: Key, decoy: Callable[[Key], Key]) -> dict[str, Any]:
    jwk["alg"] = "ES256" if key.kty == "RSA" else "RS256"
    return jwk


def _wrong_crv(jwk: dict[str, Any], key: Key, decoy: Callable[[Key], Key]) -> dict[str, Any]:
    if key.crv is None:
        raise KeyStateError(
            key.kid, f"wrong-crv needs an EC or OKP key; {key.kid!r} is a {key.kty} key "
            "(try wrong-kty or wrong-alg)"
        )
    jwk["crv"] = _OTHER_CURVE[key.crv]
    return jwk


def _use_enc(jwk: dict[str, Any], key: Key, decoy: Callable[[Key], Key]) -> dict[str, Any]:
    jwk["use"] = "enc"
    return jwk


def _missing_kid(jwk: dict[str, Any], key: Key, decoy: Callable[[Key], Key]) -> dict[str, Any]:
    del jwk["kid"]
    return jwk


#: Every corruption ``keys.corrupt(kid, how=...)`` accepts. Each keeps the JWKS valid JSON.
CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption("other-key", "another key's material under the same kid", _other_key),
        Corruption("truncated", "modulus or coordinates cut to half their bytes", _truncated),
        Corruption("bad-base64", "modulus or coordinate with non-base64url characters",
                   _bad_base64),
        Corruption("wrong-kty", "kty of another key family (RSA <-> EC)", _wrong_kty),
        Corruption("wrong-alg", "alg of another key family (RS256 <-> ES256)", _wrong_alg),
        Corruption("wrong-crv", "crv of another curve (EC and OKP keys only)", _wrong_crv),
        Corruption("use-enc", 'use: "enc" instead of "sig"', _use_enc),
        Corruption("missing-kid", "the kid member removed", _missing_kid),
    )
}


# -- the ring -----------------------------------------------------------------------------------


class _State(NamedTuple):
    keys: dict[str, Key]
    published: dict[str, None]  # an ordered set
    active: dict[str, str]  # alg -> kid
    was_active: frozenset[str]
    corrupted: dict[str, tuple[str, dict[str, Any]]]  # kid -> (how, published JWK)
    default_alg: str
    jwks_bytes: bytes


#: The key ring remembers this many state changes for the dashboard's timeline, oldest
#: forgotten first: a long-running ``mockidp serve`` that rotates every second stays bounded.
HISTORY_LIMIT = 1000


class KeyChange(NamedTuple):
    """A key entering a state at ``time`` (on :attr:`KeyRing.clock`). ``state`` is ``"gone"``
    when a restore (a reset) took the key out of the ring; ``corruption`` names the corruption
    it is published with, if any."""

    time: float
    kid: str
    alg: str
    state: str
    corruption: str | None


class KeyRing:
    """The provider's keys, their states and the JWKS built from them. Thread-safe."""

    def __init__(self, default_alg: str = "RS256", *, certificates: bool = False) -> None:
        #: Publish each key with its certificate (``x5c``, ``x5t``, ``x5t#S256``).
        self.certificates = certificates
        #: What :attr:`history` is timed by; the web face sets the provider's clock, so that
        #: key changes and the request log share one time axis.
        self.clock: Callable[[], float] = time.time
        self._history: deque[KeyChange] = deque(maxlen=HISTORY_LIMIT)
        self._seen: dict[str, tuple[str, str | None]] = {}
        self._lock = threading.RLock()
        self._standard: dict[tuple[str, str], Key] = {}
        self._decoys: dict[tuple[str, str | None, int], Key] = {}
        self._version = 0
        self._state: _State = _State({}, {}, {}, frozenset(), {}, jwa.get(default_alg).name, b"")
        self._set(self._state)
        self.ensure_active(self.default_alg)

    # -- reading ------------------------------------------------------------------------------

    @property
    def default_alg(self) -> str:
        """The algorithm ``idp.token()`` signs with when no ``alg`` is given."""
        return self._state.default_alg

    @default_alg.setter
    def default_alg(self, alg: str) -> None:
        name = jwa.get(alg).name
        with self._lock:
            self.ensure_active(name)
            self._state = self._state._replace(default_alg=name)

    @property
    def active(self) -> Key:
        """The key that signs tokens of the default algorithm."""
        return self.active_for(self.default_alg)

    @property
    def version(self) -> int:
        """A counter that changes whenever the published key set may have changed."""
        return self._version

    def active_for(self, alg: str) -> Key:
        name = jwa.get(alg).name
        state = self._state
        kid = state.active.get(name)
        if kid is None:
            staged = [k for k in state.keys.values() if k.alg == name]
            hint = (
                f"its keys ({', '.join(repr(k.kid) for k in staged)}) are staged or revoked; "
                f"call idp.keys.activate(kid) or idp.keys.rotate({name!r})"
                if staged else f"call idp.keys.add({name!r})"
            )
            raise KeyStateError(None, f"no active {name} key: {hint}")
        return state.keys[kid]

    def __getitem__(self, kid: str) -> Key:
        try:
            return self._state.keys[kid]
        except (KeyError, TypeError):
            raise UnknownKeyError(kid, self._state.keys) from None

    def get(self, kid: str) -> Key | None:
        return self._state.keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._state.keys

    def __iter__(self) -> Iterator[Key]:
        """Every key the provider has, revoked ones included, oldest first."""
        return iter(list(self._state.keys.values()))

    def __len__(self) -> int:
        return len(self._state.keys)

    def state(self, kid: str) -> KeyState:
        return _state_of(self._state, self[kid])

    @property
    def history(self) -> list[KeyChange]:
        """Every state change of every key, oldest first (the last :data:`HISTORY_LIMIT`):
        what the dashboard draws as the keys' timeline."""
        with self._lock:
            return list(self._history)

    def corruption(self, kid: str) -> str | None:
        """The name of the corruption applied to ``kid``, or ``None``."""
        entry = self._state.corrupted.get(self[kid].kid)
        return entry[0] if entry else None

    def published(self) -> list[Key]:
        """The keys in the JWKS (HS* keys excluded), in JWKS order."""
        state = self._state
        return [state.keys[kid] for kid in state.published if state.keys[kid].kty != "oct"]

    def algorithms(self) -> list[str]:
        """The algorithms the provider signs with or publishes keys for, in table order."""
        state = self._state
        in_use = set(state.active)
        in_use.update(state.keys[kid].alg for kid in state.published)
        return [name for name in jwa.ALGORITHMS if name in in_use]

    def jwks(self) -> dict[str, Any]:
        """The JWK Set as served now (a deep copy)."""
        document: dict[str, Any] = json.loads(self._state.jwks_bytes)
        return document

    @property
    def jwks_bytes(self) -> bytes:
        """The serialized JWK Set, rebuilt only when the published set changes."""
        return self._state.jwks_bytes

    # -- changing -----------------------------------------------------------------------------

    @action("Generate and publish a key")
    def add(
        self,
        alg: str | None = None,
        kid: str | None = None,
        *,
        size: int | None = None,
        crv: str | None = None,
        private_key: Any = None,
        activate: bool = True,
        publish: bool = True,
    ) -> Key:
        """Generate (or wrap ``private_key``) and publish a key.

        ``activate=True`` makes it sign tokens of its algorithm at once; ``activate=False``
        stages it as the *next* key, published ahead of use so that consumers can cache it
        before the switch. ``publish=False`` adds a key that is in no JWKS at all.
        """
        name = jwa.get(alg or self.default_alg).name
        if kid is not None and kid in self._state.keys:
            raise KeyExistsError(kid)
        if private_key is None:
            key = Key.generate(name, kid, size=size, crv=crv)
        else:
            if size is not None or crv is not None:
                raise ConfigurationError("size and crv come from private_key; drop them")
            key = Key.from_material(name, private_key, kid)
        with self._lock:
            if key.kid in self._state.keys:
                raise KeyExistsError(key.kid)
            self._insert(key, activate=activate, publish=publish)
        return key

    @action("A new key signs; the old one stays published")
    def rotate(self, alg: str | None = None, kid: str | None = None, *,
               size: int | None = None, crv: str | None = None,
               private_key: Any = None) -> Key:
        """A new key of ``alg`` (default: the default algorithm) signs from now on; ``kid``,
        ``size``, ``crv`` and ``private_key`` as for :meth:`add`.

        The key it replaces stays published as *previous*, as real providers keep it until the
        tokens it signed have expired; ``revoke`` it to take it out of the JWKS.
        """
        return self.add(alg, kid, size=size, crv=crv, private_key=private_key, activate=True)

    @action("Make a published key sign", kid=True)
    def activate(self, kid: str) -> Key:
        """Make a published key the signing key of its algorithm (next -> active)."""
        with self._lock:
            key = self[kid]
            state = self._state
            if key.kid not in state.published:
                raise KeyStateError(
                    key.kid, f"key {key.kid!r} is revoked; publish it again with "
                    "idp.keys.publish(kid) first (a revoked key can still mint: "
                    "idp.token(kid=...))"
                )
            self._set(self._activated(state, key))
        return key

    @action("Take a key out of the JWKS", kid=True)
    def revoke(self, kid: str) -> Key:
        """Take a key out of the JWKS. It can still mint (``idp.token(kid=...)``) so tests can
        check that consumers reject what it signs. Revoking the active key leaves its algorithm
        without a signing key until ``rotate`` or ``activate``."""
        with self._lock:
            key = self[kid]
            state = self._state
            published = dict(state.published)
            published.pop(key.kid, None)
            active = {a: k for a, k in state.active.items() if k != key.kid}
            self._set(state._replace(published=published, active=active))
        return key

    @action("New key material under the same kid", kid=True)
    def replace(self, kid: str) -> Key:
        """New key material under the same ``kid``, in the same state (a provider that re-keys
        without changing the kid). From now on ``kid`` signs and is published with the new
        material: a consumer that caches keys by kid keeps the old one and rejects new tokens.
        """
        with self._lock:
            old = self[kid]
            if old.kty == "oct":
                material = os.urandom(len(old.secret or b""))
            else:
                size = old.size if old.kty == "RSA" else None
                material = old.algorithm.generate(size=size, crv=old.crv)
            key = Key.from_material(old.alg, material, old.kid)
            state = self._state
            corrupted = dict(state.corrupted)
            corrupted.pop(key.kid, None)
            self._set(state._replace(keys={**state.keys, key.kid: key}, corrupted=corrupted))
        return key

    @action("Put a key back into the JWKS", kid=True)
    def publish(self, kid: str) -> Key:
        """Put a revoked (or never published) key back into the JWKS."""
        with self._lock:
            key = self[kid]
            state = self._state
            if key.kid not in state.published:
                self._set(state._replace(published={**state.published, key.kid: None}))
        return key

    @action("Publish broken material under a kid", kid=True)
    def corrupt(self, kid: str, how: str = "other-key") -> Key:
        """Publish broken or wrong material under ``kid`` (see :data:`CORRUPTIONS`).

        Tokens are still signed with the real key, so a consumer that verifies them against the
        corrupted JWK must fail.
        """
        corruption = CORRUPTIONS.get(how)
        if corruption is None:
            raise UnknownCorruptionError(how, CORRUPTIONS)
        with self._lock:
            key = self[kid]
            if key.kty == "oct":
                raise KeyStateError(
                    key.kid, f"{key.kid!r} is an {key.alg} key; symmetric keys are never "
                    "published, so there is nothing to corrupt"
                )
            jwk = corruption.apply(dict(key._jwk), key, self._decoy)
            state = self._state
            self._set(state._replace(corrupted={**state.corrupted, key.kid: (how, jwk)}))
        return key

    @action("Publish a corrupted key's real JWK again", kid=True)
    def repair(self, kid: str) -> Key:
        """Publish the real JWK of a corrupted key again."""
        with self._lock:
            key = self[kid]
            state = self._state
            if key.kid in state.corrupted:
                corrupted = dict(state.corrupted)
                del corrupted[key.kid]
                self._set(state._replace(corrupted=corrupted))
        return key

    @action("The active key of alg, made if the provider has none")
    def ensure_active(self, alg: str) -> Key:
        """The active key of ``alg``; the provider's standard key for it if it has none yet.

        The standard key is made once per ring and reused after every restore, so a test that
        asks for ``alg="ES384"`` pays for key generation only the first time.
        """
        name = jwa.get(alg).name
        with self._lock:
            state = self._state
            kid = state.active.get(name)
            if kid is not None:
                return state.keys[kid]
            if any(k.alg == name for k in state.keys.values()):
                return self.active_for(name)  # raises, naming the staged/revoked keys
            key = self.standard(name)
            self._insert(key, activate=True, publish=True)
            return key

    def standard(self, alg: str, role: str = "signing") -> Key:
        """A key of ``alg`` made once per ring and role and kept across restores; it is not put
        in the ring (see :meth:`include`). Roles let fault tokens reuse a second key of the same
        algorithm (e.g. ``"revoked"``) without generating one per test."""
        name = jwa.get(alg).name
        with self._lock:
            key = self._standard.get((name, role))
            if key is None:
                key = self._standard[(name, role)] = Key.generate(name)
            return key

    def include(self, key: Key, *, publish: bool) -> Key:
        """Put ``key`` in the ring, inactive, unless it is there already."""
        with self._lock:
            if key.kid not in self._state.keys:
                self._insert(key, activate=False, publish=publish)
        return key

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> object:
        """An opaque token of the current state for :meth:`restore`."""
        return self._state

    def restore(self, snapshot: object) -> None:
        if not isinstance(snapshot, _State):
            raise ConfigurationError("restore() takes what snapshot() returned")
        with self._lock:
            self._state = snapshot
            self._version += 1
            self._remember(snapshot)

    # -- internals ----------------------------------------------------------------------------

    def _insert(self, key: Key, *, activate: bool, publish: bool) -> None:
        state = self._state
        state = state._replace(keys={**state.keys, key.kid: key})
        if publish:
            state = state._replace(published={**state.published, key.kid: None})
        if activate:
            state = self._activated(state, key)
        self._set(state)

    @staticmethod
    def _activated(state: _State, key: Key) -> _State:
        was_active = state.was_active | {key.kid}
        return state._replace(active={**state.active, key.alg: key.kid}, was_active=was_active)

    def _decoy(self, key: Key) -> Key:
        """Another key like ``key`` (same alg, curve and size), made once per shape."""
        shape = (key.alg, key.crv, key.size)
        decoy = self._decoys.get(shape)
        if decoy is None:
            size = key.size if key.kty == "RSA" else None
            decoy = self._decoys[shape] = Key.generate(key.alg, size=size, crv=key.crv)
        return decoy

    def _set(self, state: _State) -> None:
        """Install a new state with its JWKS already built, in one assignment: readers see the
        old state or the new one, whole, never keys that disagree with the served bytes."""
        self._state = state._replace(jwks_bytes=self._serialize(state))
        self._version += 1
        self._remember(self._state)

    def _remember(self, state: _State) -> None:
        """Record the keys whose state or corruption differs from the last one recorded.
        Called under the lock (or from ``__init__``) right after ``state`` is installed."""
        now = self.clock()
        seen: dict[str, tuple[str, str | None]] = {
            kid: (_state_of(state, key), state.corrupted.get(kid, (None,))[0])
                for kid, key in state.keys.items()}
        for kid in self._seen.keys() - seen.keys():
            self._history.append(KeyChange(now, kid, "", "gone", None))
        for kid, now_seen in seen.items():
            if self._seen.get(kid) != now_seen:
                self._history.append(KeyChange(now, kid, state.keys[kid].alg, *now_seen))
        self._seen = seen

    def _serialize(self, state: _State) -> bytes:
        # Each key's JSON is made once (Key.jwk_json); a rebuild only joins them.
        members = []
        for kid in state.published:
            key = state.keys[kid]
            if key.kty == "oct":
                continue
            corrupted = state.corrupted.get(kid)
            if corrupted:
                members.append(_compact(corrupted[1]))
            else:
                members.append(key.jwk_json_with_certificate if self.certificates
                               else key.jwk_json)
        return b'{"keys":[' + b",".join(members) + b"]}"


def _state_of(state: _State, key: Key) -> KeyState:
    if key.kid not in state.published:
        return "revoked"
    if state.active.get(key.alg) == key.kid:
        return "active"
    return "previous" if key.kid in state.was_active else "next"
