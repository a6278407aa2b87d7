"""The RSA key cache and pool: keys of its own for every process, and a cache that is trusted
only as far as it is private (the key-cache hardening issue, item 14).

Each attack is set up as it happened before the fix — a world-writable cache folder with a
planted key, a cache file others may write, two processes of one user starting at once — and
each test names the safe answer it now gets. 1024-bit keys keep the tests quick.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mockidp.core.rsapool import KeyCache, RsaPool, _after_fork, _der

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners and flock")


def numbers(key: object) -> int:
    return key.public_key().public_numbers().n  # type: ignore[attr-defined, no-any-return]


def plant(cache: KeyCache, bits: int = 1024, blocks: int = 1, mode: int = 0o600) -> list[int]:
    """Write one key in each of the first ``blocks`` block files, as a run before would have;
    return the planted keys' moduli."""
    planted = []
    for index in range(blocks):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        leased = KeyCache(cache.directory).with_room(bits, set(range(index)))
        assert leased is not None
        block = leased[0]
        block.append(_der(key))
        block.close()
        os.chmod(block.path, mode)
        planted.append(numbers(key))
    return planted


def test_a_key_planted_in_a_world_writable_cache_never_signs(tmp_path, caplog) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    planted = plant(KeyCache(folder))
    os.chmod(folder, 0o777)  # the attack: anyone may put a key here
    pool = RsaPool(spare=0, cache=KeyCache(folder))
    with caplog.at_level(logging.WARNING, logger="mockidp.keys"):
        taken = [numbers(pool.take(1024)), numbers(pool.take(1024))]
    assert not set(taken) & set(planted)
    said = [r.getMessage() for r in caplog.records if r.name == "mockidp.keys"]
    assert len(said) == 1 and "writable by group or others (mode 0777)" in said[0]
    assert sorted(p.name for p in folder.iterdir()) == ["rsa-1024-000.keys"]  # nothing added
    pool.close()


def test_a_cache_folder_of_another_user_is_left_alone(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(os, "getuid", lambda: os.stat(tmp_path).st_uid + 1)
    with caplog.at_level(logging.WARNING, logger="mockidp.keys"):
        assert KeyCache(tmp_path / "cache").usable() is False
    assert "not to this user" in caplog.text


@pytest.mark.parametrize("mode", [0o644, 0o660, 0o400])
def test_a_cache_file_that_is_not_0600_is_refused(tmp_path, caplog, mode) -> None:
    cache = KeyCache(tmp_path)
    planted = plant(cache, mode=mode)
    pool = RsaPool(spare=0, cache=cache)
    with caplog.at_level(logging.WARNING, logger="mockidp.keys"):
        assert numbers(pool.take(1024)) not in planted
    assert f"mode {mode:04o}" in caplog.text
    pool.close()


def test_a_symlinked_cache_file_is_refused(tmp_path) -> None:
    elsewhere = KeyCache(tmp_path / "elsewhere")
    planted = plant(elsewhere)
    cache = KeyCache(tmp_path / "cache")
    assert cache.usable()
    (tmp_path / "cache" / "rsa-1024-000.keys").symlink_to(elsewhere.path(1024, 0))
    pool = RsaPool(spare=0, cache=cache)
    assert numbers(pool.take(1024)) not in planted
    pool.close()


HOLDER = """
import sys
from mockidp import MockIdP
idp = MockIdP()
print(idp.keys.active.kid, flush=True)
sys.stdin.read()  # hold the provider (and its lease) until the test lets go
"""


def test_two_processes_starting_at_once_get_keys_of_their_own(tmp_path) -> None:
    """Before: every process of a user took the cache's first key, so xdist workers gw0 and
    gw1 (or two ``mockidp serve``) shared a kid and each verified the other's tokens."""
    cache = KeyCache(tmp_path / "cache")
    plant(cache, bits=2048, blocks=2)
    env = {**os.environ, "MOCKIDP_KEY_CACHE": str(cache.directory), "MOCKIDP_RSA_POOL": "0"}
    holders = [subprocess.Popen([sys.executable, "-c", HOLDER], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
               for _ in range(3)]
    try:
        kids = [holder.stdout.readline().strip() for holder in holders]  # type: ignore[union-attr]
    finally:
        for holder in holders:
            holder.communicate("")
    assert all(kids) and len(set(kids)) == 3  # two from the two blocks, one made on the spot
    assert all(holder.returncode == 0 for holder in holders)


def test_each_key_is_handed_out_once_per_process(tmp_path) -> None:
    cache = KeyCache(tmp_path, size=32, block=4)
    maker = RsaPool(spare=0, cache=cache)
    assert maker.fill_stock(1024) == 32
    maker.close()
    first, second = RsaPool(spare=0, cache=cache), RsaPool(spare=0, cache=cache)
    taken = [numbers(pool.take(1024)) for _ in range(10) for pool in (first, second)]
    assert len(set(taken)) == 20  # the second pool never gets a block the first one holds
    first.close()
    second.close()


def test_the_next_run_starts_from_the_keys_this_one_made(tmp_path) -> None:
    cache = KeyCache(tmp_path)
    first_run = RsaPool(spare=0, cache=cache)
    made = [numbers(first_run.take(1024)) for _ in range(3)]
    first_run.close()  # the process ends: its lease with it
    assert [p.name for p in tmp_path.iterdir()] == ["rsa-1024-000.keys"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in tmp_path.iterdir())
    next_run = RsaPool(spare=0, cache=cache)
    assert [numbers(next_run.take(1024)) for _ in range(3)] == made
    assert numbers(next_run.take(1024)) not in made  # the block is used up: a new key
    next_run.close()


def test_a_torn_record_is_cut_and_the_good_keys_still_serve(tmp_path) -> None:
    cache = KeyCache(tmp_path)
    first_run = RsaPool(spare=0, cache=cache)
    made = [numbers(first_run.take(1024)) for _ in range(2)]
    first_run.close()
    path = cache.path(1024, 0)
    path.write_bytes(path.read_bytes()[:-7])  # a crash in the middle of the second append
    next_run = RsaPool(spare=0, cache=cache)
    assert numbers(next_run.take(1024)) == made[0]
    fresh = numbers(next_run.take(1024))
    assert fresh != made[1]
    next_run.close()
    assert [numbers(k) for k in RsaPool(spare=0, cache=cache).cache.lease(  # type: ignore[union-attr]
        1024, set())[1]] == [made[0], fresh]


def test_garbage_in_a_block_file_is_ignored(tmp_path) -> None:
    cache = KeyCache(tmp_path)
    assert cache.usable()
    cache.path(1024, 0).write_bytes(b"\0" * 40)
    os.chmod(cache.path(1024, 0), 0o600)
    pool = RsaPool(spare=0, cache=cache)
    assert pool.take(1024).key_size == 1024
    pool.close()


def test_a_cache_in_an_unwritable_place_only_costs_time(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    pool = RsaPool(spare=0, cache=KeyCache(blocker / "cache"))
    assert pool.take(1024).key_size == 1024


def test_the_stock_fills_once_in_the_background_and_stops(tmp_path) -> None:
    cache = KeyCache(tmp_path, size=6, block=3)
    pool = RsaPool(spare=1, cache=cache, stock_bits=1024)
    pool.take(1024)
    deadline = time.monotonic() + 30
    while not (pool.stocked(1024) and cache.full(1024)):
        assert time.monotonic() < deadline, "the stock was not filled"
        time.sleep(0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rsa-1024-000.keys",
                                                          "rsa-1024-001.keys"]
    assert pool.fill_stock(1024) == 0  # full: nothing more to make
    pool.close()


def test_a_forked_child_forgets_the_parents_keys(tmp_path) -> None:
    """What ``os.register_at_fork`` runs in a child: the parent's ready keys and leases are
    dropped, so parent and child never hand out the same key."""
    cache = KeyCache(tmp_path, size=8, block=4)
    maker = RsaPool(spare=0, cache=cache)
    maker.fill_stock(1024)
    maker.close()
    pool = RsaPool(spare=0, cache=cache)
    parent = numbers(pool.take(1024))  # the pool now holds block 0 and its other three keys
    ready_in_parent = {numbers(k) for k in pool._keys[1024]}
    parents_copies = [os.dup(b.fd) for b in pool._blocks[1024]]  # the parent's descriptors
    _after_fork(weakref.ref(pool))  # as in the child
    child = numbers(pool.take(1024))
    assert child != parent and child not in ready_in_parent
    pool.close()
    for fd in parents_copies:
        os.close(fd)


def test_stopping_a_provider_never_waits_for_the_pool(monkeypatch) -> None:
    """The pool's threads are daemons nobody joins: a provider stops at once while the pool
    is in the middle of a long prime search (an 8192-bit key takes seconds)."""
    from mockidp import MockIdP
    from mockidp.core import jwa

    searching, release = threading.Event(), threading.Event()
    pool = RsaPool(spare=2)
    ready = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pool._keys[2048] = __import__("collections").deque([ready])

    def slow_search(bits: int) -> object:
        searching.set()
        release.wait(60)
        return ready

    monkeypatch.setattr(pool, "_generate", slow_search)
    monkeypatch.setattr(jwa, "RSA_POOL", pool)
    idp = MockIdP().start()
    assert searching.wait(30)
    started = time.monotonic()
    idp.stop()
    assert time.monotonic() - started < 5 and not release.is_set()
    release.set()
    pool.close()


def test_the_cache_location_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("MOCKIDP_KEY_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    cache = KeyCache.from_environment()
    assert cache is not None and cache.directory == Path("/xdg/mockidp")
    monkeypatch.setenv("MOCKIDP_KEY_CACHE", "0")
    assert KeyCache.from_environment() is None
