"""One control surface, five drivers: every key and endpoint action that Python has does the
same through the control API, a scenario step, ``RemoteIdP`` and the dashboard.

The actions come from the declaration (``mockidp.drivers.surface``), so an action added to
``KeyRing`` or an endpoint control is tested here for every driver without a line changed, and
a driver that misses one fails by name.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from mockidp import MockIdP, RemoteIdP, Scenario
from mockidp.drivers.remote import RemoteKeys
from mockidp.drivers.scenario import ACTIONS
from mockidp.drivers.surface import ENDPOINT_ACTIONS, KEY_ACTIONS
from mockidp.web.control import ROUTES

DRIVERS = ["control-api", "scenario", "remote", "dashboard"]


# -- key actions --------------------------------------------------------------------------------

def _staged(idp: MockIdP) -> None:
    idp.keys.add("ES256", kid="k", activate=False)


def _added(idp: MockIdP) -> None:
    idp.keys.add("ES256", kid="k")


def _revoked(idp: MockIdP) -> None:
    _added(idp)
    idp.keys.revoke("k")


def _corrupted(idp: MockIdP) -> None:
    _added(idp)
    idp.keys.corrupt("k", how="truncated")


def _nothing(idp: MockIdP) -> None:
    pass


#: Action -> (set-up, kid it acts on or None, options). Every declared key action has a row.
KEY_CASES: dict[str, tuple[Callable[[MockIdP], None], str | None, dict[str, Any]]] = {
    "add": (_nothing, None, {"alg": "ES256", "kid": "k", "activate": False}),
    "rotate": (_nothing, None, {"alg": "ES256", "kid": "k"}),
    "ensure_active": (_nothing, None, {"alg": "ES384"}),
    "activate": (_staged, "k", {}),
    "revoke": (_added, "k", {}),
    "publish": (_revoked, "k", {}),
    "replace": (_added, "k", {}),
    "corrupt": (_added, "k", {"how": "wrong-alg"}),
    "repair": (_corrupted, "k", {}),
}


def test_every_key_action_has_a_case() -> None:
    assert set(KEY_CASES) == set(KEY_ACTIONS)


def _key_outcome(idp: MockIdP) -> list[tuple[str, str, str | None, bool]]:
    keys = idp.keys
    return [(k.alg, keys.state(k.kid), keys.corruption(k.kid), k.kid == "k") for k in keys]


def _drive_key(idp: MockIdP, driver: str, name: str, kid: str | None,
               options: dict[str, Any]) -> None:
    if driver == "python":
        method = getattr(idp.keys, name)
        method(*([kid] if kid else []), **options)
    elif driver == "control-api":
        route = next(r for r in ROUTES if r.name == name)
        path = route.path.replace("<kid>", kid or "")
        answer = requests.post(idp.issuer + "/_mockidp" + path, json=options, timeout=5)
        assert answer.status_code == 200, answer.text
    elif driver == "scenario":
        step = {"at": "0s", "action": name, **options, **({"kid": kid} if kid else {})}
        run = idp.run_scenario(Scenario.from_data({"step": [step]}))
        assert run.done
    elif driver == "remote":
        method = getattr(RemoteIdP(idp.issuer).keys, name)
        method(*([kid] if kid else []), **options)
    elif kid is not None:  # the dashboard: a form per key action on a key
        answer = requests.post(f"{idp.issuer}/_mockidp/ui/keys/{kid}/{name}", data=options,
                               allow_redirects=False, timeout=5)
        assert answer.status_code == 303, answer.text
    else:  # and one form for the key ring's: an alg, a kid, staged or not
        form = {"action": name, "alg": options["alg"], "kid": options.get("kid", "")}
        if options.get("activate") is False:
            form["staged"] = "on"
        answer = requests.post(f"{idp.issuer}/_mockidp/ui/keyring", data=form,
                               allow_redirects=False, timeout=5)
        assert answer.status_code == 303, answer.text


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("name", list(KEY_CASES))
def test_key_action_through_each_driver(idp: MockIdP, name: str, driver: str) -> None:
    set_up, kid, options = KEY_CASES[name]
    set_up(idp)
    before = idp.keys["k"].public_jwk if name == "replace" else None
    _drive_key(idp, "python", name, kid, options)
    expected = _key_outcome(idp)
    if name == "replace":
        assert idp.keys["k"].public_jwk != before
    idp.reset()

    set_up(idp)
    _drive_key(idp, driver, name, kid, options)
    assert _key_outcome(idp) == expected
    if name == "replace":
        assert idp.keys["k"].public_jwk != before


def test_remote_keys_take_the_same_parameters() -> None:
    for name, action in KEY_ACTIONS.items():
        remote = inspect.signature(getattr(RemoteKeys, name)).parameters
        assert set(action.options) == set(remote) - {"self", "kid" if action.kid else ""}, name


# -- endpoint actions ---------------------------------------------------------------------------

#: Action -> (endpoint, options). Every declared endpoint action has a row.
ENDPOINT_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "fail": ("jwks", {"status": 503, "times": 1}),
    "respond": ("jwks", {"body": {"keys": []}, "status": 200}),
    "headers": ("jwks", {"headers": {"X-Test": "1"}}),
    "drop": ("jwks", {"times": 1}),
    "redirect": ("jwks", {"location": "http://127.0.0.1:9/elsewhere", "status": 307}),
    "flap": ("jwks", {"down": 2}),
    "delay": ("jwks", {"seconds": 0}),
    "reset": ("jwks", {}),
    "empty": ("jwks", {}),
    "malformed_json": ("jwks", {}),
    "json_array": ("jwks", {}),
    "missing_keys": ("jwks", {}),
    "huge": ("jwks", {"count": 3}),
    "duplicate_kids": ("jwks", {}),
    "poison_key": ("jwks", {}),
    "error_with_valid_body": ("jwks", {"status": 502}),
    "wrong_content_type": ("jwks", {"content_type": "text/plain"}),
    "rate_limited": ("jwks", {"retry_after": 7}),
    "cache": ("jwks", {"cache_control": "max-age=5", "etag": '"v2"'}),
    "wrong_issuer": ("discovery", {"issuer": "https://attacker.invalid"}),
    "missing_jwks_uri": ("discovery", {}),
    "jwks_uri": ("discovery", {"url": "http://127.0.0.1:9/keys.json"}),
    "algorithms": ("discovery", {"algs": ["HS256"]}),
    "require_dpop_nonce": ("userinfo", {"required": True}),
}

_SHOWN = ("Content-Type", "X-Test", "Retry-After", "Cache-Control", "ETag", "Location")


def test_every_endpoint_action_has_a_case() -> None:
    assert set(ENDPOINT_CASES) == set(ENDPOINT_ACTIONS)


def _served(idp: MockIdP, endpoint: str, name: str) -> tuple[Any, ...]:
    """What a consumer gets from the endpoint now (decoys made at random reduced to a count);
    for a DPoP endpoint, what a request with a DPoP-bound token and a proof gets."""
    if name == "require_dpop_nonce":
        key = idp.dpop_key()
        token = idp.token(dpop=key)
        url = idp.url_for(endpoint)
        answer = requests.get(url, timeout=5, headers={
            "Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token)})
        return (answer.status_code, answer.json().get("error"))
    try:
        answer = requests.get(idp.url_for(endpoint), allow_redirects=False, timeout=5)
    except requests.ConnectionError:
        return ("dropped",)
    body: Any = answer.content
    if name == "duplicate_kids":
        body = [key["kid"] for key in answer.json()["keys"]]
    return (answer.status_code, body, {h: answer.headers.get(h) for h in _SHOWN})


def _drive_endpoint(idp: MockIdP, driver: str, endpoint: str, name: str,
                    options: dict[str, Any]) -> None:
    if driver == "python":
        getattr(idp.endpoint(endpoint), name)(**options)
    elif driver == "control-api":
        answer = requests.post(f"{idp.issuer}/_mockidp/endpoints/{endpoint}",
                               json={"action": name, **options}, timeout=5)
        assert answer.status_code == 200, answer.text
    elif driver == "scenario":
        step = {"at": "0s", "action": name, "endpoint": endpoint, **options}
        assert idp.run_scenario(Scenario.from_data({"step": [step]})).done
    elif driver == "remote":
        getattr(RemoteIdP(idp.issuer).endpoint(endpoint), name)(**options)
    else:
        answer = requests.post(f"{idp.issuer}/_mockidp/ui/endpoint", data={
            "endpoint": endpoint, "action": name, "options": json.dumps(options)},
            allow_redirects=False, timeout=5)
        assert answer.status_code == 303, answer.text


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("name", list(ENDPOINT_CASES))
def test_endpoint_action_through_each_driver(idp: MockIdP, name: str, driver: str) -> None:
    endpoint, options = ENDPOINT_CASES[name]
    if name == "reset":
        idp.endpoint(endpoint).fail(500)
    _drive_endpoint(idp, "python", endpoint, name, options)
    expected = _served(idp, endpoint, name)
    idp.reset()

    if name == "reset":
        idp.endpoint(endpoint).fail(500)
    _drive_endpoint(idp, driver, endpoint, name, options)
    assert _served(idp, endpoint, name) == expected


def test_the_drivers_name_every_action() -> None:
    assert set(ACTIONS) == {*KEY_ACTIONS, *ENDPOINT_ACTIONS}
    routed = {r.name for r in ROUTES}
    assert set(KEY_ACTIONS) <= routed


def test_dashboard_offers_every_endpoint_action(idp: MockIdP) -> None:
    page = requests.get(idp.issuer + "/_mockidp/ui", timeout=5).text
    for name in ENDPOINT_ACTIONS:
        assert f">{name}</option>" in page, name


@pytest.mark.parametrize(("step", "message"), [
    ({"action": "missing_keys"}, "needs endpoint"),
    ({"action": "wrong_issuer", "endpoint": "discovery", "colour": 1}, "takes no colour"),
    ({"action": "corrupt", "kid": "active", "how": "x", "extra": 1}, "takes no extra"),
    ({"action": "huge", "endpoint": "jwks", "count": 1, "times": 1, "nope": 2}, "takes no nope"),
])
def test_a_bad_step_is_refused_when_the_scenario_is_loaded(step: dict[str, Any],
                                                           message: str) -> None:
    from mockidp import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        Scenario.from_data({"step": [step]})


def test_the_config_file_takes_what_keys_add_takes() -> None:
    from mockidp.drivers.config import _ENTRIES

    assert set(_ENTRIES["keys"]) == set(KEY_ACTIONS["add"].options)


def test_the_config_file_and_the_control_api_take_what_clients_add_takes() -> None:
    from mockidp.core.directory import ClientOptions, Clients
    from mockidp.drivers.config import _ENTRIES

    takes = (set(inspect.signature(Clients.add).parameters) - {"self", "options"}) | set(
        ClientOptions.__annotations__)
    assert set(_ENTRIES["clients"]) == takes
    assert set(next(r for r in ROUTES if r.name == "add_client").body) == takes
