"""mockidp: a mock OAuth 2.0 / OpenID Connect identity provider for testing JWT consumers.

Importing this package is cheap: the public names load their modules (and cryptography,
Werkzeug, PyJWT) on first use, because the pytest plugin imports the package in every pytest
run, used or not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import Clock
    from .consumer_audit import AuditReport, audit
    from .directory import Client, User
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
    from .faults import FAULTS, Fault
    from .jwa import ALGORITHMS
    from .keys import CORRUPTIONS, Key, KeyRing
    from .profiles import PROFILES, Profile
    from .provider import MockIdP
    from .remote import RemoteError, RemoteIdP
    from .scenario import Scenario

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
    "ALGORITHMS": "jwa",
    "AuditReport": "consumer_audit",
    "audit": "consumer_audit",  # not "audit": the module would shadow the function
    "CORRUPTIONS": "keys",
    "Client": "directory",
    "Clock": "clock",
    "FAULTS": "faults",
    "Fault": "faults",
    "Key": "keys",
    "KeyRing": "keys",
    "MockIdP": "provider",
    "PROFILES": "profiles",
    "Profile": "profiles",
    "RemoteError": "remote",
    "RemoteIdP": "remote",
    "Scenario": "scenario",
    "User": "directory",
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
