"""The pytest plugin, run in fresh pytest sessions that load it from its entry point.

Most sessions run in this process (``pytester.runpytest``): a new configuration and plugin
manager that find mockidp through its ``pytest11`` entry point, as a user's project does. The
first test and the xdist test run pytest in fresh interpreters. Either way no other installed
plugin loads (see the ``pytester`` fixture in conftest.py).
"""

from __future__ import annotations

import pytest

ROTATE_THEN_CHECK = """
    import pytest

    KIDS = {}

    def test_a_rotates(idp):
        KIDS["default"] = idp.keys.active.kid
        KIDS["rotated"] = idp.keys.rotate().kid
        idp.keys.revoke(KIDS["default"])
        idp.users.add("someone", default=True)

    def test_b_sees_the_start_up_state(idp):
        assert idp.keys.active.kid == KIDS["default"]
        assert KIDS["rotated"] not in idp.keys
        assert [k["kid"] for k in idp.jwks()["keys"]] == [KIDS["default"]]
        assert idp.users.default.sub != "someone"
"""


def test_state_changed_in_one_test_is_gone_in_the_next(pytester: pytest.Pytester) -> None:
    """In a fresh interpreter: the installed package alone makes the fixtures work."""
    pytester.makepyfile(ROTATE_THEN_CHECK)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.stdout.fnmatch_lines(["plugins: mockidp-*"])
    result.assert_outcomes(passed=2)


def test_plugin_works_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json, urllib.request
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_serves(idp, n):
            idp.keys.rotate("ES256")
            with urllib.request.urlopen(idp.jwks_uri) as response:
                assert len(json.load(response)["keys"]) == 2
        """
    )
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_marker_configures_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import jwt, pytest

        @pytest.mark.idp(alg="ES256", audience="orders")
        def test_marked(idp):
            token = idp.token()
            assert jwt.get_unverified_header(token)["alg"] == "ES256"
            assert jwt.decode(token, options={"verify_signature": False})["aud"] == "orders"

        def test_unmarked(idp):
            assert jwt.get_unverified_header(idp.token())["alg"] == "RS256"
            assert idp.audience == "mockidp-api"
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_marker_alg_on_an_rsa_only_profile_is_refused(pytester: pytest.Pytester) -> None:
    """As MockIdP(profile="entra", alg="ES256") refuses it: one EC key breaks the consumers
    of RSA-only providers."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.idp(alg="ES256")
        def test_marked(idp):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "--mockidp-profile", "entra")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the entra profile signs with RS256, not ES256*"])


def test_marker_misuse_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.idp(colour="blue")
        def test_marked(idp):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown option(s) colour*"])


@pytest.mark.parametrize("how", ["ini", "cli"])
def test_session_options(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(
        """
        def test_options(idp):
            assert idp.keys.default_alg == "EdDSA"
            assert idp.issuer.startswith("http://[::1]:")
        """
    )
    args = []
    if how == "ini":
        pytester.makeini("[pytest]\nmockidp_alg = EdDSA\nmockidp_host = ::1\n")
    else:
        args = ["--mockidp-alg", "EdDSA", "--mockidp-host", "::1"]
    pytester.runpytest(*args).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--mockidp-alg", "ES999"], "",
         "mockidp: unknown JWS algorithm 'ES999'; use one of: RS256, * (--mockidp-alg, "
         "ini mockidp_alg)"),
        ([], "mockidp_alg = RS1",
         "mockidp: unknown JWS algorithm 'RS1'; * (--mockidp-alg, ini mockidp_alg)"),
        (["--mockidp-profile", "nope"], "",
         "mockidp: unknown profile 'nope'; use one of: generic, keycloak, *"),
        (["--mockidp-profile", "okta", "--mockidp-profile-option", "realm=demo"], "",
         "mockidp: profile 'okta' has no option(s) realm; its options: server, org "
         "(--mockidp-profile-option, ini mockidp_profile_options)"),
        (["--mockidp-profile", "okta", "--mockidp-alg", "ES256"], "",
         "mockidp: the okta profile signs with RS256, not ES256 (--mockidp-alg, *"),
        (["--mockidp-seed", "x"], "", "mockidp: the seed must be an integer, not 'x' *"),
        (["--mockidp-public-url", "https://login.microsoftonline.com/common"], "",
         "mockidp: the public URL must be an absolute http(s) origin * (--mockidp-public-url, "
         "ini mockidp_public_url)"),
        (["--mockidp-host", "192.0.2.1"], "",
         "mockidp: --mockidp-host 192.0.2.1 is not a loopback address*"),
    ],
)
def test_bad_session_option_is_one_usage_error_at_start_up(
        pytester: pytest.Pytester, args: list[str], ini: str, message: str) -> None:
    """One error before any test runs, naming the option, rather than the same fixture
    traceback on every test that uses ``idp`` (and a pass for those that do not)."""
    pytester.makepyfile("def test_a(idp):\n    pass\n\ndef test_b(idp_server):\n    pass\n\n"
                        "def test_c():\n    pass\n")
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "passed" not in result.stdout.str()  # no test ran


def test_idp_fault_is_documented_as_a_fixture(pytester: pytest.Pytester) -> None:
    """``pytest --fixtures`` lists ``idp_fault``, saying its value is the fault's name; and a
    test taking it still runs once per catalog fault."""
    from mockidp import FAULTS

    pytester.makepyfile(
        """
        import mockidp

        def test_names(idp_fault):
            assert isinstance(idp_fault, str) and idp_fault in mockidp.FAULTS
        """
    )
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["idp_fault -- *",
                                 "    The name of a token fault of the catalog*"])
    pytester.runpytest().assert_outcomes(passed=len(FAULTS))


def test_the_session_provider_intercepts_its_public_url(pytester: pytest.Pytester) -> None:
    """--mockidp-public-url gives the session's provider the real URL; a test marked
    intercept=True reaches it there, and the next test (not marked) does not."""
    pytester.makepyfile("""
        import json, socket, urllib.request
        import pytest

        TENANT = "4d6f636b-4964-4000-8000-000000000001"
        URL = f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"

        @pytest.mark.idp(intercept=True)
        def test_intercepted(idp):
            assert idp.issuer == f"https://login.microsoftonline.com/{TENANT}/v2.0"
            with urllib.request.urlopen(URL) as answer:
                assert json.load(answer)["keys"][0]["kid"] == idp.keys.active.kid

        def test_not_intercepted(idp):
            assert socket.getaddrinfo.__module__ == "socket"
    """)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "--mockidp-profile", "entra",
                                          "--mockidp-public-url",
                                          "https://login.microsoftonline.com")
    result.assert_outcomes(passed=2)


def test_idp_marker_lists_its_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    (line,) = [line for line in result.stdout.lines if line.startswith("@pytest.mark.idp(")]
    for option in ("alg=", "audience=", "profile=", "tls=", "realm=", "server=", "tenant_id=",
                   "user_pool=", "allow_remote=", "certificates=", "public_url=", "intercept=",
                   "org=", "tenant="):
        assert option in line, option


def test_failed_request_handler_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import urllib.request, urllib.error, base64

        def test_breaks_the_token_endpoint(idp):
            idp.keys.revoke(idp.keys.active.kid)
            auth = base64.b64encode(b"mockidp-client:mockidp-client-secret").decode()
            request = urllib.request.Request(
                idp.token_endpoint, data=b"grant_type=client_credentials",
                headers={"Authorization": "Basic " + auth})
            try:
                urllib.request.urlopen(request)
            except urllib.error.HTTPError as exc:
                assert exc.code == 500
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ServerError: a request handler of the mock provider failed*"])


def test_session_provider_is_shared(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        SEEN = set()

        def test_one(idp_server):
            SEEN.add(idp_server.issuer)

        def test_two(idp_server, idp):
            SEEN.add(idp.issuer)
            assert idp is idp_server and len(SEEN) == 1
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.parametrize("how", ["ini", "cli"])
def test_tls_option(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_https(idp):
            assert idp.issuer.startswith("https://")
            assert requests.get(idp.jwks_uri, verify=idp.ca_bundle, timeout=5).ok
        """
    )
    args = []
    if how == "ini":
        pytester.makeini("[pytest]\nmockidp_tls = true\n")
    else:
        args = ["--mockidp-tls"]
    pytester.runpytest(*args).assert_outcomes(passed=1)


@pytest.mark.parametrize("how", ["ini", "command line"])
def test_profile_options(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(
        """
        def test_profile(idp, idp_server):
            assert idp is idp_server and idp.profile.name == "keycloak"
            assert idp.issuer.endswith("/realms/demo")
        """
    )
    args = []
    if how == "ini":
        pytester.makeini("[pytest]\nmockidp_profile = keycloak\n"
                         "mockidp_profile_options =\n    realm=demo\n")
    else:
        args = ["--mockidp-profile", "keycloak", "--mockidp-profile-option", "realm=demo"]
    pytester.runpytest(*args).assert_outcomes(passed=1)


def test_marker_profile_gives_the_test_its_own_provider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        OWN = []

        @pytest.mark.idp(profile="okta", server="aus9", tls=True)
        def test_okta(idp, idp_server):
            assert idp is not idp_server and idp.issuer.startswith("https://")
            assert idp.issuer.endswith("/oauth2/aus9")
            OWN.append(idp)

        def test_after(idp):
            assert idp.profile.name == "generic" and not OWN[0].running
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_marker_profile_options_need_the_profile(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.idp(realm="demo")
        def test_x(idp):
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*@pytest.mark.idp: unknown option(s) realm; use profile, "
                                 "*(a profile's options go with profile=)*"])
    assert "Traceback" not in result.stdout.str() and "def idp(" not in result.stdout.str()
