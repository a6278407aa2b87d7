"""The control surface: every action a driver can take on a provider's keys and endpoints,
collected from the methods marked ``@action`` where they are defined
(:class:`~mockidp.core.keys.KeyRing`, the endpoint controls of
:mod:`mockidp.core.endpoints`).

The control API's routes, the scenario step actions, ``RemoteIdP``'s calls and the dashboard's
buttons are all derived from :data:`KEY_ACTIONS` and :data:`ENDPOINT_ACTIONS`, and
``tests/test_surface.py`` proves each driver against them, so they cannot drift apart. The one
method no driver can offer is ``endpoint(...).transform``: a Python function cannot travel as
JSON.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..core.endpoints import DiscoveryControl, DPoPControl, EndpointControl, JwksControl
from ..core.keys import KeyRing
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..core.actions import ActionInfo

__all__ = ["ENDPOINT_ACTIONS", "KEY_ACTIONS", "Action", "bind"]


@dataclass(frozen=True)
class Action:
    """One action: its name (the Python method's), what it acts on, and its parameters."""

    name: str
    target: str  # "keys" or "endpoint"
    summary: str
    #: The first parameter is a kid (a key action on one key).
    kid: bool
    method: Callable[..., Any]

    @cached_property
    def signature(self) -> inspect.Signature:
        """The method's parameters without ``self`` (nor ``kid`` for a key action)."""
        parameters = list(inspect.signature(self.method).parameters.values())[1:]
        if self.kid:
            parameters = parameters[1:]
        return inspect.Signature(parameters)

    @property
    def options(self) -> tuple[str, ...]:
        """The names of the options the action takes (besides a kid)."""
        return tuple(p.name for p in self.signature.parameters.values()
                     if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
                     and p.name != "private_key")  # key objects cannot travel as JSON


def _collect(target: str, *classes: type) -> dict[str, Action]:
    found: dict[str, Action] = {}
    for cls in classes:
        for name, member in vars(cls).items():
            info: ActionInfo | None = getattr(member, "__mockidp_action__", None)
            if info is not None and name not in found:
                found[name] = Action(name, target, info.summary, info.kid, member)
    return found


#: What can be done to the key ring, by name.
KEY_ACTIONS: Mapping[str, Action] = _collect("keys", KeyRing)
#: What can be done to an endpoint, by name (some only to the JWKS or the metadata).
ENDPOINT_ACTIONS: Mapping[str, Action] = _collect(
    "endpoint", EndpointControl, JwksControl, DiscoveryControl, DPoPControl)


def bind(action: Action, options: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``options`` checked against the action's parameters: an unknown or missing one is a
    :class:`~mockidp.ConfigurationError` naming ``where`` and what the action takes."""
    unknown = set(options) - set(action.options)
    if unknown:
        raise ConfigurationError(
            f"{where}: {action.name} takes no {', '.join(sorted(unknown))}; its options: "
            f"{', '.join(action.options) or 'none'}")
    try:
        action.signature.bind(**options)
    except TypeError as exc:
        raise ConfigurationError(f"{where}: {action.name}: {exc}") from None
    return dict(options)
