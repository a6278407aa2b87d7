"""The TOML configuration of ``mockidp serve --config FILE``.

    alg = "RS256"                 # default signing algorithm
    profile = "keycloak"          # look like a real provider (mockidp.PROFILES)
    profile_options = { realm = "demo" }
    audience = "my-api"
    issuer_url = "http://localhost:8080"
    login = "page"                # or "auto"

    [[keys]]
    alg = "ES256"
    kid = "ec-1"

    [[clients]]
    client_id = "web"
    client_secret = "web-secret"
    redirect_uris = ["http://localhost:3000/callback"]

    [[users]]
    sub = "alice"
    password = "alice"
    claims = { email = "alice@example.com", name = "Alice" }

    [tenants.acme]                # keys, clients and users of another issuer, {issuer}/acme
    [[tenants.acme.clients]]
    client_id = "acme-web"
    client_secret = "acme-secret"

Every field is checked before anything starts: an unknown field or a wrong type is a
:class:`ConfigurationError` naming it, which the command line prints as one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from . import _toml

if TYPE_CHECKING:
    from pathlib import Path

    from ..core.issuer import Issuer
    from ..provider import MockIdP

__all__ = ["Config"]

_STR, _INT, _BOOL = (str,), (int,), (bool,)
_STRS = "list of strings"

_TOP: dict[str, Any] = {
    "alg": _STR, "audience": _STR, "issuer_url": _STR, "login": _STR, "seed": _INT,
    "jwks_max_age": _INT, "refresh_token_rotation": _BOOL, "profile": _STR,
    "profile_options": (dict,), "certificates": _BOOL,
    "keys": "keys", "clients": "clients", "users": "users", "tenants": "tenants",
}
_ENTRIES: dict[str, dict[str, Any]] = {
    "keys": {"alg": _STR, "kid": _STR, "size": _INT, "crv": _STR, "activate": _BOOL,
             "publish": _BOOL},
    "clients": {"client_id": _STR, "client_secret": _STR, "redirect_uris": _STRS,
                "public": _BOOL, "grant_types": _STRS, "jwks": (dict,)},
    "users": {"sub": _STR, "password": _STR, "default": _BOOL, "claims": (dict,)},
}
_TENANT = {"keys": "keys", "clients": "clients", "users": "users"}
_PROVIDER_OPTIONS = ("alg", "audience", "issuer_url", "login", "seed", "jwks_max_age", "profile",
                     "certificates")


def _type_name(expected: Any) -> str:
    if expected == _STRS:
        return "a list of strings"
    return {str: "a string", int: "an integer", bool: "true or false", dict: "a table"}[
        expected[0]]


def _check(where: str, value: Any, expected: Any) -> None:
    if expected == _STRS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigurationError(f"{where}: expected a list of strings, got {value!r}")
        return
    if isinstance(value, bool) and bool not in expected:
        raise ConfigurationError(f"{where}: expected {_type_name(expected)}, got {value!r}")
    if not isinstance(value, expected):
        raise ConfigurationError(f"{where}: expected {_type_name(expected)}, got {value!r}")


def _check_table(where: str, table: Any, schema: dict[str, Any]) -> None:
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: expected a table, got {table!r}")
    for name, value in table.items():
        path = f"{where}.{name}" if where else name
        expected = schema.get(name)
        if expected is None:
            raise ConfigurationError(f"{path}: unknown field; known fields: "
                                     f"{', '.join(schema)}")
        if expected in _ENTRIES:
            if not isinstance(value, list):
                raise ConfigurationError(f"{path}: expected an array of tables ([[{name}]])")
            for index, entry in enumerate(value):
                _check_table(f"{path}[{index}]", entry, _ENTRIES[expected])
        elif expected == "tenants":
            if not isinstance(value, dict):
                raise ConfigurationError(f"{path}: expected a table of tenants")
            for tenant, body in value.items():
                _check_table(f"{path}.{tenant}", body, _TENANT)
        else:
            _check(path, value, expected)


@dataclass(frozen=True)
class Config:
    data: dict[str, Any]
    source: str = "config"

    @classmethod
    def load(cls, path: str | Path) -> Config:
        text = _toml.read(path, "config")
        try:
            data = _toml.loads(text)
        except _toml.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: dict[str, Any], source: str = "config") -> Config:
        try:
            _check_table("", data, _TOP)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{source}: {exc}") from None
        return cls(data, source)

    def provider_options(self) -> dict[str, Any]:
        """The ``MockIdP(...)`` arguments the file sets."""
        from ..core import profiles

        options = {k: self.data[k] for k in _PROVIDER_OPTIONS if k in self.data}
        try:  # checked here, so that an error names the file
            profile = profiles.get(options.get("profile", "generic"))
            layout = profile.layout(self.data.get("profile_options", {}))
        except ConfigurationError as exc:
            raise ConfigurationError(f"{self.source}: {exc}") from None
        return {**options, "profile_options": dict(layout.options)}

    def apply(self, provider: MockIdP) -> None:
        """Add the file's keys, clients, users and tenants (before the provider starts)."""
        try:
            if "refresh_token_rotation" in self.data:
                provider.refresh_token_rotation = self.data["refresh_token_rotation"]
            _populate(provider, self.data)
            for name, body in self.data.get("tenants", {}).items():
                _populate(provider.tenant(name), body)
        except (ConfigurationError, KeyError) as exc:
            raise ConfigurationError(f"{self.source}: {exc}") from None


def _populate(provider: Issuer, data: dict[str, Any]) -> None:
    for key in data.get("keys", []):
        provider.keys.add(**key)
    for client in data.get("clients", []):
        provider.clients.add(**client)
    for user in data.get("users", []):
        options = dict(user)
        claims = options.pop("claims", {})
        provider.users.add(**options, **claims)
