"""Scenarios: rotations and faults on a timeline, written as TOML.

    [[step]]
    at = "0s"
    action = "add"          # publish the next key ahead of use
    alg = "RS256"
    activate = false

    [[step]]
    at = "30s"
    action = "activate"
    kid = "next"            # a kid, or "active", "previous" or "next"

    [[step]]
    at = "5m"
    action = "revoke"
    kid = "previous"

In tests a scenario runs on the issuer's clock (``idp.run_scenario(path)``, then
``idp.clock.advance(...)``), so nobody waits real seconds; ``mockidp serve --scenario`` runs it
on the wall clock.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from . import _toml
from .surface import ENDPOINT_ACTIONS, KEY_ACTIONS, bind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.issuer import Issuer

__all__ = ["ACTIONS", "Scenario", "ScenarioRun", "Step", "parse_duration", "start"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object, where: str = "at") -> float:
    """``"30s"``, ``"5m"``, ``"1.5h"``, ``"250ms"`` or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigurationError(f"{where}: {value!r} is not a duration like '30s', '5m', "
                                 "'1h' or a number of seconds")
    return float(match[1]) * _UNITS[match[2]]


def _pick_key(issuer: Issuer, kid: str) -> str:
    """A literal kid, or the key that is now "active", "previous" or "next"."""
    keys = issuer.keys
    if kid == "active":
        return keys.active.kid
    if kid in ("previous", "next"):
        found = [k.kid for k in keys if keys.state(k.kid) == kid]
        if not found:
            raise ConfigurationError(f"no {kid} key to act on")
        return found[-1]
    return kid


def _check(action: str, options: Mapping[str, Any], where: str) -> None:
    """A step's options, checked at load against the action's parameters."""
    options = dict(options)
    if action == "reset":
        unknown = set(options) - {"endpoint"}
        if unknown:
            raise ConfigurationError(f"{where}: reset takes only endpoint, not "
                                     f"{', '.join(sorted(unknown))}")
        return
    if action in KEY_ACTIONS:
        target = KEY_ACTIONS[action]
        if target.kid:
            kid = options.pop("kid", "active")
            if not isinstance(kid, str):
                raise ConfigurationError(f"{where}: kid must be a string, not {kid!r}")
        bind(target, options, where)
        return
    endpoint = options.pop("endpoint", None)
    if not isinstance(endpoint, str):
        raise ConfigurationError(f"{where}: action {action!r} needs endpoint = 'jwks' "
                                 "(or another)")
    bind(ENDPOINT_ACTIONS[action], options, where)


def _apply(issuer: Issuer, action: str, options: Mapping[str, Any]) -> object:
    options = dict(options)
    if action == "reset":
        if "endpoint" in options:
            issuer.endpoint(options["endpoint"]).reset()
        else:
            issuer.reset()
        return None
    if action in KEY_ACTIONS:
        method = getattr(issuer.keys, action)
        if KEY_ACTIONS[action].kid:
            return method(_pick_key(issuer, options.pop("kid", "active")), **options)
        return method(**options)
    endpoint = options.pop("endpoint")
    return getattr(issuer.endpoint(endpoint), action)(**options)


#: Step actions: every key and endpoint action of the control surface, and ``reset`` (of one
#: endpoint with ``endpoint = ...``, else of the whole issuer).
ACTIONS: tuple[str, ...] = (*KEY_ACTIONS, *(a for a in ENDPOINT_ACTIONS if a != "reset"), "reset")


@dataclass(frozen=True)
class Step:
    at: float
    action: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, issuer: Issuer) -> object:
        return _apply(issuer, self.action, self.options)


@dataclass(frozen=True)
class Scenario:
    steps: tuple[Step, ...]

    @classmethod
    def load(cls, source: str | Path) -> Scenario:
        """From a TOML file (a path) or TOML text (a string with a newline)."""
        text = source if isinstance(source, str) and "\n" in source else None
        if text is None:
            try:
                text = Path(source).read_text()
            except OSError as exc:
                raise ConfigurationError(f"cannot read scenario {source}: {exc.strerror}"
                                         ) from None
        try:
            data = _toml.loads(text)
        except _toml.TOMLDecodeError as exc:
            raise ConfigurationError(f"scenario is not valid TOML: {exc}") from None
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Scenario:
        unknown = set(data) - {"step"}
        if unknown:
            raise ConfigurationError(f"unknown scenario field(s) {', '.join(sorted(unknown))}; "
                                     "a scenario is a list of [[step]] tables")
        raw = data.get("step", [])
        if not isinstance(raw, list):
            raise ConfigurationError("step must be an array of tables ([[step]])")
        steps = []
        for number, entry in enumerate(raw, 1):
            if not isinstance(entry, dict):
                raise ConfigurationError(f"step {number} must be a table")
            options = dict(entry)
            action = options.pop("action", None)
            if action not in ACTIONS:
                raise ConfigurationError(f"step {number}: action must be one of "
                                         f"{', '.join(ACTIONS)}, not {action!r}")
            at = parse_duration(options.pop("at", 0), f"step {number}: at")
            _check(action, options, f"step {number}")
            steps.append(Step(at, action, options))
        return cls(tuple(sorted(steps, key=lambda s: s.at)))


class ScenarioRun:
    """A scenario in progress on one issuer: steps apply once their time has come."""

    def __init__(self, issuer: Issuer, scenario: Scenario, start: float) -> None:
        self.issuer = issuer
        self.scenario = scenario
        self.start = start
        self.applied = 0
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        return self.applied >= len(self.scenario.steps)

    def due(self) -> float | None:
        """When (on the issuer's clock) the next step applies, if any."""
        if self.done:
            return None
        return self.start + self.scenario.steps[self.applied].at

    def catch_up(self, now: float) -> None:
        """Apply every step whose time is ``now`` or earlier, in order."""
        with self._lock:
            while not self.done and self.start + self.scenario.steps[self.applied].at <= now:
                step = self.scenario.steps[self.applied]
                self.applied += 1
                step.apply(self.issuer)

    def play(self, stop: threading.Event) -> None:
        """Apply the steps as the issuer's clock reaches them, sleeping in between (the
        standalone server's way); returns when done or when ``stop`` is set."""
        while (due := self.due()) is not None:
            if stop.wait(max(0.0, due - self.issuer.clock.time())):
                return
            self.catch_up(self.issuer.clock.time())

    def finish(self) -> None:
        """Apply the remaining steps at once, moving the issuer's clock to each."""
        while not self.done:
            due = self.due()
            assert due is not None
            now = self.issuer.clock.time()
            if due > now:
                self.issuer.clock.advance(due - now)
            self.catch_up(max(due, now))


def start(issuer: Issuer, scenario: Scenario) -> ScenarioRun:
    """Start ``scenario`` on ``issuer``'s clock: steps at "0s" apply now, later ones as the
    clock reaches them (``run.finish()`` applies the rest)."""
    run = ScenarioRun(issuer, scenario, issuer.clock.time())
    issuer.clock.listeners.append(run.catch_up)
    run.catch_up(issuer.clock.time())
    return run
