"""``RemoteIdP``: the ``MockIdP`` interface for a provider running elsewhere (``mockidp serve``
in another process or container), driven through its control API.

It speaks HTTP with the standard library only, so a test that only drives a remote provider
pays for no more than ``import mockidp``.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..core.checks import http_url
from ..core.endpoints import ENDPOINTS
from ..core.recording import RecordedRequest, freeze
from ..errors import (
    ConfigurationError,
    MockIdPError,
    RemoteAuthError,
    RemoteConfigurationError,
    RemoteError,
    UnknownEndpointError,
    UnknownKeyError,
    UnreachableError,
)
from .surface import ENDPOINT_ACTIONS

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Iterator, Mapping

    from typing_extensions import Unpack

    from ..core.dpop import DPoPKey
    from ..core.tokens import IdTokenOptions, TokenOptions

__all__ = ["RemoteClock", "RemoteDirectory", "RemoteEndpoint", "RemoteIdP", "RemoteKey",
           "RemoteKeys"]

def _jsonable(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True)
class RemoteKey:
    """A key of the remote provider, as the control API describes it: public parts only."""

    kid: str
    alg: str
    kty: str
    crv: str | None
    size: int
    public_jwk: dict[str, Any] | None
    state: str
    corruption: str | None
    private_key: None = None  # private material never leaves the provider
    secret: None = None


class RemoteIdP:
    """Drive a running mockidp through ``/_mockidp/``: the same calls as ``MockIdP``."""

    def __init__(self, url: str, control_token: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, *, timeout: float = 10.0) -> None:
        self.url = http_url("the URL of a running mockidp (its issuer)", url).rstrip("/")
        self.control_token = control_token
        #: For a provider served over HTTPS (``mockidp serve --tls``): a context that trusts
        #: its CA, e.g. ``ssl.create_default_context(cafile=...)``.
        self.ssl_context = ssl_context
        self.timeout = timeout
        state = self._state()
        self.issuer: str = state["issuer"]
        #: The name of the profile the server runs (``mockidp.PROFILES``).
        self.profile: str = state["profile"]
        self._urls: dict[str, str] = state["endpoints"]
        self.keys = RemoteKeys(self)
        self.clock = RemoteClock(self)
        self.users = RemoteDirectory(self, "/users")
        self.clients = RemoteDirectory(self, "/clients")

    # -- plumbing -----------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        """The provider's state, from the control API at ``url`` or — for an issuer with a
        path (``/realms/demo``), where the control API sits at the server's root or a tenant's
        — at the nearest URL above it that serves one."""
        while True:
            try:
                state: dict[str, Any] = self.call("GET", "/state")
                return state
            except RemoteError as exc:
                base, _, segment = self.url.rpartition("/")
                if exc.status != 404 or not segment or base.endswith(("http:/", "https:/")):
                    raise
                self.url = base

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
             query: Mapping[str, str] | None = None, *, nulls: bool = False) -> Any:
        """One control-API call; its JSON answer (an object). ``None`` options are left out
        of ``body`` unless ``nulls``: where ``None`` means something (``typ=None``, no typ)."""
        url = f"{self.url}/_mockidp{path}" + (f"?{urlencode(query)}" if query else "")
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps({k: _jsonable(v) for k, v in body.items()
                               if nulls or v is not None}).encode()
            headers["Content-Type"] = "application/json"
        if self.control_token is not None:
            headers["Authorization"] = f"Bearer {self.control_token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout,
                                        context=self.ssl_context) as response:
                return self._object(json.load(response))
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc) from None
        except urllib.error.URLError as exc:
            raise UnreachableError(self.url, exc.reason) from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            # A timeout or reset after connecting, or an answer that is not HTTP.
            raise UnreachableError(self.url, exc) from None
        except ValueError as exc:  # an answer that is not JSON: not a mockidp
            raise UnreachableError(self.url, f"the answer is not mockidp's JSON ({exc})"
                                   ) from None

    def _object(self, answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise UnreachableError(self.url, "the answer is not a JSON object: not a mockidp "
                                             "control API")
        return answer

    def _refusal(self, exc: urllib.error.HTTPError) -> MockIdPError:
        """The control API's error answer as an exception (or why it could not be read)."""
        try:
            with exc:
                answer = json.load(exc)
        except (ValueError, OSError, http.client.HTTPException):
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        error, description = answer.get("error", "error"), answer.get("error_description",
                                                                       exc.reason)
        kind = {400: RemoteConfigurationError, 401: RemoteAuthError,
                403: RemoteAuthError}.get(exc.code, RemoteError)
        return kind(exc.code, str(error), str(description))

    # -- URLs ---------------------------------------------------------------------------------

    def url_for(self, endpoint: str) -> str:
        try:
            return self._urls[endpoint]
        except (KeyError, TypeError):
            raise UnknownEndpointError(endpoint, self._urls) from None

    discovery_url = property(lambda self: self.url_for("discovery"))
    jwks_uri = property(lambda self: self.url_for("jwks"))
    token_endpoint = property(lambda self: self.url_for("token"))
    authorization_endpoint = property(lambda self: self.url_for("authorize"))
    userinfo_endpoint = property(lambda self: self.url_for("userinfo"))

    @property
    def audience(self) -> Any:
        return self.call("GET", "/state")["audience"]

    # -- the provider's calls -----------------------------------------------------------------

    def token(self, claims: Mapping[str, Any] | None = None,
              **options: Unpack[TokenOptions]) -> str:
        """``idp.token()`` of the remote provider: the same options, minted there (a
        ``dpop`` key travels as its thumbprint)."""
        dpop = options.get("dpop")
        if dpop is not None and not isinstance(dpop, str):
            options["dpop"] = dpop.jkt
        token: str = self.call("POST", "/token", {"claims": claims, **options},
                               nulls=True)["token"]
        return token

    def dpop_key(self, alg: str = "ES256") -> DPoPKey:
        """A DPoP holder key (``idp.dpop_key()``), made here: its proofs take ``iat`` from
        this machine's clock, as the services under test see it."""
        from ..core.dpop import DPoPKey

        return DPoPKey(alg)

    def id_token(self, claims: Mapping[str, Any] | None = None,
                 **options: Unpack[IdTokenOptions]) -> str:
        """``idp.id_token()`` of the remote provider."""
        token: str = self.call("POST", "/id_token", {"claims": claims, **options},
                               nulls=True)["token"]
        return token

    def jwks(self) -> dict[str, Any]:
        """The key set (what the JWKS endpoint serves when no fault is set on it)."""
        document: dict[str, Any] = self.call("GET", "/jwks")
        return document

    def endpoint(self, name: str) -> RemoteEndpoint:
        if name not in ENDPOINTS:
            raise UnknownEndpointError(name, ENDPOINTS)
        return RemoteEndpoint(self, name)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._requests({})

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        return self._requests({"endpoint": endpoint})

    def _requests(self, query: Mapping[str, str]) -> list[RecordedRequest]:
        entries = self.call("GET", "/requests", query=query)["requests"]
        return [RecordedRequest(
            method=e["method"], path=e["path"], endpoint=e["endpoint"],
            headers=freeze(e["headers"]), query=freeze(e["query"]), form=freeze(e["form"]),
            status=e["status"], time=e["time"], duration=e["duration"],
            truncated=e.get("truncated", False), remote_addr=e.get("remote_addr", ""),
            authorization=freeze(e.get("authorization") or {}),
        ) for e in entries]

    def reset(self) -> None:
        self.call("POST", "/reset", {})

    def approve_device(self, user_code: str | None = None, *, sub: str | None = None,
                       deny: bool = False) -> str:
        """``idp.approve_device()`` of the remote provider."""
        answer = self.call("POST", "/devices/approve",
                           {"user_code": user_code, "sub": sub, "deny": deny})
        user_code_decided: str = answer["user_code"]
        return user_code_decided

    def add_resource(self, uri: str) -> str:
        """``idp.resources.add(uri)`` of the remote provider (RFC 8707), until the next reset
        (``POST /_mockidp/resources``); a resource the provider starts with comes from
        ``mockidp serve --resource`` or the config file's ``resources``."""
        answer = self.call("POST", "/resources", {"uri": uri})
        added: str = answer["uri"]
        return added

    def add_rule(self, match: Mapping[str, str], claims: Mapping[str, Any]) -> dict[str, Any]:
        """Add ``claims`` to the tokens ``match`` describes, as a config file's ``[[rules]]``
        entry does, until the next reset (``POST /_mockidp/rules``). ``match`` compares
        ``kind``, ``grant_type``, ``client_id``, ``scope`` and ``sub``: exact, a glob or
        ``re:`` and a regular expression. Answers the rule as the provider took it."""
        answer: dict[str, Any] = self.call("POST", "/rules", {"match": dict(match),
                                                              "claims": dict(claims)})
        return answer

    def run_scenario(self, scenario: Any) -> dict[str, Any]:
        """Start a scenario (TOML file or text, or a ``Scenario``) on the remote provider."""
        from .scenario import Scenario

        if not isinstance(scenario, Scenario):
            scenario = Scenario.load(os.fspath(scenario))
        steps = [{"at": s.at, "action": s.action, **s.options} for s in scenario.steps]
        answer: dict[str, Any] = self.call("POST", "/scenario", {"steps": steps})
        return answer

    def __repr__(self) -> str:
        return f"<RemoteIdP {self.issuer} via {self.url}/_mockidp>"


class RemoteKeys:
    """``idp.keys`` of a remote provider."""

    def __init__(self, remote: RemoteIdP) -> None:
        self._remote = remote

    def _all(self) -> list[RemoteKey]:
        return [RemoteKey(**k) for k in self._remote.call("GET", "/keys")["keys"]]

    def _one(self, method: str, kid: str, action: str = "", body: Mapping[str, Any] | None = None
             ) -> RemoteKey:
        try:
            answer = self._remote.call(method, f"/keys/{kid}{action}", body)
        except RemoteError as exc:
            if exc.status == 404:
                raise UnknownKeyError(kid, [k.kid for k in self._all()]) from None
            raise
        return RemoteKey(**answer)

    @property
    def default_alg(self) -> str:
        alg: str = self._remote.call("GET", "/state")["default_alg"]
        return alg

    @property
    def active(self) -> RemoteKey:
        return self.active_for(self.default_alg)

    def active_for(self, alg: str) -> RemoteKey:
        for key in self._all():
            if key.alg == alg and key.state == "active":
                return key
        raise ConfigurationError(f"no active {alg} key on the remote provider")

    def __getitem__(self, kid: str) -> RemoteKey:
        return self._one("GET", kid)

    def __iter__(self) -> Iterator[RemoteKey]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, kid: object) -> bool:
        return any(k.kid == kid for k in self._all())

    def state(self, kid: str) -> str:
        return self[kid].state

    def corruption(self, kid: str) -> str | None:
        return self[kid].corruption

    def jwks(self) -> dict[str, Any]:
        return self._remote.jwks()

    def add(self, alg: str | None = None, kid: str | None = None, *,
            size: int | None = None, crv: str | None = None, activate: bool = True,
            publish: bool = True) -> RemoteKey:
        return RemoteKey(**self._remote.call("POST", "/keys", {
            "alg": alg, "kid": kid, "size": size, "crv": crv, "activate": activate,
            "publish": publish}))

    def ensure_active(self, alg: str) -> RemoteKey:
        return RemoteKey(**self._remote.call("POST", "/keys/ensure_active", {"alg": alg}))

    def snapshot(self) -> str:
        """Remember the remote key ring (for :meth:`restore`), as ``MockIdP.keys`` can."""
        snapshot_id: str = self._remote.call("POST", "/keys/snapshot", {})["id"]
        return snapshot_id

    def restore(self, snapshot: object) -> None:
        self._remote.call("POST", "/keys/restore", {"id": snapshot})

    def rotate(self, alg: str | None = None, kid: str | None = None, *,
               size: int | None = None, crv: str | None = None) -> RemoteKey:
        return RemoteKey(**self._remote.call("POST", "/keys/rotate", {
            "alg": alg, "kid": kid, "size": size, "crv": crv}))

    def activate(self, kid: str) -> RemoteKey:
        return self._one("POST", kid, "/activate", {})

    def revoke(self, kid: str) -> RemoteKey:
        return self._one("POST", kid, "/revoke", {})

    def publish(self, kid: str) -> RemoteKey:
        return self._one("POST", kid, "/publish", {})

    def replace(self, kid: str) -> RemoteKey:
        return self._one("POST", kid, "/replace", {})

    def repair(self, kid: str) -> RemoteKey:
        return self._one("POST", kid, "/repair", {})

    def corrupt(self, kid: str, how: str = "other-key") -> RemoteKey:
        return self._one("POST", kid, "/corrupt", {"how": how})


class RemoteEndpoint:
    """``idp.endpoint(name)`` of a remote provider: every control method, as a call."""

    def __init__(self, remote: RemoteIdP, name: str) -> None:
        self._remote, self.name = remote, name

    def __getattr__(self, action: str) -> Callable[..., RemoteEndpoint]:
        if action.startswith("_"):
            raise AttributeError(action)

        declared = ENDPOINT_ACTIONS.get(action)
        if declared is None:
            raise AttributeError(f"endpoint controls have no {action!r}; they have: "
                                 f"{', '.join(ENDPOINT_ACTIONS)}")
        signature = declared.signature

        def call(*args: Any, **options: Any) -> RemoteEndpoint:
            # Bind as the local method would, so positional arguments work the same.
            body = dict(signature.bind(*args, **options).arguments)
            self._remote.call("POST", f"/endpoints/{self.name}", {"action": action, **body})
            return self

        return call

    def reset(self) -> None:
        self._remote.call("POST", f"/endpoints/{self.name}", {"action": "reset"})


class RemoteClock:
    """``idp.clock`` of a remote provider."""

    def __init__(self, remote: RemoteIdP) -> None:
        self._remote = remote

    def time(self) -> float:
        value: float = self._remote.call("GET", "/clock")["time"]
        return value

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    @property
    def frozen(self) -> bool:
        return bool(self._remote.call("GET", "/clock")["frozen"])

    def advance(self, delta: timedelta | float) -> None:
        self._remote.call("POST", "/clock", {"advance": delta})

    def freeze(self, at: datetime | float | None = None) -> None:
        self._remote.call("POST", "/clock", {"freeze": self.time() if at is None else at})

    def unfreeze(self) -> None:
        self._remote.call("POST", "/clock", {"unfreeze": True})


class RemoteDirectory:
    """``idp.users.add`` / ``idp.clients.add`` of a remote provider."""

    def __init__(self, remote: RemoteIdP, path: str) -> None:
        self._remote, self._path = remote, path

    def add(self, *args: Any, **options: Any) -> dict[str, Any]:
        if self._path == "/users":
            sub = args[0] if args else options.pop("sub", None)
            body = {"sub": sub, "password": options.pop("password", None),
                    "default": options.pop("default", None), "claims": options}
        else:
            names = ("client_id", "client_secret")
            body = {**dict(zip(names, args, strict=False)), **options}
        answer: dict[str, Any] = self._remote.call("POST", self._path, body)
        return answer
