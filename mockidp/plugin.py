"""The pytest plugin (``pytest11`` entry point): fixtures ``idp_server`` and ``idp``, the
``idp`` marker, the ``mockidp_*`` options, and a report section on a failing test that used
``idp``: what the provider served during it.

pytest imports this module in every run of every project that has mockidp installed, so it
imports nothing heavy at module level; the provider is imported inside the fixture.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .core.issuer import Issuer
    from .provider import MockIdP

__all__ = ["idp", "idp_fault", "idp_login_fault", "idp_server"]

_MARKER_OPTIONS = ("alg", "audience", "intercept", "public_url")
#: The session options' defaults: when every option has its default, start-up checks nothing
#: (and imports nothing), as pytest loads this plugin in every run of every project.
_DEFAULTS = {"alg": "RS256", "host": "127.0.0.1", "seed": "0", "profile": "generic",
             "public_url": ""}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockidp", "mock identity provider")
    for name, help_text, default in (
        ("alg", "default signing algorithm of the session's provider", "RS256"),
        ("host", "address the provider listens on (127.0.0.1 or ::1; beyond loopback with "
                 "--mockidp-allow-remote)", "127.0.0.1"),
        ("seed", "seed of the faker-made users", "0"),
    ):
        group.addoption(f"--mockidp-{name}", dest=f"mockidp_{name}", default=None,
                        help=f"{help_text} (ini: mockidp_{name}; default {default})")
        parser.addini(f"mockidp_{name}", help_text, default=default)
    group.addoption("--mockidp-profile", dest="mockidp_profile", default=None,
                    help="make the session's provider look like keycloak, okta, entra, auth0, "
                         "google or cognito (ini: mockidp_profile; default generic)")
    parser.addini("mockidp_profile", "the session provider's profile", default="generic")
    group.addoption("--mockidp-profile-option", dest="mockidp_profile_options", action="append",
                    default=None, metavar="NAME=VALUE",
                    help="an option of the profile, e.g. realm=demo (repeatable; ini: "
                         "mockidp_profile_options, one per line)")
    parser.addini("mockidp_profile_options", "options of the profile, NAME=VALUE per line",
                  type="linelist", default=[])
    group.addoption("--mockidp-public-url", dest="mockidp_public_url", default=None,
                    metavar="URL",
                    help="the real provider's root URL the session's provider stands in for "
                         "(its issuer's; @pytest.mark.idp(intercept=True) intercepts its host; "
                         "ini: mockidp_public_url)")
    parser.addini("mockidp_public_url", "the real provider's root URL", default="")
    group.addoption("--mockidp-tls", dest="mockidp_tls", action="store_true", default=None,
                    help="serve the session's provider over HTTPS (ini: mockidp_tls)")
    parser.addini("mockidp_tls", "serve the session's provider over HTTPS", type="bool",
                  default=False)
    group.addoption("--mockidp-allow-remote", dest="mockidp_allow_remote", action="store_true",
                    default=None,
                    help="let --mockidp-host be an address beyond loopback; the control API "
                         "then needs idp.control_token (ini: mockidp_allow_remote)")
    parser.addini("mockidp_allow_remote", "let mockidp_host be beyond loopback", type="bool",
                  default=False)
    group.addoption("--mockidp-no-report", dest="mockidp_no_report", action="store_true",
                    default=False,
                    help="leave out the 'mockidp' section (requests served, keys, tokens "
                         "minted) of a failing test that used idp (ini: mockidp_report = false)")
    parser.addini("mockidp_report", "add what the provider served to a failing test's report",
                  type="bool", default=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "idp(alg=None, audience=None, *, profile=None, tls=False, public_url=None, "
        "intercept=False, **options): configure the mockidp provider for this test only. alg= "
        "(a JWS algorithm, e.g. 'ES256') and audience= set the session's provider for the test. "
        "profile= (generic, keycloak, okta, entra, auth0, google, cognito) or public_url= gives "
        "the test a provider of its own, which also takes the profile's options (realm=, "
        "server=, org=, tenant_id=, tenant=, user_pool=), tls=True, certificates=, "
        "allow_remote= (with host=) and the other MockIdP keywords. intercept=True runs the "
        "test inside idp.intercept(): the real provider's host (public_url=, by default the "
        "profile's) reaches the provider.",
    )
    _check_session_options(config)


def _check_session_options(config: pytest.Config) -> None:
    """A bad ``--mockidp-*`` option (or ini value) is one usage error at start-up, naming the
    option, rather than the same fixture error on every test that uses ``idp``. Checked
    without starting a provider (no keys are made), and not at all when every option has its
    default."""
    values = {name: _option(config, name) for name in _DEFAULTS}
    pairs = config.getoption("mockidp_profile_options") or config.getini(
        "mockidp_profile_options")
    if values == _DEFAULTS and not pairs:
        return
    from .core import jwa, profiles
    from .errors import ConfigurationError

    def fail(name: str, exc: Exception) -> pytest.UsageError:
        cli = name.replace("_", "-").replace("options", "option")
        return pytest.UsageError(f"mockidp: {exc} (--mockidp-{cli}, ini mockidp_{name})")

    try:
        alg = jwa.get(values["alg"]).name
    except ConfigurationError as exc:
        raise fail("alg", exc) from None
    try:
        int(values["seed"])
    except ValueError:
        raise fail("seed", ValueError(f"the seed must be an integer, not {values['seed']!r}")
                   ) from None
    try:
        profile = profiles.get(values["profile"])
    except ConfigurationError as exc:
        raise fail("profile", exc) from None
    try:
        profile.layout(profiles.parse_options(pairs))
    except ConfigurationError as exc:
        raise fail("profile_options", exc) from None
    if values["public_url"]:
        from .core.checks import http_url

        try:
            http_url("the public URL", values["public_url"], origin=True)
        except ConfigurationError as exc:
            raise fail("public_url", exc) from None
    if profile.algorithms and alg not in profile.algorithms:
        raise fail("alg", ConfigurationError(
            f"the {profile.name} profile signs with {', '.join(profile.algorithms)}, not {alg}"))
    try:
        _check_host(config)
    except ConfigurationError as exc:
        raise pytest.UsageError(f"mockidp: {exc}") from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``idp_fault`` (``idp_login_fault``) runs once per token (sign-in)
    catalog fault, with its name as the id (``test_rejects[alg-confusion]``)."""
    if "idp_fault" in metafunc.fixturenames:  # shadows the fixture below
        from .core.faults import FAULTS

        names = [str(fault) for fault in FAULTS]
        metafunc.parametrize("idp_fault", names, ids=names)
    if "idp_login_fault" in metafunc.fixturenames:
        from .core.login_faults import LOGIN_FAULTS

        names = [str(fault) for fault in LOGIN_FAULTS]
        metafunc.parametrize("idp_login_fault", names, ids=names)


def _option(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"mockidp_{name}")
    return str(value if value is not None else config.getini(f"mockidp_{name}"))


@pytest.fixture
def idp_fault(request: pytest.FixtureRequest) -> str:
    """The name of a token fault of the catalog (``mockidp.FAULTS``), a string such as
    ``"alg-confusion"``: a test that takes ``idp_fault`` runs once per fault, each with the
    fault's name as its id (``test_rejects[alg-confusion]``). Mint the token yourself with
    ``idp.token(fault=idp_fault)``; ``mockidp.FAULTS[idp_fault]`` tells what a correct
    consumer checks."""
    return str(request.param)  # set by pytest_generate_tests, which parametrizes every such test


@pytest.fixture
def idp_login_fault(request: pytest.FixtureRequest) -> str:
    """The name of a sign-in fault (``mockidp.LOGIN_FAULTS``), such as
    ``"id-token-wrong-nonce"``: a test that takes ``idp_login_fault`` runs once per fault.
    Plant it with ``idp.users.next_login(fault=idp_login_fault)`` and sign in through the app;
    ``mockidp.LOGIN_FAULTS[idp_login_fault]`` tells what a correct app checks (and which
    sign-ins it can reach: its ``needs``)."""
    return str(request.param)


@pytest.fixture(scope="session")
def idp_server(pytestconfig: pytest.Config) -> Iterator[MockIdP]:
    """The provider of this test session (one per xdist worker). Its state is shared by every
    test that uses it directly; use ``idp`` for a provider that resets around each test."""

    try:
        provider = _provider(pytestconfig)
    except ValueError as exc:  # a ConfigurationError, or a seed that is not a number
        raise pytest.UsageError(f"mockidp: {exc}") from None
    with provider:
        yield provider


def _provider(config: pytest.Config, **options: Any) -> MockIdP:
    """A provider made from the ``mockidp_*`` options; ``options`` override them."""
    from .provider import MockIdP

    tls = config.getoption("mockidp_tls") or config.getini("mockidp_tls")
    from .core.profiles import parse_options

    host, allow_remote = _check_host(config)
    profile_options = parse_options(config.getoption("mockidp_profile_options")
                                    or config.getini("mockidp_profile_options"))
    settings: dict[str, Any] = {
        "host": host, "allow_remote": allow_remote, "alg": _option(config, "alg"),
        "seed": int(_option(config, "seed")), "tls": bool(tls),
        "profile": _option(config, "profile"), "profile_options": profile_options,
        "public_url": _option(config, "public_url") or None,
    }
    if "profile" in options:  # another profile: none of the session's profile options
        settings = {k: settings[k] for k in ("host", "allow_remote", "seed", "tls")}
    return MockIdP(**{**settings, **options})


def _check_host(config: pytest.Config) -> tuple[str, bool]:
    """The session's host and whether it may be beyond loopback: MockIdP's own rule, named by
    the plugin's options."""
    from .errors import ConfigurationError
    from .web.control import is_loopback

    host = _option(config, "host")
    allow_remote = bool(config.getoption("mockidp_allow_remote")
                        or config.getini("mockidp_allow_remote"))
    if not allow_remote and not is_loopback(host):
        raise ConfigurationError(
            f"--mockidp-host {host} is not a loopback address: anyone who reaches it could "
            "mint tokens the provider signs; add --mockidp-allow-remote (ini: "
            "mockidp_allow_remote = true) to listen on it anyway, and send idp.control_token "
            "to the control API")
    return host, allow_remote


def _check(marker: pytest.Mark) -> dict[str, Any]:
    from .errors import ConfigurationError

    if marker.args:
        raise ConfigurationError(
            f"@pytest.mark.idp takes keyword arguments only ({', '.join(_MARKER_OPTIONS)}, "
            "and a profile's options with profile=)"
        )
    options: dict[str, Any] = dict(marker.kwargs)
    unknown = set(options) - set(_MARKER_OPTIONS)
    if unknown and "profile" not in options:
        import difflib

        names = ("profile", *_MARKER_OPTIONS)
        guesses = sorted({m for name in unknown for m in difflib.get_close_matches(name, names)})
        raise ConfigurationError(
            f"unknown option(s) {', '.join(sorted(unknown))}; use {', '.join(names)} (a "
            f"profile's options go with profile=)"
            + (f"; did you mean {' or '.join(guesses)}?" if guesses else ""))
    return options


def _configure(provider: MockIdP, options: dict[str, Any]) -> None:
    alg = options.get("alg")
    if alg is not None:
        allowed = provider.profile.algorithms
        if allowed and alg not in allowed:  # as MockIdP(profile=..., alg=...) refuses it
            from .errors import ConfigurationError

            raise ConfigurationError(
                f"the {provider.profile.name} profile signs with {', '.join(allowed)}, not "
                f"{alg}; drop alg= from the marker (keys.add() still makes any key on purpose)")
        provider.keys.default_alg = alg
    if options.get("audience") is not None:
        provider.audience = options["audience"]


@pytest.fixture
def idp(idp_server: MockIdP, request: pytest.FixtureRequest) -> Iterator[MockIdP]:
    """The session's provider, reset to its start-up state before and after this test, and
    configured by the test's ``@pytest.mark.idp(...)``. A marker naming a ``profile`` gets a
    provider of that profile for this test alone (started and stopped around it). A request
    handler that failed during the test fails it at teardown."""
    marker = request.node.get_closest_marker("idp")
    with _marker_errors():
        options = _check(marker) if marker is not None else {}
        intercept = bool(options.pop("intercept", False))
        if intercept and "profile" in options:
            options.setdefault("public_url", True)
        own = _provider(request.config, **options) \
            if "profile" in options or "public_url" in options else None
    with contextlib.ExitStack() as stack:
        if own is not None:
            provider = stack.enter_context(own)
        else:
            provider = idp_server
            provider.reset()
            stack.callback(provider.reset)
            with _marker_errors():
                _configure(provider, options)
        with _marker_errors():
            stack.enter_context(_intercepting(provider, intercept))
        yield provider
        provider.check()


@contextlib.contextmanager
def _marker_errors() -> Iterator[None]:
    """A marker that cannot be honoured fails its test in one line naming the marker, not
    with the fixture's traceback (the marker is the user's code; the fixture is not)."""
    from .errors import ConfigurationError, InterceptError

    try:
        yield
    except (ConfigurationError, InterceptError) as exc:
        pytest.fail(f"@pytest.mark.idp: {exc}", pytrace=False)


def _intercepting(provider: MockIdP, intercept: bool) -> contextlib.AbstractContextManager[None]:
    return provider.intercept() if intercept else contextlib.nullcontext()


# -- the report of a failing test ---------------------------------------------------------------

#: How much of a provider's record a failing test's report shows: the latest requests and
#: tokens, each value cut to ``REPORT_VALUE`` characters. A report is read by a person; a
#: test that made thousands of requests still fails with the last few that matter.
REPORT_REQUESTS = 50
REPORT_TOKENS = 20
REPORT_VALUE = 200


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """When a test that used ``idp`` fails, add a "mockidp" section to its report: what the
    provider served during the test (each request, the keys' states, the tokens minted), so
    that a failure of the consumer under test explains itself without a rerun. Runs before
    pytest builds the report (``tryfirst``), while the test's provider has not yet been reset
    by the fixture's teardown; costs nothing for a test that passed or did not use ``idp``."""
    if call.when != "call" or call.excinfo is None or call.excinfo.errisinstance(
            pytest.skip.Exception):
        return
    provider = getattr(item, "funcargs", {}).get("idp")
    if provider is None or item.config.getoption("mockidp_no_report") \
            or not item.config.getini("mockidp_report"):
        return
    try:
        text = report(provider)
    except Exception as exc:  # the report must never hide the test's own failure
        text = f"(mockidp could not describe the provider: {exc!r})"
    item.add_report_section("call", "mockidp", text)


def _cut(value: object) -> object:
    if isinstance(value, str) and len(value) > REPORT_VALUE:
        return value[:REPORT_VALUE] + f"...[{len(value) - REPORT_VALUE} more]"
    if isinstance(value, dict):
        return {name: _cut(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_cut(item) for item in value[:20]] + (["..."] if len(value) > 20 else [])
    return value


def report(provider: Issuer) -> str:
    """What ``provider`` served since its last reset, bounded: the last
    :data:`REPORT_REQUESTS` requests, every key with its state, the last
    :data:`REPORT_TOKENS` tokens minted (header and claims, decoded, values cut)."""
    import json

    from .core.jws import MalformedJWS, parse_compact

    lines = [f"issuer {provider.issuer}"]
    requests = provider.requests
    shown = requests[-REPORT_REQUESTS:]
    lines.append(f"requests served: {len(requests)}"
                 + (f" (the last {len(shown)})" if len(shown) < len(requests) else ""))
    for entry in shown:
        path = _cut(entry.path)
        status = "dropped" if entry.status is None else entry.status
        lines.append(f"  {entry.method} {path} -> {status} ({entry.endpoint or 'no endpoint'})")
    lines.append("keys:")
    for key in provider.keys:
        corruption = provider.keys.corruption(key.kid)
        lines.append(f"  {key.kid} {key.alg} {provider.keys.state(key.kid)}"
                     + (f" corrupted: {corruption}" if corruption else ""))
    minted = list(provider.minter.minted)[-REPORT_TOKENS:]
    lines.append(f"tokens minted (the last {len(minted)}, oldest first):" if minted
                 else "tokens minted: none")
    for token in minted:
        try:
            header, claims, _, _ = parse_compact(token)
        except (MalformedJWS, UnicodeError) as exc:  # a fault may make a token no JWS
            lines.append(f"  not a compact JWS ({exc}): {_cut(token)}")
            continue
        lines.append(f"  header {json.dumps(_cut(header), sort_keys=True)}")
        lines.append(f"  claims {json.dumps(_cut(claims), sort_keys=True)}")
    return "\n".join(lines)
