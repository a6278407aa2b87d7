from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests

from mockidp import ConfigurationError, MockIdP, Scenario
from mockidp.drivers.scenario import parse_duration

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1.5h", 5400),
                                               ("250ms", 0.25), (12, 12), ("7", 7)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5s", True, "5 days"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ConfigurationError, match="not a duration"):
        parse_duration(text)


def test_scheduled_rotation_on_the_provider_clock(idp: MockIdP) -> None:
    first = idp.keys.active
    run = idp.run_scenario(EXAMPLES / "scheduled-rotation.toml")
    (staged,) = [k for k in idp.keys if idp.keys.state(k.kid) == "next"]
    assert idp.keys.active.kid == first.kid and run.applied == 1
    idp.clock.advance(600)
    assert idp.keys.active.kid == staged.kid and idp.keys.state(first.kid) == "previous"
    idp.clock.advance(3599)
    assert idp.keys.state(first.kid) == "previous"
    idp.clock.advance(1)
    assert idp.keys.state(first.kid) == "revoked" and run.done


def test_emergency_revocation(idp: MockIdP) -> None:
    first = idp.keys.active
    idp.run_scenario(EXAMPLES / "emergency-revocation.toml")
    assert idp.keys.state(first.kid) == "revoked"
    assert [k["kid"] for k in idp.jwks()["keys"]] == [idp.keys.active.kid]


def test_jwks_outage_and_recovery(idp: MockIdP) -> None:
    run = idp.run_scenario(EXAMPLES / "jwks-outage.toml")
    assert requests.get(idp.jwks_uri, timeout=5).status_code == 200
    idp.endpoint("jwks")  # the outage starts at 1m
    idp.clock.advance(60)
    assert requests.get(idp.jwks_uri, timeout=10).status_code == 503
    run.finish()
    assert requests.get(idp.jwks_uri, timeout=5).status_code == 200


def test_reset_stops_a_scenario(idp: MockIdP) -> None:
    idp.run_scenario(EXAMPLES / "scheduled-rotation.toml")
    idp.reset()
    idp.clock.advance(3600)
    assert len(idp.keys) == 1


def test_play_on_the_wall_clock(idp: MockIdP) -> None:
    scenario = Scenario.load('[[step]]\nat = "50ms"\naction = "rotate"\nalg = "ES256"\n')
    run = idp.run_scenario(scenario)
    idp.clock.listeners.clear()  # let play() drive it instead of clock moves
    stop = threading.Event()
    player = threading.Thread(target=run.play, args=(stop,))
    player.start()
    player.join(5)
    assert run.done and idp.keys.active_for("ES256")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[step]]\naction = "explode"\n', "action must be one of"),
        ('[[step]]\naction = "fail"\n', "needs endpoint"),
        ('[[step]]\nat = "later"\naction = "rotate"\n', "not a duration"),
        ('colour = "blue"\n', "unknown scenario field"),
        ("[[step]\n", "not valid TOML"),
        ('[[step]]\naction = "revoke"\nkid = "previous"\n', "no previous key"),
    ],
)
def test_bad_scenarios(idp: MockIdP, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        idp.run_scenario(Scenario.load(text))


def test_scenario_through_the_control_api(idp: MockIdP) -> None:
    from mockidp import RemoteIdP

    remote = RemoteIdP(idp.issuer)
    answer = remote.run_scenario(EXAMPLES / "emergency-revocation.toml")
    assert answer == {"steps": 2, "applied": 2}
    assert len(idp.jwks()["keys"]) == 1 and len(idp.keys) == 2


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ('action = "fail"\nendpoint = "nope"', "step 1: endpoint: unknown endpoint 'nope'"),
        ('action = "empty"\nendpoint = "token"', "step 1: endpoint: empty does not apply to "
                                                 "'token'; use one of: jwks"),
        ('action = "reset"\nendpoint = "nope"', "step 1: endpoint: unknown endpoint 'nope'"),
        ('action = "corrupt"\nhow = "bogus"', "step 1: how: unknown key corruption 'bogus'"),
        ('action = "add"\nalg = "ES999"', "step 1: alg: unknown JWS algorithm 'ES999'"),
        ('action = "rotate"\nalg = "ES999"', "step 1: alg: unknown JWS algorithm 'ES999'"),
        ('action = "fail"\nendpoint = "jwks"\ncolour = 1', "step 1: fail takes no colour"),
        ('action = "fail"\nendpoint = "jwks"\nstatus = "x"',
         "step 1: status: expected an integer, not 'x'"),
        ('action = "fail"\nendpoint = "jwks"\nstatus = true',
         "step 1: status: expected an integer"),
        ('action = "fail"\nendpoint = "jwks"\nheaders = { a = 1 }',
         "step 1: headers: expected a table of strings"),
        ('action = "algorithms"\nendpoint = "discovery"\nalgs = [1]',
         "step 1: algs: expected an array of strings"),
        ('action = "delay"\nendpoint = "jwks"\nseconds = "1s"',
         "step 1: seconds: expected a number"),
        ('action = "add"\nactivate = "no"', "step 1: activate: expected true or false"),
        ('action = "revoke"\nkid = 3', "step 1: kid: expected a string"),
        # values the action itself refuses, found by a dry run at load
        ('action = "delay"\nendpoint = "jwks"\nseconds = -1', "step 1: delay: delay takes seconds"),
        ('action = "fail"\nendpoint = "jwks"\ntimes = 0', "step 1: fail: times must be"),
        ('action = "fail"\nendpoint = "jwks"\nstatus = 99', "step 1: fail: "),
        ('action = "redirect"\nendpoint = "jwks"\nstatus = 200', "step 1: redirect: redirect "
                                                                 "status must be"),
    ],
)
def test_every_step_is_checked_at_load(idp: MockIdP, step: str, message: str,
                                       tmp_path: Path) -> None:
    """A typo fails when the scenario is loaded, naming the file, the step and the field —
    not minutes later in the player thread."""
    path = tmp_path / "typo.toml"
    path.write_text(f'[[step]]\nat = "10m"\n{step}\n')
    with pytest.raises(ConfigurationError) as error:
        Scenario.load(path)
    assert str(error.value).startswith(f"{path}: {message}")
    assert "\n" not in str(error.value)


def test_a_step_that_fails_as_it_plays_stops_the_run(idp: MockIdP,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Only the provider's state can refuse ``kid = "next"``; when it does, the run stops
    visibly (logged, ``run.error``) and the later steps, written for the state that step was
    to make, do not play."""
    scenario = Scenario.load('[[step]]\nat = "1m"\naction = "activate"\nkid = "next"\n'
                             '[[step]]\nat = "2m"\naction = "rotate"\n')
    first = idp.keys.active.kid
    run = idp.run_scenario(scenario)
    with caplog.at_level("ERROR", logger="mockidp.scenario"):
        idp.clock.advance(600)  # a clock listener: nothing raises here
    assert run.done and run.applied == 0
    assert isinstance(run.error, ConfigurationError)
    message = ("step 1 (activate at 60s) failed: no next key to act on; the scenario stopped "
               "(1 later step not played)")
    assert str(run.error) == message
    assert [r.getMessage() for r in caplog.records] == [message]
    assert idp.keys.active.kid == first and len(idp.keys) == 1  # the rotation never played
    with pytest.raises(ConfigurationError, match="no next key"):
        run.finish()
    with pytest.raises(ConfigurationError, match="no next key"):
        run.check()


def test_a_failing_step_in_the_player_thread_is_recorded(idp: MockIdP, tmp_path: Path) -> None:
    """``mockidp serve`` plays a scenario in a thread of its own: a failing step ends the
    thread cleanly (no traceback) with the error on the run, naming the file."""
    path = tmp_path / "outage.toml"
    path.write_text('[[step]]\nat = "20ms"\naction = "revoke"\nkid = "no-such-kid"\n'
                    '[[step]]\nat = "40ms"\naction = "rotate"\n')
    run = idp.run_scenario(path)
    idp.clock.listeners.clear()
    errors: list[BaseException | None] = []
    previous = threading.excepthook

    def record(args: threading.ExceptHookArgs) -> None:
        errors.append(args.exc_value)

    threading.excepthook = record
    try:
        player = threading.Thread(target=run.play, args=(threading.Event(),))
        player.start()
        player.join(5)
    finally:
        threading.excepthook = previous
    assert not player.is_alive() and errors == []
    assert run.done and run.applied == 0 and len(idp.keys) == 1
    assert str(run.error).startswith(f"{path}: step 1 (revoke at 0.02s) failed: ")
    assert "no-such-kid" in str(run.error)


def test_a_step_failing_at_start_raises_to_the_caller(idp: MockIdP) -> None:
    """Steps at "0s" apply inside ``run_scenario``: its caller gets the error directly."""
    with pytest.raises(ConfigurationError, match=r"step 1 \(revoke at 0s\) failed: no previous"):
        idp.run_scenario('[[step]]\naction = "revoke"\nkid = "previous"\n')


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_a_scenario_file_that_is_not_utf8(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes('# rotation: café\n[[step]]\naction = "rotate"\n'.encode(encoding))
    with pytest.raises(ConfigurationError, match=r"s\.toml: scenario is not UTF-8 \(byte 0x"):
        Scenario.load(path)
