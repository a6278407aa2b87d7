"""Providers made one after another (unittest, Django's runner, Hypothesis, several issuers in
a test) take RSA keys that are ready, and each gets keys of its own.

Speed itself is measured in ``bench/lifecycle.py --cycles`` (docs/benchmarks.md), never by a
timed assertion; this proves what makes it fast: on a machine whose cache holds a stock, no
provider waits for a prime search in the caller's thread.
"""

from __future__ import annotations

import sys
import threading
import urllib.request

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mockidp import MockIdP
from mockidp.core import jwa
from mockidp.core.jws import b64url_decode
from mockidp.core.rsapool import KeyCache, RsaPool

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners and flock")


def test_providers_in_a_row_never_search_for_primes_and_never_share_keys(tmp_path,
                                                                          monkeypatch) -> None:
    cache = KeyCache(tmp_path, size=32, block=8)
    maker = RsaPool(spare=0, cache=cache)
    maker.fill_stock(1024)  # what an earlier run leaves behind
    maker.close()
    pool = RsaPool(spare=2, cache=cache, stock_bits=1024)
    searched_in = []
    generate = pool._generate

    def watched(bits: int) -> object:
        searched_in.append(threading.current_thread())
        return generate(bits)

    monkeypatch.setattr(pool, "_generate", watched)
    monkeypatch.setattr(jwa, "RSA_POOL", pool)
    monkeypatch.setattr(jwa, "RSA_DEFAULT_BITS", 1024)  # quick keys; the path is the same
    providers = []
    for _ in range(20):
        idp = MockIdP()
        with idp:
            urllib.request.urlopen(idp.discovery_url).read()
        providers.append(idp)
    assert threading.main_thread() not in searched_in
    assert len({idp.keys.active.kid for idp in providers}) == 20
    # A token of one provider does not verify with another's key (multi-issuer tests).
    first, second = providers[0], providers[1]
    with first:
        signed, _, signature = first.token().rpartition(".")
    with pytest.raises(InvalidSignature):  # RS256 is RSASSA-PKCS1-v1_5 with SHA-256
        second.keys.active.public_key.verify(b64url_decode(signature), signed.encode(),
                                             padding.PKCS1v15(), hashes.SHA256())
    pool.close()
