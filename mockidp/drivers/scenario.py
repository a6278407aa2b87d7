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

Every step is checked when the scenario is loaded — the action, each option's name and type,
the endpoint, the algorithm, the corruption, and every value an endpoint action checks — so a
typo fails before the timeline starts, not minutes later in a background thread. What only the
provider's state at play time can refuse (``kid = "next"`` with no next key) stops the
scenario: the failure is logged on ``mockidp.scenario``, kept as ``run.error``, and the later
steps do not play (a half-played timeline tests something other than what was written).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import jwa
from ..core.endpoints import ENDPOINTS
from ..core.keys import CORRUPTIONS
from ..errors import (
    ConfigurationError,
    MockIdPError,
    UnknownAlgorithmError,
    UnknownCorruptionError,
)
from . import _toml
from .surface import ENDPOINT_ACTIONS, KEY_ACTIONS, bind

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from ..core.issuer import Issuer
    from .surface import Action

__all__ = ["ACTIONS", "Scenario", "ScenarioRun", "Step", "parse_duration", "runs", "start"]

_log = logging.getLogger("mockidp.scenario")

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


#: A parameter annotation's base name -> the TOML types it takes, and how to say so.
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "str": ((str,), "a string"),
    "int": ((int,), "an integer"),
    "float": ((int, float), "a number"),
    "bool": ((bool,), "true or false"),
    "Mapping": ((dict,), "a table"),
    "dict": ((dict,), "a table"),
    "list": ((list,), "an array"),
}


def _check_type(action: Action, options: Mapping[str, Any], where: str) -> None:
    """Each option against its parameter's annotation (a string, as the methods' modules use
    postponed annotations), so that ``status = "x"`` is refused at load, with the field named,
    rather than at play time. ``Any`` and unfamiliar annotations are left to the method."""
    parameters = action.signature.parameters
    for name, value in options.items():
        parameter = parameters.get(name)
        if parameter is None or not isinstance(parameter.annotation, str):
            continue
        accepted: list[tuple[tuple[type, ...], str]] = []
        for part in parameter.annotation.split("|"):
            base, _, inner = part.strip().partition("[")
            if base == "None":
                continue
            if base not in _TYPES:
                return  # Any, or a type this check does not know: the method decides
            types, said = _TYPES[base]
            items: Any = value
            if isinstance(value, types) and (bool in types or not isinstance(value, bool)):
                if base == "list" and inner.startswith("str") and not all(
                        isinstance(v, str) for v in items):
                    said = "an array of strings"
                elif base == "Mapping" and inner.replace(" ", "") == "str,str]" and not all(
                        isinstance(v, str) for v in items.values()):
                    said = "a table of strings"
                else:
                    break
            accepted.append((types, said))
        else:
            if accepted:
                wanted = " or ".join(dict.fromkeys(said for _, said in accepted))
                raise ConfigurationError(f"{where}: {name}: expected {wanted}, not {value!r}")


def _check(action: str, options: Mapping[str, Any], where: str) -> None:
    """A step's options, checked at load against the action's parameters: names, types, and
    every value that does not depend on the provider's state at play time."""
    options = dict(options)
    if action == "reset":
        unknown = set(options) - {"endpoint"}
        if unknown:
            raise ConfigurationError(f"{where}: reset takes only endpoint, not "
                                     f"{', '.join(sorted(unknown))}")
        if "endpoint" in options:
            _endpoint(options["endpoint"], action, where)
        return
    if action in KEY_ACTIONS:
        target = KEY_ACTIONS[action]
        if target.kid:
            kid = options.pop("kid", "active")
            if not isinstance(kid, str):
                raise ConfigurationError(f"{where}: kid: expected a string (a kid, or "
                                         f"'active', 'previous' or 'next'), not {kid!r}")
        bind(target, options, where)
        _check_type(target, options, where)
        if options.get("alg") is not None and options["alg"] not in jwa.ALGORITHMS:
            raise ConfigurationError(f"{where}: alg: "
                                     f"{UnknownAlgorithmError(options['alg'], jwa.ALGORITHMS)}")
        if "how" in options and options["how"] not in CORRUPTIONS:
            raise ConfigurationError(f"{where}: how: "
                                     f"{UnknownCorruptionError(options['how'], CORRUPTIONS)}")
        return
    control = _endpoint(options.pop("endpoint", None), action, where)
    target = ENDPOINT_ACTIONS[action]
    bind(target, options, where)
    _check_type(target, options, where)
    try:  # a dry run on a control of its own: every value check the method makes
        getattr(control, action)(**options)
    except (ConfigurationError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {action}: {exc}") from None


def _endpoint(name: object, action: str, where: str) -> Any:
    """A fresh control of the endpoint ``name`` (for a dry run), or the error naming the
    endpoints that have ``action``."""
    having = [e for e, spec in ENDPOINTS.items() if hasattr(spec.control, action)]
    if not isinstance(name, str):
        raise ConfigurationError(f"{where}: endpoint: missing; {action} needs endpoint = "
                                 f"'jwks' or another of: {', '.join(having)}")
    spec = ENDPOINTS.get(name)
    if spec is None or not hasattr(spec.control, action):
        problem = "unknown endpoint" if spec is None else f"{action} does not apply to"
        raise ConfigurationError(f"{where}: endpoint: {problem} {name!r}; use one of: "
                                 f"{', '.join(having)}")
    return spec.control(name)


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
    #: Its place in the file (1 = the first [[step]]), which error messages name.
    number: int = 0

    def apply(self, issuer: Issuer) -> object:
        return _apply(issuer, self.action, self.options)


@dataclass(frozen=True)
class Scenario:
    steps: tuple[Step, ...]
    #: The file it came from, which error messages name (``None`` for TOML text or data).
    source: str | None = None

    @classmethod
    def load(cls, source: str | Path) -> Scenario:
        """From a TOML file (a path) or TOML text (a string with a newline). Every error is a
        :class:`~mockidp.ConfigurationError` whose message starts with the file's name."""
        text = source if isinstance(source, str) and "\n" in source else None
        name = None if text is not None else str(source)
        if text is None:
            text = _toml.read(source, "scenario")
        try:
            data = _toml.loads(text)
        except _toml.TOMLDecodeError as exc:
            raise ConfigurationError(f"{name or 'scenario'}: not valid TOML: {exc}") from None
        try:
            return cls.from_data(data, name)
        except ConfigurationError as exc:
            if name is None:
                raise
            raise ConfigurationError(f"{name}: {exc}") from None

    @classmethod
    def from_data(cls, data: Mapping[str, Any], source: str | None = None) -> Scenario:
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
            steps.append(Step(at, action, options, number))
        return cls(tuple(sorted(steps, key=lambda s: s.at)), source)


class ScenarioRun:
    """A scenario in progress on one issuer: steps apply once their time has come.

    A step that fails when it plays (a ``kid = "previous"`` with no previous key, a kid that
    was never made) stops the run: the error is logged on ``mockidp.scenario`` and kept in
    :attr:`error`, and no later step plays — they were written for the state that step was
    to make. Steps apply from clock listeners and the server's player thread, where an
    exception would reach nobody; :meth:`finish` and :func:`start` raise it to their caller.
    """

    def __init__(self, issuer: Issuer, scenario: Scenario, start: float) -> None:
        self.issuer = issuer
        self.scenario = scenario
        self.start = start
        self.applied = 0
        #: Why the run stopped before its end (a :class:`~mockidp.ConfigurationError` naming
        #: the step), or ``None``.
        self.error: ConfigurationError | None = None
        self._lock = threading.Lock()

    @property
    def provider(self) -> Issuer:
        """The issuer the scenario plays on (its name before the core was split out)."""
        return self.issuer

    @property
    def done(self) -> bool:
        """No step is left to play: all applied, or one failed (see :attr:`error`)."""
        return self.error is not None or self.applied >= len(self.scenario.steps)

    def check(self) -> None:
        """Raise :attr:`error` if a step failed."""
        if self.error is not None:
            raise self.error

    def due(self) -> float | None:
        """When (on the issuer's clock) the next step applies, if any."""
        if self.done:
            return None
        return self.start + self.scenario.steps[self.applied].at

    def catch_up(self, now: float) -> None:
        """Apply every step whose time is ``now`` or earlier, in order. A step that fails
        stops the run (:attr:`error`), logged: this runs in clock listeners and the player
        thread, where a raised error would reach nobody."""
        self._catch_up(now, log=True)

    def _catch_up(self, now: float, *, log: bool) -> None:
        with self._lock:
            while not self.done and self.start + self.scenario.steps[self.applied].at <= now:
                step = self.scenario.steps[self.applied]
                try:
                    step.apply(self.issuer)
                except (MockIdPError, KeyError, TypeError, ValueError) as exc:
                    self._stop(step, exc, log=log)
                    return
                self.applied += 1

    def _stop(self, step: Step, exc: Exception, *, log: bool) -> None:
        where = f"{self.scenario.source}: " if self.scenario.source else ""
        left = len(self.scenario.steps) - self.applied - 1
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        self.error = ConfigurationError(
            f"{where}step {step.number} ({step.action} at {step.at:g}s) failed: {reason}; "
            f"the scenario stopped ({left} later step{'s' if left != 1 else ''} not played)")
        if log:
            _log.error("%s", self.error)

    def steps(self) -> list[dict[str, Any]]:
        """Each step with its time on the issuer's clock and where it stands: ``"applied"``,
        ``"failed"`` (with the error) or ``"pending"`` (what the dashboard's timeline draws)."""
        with self._lock:
            applied, error = self.applied, self.error
        return [{"time": self.start + step.at, "number": step.number, "action": step.action,
                 "options": dict(step.options),
                 "state": ("applied" if index < applied else "failed"
                           if index == applied and error is not None else "pending"),
                 "error": str(error) if index == applied and error is not None else None}
                for index, step in enumerate(self.scenario.steps)]

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
        self.check()


def runs(issuer: Issuer) -> list[ScenarioRun]:
    """The scenarios started on ``issuer`` since its last reset, oldest first: a run listens
    to the issuer's clock from :func:`start` on, and a reset ends every listener."""
    found = (getattr(listener, "__self__", None) for listener in issuer.clock.listeners)
    return [run for run in found if isinstance(run, ScenarioRun)]


def start(issuer: Issuer, scenario: Scenario) -> ScenarioRun:
    """Start ``scenario`` on ``issuer``'s clock: steps at "0s" apply now, later ones as the
    clock reaches them (``run.finish()`` applies the rest)."""
    run = ScenarioRun(issuer, scenario, issuer.clock.time())
    issuer.clock.listeners.append(run.catch_up)
    run._catch_up(issuer.clock.time(), log=False)  # the caller gets the error: not logged too
    run.check()
    return run
