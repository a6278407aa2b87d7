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
