from __future__ import annotations

import time

import pytest

from mockidp import ALGORITHMS
from mockidp.core.jwa import get
from mockidp.core.rsapool import RsaPool


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

