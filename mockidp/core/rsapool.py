"""RSA keys made ahead of need, and kept on disk between runs.

An RSA-2048 key takes 7-75 ms to find (a random prime search) where an EC or EdDSA key takes
microseconds, and every provider starts with one. Two things keep that off a test's path:

- :class:`RsaPool` replaces each key taken with one made in a background thread, so
  ``keys.rotate()`` costs what an EC rotation does;
- :class:`KeyCache` keeps the first few keys a process makes in the user's cache folder, so the
  next run (a new ``pytest`` session, a new ``mockidp serve``) starts from disk in microseconds
  instead of searching for primes again.

These are throwaway test keys: reusing them across runs only means a token minted by one run
also verifies against the next run's first key. Set ``MOCKIDP_KEY_CACHE=0`` to keep nothing on
disk, or ``MOCKIDP_KEY_CACHE=/some/dir`` to choose where; ``MOCKIDP_RSA_POOL=0`` turns the
background pool off (every key then made on the spot).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["RSA_POOL", "KeyCache", "RsaPool"]


class KeyCache:
    """A few RSA private keys per size, one file each, in a private folder.

    Files are written whole (a temporary file renamed into place) with a SHA-256 of the key in
    front, so a truncated or altered file is ignored rather than loaded. Loading skips
    OpenSSL's RSA consistency check, which costs as much as making a key (about 30 ms); the
    digest is what guards the file. Any OS error (a read-only home, a full disk) turns the
    cache off for that call: a missing cache only costs time.
    """

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.directory = directory
        self.size = size

    @classmethod
    def from_environment(cls) -> KeyCache | None:
        """The cache ``MOCKIDP_KEY_CACHE`` asks for: ``0`` none, a path, else the user's cache."""
        setting = os.environ.get("MOCKIDP_KEY_CACHE", "")
        if setting == "0":
            return None
        if setting:
            return cls(Path(setting))
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return cls(Path(base) / "mockidp")

    def _path(self, bits: int, slot: int) -> Path:
        return self.directory / f"rsa-{bits}-{slot}.key"

    def load(self, bits: int) -> list[Any]:
        """The keys of ``bits`` kept so far (at most ``size``), in slot order."""
        from cryptography.hazmat.primitives.serialization import load_der_private_key

        keys = []
        for slot in range(self.size):
            try:
                data = self._path(bits, slot).read_bytes()
            except OSError:
                continue
            digest, der = data[:32], data[32:]
            if hashlib.sha256(der).digest() != digest:
                continue
            with contextlib.suppress(ValueError, TypeError):
                keys.append(load_der_private_key(der, None, unsafe_skip_rsa_key_validation=True))
        return keys

    def save(self, key: Any) -> None:
        """Keep ``key`` in the first free slot of its size; do nothing when all are taken."""
        from cryptography.hazmat.primitives import serialization

        bits = key.key_size
        free = [slot for slot in range(self.size) if not self._path(bits, slot).exists()]
        if not free:
            return
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".rsa-")
        except OSError:
            return
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(hashlib.sha256(der).digest() + der)
            # Two processes may race for one slot; the last rename wins and both keys stay valid.
            os.replace(temporary, self._path(bits, free[0]))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


class RsaPool:
    """RSA keys made ahead of need by a background thread, seeded from a :class:`KeyCache`.

    The first take of a size loads what the cache holds; a key made here (on the spot or in the
    background) goes into the cache while it has room. Each key taken is replaced in the
    background, keeping ``spare`` ready; the thread ends once the pool is full.
    """

    def __init__(self, spare: int = 2, cache: KeyCache | None = None) -> None:
        self.spare = spare
        self.cache = cache
        self._lock = threading.Lock()
        self._keys: dict[int, list[Any]] = {}
        self._filling: set[int] = set()

    def take(self, bits: int) -> Any:
        """A fresh private key of ``bits`` that no other take of this pool returned."""
        with self._lock:
            ready = self._keys.get(bits)
            if ready is None:
                ready = self._keys[bits] = self.cache.load(bits) if self.cache else []
                ready.reverse()  # pop() hands the keys out in slot order
            key = ready.pop() if ready else None
        if key is None:
            key = self._make(bits)
        self._refill(bits)
        return key

    def ready(self, bits: int = 2048) -> int:
        """How many keys of ``bits`` wait in the pool."""
        with self._lock:
            return len(self._keys.get(bits, ()))

    def _make(self, bits: int) -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        if self.cache is not None:
            self.cache.save(key)
        return key

    def _refill(self, bits: int) -> None:
        with self._lock:
            if self.spare <= 0 or bits in self._filling or len(self._keys[bits]) >= self.spare:
                return
            self._filling.add(bits)
        threading.Thread(target=self._fill, args=(bits,), name=f"mockidp-rsa-{bits}",
                         daemon=True).start()

    def _fill(self, bits: int) -> None:
        try:
            while True:
                with self._lock:
                    if len(self._keys[bits]) >= self.spare:
                        return
                key = self._make(bits)
                with self._lock:
                    self._keys[bits].append(key)
        finally:
            with self._lock:
                self._filling.discard(bits)


#: The process's RSA key pool.
RSA_POOL = RsaPool(0 if os.environ.get("MOCKIDP_RSA_POOL") == "0" else 2,
                   KeyCache.from_environment())
