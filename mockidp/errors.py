"""The exceptions mockidp raises when its Python API is misused.

Every class derives from :class:`MockIdPError` and also from the built-in exception a caller would
naturally catch (``ValueError`` for a bad argument, ``KeyError`` for an unknown kid, ...), so both
``except mockidp.MockIdPError`` and idiomatic built-in handlers work. Each carries the offending
value as an attribute and a message that says how to fix the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "BindError",
    "ConfigurationError",
    "InterceptError",
    "InvalidTokenError",
    "KeyExistsError",
    "KeyStateError",
    "MockIdPError",
    "NotStartedError",
    "RemoteAuthError",
    "RemoteConfigurationError",
    "RemoteError",
    "ServerError",
    "UnknownAlgorithmError",
    "UnknownClientError",
    "UnknownCorruptionError",
    "UnknownEndpointError",
    "UnknownFaultError",
    "UnknownKeyError",
    "UnknownLoginFaultError",
    "UnknownProfileError",
    "UnknownUserError",
    "UnreachableError",
]


class MockIdPError(Exception):
    """Base class of every error mockidp raises on purpose."""


class ConfigurationError(MockIdPError, ValueError):
    """An argument or option has a value mockidp cannot use."""


class _UnknownName(ConfigurationError):
    """A name that is none of a fixed set of choices; the message lists them."""

    what = "name"
    hint = ""

    def __init__(self, given: object, supported: Iterable[str]) -> None:
        import difflib

        self.supported = tuple(supported)
        close = difflib.get_close_matches(given, self.supported, n=1) \
            if isinstance(given, str) else []
        guess = f"; did you mean {str(close[0])!r}?" if close else ""
        super().__init__(
            f"unknown {self.what} {given!r}; use one of: {', '.join(self.supported)}{self.hint}"
            f"{guess}")


class UnknownAlgorithmError(_UnknownName):
    """A JWS algorithm name is not one mockidp can generate keys for."""

    what = "JWS algorithm"

    def __init__(self, alg: object, supported: Iterable[str]) -> None:
        self.alg = alg
        super().__init__(alg, supported)


class UnknownProfileError(_UnknownName):
    """``MockIdP(profile=...)`` was given a name that is not in ``mockidp.PROFILES``."""

    what = "profile"


class UnknownCorruptionError(_UnknownName):
    """``keys.corrupt(how=...)`` was given a name that is not a known corruption."""

    what = "key corruption"

    def __init__(self, how: object, supported: Iterable[str]) -> None:
        self.how = how
        super().__init__(how, supported)


class UnknownFaultError(_UnknownName):
    """``fault=...`` named no entry of ``mockidp.FAULTS``."""

    what = "token fault"
    hint = " (mockidp.FAULTS has a description of each)"

    def __init__(self, name: object, supported: Iterable[str]) -> None:
        self.name = name
        super().__init__(name, supported)


class UnknownLoginFaultError(UnknownFaultError):
    """``idp.users.next_login(fault=...)`` named no entry of ``mockidp.LOGIN_FAULTS``."""

    what = "sign-in fault"
    hint = " (mockidp.LOGIN_FAULTS has a description of each)"


class UnknownDPoPFaultError(UnknownFaultError):
    """``key.proof(fault=...)`` named no entry of ``mockidp.DPOP_FAULTS``."""

    what = "DPoP proof fault"
    hint = " (mockidp.DPOP_FAULTS has a description of each)"


class UnknownKeyError(MockIdPError, KeyError):
    """No key with this ``kid`` was ever added to the key ring."""

    def __init__(self, kid: object, known: Iterable[str]) -> None:
        self.kid = kid
        self.known = tuple(known)
        super().__init__(kid)

    def __str__(self) -> str:
        known = ", ".join(repr(k) for k in self.known) or "none"
        return (
            f"no key with kid {self.kid!r}; known kids: {known}. "
            "Add one with idp.keys.add(alg, kid=...)"
        )


class KeyExistsError(ConfigurationError):
    """``keys.add(kid=...)`` named a kid that is already in the key ring."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        super().__init__(
            f"a key with kid {kid!r} already exists; choose another kid or omit it "
            "to get the RFC 7638 thumbprint"
        )


class KeyStateError(MockIdPError, RuntimeError):
    """The key exists but its state does not allow the operation (e.g. activating a revoked key)."""

    def __init__(self, kid: str | None, message: str) -> None:
        self.kid = kid
        super().__init__(message)


class ServerError(MockIdPError, RuntimeError):
    """The HTTP server could not start, or a request handler failed inside the server thread."""


class NotStartedError(ServerError):
    """A URL or the issuer was asked for before the provider was started."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(
            f"{what} is not known until the provider is started; call idp.start() "
            "or use 'with MockIdP() as idp:'"
        )


class InterceptError(MockIdPError, RuntimeError):
    """``idp.intercept()`` cannot stand in for the host: the provider has no public URL, or
    another provider intercepts that host at the moment."""


class BindError(ServerError):
    """The listening socket could not be bound (port in use, address not available, ...)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(
            f"cannot listen on {host}:{port}: {reason}; pick another port, "
            "or port=0 for any free one"
        )


class UnknownEndpointError(_UnknownName):
    """An endpoint name (``idp.endpoint(name)``, ``idp.url_for(name)``) that the provider does
    not serve."""

    what = "endpoint"

    def __init__(self, name: object, supported: Iterable[str]) -> None:
        self.name = name
        super().__init__(name, supported)


class UnknownUserError(MockIdPError, KeyError):
    """No user with this ``sub`` is in the directory."""

    def __init__(self, sub: object) -> None:
        self.sub = sub
        super().__init__(sub)

    def __str__(self) -> str:
        return f"no user with sub {self.sub!r}; add one with idp.users.add(sub=...)"


class UnknownClientError(MockIdPError, KeyError):
    """No client with this ``client_id`` is registered."""

    def __init__(self, client_id: object) -> None:
        self.client_id = client_id
        super().__init__(client_id)

    def __str__(self) -> str:
        return f"no client {self.client_id!r}; add one with idp.clients.add(client_id=...)"


class InvalidTokenError(MockIdPError, ValueError):
    """A token presented to the provider (``idp.verify``, userinfo, introspection) is not one
    it would accept; the message says why."""


class RemoteError(MockIdPError):
    """The control API of a running provider refused a call; ``status`` and ``error`` are its
    answer."""

    def __init__(self, status: int, error: str, description: str) -> None:
        self.status, self.error, self.description = status, error, description
        super().__init__(f"{status} {error}: {description}")


class RemoteConfigurationError(RemoteError, ConfigurationError):
    """A 400 answer: the call's arguments were wrong (as ``ConfigurationError`` locally)."""


class RemoteAuthError(RemoteError, PermissionError):
    """A 401/403 answer: the control token is missing or wrong, or the call was cross-origin."""


class UnreachableError(MockIdPError, ConnectionError):
    """A running provider could not be reached (refused, unresolvable, TLS failure, timeout);
    the message names the URL and the reason."""

    def __init__(self, url: str, reason: object) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"cannot reach the mockidp control API at {url}: {reason}")
