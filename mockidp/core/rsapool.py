"""RSA keys made ahead of need, kept on disk between runs, and never shared between processes.

An RSA-2048 key takes 7-75 ms to find (a random prime search) where an EC or EdDSA key takes
microseconds, and every provider starts with one. Tests that make a ``MockIdP()`` per test
(unittest, Django's runner, Hypothesis, several issuers in one test) would pay that each time;
two things keep it off their path:

- :class:`KeyCache` keeps a stock of keys (256 of RSA-2048 by default) in the user's cache
  folder, in blocks of 16. A process *leases* a block with an exclusive ``flock`` held until it
  exits, so two processes running at once (two ``mockidp serve``, xdist workers ``gw0`` and
  ``gw1``) never hold the same key: a token of one provider never verifies against another's
  JWKS. Within a process, :class:`RsaPool` hands each key out once.
- :class:`RsaPool` leases blocks as it needs keys, keeps ``spare`` keys ready in a background
  thread, and after the first use of RSA-2048 fills the stock in the background, at the lowest
  CPU priority, so the next run finds it full. Every key a process makes is kept in a block it
  holds, so a run that needs N keys leaves at least N for the next one.

The cache is trusted only as far as it is private: the folder must belong to the user and not
be writable by group or others, and a block file must be a regular file of the user with mode
0600; otherwise it is left alone and the reason logged once (``mockidp.keys``), and keys are
made in memory. These are throwaway test keys: the same key may sign in a later run.

``MOCKIDP_KEY_CACHE=0`` keeps nothing on disk, ``MOCKIDP_KEY_CACHE=/some/dir`` chooses the
folder; ``MOCKIDP_RSA_POOL=0`` turns the background work off (keys are then leased or made on the
spot). ``python -m mockidp.core.rsapool`` fills the stock in the foreground (e.g. a CI cache step).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import struct
import sys
import threading
import weakref
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["RSA_POOL", "KeyCache", "RsaPool"]

log = logging.getLogger("mockidp.keys")

#: The RSA size every provider starts with; the one the stock is filled for.
STOCK_BITS = 2048
_RECORD = struct.Struct(">I32s")  # DER length, SHA-256 of the DER
_said: set[str] = set()


def _say_once(message: str) -> None:
    """Log ``message`` once per process: a cache left alone is news, not a repeated warning."""
    if message not in _said:
        _said.add(message)
        log.warning("%s", message)


def _der(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    der: bytes = key.private_bytes(serialization.Encoding.DER,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    return der


class Block:
    """One leased block file: an open descriptor holding an exclusive ``flock``.

    The lock lives as long as the descriptor, so it ends with the process even on ``SIGKILL``;
    nothing is left to clean up. Records are appended (length, SHA-256, DER); a record cut short
    by a crash fails its digest and is truncated away by the next process that leases the block.
    """

    def __init__(self, path: Path, fd: int, count: int) -> None:
        self.path = path
        self.fd = fd
        self.count = count

    def append(self, der: bytes) -> bool:
        try:
            os.lseek(self.fd, 0, os.SEEK_END)
            os.write(self.fd, _RECORD.pack(len(der), hashlib.sha256(der).digest()) + der)
        except OSError:
            return False
        self.count += 1
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class KeyCache:
    """The on-disk stock of RSA private keys: ``size`` keys per key size, ``block`` per file.

    Loading skips OpenSSL's RSA consistency check, which costs as much as making a key (about
    30 ms); the SHA-256 of each record and the folder's and file's ownership and mode are what
    guard a key. Any OS error turns the cache off for that call: a missing cache only costs time.
    """

    def __init__(self, directory: Path, size: int = 256, block: int = 16) -> None:
        self.directory = directory
        self.size = size
        self.block = block
        self._usable: bool | None = None

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

    @property
    def blocks(self) -> int:
        """How many block files one key size may have."""
        return max(1, self.size // self.block)

    def path(self, bits: int, index: int) -> Path:
        return self.directory / f"rsa-{bits}-{index:03d}.keys"

    def usable(self) -> bool:
        """Whether the folder is private to this user (created 0700 if missing); checked once.

        A folder another user owns, or one group or others may write to, could hold a key
        planted to become a provider's signing key; it is left alone and the reason logged.
        """
        if self._usable is None:
            self._usable = self._check_directory()
        return self._usable

    def _check_directory(self) -> bool:
        if sys.platform == "win32":  # no flock and no POSIX owner: keys are made in memory
            return False
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.stat(self.directory)
        except OSError:
            return False
        problem = None
        if not stat.S_ISDIR(info.st_mode):
            problem = "is not a folder"
        elif info.st_uid != os.getuid():
            problem = f"belongs to uid {info.st_uid}, not to this user (uid {os.getuid()})"
        elif info.st_mode & 0o022:
            problem = f"is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
        if problem:
            _say_once(f"mockidp: not using the RSA key cache {self.directory}: it {problem}; "
                      "keys are made in memory. Make it private (chmod 700) or choose another "
                      "folder with MOCKIDP_KEY_CACHE.")
            return False
        return True

    def lease(self, bits: int, skip: set[int]) -> tuple[Block, list[Any]] | None:
        """Lease the first block file of ``bits`` that no process holds (indexes in ``skip`` are
        the caller's already), with its keys; ``None`` when there is none to lease."""
        if not self.usable():
            return None
        for index in range(self.blocks):
            if index not in skip:
                leased = self._open(self.path(bits, index), create=False)
                if leased is not None:
                    return leased, self._read(leased, bits)
        return None

    def with_room(self, bits: int, skip: set[int]) -> tuple[Block, list[Any]] | None:
        """Lease a block of ``bits`` that has room for another key, a new one if the stock has
        fewer files than it may, with the keys it holds; ``None`` when the stock is full (or
        every block with room is another process's)."""
        if not self.usable():
            return None
        for index in range(self.blocks):
            if index in skip:
                continue
            path = self.path(bits, index)
            if self._full(path):  # judged without a lease, so no other process is kept out
                continue
            leased = self._open(path, create=False) or self._open(path, create=True)
            if leased is None:
                continue
            keys = self._read(leased, bits)
            if leased.count < self.block:
                return leased, keys
            leased.close()  # full: of no use for appending, and free for another process
        return None

    def full(self, bits: int) -> bool:
        """Whether every block file of ``bits`` exists and holds ``block`` keys."""
        return all(self._full(self.path(bits, index)) for index in range(self.blocks))

    def _full(self, path: Path) -> bool:
        """Whether the file at ``path`` holds ``block`` whole records (read without a lock: a
        record being appended is not counted yet)."""
        try:
            data = path.read_bytes()
        except OSError:
            return False
        count = offset = 0
        while count < self.block and offset + _RECORD.size <= len(data):
            length, digest = _RECORD.unpack_from(data, offset)
            offset += _RECORD.size + length
            if offset > len(data) or hashlib.sha256(
                    data[offset - length: offset]).digest() != digest:
                return False
            count += 1
        return count >= self.block

    def _open(self, path: Path, *, create: bool) -> Block | None:
        import fcntl

        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT | os.O_EXCL if create
                                                            else 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError:  # missing, a symlink (ELOOP), taken by a racing creator, unreadable
            return None
        try:
            if create:
                os.fchmod(fd, 0o600)  # whatever the umask made of it
            info = os.fstat(fd)
            if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
                    or stat.S_IMODE(info.st_mode) != 0o600):
                _say_once(f"mockidp: refusing the key cache file {path}: it is not a regular "
                          f"file of this user with mode 0600 (mode "
                          f"{stat.S_IMODE(info.st_mode):04o}, uid {info.st_uid}); delete it.")
                os.close(fd)
                return None
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by another process: skip
        except OSError:
            os.close(fd)
            return None
        return Block(path, fd, 0)

    def _read(self, leased: Block, bits: int) -> list[Any]:
        from cryptography.hazmat.primitives.serialization import load_der_private_key

        try:
            data = os.pread(leased.fd, os.fstat(leased.fd).st_size, 0)
        except OSError:
            return []
        keys: list[Any] = []
        offset = 0
        while offset + _RECORD.size <= len(data) and len(keys) < self.block:
            length, digest = _RECORD.unpack_from(data, offset)
            der = data[offset + _RECORD.size: offset + _RECORD.size + length]
            if len(der) != length or hashlib.sha256(der).digest() != digest:
                break
            try:
                key = load_der_private_key(der, None, unsafe_skip_rsa_key_validation=True)
            except (ValueError, TypeError):
                break
            if getattr(key, "key_size", None) != bits:
                break
            keys.append(key)
            offset += _RECORD.size + length
        if offset < len(data):  # a torn or damaged tail: cut it so appends land after good keys
            with contextlib.suppress(OSError):
                os.ftruncate(leased.fd, offset)
        leased.count = len(keys)
        return keys


class RsaPool:
    """RSA keys for this process: leased from a :class:`KeyCache`, made ahead in the background.

    ``take`` hands out a ready key (one leased from the cache or made ahead); with none ready it
    leases the next free block, and only when the cache has none makes a key on the spot. Each
    take tops the ready keys up to ``spare`` in a background thread (``spare=0``: no thread).
    Every key made goes into a block this pool holds while there is room. With a cache and
    ``spare > 0``, the first take of ``stock_bits`` also starts a thread at the lowest CPU
    priority that fills the cache's stock, so the next run finds every key it needs on disk.
    Neither thread is ever joined: stopping a provider never waits on key generation.
    """

    def __init__(self, spare: int = 2, cache: KeyCache | None = None,
                 stock_bits: int | None = STOCK_BITS) -> None:
        self.spare = spare
        self.cache = cache
        self.stock_bits = stock_bits
        self._lock = threading.Lock()
        self._keys: dict[int, deque[Any]] = {}
        self._blocks: dict[int, list[Block]] = {}
        self._held: dict[int, set[int]] = {}  # block indexes this pool leased, per size
        self._filling: set[int] = set()
        self._stocking: set[int] = set()
        self._stock_started: set[int] = set()
        self._closed = False
        reference = weakref.ref(self)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: _after_fork(reference))

    def take(self, bits: int) -> Any:
        """A private key of ``bits`` that no other take of this pool, and no other process
        running now, was given."""
        with self._lock:
            ready = self._keys.setdefault(bits, deque())
            if not ready:
                self._lease(bits)
            key = ready.popleft() if ready else None
        if key is None:
            key = self._make(bits)
        self._refill(bits)
        return key

    def ready(self, bits: int = STOCK_BITS) -> int:
        """How many keys of ``bits`` wait in the pool."""
        with self._lock:
            return len(self._keys.get(bits, ()))

    def stocked(self, bits: int = STOCK_BITS) -> bool:
        """Whether the stock filler of ``bits`` has finished (or never started)."""
        with self._lock:
            return bits not in self._stocking

    def close(self) -> None:
        """Release this pool's leases and let its threads end after the key they are making.

        The process's own pool is never closed (its leases end with the process); tests close
        the pools they make."""
        with self._lock:
            self._closed = True
            for blocks in self._blocks.values():
                for block in blocks:
                    block.close()
            self._blocks.clear()
            self._held.clear()
            self._keys.clear()

    def fill_stock(self, bits: int = STOCK_BITS) -> int:
        """Make keys until the cache's stock of ``bits`` is full, here and now; how many made."""
        made = 0
        while self._has_room(bits):
            self._keep(bits, self._generate(bits))
            made += 1
        return made

    # -- internals ----------------------------------------------------------------------------

    def _lease(self, bits: int) -> bool:
        """Lease blocks of ``bits`` until one brings keys (the pool's lock held)."""
        if self.cache is None or self._closed:
            return False
        while True:
            leased = self.cache.lease(bits, self._held.setdefault(bits, set()))
            if leased is None:
                return False
            self._own(bits, *leased)
            if leased[1]:
                return True

    def _own(self, bits: int, block: Block, keys: list[Any]) -> None:
        self._blocks.setdefault(bits, []).append(block)
        self._held.setdefault(bits, set()).add(int(block.path.stem.rsplit("-", 1)[1]))
        self._keys.setdefault(bits, deque()).extend(keys)

    def _room(self, bits: int) -> Block | None:
        """A held block with room for one more key, leased or made if need be (lock held)."""
        if self.cache is None or self._closed:
            return None
        for block in self._blocks.get(bits, ()):
            if block.count < self.cache.block:
                return block
        leased = self.cache.with_room(bits, self._held.setdefault(bits, set()))
        if leased is None:
            return None
        self._own(bits, *leased)
        return leased[0]

    def _has_room(self, bits: int) -> bool:
        with self._lock:
            return self._room(bits) is not None

    def _generate(self, bits: int) -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=bits)

    def _make(self, bits: int) -> Any:
        """A key made on the spot for a caller, kept in the cache for the next run."""
        key = self._generate(bits)
        self._keep(bits, key)
        return key

    def _keep(self, bits: int, key: Any, *, ready: bool = False) -> None:
        """Append ``key`` to a block this pool holds, while the stock has room; with ``ready``,
        also keep it to hand out."""
        with self._lock:
            if self._closed:
                return
            if ready:
                self._keys.setdefault(bits, deque()).append(key)
            block = self._room(bits)
            if block is not None:
                block.append(_der(key))

    def _refill(self, bits: int) -> None:
        with self._lock:
            if self._closed or self.spare <= 0:
                return
            start_filler = bits not in self._filling and len(self._keys[bits]) < self.spare
            if start_filler:
                self._filling.add(bits)
            start_stock = (bits == self.stock_bits and self.cache is not None
                           and bits not in self._stock_started)
            if start_stock:
                self._stock_started.add(bits)
                self._stocking.add(bits)
        if start_filler:
            threading.Thread(target=self._fill, args=(bits,), name=f"mockidp-rsa-{bits}",
                             daemon=True).start()
        if start_stock:
            threading.Thread(target=self._stock, args=(bits,), name=f"mockidp-rsa-{bits}-stock",
                             daemon=True).start()

    def _fill(self, bits: int) -> None:
        """Keep ``spare`` keys ready: lease a block if one is free, else make a key."""
        try:
            while True:
                with self._lock:
                    if self._closed or len(self._keys[bits]) >= self.spare:
                        return
                    if self._lease(bits):
                        continue
                self._keep(bits, self._generate(bits), ready=True)
        finally:
            with self._lock:
                self._filling.discard(bits)

    def _stock(self, bits: int) -> None:
        """Fill the cache's stock at the lowest CPU priority, keeping the keys made ready."""
        try:
            if sys.platform.startswith("linux"):  # there, a thread has a priority of its own
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            if self.cache is None or self.cache.full(bits):  # the usual case: nothing to do
                return
            while self._has_room(bits):
                self._keep(bits, self._generate(bits), ready=True)
        finally:
            with self._lock:
                self._stocking.discard(bits)


def _after_fork(reference: weakref.ref[RsaPool]) -> None:
    """In a forked child, forget the parent's keys and leases: the child shares the parent's
    locked descriptors, so keeping them would hand both processes the same keys. The child
    leases blocks of its own (closing its copies leaves the parent's locks in place)."""
    pool = reference()
    if pool is None:
        return
    pool._lock = threading.Lock()
    for blocks in pool._blocks.values():
        for block in blocks:
            block.close()
    pool._blocks, pool._held, pool._keys = {}, {}, {}
    pool._filling, pool._stocking, pool._stock_started = set(), set(), set()


#: The process's RSA key pool.
RSA_POOL = RsaPool(0 if os.environ.get("MOCKIDP_RSA_POOL") == "0" else 2,
                   KeyCache.from_environment())


if __name__ == "__main__":  # python -m mockidp.core.rsapool: fill the stock, e.g. in CI
    logging.basicConfig()
    print(f"made {RSA_POOL.fill_stock()} RSA-{STOCK_BITS} keys for the stock in "
          f"{RSA_POOL.cache.directory if RSA_POOL.cache else '(no cache)'}")
