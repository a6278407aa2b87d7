"""The pytest plugin (``pytest11`` entry point): fixtures ``idp_server`` and ``idp``, the
``idp`` marker and the ``mockidp_*`` options.

pytest imports this module in every run of every project that has mockidp installed, so it
imports nothing heavy at module level; the provider is imported inside the fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .provider import MockIdP

__all__ = ["idp", "idp_server"]

_MARKER_OPTIONS = ("alg", "audience")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockidp", "mock identity provider")
    for name, help_text, default in (
        ("alg", "default signing algorithm of the session's provider", "RS256"),
        ("host", "loopback address the provider listens on (127.0.0.1 or ::1)", "127.0.0.1"),
        ("seed", "seed of the faker-made users", "0"),
    ):
        group.addoption(f"--mockidp-{name}", dest=f"mockidp_{name}", default=None,
                        help=f"{help_text} (ini: mockidp_{name}; default {default})")
        parser.addini(f"mockidp_{name}", help_text, default=default)
    group.addoption("--mockidp-tls", dest="mockidp_tls", action="store_true", default=None,
                    help="serve the session's provider over HTTPS (ini: mockidp_tls)")
    parser.addini("mockidp_tls", "serve the session's provider over HTTPS", type="bool",
                  default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "idp(alg=None, audience=None): configure the mockidp provider for this test only",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``idp_fault`` runs once per catalog fault, with its name as the id
    (``test_rejects[alg-confusion]``)."""
    if "idp_fault" in metafunc.fixturenames:
        from .faults import FAULTS

        names = [str(fault) for fault in FAULTS]
        metafunc.parametrize("idp_fault", names, ids=names)


def _option(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"mockidp_{name}")
    return str(value if value is not None else config.getini(f"mockidp_{name}"))


@pytest.fixture(scope="session")
def idp_server(pytestconfig: pytest.Config) -> Iterator[MockIdP]:
    """The provider of this test session (one per xdist worker). Its state is shared by every
    test that uses it directly; use ``idp`` for a provider that resets around each test."""
    from .provider import MockIdP

    seed = _option(pytestconfig, "seed")
    tls = pytestconfig.getoption("mockidp_tls") or pytestconfig.getini("mockidp_tls")
    try:
        provider = MockIdP(
            host=_option(pytestconfig, "host"), alg=_option(pytestconfig, "alg"), seed=int(seed),
            tls=bool(tls),
        )
    except ValueError as exc:  # a ConfigurationError, or a seed that is not a number
        raise pytest.UsageError(f"mockidp: {exc}") from None
    with provider:
        yield provider


def _configure(provider: MockIdP, marker: pytest.Mark) -> None:
    from .errors import ConfigurationError

    if marker.args:
        raise ConfigurationError(
            f"@pytest.mark.idp takes keyword arguments only ({', '.join(_MARKER_OPTIONS)})"
        )
    options: dict[str, Any] = dict(marker.kwargs)
    unknown = set(options) - set(_MARKER_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"@pytest.mark.idp got unknown option(s) {', '.join(sorted(unknown))}; "
            f"use {', '.join(_MARKER_OPTIONS)}"
        )
    if options.get("alg") is not None:
        provider.keys.default_alg = options["alg"]
    if options.get("audience") is not None:
        provider.audience = options["audience"]


@pytest.fixture
def idp(idp_server: MockIdP, request: pytest.FixtureRequest) -> Iterator[MockIdP]:
    """The session's provider, reset to its start-up state before and after this test, and
    configured by the test's ``@pytest.mark.idp(...)``. A request handler that failed during
    the test fails it at teardown."""
    idp_server.reset()
    marker = request.node.get_closest_marker("idp")
    if marker is not None:
        _configure(idp_server, marker)
    try:
        yield idp_server
        idp_server.check()
    finally:
        idp_server.reset()
