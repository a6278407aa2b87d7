"""mockidp: a mock OAuth 2.0 / OpenID Connect identity provider for testing JWT consumers.

Importing this package is cheap: the public names load their modules (and cryptography,
Werkzeug, PyJWT) on first use, because the pytest plugin imports the package in every pytest
run, used or not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.clock import Clock
    from .core.directory import Client, User
    from .core.faults import FAULTS, Fault
    from .core.jwa import ALGORITHMS
    from .core.keys import CORRUPTIONS, Key, KeyRing
    from .core.profiles import PROFILES, Profile
    from .drivers.consumer_audit import AuditReport, audit
    from .drivers.remote import RemoteError, RemoteIdP
    from .drivers.scenario import Scenario
    from .errors import (
        BindError,
        ConfigurationError,
        KeyExistsError,
        KeyStateError,
        MockIdPError,
        NotStartedError,
        ServerError,
        UnknownAlgorithmError,
        UnknownCorruptionError,
        UnknownFaultError,
        UnknownKeyError,
        UnknownProfileError,
    )
    from .provider import MockIdP

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "CORRUPTIONS",
    "FAULTS",
    "PROFILES",
    "AuditReport",
    "BindError",
    "Client",
    "Clock",
    "ConfigurationError",
    "Fault",
    "Key",
    "KeyExistsError",
    "KeyRing",
    "KeyStateError",
    "MockIdP",
    "MockIdPError",
    "NotStartedError",
    "Profile",
    "RemoteError",
    "RemoteIdP",
    "Scenario",
    "ServerError",
    "UnknownAlgorithmError",
    "UnknownCorruptionError",
    "UnknownFaultError",
    "UnknownKeyError",
    "UnknownProfileError",
    "User",
    "__version__",
    "audit",
]

_HOME = {
    "ALGORITHMS": "core.jwa",
    "AuditReport": "drivers.consumer_audit",
    "audit": "drivers.consumer_audit",  # not "audit": the module would shadow the function
    "CORRUPTIONS": "core.keys",
    "Client": "core.directory",
    "Clock": "core.clock",
    "FAULTS": "core.faults",
    "Fault": "core.faults",
    "Key": "core.keys",
    "KeyRing": "core.keys",
    "MockIdP": "provider",
    "PROFILES": "core.profiles",
    "Profile": "core.profiles",
    "RemoteError": "drivers.remote",
    "RemoteIdP": "drivers.remote",
    "Scenario": "drivers.scenario",
    "User": "core.directory",
    **{name: "errors" for name in (
        "BindError", "ConfigurationError", "KeyExistsError", "KeyStateError", "MockIdPError",
        "NotStartedError", "ServerError", "UnknownAlgorithmError", "UnknownCorruptionError",
        "UnknownFaultError", "UnknownKeyError", "UnknownProfileError",
    )},
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'mockidp' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
