from __future__ import annotations

import time

import pytest

from mockidp import ALGORITHMS
from mockidp.core.jwa import get
from mockidp.core.rsapool import KeyCache, RsaPool


def test_every_algorithm_signs_and_verifies() -> None:
    for name, row in ALGORITHMS.items():
        material = row.generate()
        signer = row.signer
        if row.kty == "oct":
            assert signer.verify(b"m", material, signer.sign(b"m", material)), name
        else:
            signature = signer.sign(b"m", material)
            assert signer.verify(b"m", material.public_key(), signature), name


def test_rsa_pool_refills_in_the_background() -> None:
    pool = RsaPool(spare=2)
    first = pool.take(1024)
    deadline = time.monotonic() + 30
    while pool.ready(1024) < 2:
        assert time.monotonic() < deadline, "the pool did not fill"
        time.sleep(0.01)
    second = pool.take(1024)
    assert second.key_size == 1024 and second is not first
    assert second.private_numbers() != first.private_numbers()


def test_rsa_pool_can_be_off() -> None:
    pool = RsaPool(spare=0)
    pool.take(1024)
    assert pool.ready(1024) == 0


def test_unknown_algorithm_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="use one of: RS256"):
        get("RS999")


def test_key_cache_seeds_the_next_pool(tmp_path) -> None:
    cache = KeyCache(tmp_path, size=2)
    first_run = RsaPool(spare=0, cache=cache)
    made = [first_run.take(1024), first_run.take(1024), first_run.take(1024)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rsa-1024-0.key", "rsa-1024-1.key"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in tmp_path.iterdir())

    next_run = RsaPool(spare=0, cache=cache)
    reused = [next_run.take(1024), next_run.take(1024)]
    assert [k.private_numbers() for k in reused] == [k.private_numbers() for k in made[:2]]
    fresh = next_run.take(1024)  # the cache is used up: a new key, not a third copy
    assert fresh.private_numbers() not in [k.private_numbers() for k in made]


def test_key_cache_ignores_damaged_files(tmp_path) -> None:
    cache = KeyCache(tmp_path, size=1)
    RsaPool(spare=0, cache=cache).take(1024)
    path = tmp_path / "rsa-1024-0.key"
    path.write_bytes(path.read_bytes()[:-7])
    assert cache.load(1024) == []
    path.write_bytes(b"\0" * 32)
    assert cache.load(1024) == []


def test_key_cache_in_an_unwritable_place_only_costs_time(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    pool = RsaPool(spare=0, cache=KeyCache(blocker / "cache"))
    assert pool.take(1024).key_size == 1024


@pytest.mark.parametrize(("setting", "expected"), [
    ("0", None), ("/somewhere/keys", "/somewhere/keys"), ("", "XDG/mockidp"),
])
def test_key_cache_location_comes_from_the_environment(monkeypatch, setting, expected) -> None:
    monkeypatch.setenv("MOCKIDP_KEY_CACHE", setting)
    monkeypatch.setenv("XDG_CACHE_HOME", "XDG")
    cache = KeyCache.from_environment()
    assert (None if cache is None else str(cache.directory)) == expected
