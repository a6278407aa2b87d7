"""mockidp: a mock OAuth 2.0 / OpenID Connect identity provider for testing JWT consumers.

Importing this package is cheap: the public names load their modules (and cryptography,
Werkzeug, PyJWT) on first use, because the pytest plugin imports the package in every pytest
run, used or not. Every type a public call returns or raises is importable from here.
"""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.machinery import ModuleSpec
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

    from .core.clock import Clock
    from .core.directory import Client, ClientOptions, Clients, PlannedLogin, User, Users
    from .core.dpop import DPOP_FAULTS, DPoPFault, DPoPKey
    from .core.endpoints import DiscoveryControl, DPoPControl, EndpointControl, JwksControl
    from .core.faults import FAULTS, Attacker, Fault, Severity
    from .core.flows import TokenContext
    from .core.issuer import Issuer
    from .core.jwa import ALGORITHMS, Algorithm
    from .core.keys import CORRUPTIONS, Key, KeyRing, KeyState
    from .core.login_faults import LOGIN_FAULTS, LoginFault
    from .core.profiles import PROFILES, Layout, Profile
    from .core.recording import RecordedRequest
    from .core.tokens import Audience, IdTokenOptions, TokenOptions
    from .drivers.consumer_audit import AuditCase, AuditReport, Verdict, audit
    from .drivers.login_audit import LoginAuditReport, LoginRefused, audit_login
    from .drivers.remote import (
        RemoteClock,
        RemoteDirectory,
        RemoteEndpoint,
        RemoteIdP,
        RemoteKey,
        RemoteKeys,
    )
    from .drivers.resource_audit import audit_resource
    from .drivers.scenario import Scenario, ScenarioRun
    from .errors import (
        BindError,
        ConfigurationError,
        InterceptError,
        InvalidTokenError,
        KeyExistsError,
        KeyStateError,
        MockIdPError,
        NotStartedError,
        RemoteAuthError,
        RemoteConfigurationError,
        RemoteError,
        ServerError,
        UnknownAlgorithmError,
        UnknownClientError,
        UnknownCorruptionError,
        UnknownDPoPFaultError,
        UnknownEndpointError,
        UnknownFaultError,
        UnknownKeyError,
        UnknownLoginFaultError,
        UnknownProfileError,
        UnknownUserError,
        UnreachableError,
    )
    from .provider import MockIdP, Tenant
    from .testcase import IdPTestCase
    from .web.app import App

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "CORRUPTIONS",
    "DPOP_FAULTS",
    "FAULTS",
    "LOGIN_FAULTS",
    "PROFILES",
    "Algorithm",
    "App",
    "Attacker",
    "Audience",
    "AuditCase",
    "AuditReport",
    "BindError",
    "Client",
    "ClientOptions",
    "Clients",
    "Clock",
    "ConfigurationError",
    "DPoPControl",
    "DPoPFault",
    "DPoPKey",
    "DiscoveryControl",
    "EndpointControl",
    "Fault",
    "IdPTestCase",
    "IdTokenOptions",
    "InterceptError",
    "InvalidTokenError",
    "Issuer",
    "JwksControl",
    "Key",
    "KeyExistsError",
    "KeyRing",
    "KeyState",
    "KeyStateError",
    "Layout",
    "LoginAuditReport",
    "LoginFault",
    "LoginRefused",
    "MockIdP",
    "MockIdPError",
    "NotStartedError",
    "PlannedLogin",
    "Profile",
    "RecordedRequest",
    "RemoteAuthError",
    "RemoteClock",
    "RemoteConfigurationError",
    "RemoteDirectory",
    "RemoteEndpoint",
    "RemoteError",
    "RemoteIdP",
    "RemoteKey",
    "RemoteKeys",
    "Scenario",
    "ScenarioRun",
    "ServerError",
    "Severity",
    "Tenant",
    "TokenContext",
    "TokenOptions",
    "UnknownAlgorithmError",
    "UnknownClientError",
    "UnknownCorruptionError",
    "UnknownDPoPFaultError",
    "UnknownEndpointError",
    "UnknownFaultError",
    "UnknownKeyError",
    "UnknownLoginFaultError",
    "UnknownProfileError",
    "UnknownUserError",
    "UnreachableError",
    "User",
    "Users",
    "Verdict",
    "__version__",
    "audit",
    "audit_login",
    "audit_resource",
]

#: Public name -> the module it lives in (below ``mockidp``).
_HOME = {
    "KeyState": "core.keys",
    "Algorithm": "core.jwa",
    "Severity": "core.faults",
    "Verdict": "drivers.consumer_audit",
    "Audience": "core.tokens",
    "TokenOptions": "core.tokens",
    "IdTokenOptions": "core.tokens",
    "App": "web.app",
    "ALGORITHMS": "core.jwa",
    "Attacker": "core.faults",
    "AuditCase": "drivers.consumer_audit",
    "AuditReport": "drivers.consumer_audit",
    "audit": "drivers.consumer_audit",  # not "audit": the module would shadow the function
    "audit_resource": "drivers.resource_audit",
    "audit_login": "drivers.login_audit",
    "LoginAuditReport": "drivers.login_audit",
    "LoginRefused": "drivers.login_audit",
    "LOGIN_FAULTS": "core.login_faults",
    "LoginFault": "core.login_faults",
    "CORRUPTIONS": "core.keys",
    "Client": "core.directory",
    "ClientOptions": "core.directory",
    "Clients": "core.directory",
    "Clock": "core.clock",
    "DPOP_FAULTS": "core.dpop",
    "DPoPControl": "core.endpoints",
    "DPoPFault": "core.dpop",
    "DPoPKey": "core.dpop",
    "DiscoveryControl": "core.endpoints",
    "EndpointControl": "core.endpoints",
    "FAULTS": "core.faults",
    "Fault": "core.faults",
    "IdPTestCase": "testcase",
    "Issuer": "core.issuer",
    "JwksControl": "core.endpoints",
    "Key": "core.keys",
    "KeyRing": "core.keys",
    "Layout": "core.profiles",
    "MockIdP": "provider",
    "PlannedLogin": "core.directory",
    "PROFILES": "core.profiles",
    "Profile": "core.profiles",
    "RecordedRequest": "core.recording",
    "RemoteClock": "drivers.remote",
    "RemoteDirectory": "drivers.remote",
    "RemoteEndpoint": "drivers.remote",
    "RemoteIdP": "drivers.remote",
    "RemoteKey": "drivers.remote",
    "RemoteKeys": "drivers.remote",
    "Scenario": "drivers.scenario",
    "ScenarioRun": "drivers.scenario",
    "Tenant": "provider",
    "TokenContext": "core.flows",
    "User": "core.directory",
    "Users": "core.directory",
    **{name: "errors" for name in (
        "BindError", "ConfigurationError", "InterceptError", "InvalidTokenError",
        "KeyExistsError",
        "KeyStateError", "MockIdPError", "NotStartedError", "RemoteAuthError",
        "RemoteConfigurationError", "RemoteError", "ServerError", "UnknownAlgorithmError",
        "UnknownClientError", "UnknownCorruptionError", "UnknownDPoPFaultError",
        "UnknownEndpointError",
        "UnknownFaultError", "UnknownKeyError", "UnknownLoginFaultError",
        "UnknownProfileError", "UnknownUserError",
        "UnreachableError",
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


#: Modules that moved into the layers' packages, by their first names (``mockidp.keys`` is
#: ``mockidp.core.keys``): code that imported them there keeps working.
_MOVED = {
    **{name: "core" for name in ("clock", "directory", "endpoints", "faults", "flows", "jwa",
                                 "jws", "keys", "profiles", "recording", "rsapool", "tokens")},
    **{name: "web" for name in ("app", "control", "http1", "pages", "server", "tls")},
    **{name: "drivers" for name in ("config", "consumer_audit", "remote", "scenario")},
}


class _MovedModules:
    """Imports a moved module's first name as the module itself (one object, two names).

    A finder and loader by their methods alone: ``importlib.abc`` would cost every
    ``import mockidp`` some 15 ms (it loads ``importlib.resources``)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> ModuleSpec | None:
        package, _, name = fullname.partition(".")
        if package != __name__ or name not in _MOVED:
            return None
        return ModuleSpec(fullname, cast("Loader", self))

    def create_module(self, spec: ModuleSpec) -> Any:
        name = spec.name.partition(".")[2]
        module = import_module(f".{_MOVED[name]}.{name}", __name__)
        spec.loader_state = module.__spec__  # its own, which the import system overwrites
        return module

    def exec_module(self, module: Any) -> None:
        # The module ran under its own name; put its own spec back, or its relative imports
        # would look below the alias's package.
        module.__spec__ = module.__spec__.loader_state


sys.meta_path.append(_MovedModules())
