from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import requests

from mockidp import MockIdP, __version__
from mockidp.cli import main


def _reap(process: subprocess.Popen[str]) -> None:
    """Whatever the test did, leave no `mockidp serve` process or open pipe behind."""
    process.kill()
    process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()

def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"mockidp {__version__}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--port", "http"], "invalid int value: 'http'"),
        (["serve", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--host", "0.0.0.0"], "not a loopback address; add --allow-remote"),
        (["serve", "--alg", "XYZ"], "unknown JWS algorithm 'XYZ'"),
        (["serve", "--port", "-5"], "port must be an int from 0 to 65535"),
        (["serve", "--profile", "kc"], "unknown profile 'kc'; use one of: generic, keycloak"),
        (["serve", "--profile", "keycloak", "--profile-option", "server=x"],
         "profile 'keycloak' has no option(s) server; its options: realm"),
        (["serve", "--profile-option", "realm"], "a profile option is NAME=VALUE, not 'realm'"),
        (["serve", "--profile-option", "alg=ES256"], "profile 'generic' has no option(s) alg"),
    ],
)
def test_bad_values_exit_2_with_one_line(argv: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """The message names the flag to change, not the Python API's ``port=0``."""
    with MockIdP() as other:
        assert main(["serve", "--port", str(other.port)]) == 2
        err = capsys.readouterr().err
        assert err == (f"mockidp: error: --port {other.port}: cannot listen on 127.0.0.1:"
                       f"{other.port}: address already in use; pick another --port, or "
                       "--port 0 for any free port\n")
        assert main(["audit", "--url", "http://127.0.0.1:9/x", "--idp-port",
                     str(other.port)]) == 2
        err = capsys.readouterr().err
        assert f"--idp-port {other.port}: cannot listen" in err and "port=0" not in err
        assert err.count("\n") == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_as_a_process(sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(4)]
        assert "not a real IdP" in banner[0]
        issuer = banner[1].split()[-1]
        discovery = banner[2].split()[-1]
        with urllib.request.urlopen(discovery, timeout=5) as response:
            assert json.load(response)["issuer"] == issuer
        process.send_signal(sig)
        _out, err = process.communicate(timeout=10)
    finally:
        _reap(process)
    assert process.returncode == 0
    assert "Traceback" not in err


def test_serve_a_profile() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--quiet", "--profile",
         "keycloak", "--profile-option", "realm=demo", "--certificates"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(4)]
        issuer, jwks = banner[1].split()[-1], banner[3].split()[-1]
        assert issuer.endswith("/realms/demo")
        assert banner[3].startswith("jwks:") and jwks.endswith(
            "/realms/demo/protocol/openid-connect/certs")
        with urllib.request.urlopen(jwks, timeout=5) as response:
            assert "x5c" in json.load(response)["keys"][0]
        process.terminate()
        process.communicate(timeout=10)
    finally:
        _reap(process)


def test_faults_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    from mockidp import FAULTS

    assert main(["faults"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(FAULTS)
    severities = [line.split()[1] for line in lines]  # most severe first
    assert severities == sorted(severities, key=["critical", "high", "hardening"].index)
    assert all(FAULTS[line.split()[0]].severity == line.split()[1] for line in lines)


def test_faults_page_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    assert main(["faults", "--markdown"]) == 0
    page = Path(__file__).resolve().parent.parent / "docs" / "faults.md"
    assert page.read_text() == capsys.readouterr().out, (
        "docs/faults.md is stale: run `mockidp faults --markdown > docs/faults.md`"
    )
    assert main(["faults", "--login", "--markdown"]) == 0
    assert capsys.readouterr().out in page.read_text()


def test_faults_lists_the_sign_in_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    from mockidp import LOGIN_FAULTS

    assert main(["faults", "--login"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(
        LOGIN_FAULTS, key=lambda name: ("critical", "high", "hardening").index(
            LOGIN_FAULTS[name].severity))
    assert all(LOGIN_FAULTS[line.split()[0]].severity == line.split()[1] for line in lines
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('colour = "blue"\n', "colour: unknown field"),
        ("seed = true\n", "seed: expected an integer"),
        ('alg = "RS1"\n', "unknown JWS algorithm 'RS1'"),
        ('[[keys]]\nalg = "RS1"\n', "unknown JWS algorithm 'RS1'"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path, config: str, message: str,  # type: ignore[no-untyped-def]
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config)
    assert main(["serve", "--port", "0", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_scenario_exits_2(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.toml"
    path.write_text('[[step]]\naction = "explode"\n')
    assert main(["serve", "--port", "0", "--scenario", str(path)]) == 2
    assert "action must be one of" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ('action = "fail"\nendpoint = "nope"', "step 1: endpoint: unknown endpoint 'nope'"),
        ('action = "corrupt"\nhow = "bogus"', "step 1: how: unknown key corruption 'bogus'"),
        ('action = "fail"\nendpoint = "jwks"\ncolour = 1', "step 1: fail takes no colour"),
        ('action = "fail"\nendpoint = "jwks"\nstatus = "x"', "step 1: status: expected an "
                                                              "integer"),
        ('action = "revoke"\nkid = "previous"', "step 1 (revoke at 0s) failed: no previous key"),
    ],
)
def test_bad_scenario_step_exits_2_with_one_line(
        tmp_path: Path, step: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f"[[step]]\n{step}\n")
    assert main(["serve", "--port", "0", "--quiet", "--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mockidp: error: {path}: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("option", ["--config", "--scenario"])
def test_a_file_that_is_not_utf8_exits_2_with_one_line(
        tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("# caf\xe9\n".encode("latin-1"))
    assert main(["serve", "--port", "0", option, str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not UTF-8 (byte 0xe9 at offset 5)" in err and str(path) in err
    assert err.count("\n") == 1


def test_a_step_failing_as_it_plays_is_logged_and_the_server_keeps_serving(
        tmp_path: Path) -> None:
    """The player thread logs the failure as one line on stderr (even with --quiet) and no
    traceback; the later steps do not play; the server serves on and exits 0."""
    path = tmp_path / "s.toml"
    path.write_text('[[step]]\nat = "100ms"\naction = "activate"\nkid = "next"\n'
                    '[[step]]\nat = "200ms"\naction = "rotate"\nalg = "ES256"\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--quiet", "--scenario",
         str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        jwks = [process.stdout.readline() for _ in range(4)][3].split()[-1]
        line = process.stderr.readline()
        assert line == (f"mockidp: scenario: {path}: step 1 (activate at 0.1s) failed: no next "
                        "key to act on; the scenario stopped (1 later step not played)\n")
        with urllib.request.urlopen(jwks, timeout=5) as response:
            assert [k["alg"] for k in json.load(response)["keys"]] == ["RS256"]
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=10)
    finally:
        _reap(process)
    assert process.returncode == 0 and err == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "--url", "notaurl"],
         "--url 'notaurl': the URL of a running mockidp (its issuer) must be an absolute "
         "http(s) URL"),
        (["audit", "--url", "http://127.0.0.1:9/x", "--issuer", "notaurl"],
         "--issuer 'notaurl': the URL of a running mockidp"),
        (["token", "--url", "http://127.0.0.1:9"],
         "--url http://127.0.0.1:9: cannot reach the mockidp control API"),
    ],
)
def test_a_bad_provider_url_is_one_line_with_a_hint(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mockidp: error: {message}") and err.count("\n") == 1
    assert "mockidp serve" in err  # the hint: what to give, or what to start


def test_token_one_off(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import jwt

    assert main(["token", "--alg", "ES256", "--sub", "bob", "--claim", "roles=[\"a\"]",
                 "--claim", "team=blue"]) == 0
    out, err = capsys.readouterr()
    jwks = json.loads(err)
    (es256,) = [k for k in jwks["keys"] if k["alg"] == "ES256"]
    key = jwt.PyJWK(es256)
    claims = jwt.decode(out.strip(), key, algorithms=["ES256"], audience="mockidp-api")
    assert claims["sub"] == "bob" and claims["roles"] == ["a"] and claims["team"] == "blue"


def test_token_from_a_running_server(idp: MockIdP, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--url", idp.issuer, "--fault", "expired"]) == 0
    token = capsys.readouterr().out.strip()
    import jwt

    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, idp.keys.active.public_key, algorithms=["RS256"],
                   audience=idp.audience)
    assert main(["token", "--claim", "novalue"]) == 2


def test_serve_with_everything(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import ssl
    import urllib.request

    config = tmp_path / "c.toml"
    config.write_text('[[clients]]\nclient_id = "web"\nclient_secret = "web-secret"\n')
    scenario = tmp_path / "s.toml"
    scenario.write_text('[[step]]\nat = "0s"\naction = "rotate"\nalg = "ES256"\n')
    secret = "control-token-long-enough"
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--tls", "--config",
         str(config), "--scenario", str(scenario), "--issuer-url", "https://idp.test:8443",
         "--control-token", secret],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = dict(line.split(": ", 1) for line in
                      (process.stdout.readline().strip() for _ in range(7))
                      if ": " in line)
        assert banner["issuer"].strip() == "https://idp.test:8443"
        base = banner["listening"].strip()
        context = ssl.create_default_context(cafile=banner["CA bundle"].strip())

        def get(path: str, **headers: str) -> dict:
            request = urllib.request.Request(base + path, headers=headers)
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                return json.load(response)

        metadata = get("/.well-known/openid-configuration")
        assert metadata["issuer"] == "https://idp.test:8443"
        assert metadata["jwks_uri"] == "https://idp.test:8443/.well-known/jwks.json"
        state = get("/_mockidp/state", Authorization=f"Bearer {secret}")
        assert [k["alg"] for k in state["keys"] if k["state"] == "active"] == ["RS256", "ES256"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            get("/_mockidp/state")
        assert refused.value.code == 401
        refused.value.close()
        form = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode()
        request = urllib.request.Request(base + "/token", data=form, headers={
            "Authorization": "Basic " + __import__("base64").b64encode(b"web:web-secret"
                                                                         ).decode()})
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            assert response.status == 200
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "GET /.well-known/openid-configuration 200" in out
    assert "POST /token 200" in out


def _serve_banner(config: Path) -> tuple[dict[str, str], list[dict[str, object]]]:
    """Start ``mockidp serve --config``, read its banner and JWKS, and stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--quiet", "--profile",
         "keycloak", "--config", str(config)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(7)]
        banner = {name: value.strip() for name, _, value in
                  (line.partition(": ") for line in lines[1:])}
        with urllib.request.urlopen(banner["jwks"], timeout=5) as response:
            keys = json.load(response)["keys"]
        with urllib.request.urlopen(banner["health"], timeout=5) as response:
            assert json.load(response) == {"status": "ok"}
        with urllib.request.urlopen(banner["dashboard"], timeout=5) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
        process.terminate()
        process.communicate(timeout=10)
    finally:
        _reap(process)
    return banner, keys


def test_serve_with_a_fixed_key_publishes_it_at_every_start(tmp_path: Path) -> None:
    """Two starts of the server publish the same key under the same kid (a consumer that
    cached the JWKS across a restart keeps working), and the banner names the dashboard and
    the health route, below the root URL rather than the realm's path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "signing.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    config = tmp_path / "mockidp.toml"
    config.write_text('[[keys]]\nfile = "signing.pem"\nkid = "stable"\n')
    first_banner, first = _serve_banner(config)
    _, second = _serve_banner(config)
    assert first_banner["dashboard"].endswith("/_mockidp/ui")
    assert "/realms/" not in first_banner["dashboard"]
    # The key's members; its certificate (x5c, under this profile) is made anew at each start.
    fixed = [[{m: k[m] for m in ("kty", "kid", "alg", "n", "e")} for k in keys
              if k["kid"] == "stable"] for keys in (first, second)]
    assert fixed[0] == fixed[1] and len(fixed[0]) == 1


def test_serve_knows_the_resources_it_is_given(tmp_path: Path) -> None:
    """RFC 8707 resources for `mockidp serve` (an MCP server's URL): --resource and the config
    file's `resources` are start-up state, kept by a reset; RemoteIdP.add_resource adds one
    until the next reset; an unknown one is invalid_target naming every way to add it."""
    from mockidp import RemoteIdP
    from mockidp.cli import _parser, _provider

    config = tmp_path / "mcp.toml"
    config.write_text('resources = ["http://127.0.0.1:5002/mcp"]\n')
    args = _parser().parse_args(["serve", "--port", "0", "--profile", "mcp", "--config",
                                 str(config), "--resource", "http://127.0.0.1:5001/mcp"])
    with _provider(args) as idp:
        idp.reset()
        assert list(idp.resources) == ["http://127.0.0.1:5001/mcp", "http://127.0.0.1:5002/mcp"]
        remote = RemoteIdP(idp.issuer)
        assert remote.add_resource("http://127.0.0.1:5003/mcp") in idp.resources
        answer = requests.post(idp.token_endpoint, auth=("mockidp-client", "mockidp-client-secret"),
                               data={"grant_type": "client_credentials",
                                     "resource": "http://127.0.0.1:5009/mcp"}, timeout=5)
        assert answer.json()["error"] == "invalid_target"
        assert "--resource" in answer.json()["error_description"]
        idp.reset()
        assert "http://127.0.0.1:5003/mcp" not in idp.resources


def test_audit_of_a_url_where_nothing_answers_is_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening at --url (or --start) is the user's mistake, said at once in one line
    with exit 2: not a report whose every case counts the refused connection as a refusal."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
        assert main(["audit", "--url", url, "--idp-port", "0"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "nothing answers there" in err and url in err
        assert main(["audit-login", "--start", url, "--signed-in", "status:200",
                     "--idp-port", "0"]) == 2
        assert "nothing answers there" in capsys.readouterr().err
    assert main(["audit", "--url", url, "--scope", "read"]) == 2
    assert "--scope" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:99999/x",
                                 "http://127.0.0.1:abc/x"])
def test_a_malformed_url_is_one_line(capsys: pytest.CaptureFixture[str], url: str) -> None:
    assert main(["audit", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be an http(s) URL" in err and "Traceback" not in err
    assert main(["audit-login", "--start", url, "--signed-in", "status:200"]) == 2
    assert "must be an http(s) URL" in capsys.readouterr().err

