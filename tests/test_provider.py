from __future__ import annotations

import pytest

import mockidp
from mockidp import ConfigurationError, MockIdP, NotStartedError, UnknownAlgorithmError


def test_urls_before_start_say_how_to_start() -> None:
    idp = MockIdP()
    with pytest.raises(NotStartedError, match=r"call idp\.start\(\)"):
        idp.issuer  # noqa: B018
    with pytest.raises(NotStartedError):
        idp.token()
    with pytest.raises(NotStartedError):
        idp.reset()
    assert "not started" in repr(idp)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"alg": "RSA"}, UnknownAlgorithmError, "unknown JWS algorithm 'RSA'"),
        ({"jwks_max_age": -1}, ConfigurationError, "jwks_max_age"),
        ({"seed": "x"}, ConfigurationError, "seed must be an int"),
        ({"host": ""}, ConfigurationError, "host must be a non-empty string"),
    ],
)
def test_constructor_misuse(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        MockIdP(**kwargs)


def test_reset_restores_everything_and_keeps_default_kids(idp: MockIdP) -> None:
    kid = idp.keys.active.kid
    idp.keys.rotate()
    idp.keys.add("ES256")
    idp.users.add("carol", default=True)
    idp.clients.add("extra")
    idp.clock.advance(3600)
    idp.audience = "other"
    idp.reset()
    assert [k.kid for k in idp.keys] == [kid]
    assert idp.users.default.sub != "carol" and idp.clients.get("extra") is None
    assert idp.audience == "mockidp-api" and not idp.clock.frozen
    assert abs(idp.clock.time() - __import__("time").time()) < 5


def test_url_for_unknown_endpoint(idp: MockIdP) -> None:
    with pytest.raises(ConfigurationError, match="unknown endpoint 'nope'"):
        idp.url_for("nope")
    assert idp.url_for("jwks") == idp.jwks_uri


def test_public_names() -> None:
    for name in mockidp.__all__:
        assert getattr(mockidp, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        mockidp.nothing  # type: ignore[attr-defined]  # noqa: B018


def test_import_is_lazy() -> None:
    import subprocess
    import sys

    code = "import sys, mockidp, mockidp.plugin; print(sorted(m for m in ('jwt', 'werkzeug', " \
           "'cryptography', 'faker') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_reset_restores_the_jwks_max_age(idp: MockIdP) -> None:
    idp.jwks_max_age = 0
    idp.reset()
    assert idp.jwks_max_age == 300


def test_verify_refuses_a_boolean_nbf(idp: MockIdP) -> None:
    from mockidp import InvalidTokenError

    with pytest.raises(InvalidTokenError, match="not valid yet"):
        idp.verify(idp.token({"nbf": True}))
