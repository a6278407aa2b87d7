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

    [[keys]]                      # a fixed key: the same kid and key at every start
    file = "signing-key.pem"      # PEM or JWK, relative to this file; or pem = "...", jwk = {...}
    kid = "fixed-1"

    [[clients]]
    client_id = "web"
    client_secret = "web-secret"
    redirect_uris = ["http://localhost:3000/callback"]

    [[users]]
    sub = "alice"
    password = "alice"
    claims = { email = "alice@example.com", name = "Alice" }

    [[rules]]                     # claims for the tokens a request matches; later rules win
    match = { grant_type = "client_credentials", client_id = "svc-*" }
    claims = { roles = ["service"], tenant = "${client_id}" }

    [tenants.acme]                # keys, clients, users and rules of another issuer
    [[tenants.acme.clients]]
    client_id = "acme-web"
    client_secret = "acme-secret"

A rule's ``match`` compares ``kind``, ``grant_type``, ``client_id``, ``scope`` (any one of
the token's scopes, or the whole string) and ``sub`` with a value that is exact, a glob
(``svc-*``) or a regular expression (``re:^svc-[0-9]+$``, matched whole); every field named
must match. Its ``claims`` are added to or override the token's, with ``${client_id}``,
``${sub}``, ``${scope}``, ``${grant_type}`` and ``${kind}`` replaced in strings. Rules run in the
file's order, so where two set a claim the later one wins; a test's own ``on_token`` hooks run
after them. ``form.NAME`` matches, and ``${form.NAME}`` fills in, a field of the token request
(empty for a token minted through ``idp.token()``, the control API or the CLI).

Every field is checked before anything starts: an unknown field or a wrong type is a
:class:`ConfigurationError` naming it, which the command line prints as one line.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigurationError
from . import _toml

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..core.directory import Clients, Users
    from ..core.flows import TokenContext
    from ..core.keys import KeyRing
    from ..core.resources import Resources
    from ..core.tokens import Minter

__all__ = ["Config", "Rule", "keep_rules"]

_STR, _INT, _BOOL = (str,), (int,), (bool,)
_STRS = "list of strings"

_TOP: dict[str, Any] = {
    "alg": _STR, "audience": _STR, "issuer_url": _STR, "login": _STR, "seed": _INT,
    "jwks_max_age": _INT, "refresh_token_rotation": _BOOL, "require_dpop_nonce": _BOOL,
    "profile": _STR,
    "profile_options": (dict,), "certificates": _BOOL,
    "resources": _STRS, "keys": "keys", "clients": "clients", "users": "users",
    "rules": "rules",
    "tenants": "tenants",
}
_ENTRIES: dict[str, dict[str, Any]] = {
    "keys": {"alg": _STR, "kid": _STR, "size": _INT, "crv": _STR, "activate": _BOOL,
             "publish": _BOOL},
    "clients": {"client_id": _STR, "client_secret": _STR, "redirect_uris": _STRS,
                "public": _BOOL, "grant_types": _STRS, "jwks": (dict,),
                "id_token_signed_response_alg": _STR, "userinfo_signed_response_alg": _STR,
                "access_token_typ": _STR, "jwks_uri": _STR, "request_uris": _STRS,
                "require_pushed_authorization_requests": _BOOL,
                "require_signed_request_object": _BOOL, "request_object_signing_alg": _STR,
                "metadata": (dict,), "dpop_bound_access_tokens": _BOOL, "dpop_nonce": _BOOL,
                "token_endpoint_auth_method": _STR},
    "users": {"sub": _STR, "password": _STR, "default": _BOOL, "claims": (dict,)},
    "rules": {"match": (dict,), "claims": (dict,)},
}
#: A key's fixed material, besides what ``keys.add`` takes (above, kept equal to its options).
_KEY_MATERIAL = {"file": _STR, "pem": _STR, "jwk": (dict,)}
_FIELDS = {**_ENTRIES, "keys": {**_ENTRIES["keys"], **_KEY_MATERIAL}}
_TENANT = {"keys": "keys", "clients": "clients", "users": "users", "rules": "rules",
           "resources": _STRS}
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
                _check_table(f"{path}[{index}]", entry, _FIELDS[expected])
                if expected == "rules":  # patterns and templates, checked before the start
                    Rule.parse(entry.get("match", {}), entry.get("claims", {}),
                               f"{path}[{index}]")
                elif expected == "keys" and len({"file", "pem", "jwk"} & set(entry)) > 1:
                    raise ConfigurationError(f"{path}[{index}]: give one of file, pem and jwk")
        elif expected == "tenants":
            if not isinstance(value, dict):
                raise ConfigurationError(f"{path}: expected a table of tenants")
            for tenant, body in value.items():
                _check_table(f"{path}.{tenant}", body, _TENANT)
        else:
            _check(path, value, expected)


class Issuer(Protocol):
    """What a config file sets up: an issuer's keys, clients, users, resources and hooks.
    Named by its shape rather than imported from the facade, so that the control API can take
    the file's rules (``POST /_mockidp/rules``) without an import cycle through ``MockIdP``."""

    keys: KeyRing
    clients: Clients
    users: Users
    minter: Minter
    resources: Resources


class Provider(Issuer, Protocol):
    """A :class:`~mockidp.MockIdP`, as :meth:`Config.apply` uses it: an issuer with tenants."""

    refresh_token_rotation: bool

    def tenant(self, name: str) -> Issuer: ...


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
        # A key's file is named relative to the config file, not to wherever the server was
        # started: a container mounts both side by side.
        directory = Path(path).parent
        tenants = data.get("tenants")
        for table in (data, *(tenants.values() if isinstance(tenants, dict) else ())):
            keys = table.get("keys") if isinstance(table, dict) else None
            for key in keys if isinstance(keys, list) else ():
                if isinstance(key, dict) and isinstance(key.get("file"), str):
                    key["file"] = str(directory / key["file"])
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

    def apply(self, provider: Provider) -> None:
        """Add the file's keys, clients, users and tenants (before the provider starts)."""
        try:
            for setting in ("refresh_token_rotation", "require_dpop_nonce"):
                if setting in self.data:
                    setattr(provider, setting, self.data[setting])
            _populate(provider, self.data)
            for name, body in self.data.get("tenants", {}).items():
                _populate(provider.tenant(name), body, f"tenants.{name}.")
        except (ConfigurationError, KeyError) as exc:
            raise ConfigurationError(f"{self.source}: {exc}") from None


def _populate(provider: Issuer, data: dict[str, Any], where: str = "") -> None:
    for uri in data.get("resources", []):
        provider.resources.add(uri)
    for index, key in enumerate(data.get("keys", [])):
        options = dict(key)
        given = {name: options.pop(name) for name in ("file", "pem", "jwk") if name in options}
        if given:
            try:
                material, alg, kid = _key_material(options.get("alg"), **given)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{where}keys[{index}]: {exc}") from None
            options.setdefault("alg", alg)
            options.setdefault("kid", kid)
            options["private_key"] = material
        provider.keys.add(**options)
    for client in data.get("clients", []):
        provider.clients.add(**client)
    for user in data.get("users", []):
        options = dict(user)
        claims = options.pop("claims", {})
        provider.users.add(**options, **claims)
    rules = data.get("rules", [])
    if rules:
        keep_rules(provider, [Rule.parse(rule.get("match", {}), rule.get("claims", {}),
                                         f"{where}rules[{index}]")
                              for index, rule in enumerate(rules)])


# -- fixed keys ----------------------------------------------------------------------------------

def _key_material(alg: str | None, file: str | None = None, pem: str | None = None,
                  jwk: Mapping[str, Any] | None = None) -> tuple[Any, str | None, str | None]:
    """The private key of a ``[[keys]]`` entry that gives one, and the ``alg`` and ``kid`` its
    JWK names (``None`` for a PEM: the entry's ``alg`` or the default algorithm, and the
    RFC 7638 thumbprint, which is the same at every start)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from ..core import jwa

    if file is not None:
        try:
            text = Path(file).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read key file {file}: {exc}") from None
        if "-----BEGIN" in text:
            pem = text
        else:
            try:
                jwk = json.loads(text)
            except ValueError:
                raise ConfigurationError(f"key file {file} is neither PEM nor a JSON JWK"
                                         ) from None
            if not isinstance(jwk, dict):
                raise ConfigurationError(f"key file {file} is not a JWK (a JSON object)")
    if pem is not None:
        try:
            return load_pem_private_key(pem.encode(), password=None), None, None
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"not an unencrypted PEM private key: {exc}") from None
    assert jwk is not None
    named = jwk.get("alg")
    row = jwa.get(alg or (named if isinstance(named, str) else None) or _alg_for(jwk))
    if row.kty != "oct" and "d" not in jwk:
        raise ConfigurationError("the JWK has no private part (d): a provider signs with it")
    try:
        material = row.signer.from_jwk(dict(jwk))
    except Exception as exc:  # PyJWT raises its own errors for a JWK of the wrong shape
        raise ConfigurationError(f"not a {row.kty} JWK for {row.name}: {exc}") from None
    kid = jwk.get("kid")
    return material, row.name, kid if isinstance(kid, str) else None


def _alg_for(jwk: Mapping[str, Any]) -> str:
    """The algorithm a JWK without ``alg`` signs: its curve's for EC and OKP, RS256 for RSA."""
    curves = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K",
              "Ed25519": "EdDSA", "Ed448": "EdDSA"}
    kty = jwk.get("kty")
    if kty == "RSA":
        return "RS256"
    if kty == "oct":
        return "HS256"
    crv = jwk.get("crv")
    if isinstance(crv, str) and crv in curves:
        return curves[crv]
    raise ConfigurationError(f"cannot tell the algorithm of a JWK with kty {kty!r}; add alg")


# -- claim rules ---------------------------------------------------------------------------------

def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


#: What a rule can match, and how each is read from the token's context.
MATCH_FIELDS: dict[str, Callable[[TokenContext], str | None]] = {
    "kind": lambda c: c.kind,
    "grant_type": lambda c: c.grant_type,
    # The token's own client_id (or azp) first: idp.token(client_id=...) may name a client
    # that is not registered, for which the context holds the default client.
    "client_id": lambda c: _text(c.claims.get("client_id")) or _text(c.claims.get("azp"))
    or c.client.client_id,
    "scope": lambda c: c.scope,
    "sub": lambda c: c.claims.get("sub") if isinstance(c.claims.get("sub"), str) else None,
}
_TEMPLATE = re.compile(r"\$\{([^}]*)\}")
#: A field of the token request, by name: ``form.tenant``.
_FORM = re.compile(r"form\.([A-Za-z0-9_.~-]+)")


def _field(name: str) -> Callable[[TokenContext], str | None] | None:
    """How a rule reads ``name`` from a token's context; ``None`` for an unknown name."""
    form = _FORM.fullmatch(name)
    if form is not None:
        return lambda c: c.form.get(form[1])
    return MATCH_FIELDS.get(name)


def _matcher(where: str, pattern: Any) -> Callable[[str], bool]:
    if not isinstance(pattern, str):
        raise ConfigurationError(f"{where}: expected a string (exact, a glob or re:...), "
                                 f"got {pattern!r}")
    if pattern.startswith("re:"):
        try:
            compiled = re.compile(pattern[3:])
        except re.error as exc:
            raise ConfigurationError(f"{where}: not a regular expression {pattern!r}: {exc}"
                                     ) from None
        return lambda value: compiled.fullmatch(value) is not None
    if any(c in pattern for c in "*?["):
        return lambda value: fnmatch.fnmatchcase(value, pattern)
    return lambda value: value == pattern


def _check_templates(where: str, value: Any) -> None:
    if isinstance(value, str):
        for name in _TEMPLATE.findall(value):
            if _field(name) is None:
                raise ConfigurationError(f"{where}: unknown template ${{{name}}}; known: "
                                         + ", ".join(f"${{{n}}}" for n in MATCH_FIELDS)
                                         + ", ${form.NAME}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_templates(f"{where}[{index}]", item)
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_templates(f"{where}.{name}", item)


def _fill(value: Any, context: TokenContext) -> Any:
    if isinstance(value, str):
        return _TEMPLATE.sub(lambda m: _field(m.group(1))(context) or "",  # type: ignore[misc]
                             value)
    if isinstance(value, list):
        return [_fill(item, context) for item in value]
    if isinstance(value, dict):
        return {name: _fill(item, context) for name, item in value.items()}
    return value


@dataclass(frozen=True)
class Rule:
    """A claim rule: a token hook that adds ``claims`` to the tokens whose context ``match``
    describes. Made by :meth:`parse`, which checks every pattern and template, so a wrong rule
    fails where it is written, not at the first token."""

    match: Mapping[str, str]
    claims: Mapping[str, Any]
    where: str
    tests: tuple[tuple[str, Callable[[str], bool]], ...]

    @classmethod
    def parse(cls, match: Any, claims: Any, where: str = "rule") -> Rule:
        if not isinstance(match, dict):
            raise ConfigurationError(f"{where}.match: expected a table, got {match!r}")
        if not isinstance(claims, dict) or not claims:
            raise ConfigurationError(f"{where}.claims: expected a table of claims to set, "
                                     f"got {claims!r}")
        tests = []
        for name, pattern in match.items():
            if _field(name) is None:
                raise ConfigurationError(f"{where}.match.{name}: unknown field; known "
                                         f"fields: {', '.join(MATCH_FIELDS)}, form.NAME")
            tests.append((name, _matcher(f"{where}.match.{name}", pattern)))
        _check_templates(f"{where}.claims", claims)
        return cls(dict(match), dict(claims), where, tuple(tests))

    def applies(self, context: TokenContext) -> bool:
        """Whether every field the rule names matches; ``scope`` matches when any one scope
        does, or the whole scope string."""
        for name, test in self.tests:
            read = _field(name)
            value = read(context) if read is not None else None
            if value is None:
                return False
            if not test(value) and not (name == "scope" and any(map(test, value.split()))):
                return False
        return True

    def __call__(self, context: TokenContext) -> None:
        if self.applies(context):
            context.claims.update(_fill(self.claims, context))


def keep_rules(issuer: Issuer, rules: list[Rule]) -> None:
    """Add ``rules`` to the issuer's configured rules: they run first on every token, in order,
    and a reset keeps them (they are the server's configuration, not a test's state)."""
    issuer.minter.rules.extend(rules)
