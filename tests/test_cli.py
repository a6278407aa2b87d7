from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest

from mockidp import MockIdP, __version__
from mockidp.cli import main


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
    ],
)
def test_bad_values_exit_2_with_one_line(argv: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with MockIdP() as other:
        assert main(["serve", "--port", str(other.port)]) == 2
    assert "address already in use" in capsys.readouterr().err


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
        process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == 0
    assert "Traceback" not in err


def test_faults_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    from mockidp import FAULTS

    assert main(["faults"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(FAULTS)


def test_faults_page_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    assert main(["faults", "--markdown"]) == 0
    page = Path(__file__).resolve().parent.parent / "docs" / "faults.md"
    assert page.read_text() == capsys.readouterr().out, (
        "docs/faults.md is stale: run `mockidp faults --markdown > docs/faults.md`"
    )
