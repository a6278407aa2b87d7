from __future__ import annotations

import json
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mockidp import (
    ALGORITHMS,
    CORRUPTIONS,
    ConfigurationError,
    KeyExistsError,
    KeyRing,
    KeyStateError,
    UnknownAlgorithmError,
    UnknownCorruptionError,
    UnknownKeyError,
)
from mockidp.core.keys import Key, thumbprint

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture(scope="module")
def every_key_ring() -> KeyRing:
    ring = KeyRing()
    for alg in ALGORITHMS:
        ring.add(alg)
    ring.add("EdDSA", crv="Ed448")
    return ring


def test_jwks_never_contains_private_members(every_key_ring: KeyRing) -> None:
    document = json.loads(every_key_ring.jwks_bytes)
    kinds = {(jwk["kty"], jwk.get("crv")) for jwk in document["keys"]}
    assert kinds == {("RSA", None), ("EC", "P-256"), ("EC", "P-384"), ("EC", "P-521"),
                     ("EC", "secp256k1"), ("OKP", "Ed25519"), ("OKP", "Ed448")}
    for jwk in document["keys"]:
        assert not PRIVATE_MEMBERS & set(jwk), jwk
        assert jwk["use"] == "sig"
        assert "key_ops" not in jwk
        assert {"kty", "kid", "alg"} <= set(jwk)


def test_symmetric_keys_are_not_published(every_key_ring: KeyRing) -> None:
    published = {jwk["alg"] for jwk in every_key_ring.jwks()["keys"]}
    assert not {"HS256", "HS384", "HS512"} & published
    hs = every_key_ring.active_for("HS384")
    assert hs.public_jwk is None and hs.private_key is None
    assert len(hs.secret or b"") == 48


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 7638 §3.1's example key and its thumbprint.
    jwk = {
        "kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFx"
             "uhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w"
             "6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n"
             "91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44"
             "-csFCur-kEgU8awapJzKnqDKgw",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    key = Key.generate("ES256")
    assert key.kid == thumbprint(key.public_jwk or {})


def test_chosen_kid_and_existing_private_key() -> None:
    ring = KeyRing()
    material = ec.generate_private_key(ec.SECP384R1())
    key = ring.add("ES384", kid="my-kid", private_key=material)
    assert key.private_key is material and ring["my-kid"] is key
    with pytest.raises(KeyExistsError, match="'my-kid' already exists"):
        ring.add("ES256", kid="my-kid")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.add("RS1024"), UnknownAlgorithmError, "unknown JWS algorithm 'RS1024'"),
        (lambda r: r.add("none"), UnknownAlgorithmError, "RS256, RS384"),
        (lambda r: r.revoke("nope"), UnknownKeyError, "no key with kid 'nope'"),
        (lambda r: r["nope"], UnknownKeyError, "known kids"),
        (lambda r: r.activate("nope"), UnknownKeyError, "nope"),
        (lambda r: r.corrupt(r.active.kid, how="melt"), UnknownCorruptionError, "'melt'"),
        (lambda r: r.corrupt(r.active.kid, how="wrong-crv"), KeyStateError, "EC or OKP"),
        (lambda r: r.add("RS256", size=512), ConfigurationError, "at least 1024"),
        (lambda r: r.add("ES256", size=2048), ConfigurationError, "fixed size"),
        (lambda r: r.add("ES256", crv="P-384"), ConfigurationError, "cannot use curve 'P-384'"),
        (lambda r: r.add("HS256", size=128), ConfigurationError, "at least 256 bits"),
        # Bounds: a 16384-bit RSA search pins a core for minutes, past SIGTERM; a 1.6e9-bit
        # secret would allocate 191 MiB. Both are refused before any work, naming the limit.
        (lambda r: r.add("RS256", size=16384), ConfigurationError, "at most 8192 bits"),
        (lambda r: r.add("HS256", size=1_600_000_000), ConfigurationError, "at most 65536 bits"),
        (lambda r: r.add("RS256", kid=""), ConfigurationError, "non-empty string"),
        (lambda r: r.add("ES256", private_key=rsa.generate_private_key(65537, 2048)),
         ConfigurationError, "EC"),
        (lambda r: r.add("ES256", private_key=ec.generate_private_key(ec.SECP384R1())),
         ConfigurationError, "P-256"),
        (lambda r: r.add("PS256", private_key=b"secret"), ConfigurationError, "cannot sign"),
    ],
)
def test_misuse_raises_a_specific_error(call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        call(KeyRing())


def test_unknown_kid_is_a_key_error_with_a_readable_message() -> None:
    ring = KeyRing()
    with pytest.raises(KeyError) as caught:
        ring["missing"]
    assert str(caught.value).startswith("no key with kid 'missing'")


def test_life_cycle_states() -> None:
    ring = KeyRing()
    first = ring.active
    staged = ring.add(activate=False)
    hidden = ring.add(publish=False, activate=False)
    assert [ring.state(k.kid) for k in (first, staged, hidden)] == ["active", "next", "revoked"]
    ring.activate(staged.kid)
    assert [ring.state(k.kid) for k in (first, staged)] == ["previous", "active"]
    ring.revoke(first.kid)
    assert ring.state(first.kid) == "revoked"
    assert [k.kid for k in ring.published()] == [staged.kid]
    ring.publish(first.kid)
    assert ring.state(first.kid) == "previous"
    assert len(ring) == 3 and list(ring) == [first, staged, hidden]


def test_revoking_the_active_key_leaves_no_signer_until_rotation() -> None:
    ring = KeyRing()
    ring.revoke(ring.active.kid)
    with pytest.raises(KeyStateError, match="no active RS256 key"):
        ring.active  # noqa: B018
    with pytest.raises(KeyStateError, match="publish it again"):
        ring.activate(next(iter(ring)).kid)
    assert ring.rotate().kid == ring.active.kid


def test_discovery_algorithms_follow_the_keys() -> None:
    ring = KeyRing()
    assert ring.algorithms() == ["RS256"]
    ring.add("ES256")
    ring.add("PS512", activate=False)
    assert ring.algorithms() == ["RS256", "PS512", "ES256"]


def test_corruption_and_repair_change_only_the_published_jwk() -> None:
    ring = KeyRing("ES256")
    key = ring.active
    for how in CORRUPTIONS:
        ring.corrupt(key.kid, how=how)
        (published,) = ring.jwks()["keys"]
        assert published != key.public_jwk, how
        assert ring.corruption(key.kid) == how
    ring.repair(key.kid)
    assert ring.jwks()["keys"] == [key.public_jwk]
    assert ring.corruption(key.kid) is None


def test_other_key_corruption_reuses_one_decoy_per_shape() -> None:
    ring = KeyRing("ES256")
    ring.corrupt(ring.active.kid, "other-key")
    first = ring.jwks()["keys"][0]["x"]
    ring.repair(ring.active.kid)
    ring.corrupt(ring.active.kid, "other-key")
    assert ring.jwks()["keys"][0]["x"] == first


def test_snapshot_restore_and_standard_keys_survive() -> None:
    ring = KeyRing()
    snapshot = ring.snapshot()
    es = ring.ensure_active("ES256")
    ring.rotate()
    ring.restore(snapshot)
    assert ring.algorithms() == ["RS256"] and len(ring) == 1
    assert ring.ensure_active("ES256") is es  # made once, reused after the restore


def test_concurrent_readers_never_see_a_torn_jwks() -> None:
    ring = KeyRing("ES256")
    stop = threading.Event()
    seen: list[int] = []
    torn: list[object] = []

    def read() -> None:
        while not stop.is_set():
            document = json.loads(ring.jwks_bytes)
            seen.append(len(document["keys"]))
            torn.extend(jwk for jwk in document["keys"] if set(jwk) != {
                "kty", "kid", "use", "alg", "crv", "x", "y"})

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for _ in range(300):
        ring.rotate()
    stop.set()
    for thread in readers:
        thread.join()
    assert seen and max(seen) <= 301
    assert torn == []


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "HS256", "PS384"])
def test_replace_keeps_kid_state_and_shape(alg: str) -> None:
    ring = KeyRing("RS256")
    old = ring.add(alg, kid="k", activate=False)
    if old.kty != "oct":
        ring.corrupt("k")
    new = ring.replace("k")
    assert new.kid == "k" and new.alg == old.alg and new.crv == old.crv
    assert new.size == old.size and ring.state("k") == "next"
    assert ring.corruption("k") is None  # a re-key publishes the real new material
    if old.kty == "oct":
        assert new.secret != old.secret and len(new.secret or b"") == len(old.secret or b"")
    else:
        assert new.public_jwk != old.public_jwk
        assert ring.jwks()["keys"][-1] == new.public_jwk
    with pytest.raises(KeyError):
        ring.replace("nope")
