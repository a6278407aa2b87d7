"""The mark that makes a method a control action.

A method of the key ring or of an endpoint control marked ``@action`` is part of the control
surface: the control API serves it, a scenario step can name it, ``RemoteIdP`` calls it and the
dashboard offers it, all under the method's own name and with its own parameters
(:mod:`mockidp.drivers.surface` collects them). Marking the method where it is defined is the one
declaration; nothing else lists the actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ActionInfo", "action"]

F = TypeVar("F", bound="Callable[..., object]")


@dataclass(frozen=True)
class ActionInfo:
    summary: str
    #: The first parameter is a ``kid`` (a key action on one key).
    kid: bool = False


def action(summary: str, *, kid: bool = False) -> Callable[[F], F]:
    """Mark a method as a control action, with the one-line summary the control API shows."""
    def mark(method: F) -> F:
        method.__mockidp_action__ = ActionInfo(summary, kid)  # type: ignore[attr-defined]
        return method
    return mark
