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

In tests a scenario runs on the provider's clock (``idp.run_scenario(path)``, then
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

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..provider import MockIdP

__all__ = ["ACTIONS", "Scenario", "ScenarioRun", "Step", "parse_duration"]

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


def _pick_key(provider: MockIdP, kid: str) -> str:
    """A literal kid, or the key that is now "active", "previous" or "next"."""
    keys = provider.keys
    if kid == "active":
        return keys.active.kid
    if kid in ("previous", "next"):
        found = [k.kid for k in keys if keys.state(k.kid) == kid]
        if not found:
            raise ConfigurationError(f"no {kid} key to act on")
        return found[-1]
    return kid


def _key_action(name: str) -> Callable[[MockIdP, dict[str, Any]], object]:
    def act(provider: MockIdP, options: dict[str, Any]) -> object:
        kid = _pick_key(provider, options.pop("kid", "active"))
        return getattr(provider.keys, name)(kid, **options)
    return act


def _endpoint_action(name: str) -> Callable[[MockIdP, dict[str, Any]], object]:
    def act(provider: MockIdP, options: dict[str, Any]) -> object:
        endpoint = options.pop("endpoint", None)
        if not isinstance(endpoint, str):
            raise ConfigurationError(f"action {name!r} needs endpoint = 'jwks' (or another)")
        return getattr(provider.endpoint(endpoint), name)(**options)
    return act


def _add(provider: MockIdP, options: dict[str, Any]) -> object:
    return provider.keys.add(**options)


def _rotate(provider: MockIdP, options: dict[str, Any]) -> object:
    return provider.keys.rotate(**options)


def _reset(provider: MockIdP, options: dict[str, Any]) -> None:
    if "endpoint" in options:
        provider.endpoint(options["endpoint"]).reset()
    else:
        provider.reset()


#: Step actions: what each does to the provider, with the step's other fields as options.
ACTIONS: dict[str, Callable[[MockIdP, dict[str, Any]], object]] = {
    "add": _add,
    "rotate": _rotate,
    "activate": _key_action("activate"),
    "revoke": _key_action("revoke"),
    "publish": _key_action("publish"),
    "replace": _key_action("replace"),
    "corrupt": _key_action("corrupt"),
    "repair": _key_action("repair"),
    "reset": _reset,
    **{name: _endpoint_action(name) for name in (
        "fail", "delay", "respond", "drop", "redirect", "headers", "flap", "empty",
        "malformed_json", "poison_key", "rate_limited", "error_with_valid_body",
        "wrong_content_type", "cache", "duplicate_kids", "huge",
    )},
}


@dataclass(frozen=True)
class Step:
    at: float
    action: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, provider: MockIdP) -> object:
        return ACTIONS[self.action](provider, dict(self.options))


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
            steps.append(Step(at, action, options))
        return cls(tuple(sorted(steps, key=lambda s: s.at)))


class ScenarioRun:
    """A scenario in progress on one provider: steps apply once their time has come."""

    def __init__(self, provider: MockIdP, scenario: Scenario, start: float) -> None:
        self.provider = provider
        self.scenario = scenario
        self.start = start
        self.applied = 0
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        return self.applied >= len(self.scenario.steps)

    def due(self) -> float | None:
        """When (on the provider's clock) the next step applies, if any."""
        if self.done:
            return None
        return self.start + self.scenario.steps[self.applied].at

    def catch_up(self, now: float) -> None:
        """Apply every step whose time is ``now`` or earlier, in order."""
        with self._lock:
            while not self.done and self.start + self.scenario.steps[self.applied].at <= now:
                step = self.scenario.steps[self.applied]
                self.applied += 1
                step.apply(self.provider)

    def play(self, stop: threading.Event) -> None:
        """Apply the steps as the provider's clock reaches them, sleeping in between (the
        standalone server's way); returns when done or when ``stop`` is set."""
        while (due := self.due()) is not None:
            if stop.wait(max(0.0, due - self.provider.clock.time())):
                return
            self.catch_up(self.provider.clock.time())

    def finish(self) -> None:
        """Apply the remaining steps at once, moving the provider's clock to each."""
        while not self.done:
            due = self.due()
            assert due is not None
            now = self.provider.clock.time()
            if due > now:
                self.provider.clock.advance(due - now)
            self.catch_up(max(due, now))
