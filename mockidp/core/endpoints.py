"""Per-endpoint fault controls: make an endpoint fail, slow down, serve something else, drop
the connection or redirect, for every request or for the next ``times`` requests only.

Each endpoint has two queues, consulted once per request: delays (``delay``), and answer
overrides (every other method). A request takes the head of each, so a delay and an answer
override given together apply to the same request, in whichever order they were given —
``delay(0.2, times=1).fail(500, times=1)`` delays and fails the first request — while within
one queue the rules apply in the order given. Users stack a slow answer on a failure or a
redirect; two queues let them say so without a method for every pair. A rule with
``times=None`` holds until ``reset()``; the rules behind it in its queue wait. Delays wait on an
event that ``reset()`` (and the provider's stop) sets, so no delayed handler outlives its test.

Every size a caller gives is bounded (:data:`MAX_TIMES`, :data:`MAX_DELAY`, :data:`MAX_BODY`,
:data:`MAX_HUGE_COUNT`), with a :class:`~mockidp.ConfigurationError` that names the limit: the
control API takes these values from any client that can reach ``mockidp serve``, and turns the
error into a 400, where an unbounded one cost hundreds of MiB per request, an overflow (500),
or a NaN silently ignored.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, UnknownEndpointError
from .actions import action
from .checks import whole_number

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "ENDPOINTS",
    "DPoPControl",
    "DiscoveryControl",
    "Endpoint",
    "EndpointControl",
    "Endpoints",
    "JwksControl",
    "Override",
]

JSON = "application/json"
Transform = Callable[[Any], Any]

#: The most requests one rule counts down (``times``); more is "until reset" (``times=None``).
MAX_TIMES = 1_000_000
#: The longest delay, in seconds: an hour is longer than any client's timeout.
MAX_DELAY = 3600.0
#: The largest body ``respond`` / ``fail`` serve, in bytes.
MAX_BODY = 16 * 1024 * 1024
#: The most filler keys ``huge`` adds (a few MiB of key set; 200,000 took 343 MiB a fetch).
MAX_HUGE_COUNT = 10_000

#: One unusable key (RFC 7517 §5: consumers SHOULD skip it; several reject the whole set).
POISON_KEY = {"kty": "RSA", "kid": "mockidp-poison", "use": "sig", "alg": "RS256",
              "n": "AAAA", "e": "AQAB"}


@dataclass
class Override:
    """One override of an endpoint's answer. Unset fields keep what the endpoint serves."""

    remaining: int | None
    status: int | None = None
    body: bytes | None = None
    transform: Transform | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    redirect: str | None = None
    delay: float = 0.0


def _times(times: int | None) -> int | None:
    if times is not None and (isinstance(times, bool) or not isinstance(times, int)
                              or not 1 <= times <= MAX_TIMES):
        raise ConfigurationError(f"times must be a positive int (at most {MAX_TIMES:,}) or "
                                 f"None (= until reset), not {times!r}")
    return times


def _status(status: int) -> int:
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ConfigurationError(f"status must be an HTTP status code (100-599), not {status!r}")
    return status


def _body(body: Any) -> bytes:
    if isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode()
    else:
        try:
            # allow_nan=False: NaN and Infinity are not JSON (RFC 8259 §6), no client reads them
            raw = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            raise ConfigurationError(f"body must be bytes, str or JSON-serializable: "
                                     f"{exc}") from None
    if len(raw) > MAX_BODY:
        raise ConfigurationError(f"body must be at most {MAX_BODY:,} bytes, not "
                                 f"{len(raw):,}")
    return raw


class EndpointControl:
    """The controls of one endpoint (``idp.endpoint("jwks")``). Methods return the control, so
    they chain: ``idp.endpoint("jwks").fail(503, times=2).delay(0.5)``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._responses: deque[Override] = deque()
        self._delays: deque[Override] = deque()
        self._held = 0

    # -- overrides ----------------------------------------------------------------------------

    @action("Answer with an error status and an OAuth-style JSON error body")
    def fail(self, status: int = 500, *, times: int | None = None, body: Any = None,
             headers: Mapping[str, str] | None = None) -> Self:
        """Answer with an error status and an OAuth-style JSON error body (or ``body``)."""
        status = _status(status)
        raw = _body(body) if body is not None else _body(
            {"error": "server_error" if status >= 500 else "invalid_request",
             "error_description": f"mockidp: {self.name} was told to fail with {status}"})
        return self._add(Override(_times(times), status=status, body=raw, content_type=JSON,
                              headers=dict(headers or {})))

    @action("Serve another body instead")
    def respond(self, body: Any, *, status: int = 200, content_type: str = JSON,
                headers: Mapping[str, str] | None = None, times: int | None = None) -> Self:
        """Serve ``body`` (bytes, str, or anything JSON-serializable) instead."""
        return self._add(Override(_times(times), status=_status(status), body=_body(body),
                              content_type=content_type, headers=dict(headers or {})))

    def transform(self, change: Transform, *, status: int | None = None,
                  headers: Mapping[str, str] | None = None, times: int | None = None) -> Self:
        """Serve ``change(document)`` of the JSON document the endpoint would serve now."""
        if not callable(change):
            raise ConfigurationError("transform() takes a function of the JSON document")
        return self._add(Override(_times(times), status=None if status is None else _status(status),
                              transform=change, headers=dict(headers or {})))

    @action("Serve the usual answer with these headers added or replaced")
    def headers(self, headers: Mapping[str, str], *, times: int | None = None) -> Self:
        """Serve the usual answer with these headers added or replaced (``Cache-Control``,
        ``ETag``, ``Content-Type``, ...)."""
        return self._add(Override(_times(times), headers=dict(headers)))

    @action("Close the connection without answering")
    def drop(self, *, times: int | None = None) -> Self:
        """Close the connection without answering."""
        return self._add(Override(_times(times), drop=True))

    @action("Redirect; by default to a URL that serves the usual answer")
    def redirect(self, location: str | None = None, *, status: int = 302,
                 times: int | None = None) -> Self:
        """Redirect; by default to a URL that serves this endpoint's usual answer."""
        if status not in (301, 302, 303, 307, 308):
            raise ConfigurationError(f"redirect status must be 301/302/303/307/308, "
                                     f"not {status!r}")
        return self._add(Override(_times(times), status=status, redirect=location or ""))

    @action("Down for the next requests, then up again")
    def flap(self, down: int, *, status: int = 503) -> Self:
        """Down (``status``) for the next ``down`` requests, then up again."""
        return self.fail(status, times=down)

    @action("Hold each answer before sending it")
    def delay(self, seconds: float, *, times: int | None = None) -> Self:
        """Hold each answer ``seconds`` (real time) before sending it. Other requests and the
        provider's shutdown are not held up."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not (
                0 <= seconds <= MAX_DELAY):
            # NaN fails every comparison, and 1e300 would overflow the wait: both refused.
            raise ConfigurationError(f"delay takes seconds >= 0 and <= {MAX_DELAY:g}, "
                                     f"not {seconds!r}")
        rule = Override(_times(times), delay=float(seconds))
        with self._lock:
            self._delays.append(rule)
        return self

    @action("Back to normal service")
    def reset(self) -> None:
        """Back to normal service, and let any delayed answer go at once."""
        with self._lock:
            if not (self._responses or self._delays or self._held):
                return  # nothing set, nothing held: the common case between tests
            self._responses.clear()
            self._delays.clear()
            released, self._release = self._release, threading.Event()
        released.set()

    # -- used by the app ----------------------------------------------------------------------

    def _add(self, rule: Override) -> Self:
        with self._lock:
            self._responses.append(rule)
        return self

    @property
    def active(self) -> bool:
        return bool(self._responses or self._delays)

    def take(self) -> tuple[Callable[[], None], Override | None]:
        """For one request: a function that holds it for its delay (or until a reset), and
        the override; both count against their ``times``. A delay counts as held from here
        on, so a reset that comes before the wait still lets it go."""
        with self._lock:
            rule = _pop(self._delays)
            response = _pop(self._responses)
            if rule is None or not rule.delay:
                return _no_wait, response
            self._held += 1
            release, seconds = self._release, rule.delay

        def hold() -> None:
            try:
                release.wait(seconds)
            finally:
                with self._lock:
                    self._held -= 1

        return hold, response

    @property
    def held(self) -> int:
        """How many answers are being delayed right now (a test can poll for it)."""
        return self._held

    def __repr__(self) -> str:
        return f"<EndpointControl {self.name} rules={len(self._responses) + len(self._delays)}>"


def _no_wait() -> None:
    pass


def _pop(queue: deque[Override]) -> Override | None:
    if not queue:
        return None
    rule = queue[0]
    if rule.remaining is not None:
        rule.remaining -= 1
        if rule.remaining <= 0:
            queue.popleft()
    return rule


class JwksControl(EndpointControl):
    """JWKS faults that consumers are known to mishandle (RFC 7517 §5)."""

    @action("An empty key set")
    def empty(self, *, times: int | None = None) -> Self:
        return self.respond({"keys": []}, times=times)

    @action("A key set that is not JSON")
    def malformed_json(self, *, times: int | None = None) -> Self:
        return self.respond(b'{"keys": [{"kty": "RSA", "kid": ', times=times)

    @action("The keys as a bare JSON array")
    def json_array(self, *, times: int | None = None) -> Self:
        """The keys as a bare JSON array instead of ``{"keys": [...]}``."""
        return self.transform(lambda doc: doc["keys"], times=times)

    @action("A JSON object without keys")
    def missing_keys(self, *, times: int | None = None) -> Self:
        return self.respond({}, times=times)

    @action("The real keys plus many copies under other kids")
    def huge(self, count: int = 5000, *, times: int | None = None) -> Self:
        """The real keys plus ``count`` copies under other kids (a set of a megabyte or so;
        at most :data:`MAX_HUGE_COUNT`)."""
        count = whole_number("count", count, 0, MAX_HUGE_COUNT)

        def grow(doc: Any) -> Any:
            keys = doc["keys"]
            filler = [{**keys[i % len(keys)], "kid": f"mockidp-filler-{i}"}
                      for i in range(count)] if keys else []
            return {"keys": [*keys, *filler]}
        return self.transform(grow, times=times)

    @action("Each key preceded by other material under the same kid")
    def duplicate_kids(self, *, times: int | None = None) -> Self:
        """Each key preceded by other key material under the same kid."""
        def duplicate(doc: Any) -> Any:
            decoy = {"n": secrets.token_urlsafe(256), "x": secrets.token_urlsafe(32)}
            doubled = []
            for key in doc["keys"]:
                wrong = {**key, **{m: decoy[m] for m in ("n", "x") if m in key}}
                doubled += [wrong, key]
            return {"keys": doubled}
        return self.transform(duplicate, times=times)

    @action("An unparseable key first in the set")
    def poison_key(self, key: Mapping[str, Any] | None = None, *,
                   times: int | None = None) -> Self:
        """An unparseable key first in the set; several libraries then reject the whole set."""
        poison = dict(key or POISON_KEY)
        return self.transform(lambda doc: {"keys": [poison, *doc["keys"]]}, times=times)

    @action("An error status carrying the real key set")
    def error_with_valid_body(self, status: int = 500, *, times: int | None = None) -> Self:
        """An error status carrying the real key set (catches consumers that skip the status)."""
        return self.transform(lambda doc: doc, status=status, times=times)

    @action("The real key set under another Content-Type")
    def wrong_content_type(self, content_type: str = "text/html", *,
                           times: int | None = None) -> Self:
        return self.headers({"Content-Type": content_type}, times=times)

    @action("429 Too Many Requests with Retry-After")
    def rate_limited(self, retry_after: int = 30, *, times: int | None = None) -> Self:
        """429 Too Many Requests with ``Retry-After`` (RFC 6585 §4)."""
        return self.fail(429, headers={"Retry-After": str(retry_after)}, times=times)

    @action("Cache headers of the caller's choice")
    def cache(self, cache_control: str | None = None, *, etag: str | None = None,
              times: int | None = None) -> Self:
        """Cache headers of the caller's choice (RFC 9111)."""
        headers = {"Cache-Control": cache_control} if cache_control is not None else {}
        if etag is not None:
            headers["ETag"] = etag
        return self.headers(headers, times=times)


class DiscoveryControl(EndpointControl):
    """Discovery-document faults (OIDC Discovery 1.0 §3, §4.3)."""

    @action("An issuer that does not match the URL")
    def wrong_issuer(self, issuer: str = "https://attacker.invalid", *,
                     times: int | None = None) -> Self:
        """An ``issuer`` that does not match the URL the document is served from (§4.3)."""
        return self.transform(lambda doc: {**doc, "issuer": issuer}, times=times)

    @action("A document without jwks_uri")
    def missing_jwks_uri(self, *, times: int | None = None) -> Self:
        return self.transform(lambda doc: {k: v for k, v in doc.items() if k != "jwks_uri"},
                              times=times)

    @action("jwks_uri pointing elsewhere")
    def jwks_uri(self, url: str, *, times: int | None = None) -> Self:
        """Point ``jwks_uri`` elsewhere (e.g. ``idp.url_for("attacker-jwks")``)."""
        return self.transform(lambda doc: {**doc, "jwks_uri": url}, times=times)

    @action("Advertise signing algorithms that differ from the keys")
    def algorithms(self, algs: list[str], *, times: int | None = None) -> Self:
        """Advertise signing algorithms that differ from the keys."""
        return self.transform(
            lambda doc: {**doc, "id_token_signing_alg_values_supported": list(algs)}, times=times
        )


class DPoPControl(EndpointControl):
    """An endpoint that takes DPoP proofs (RFC 9449): the token endpoint, userinfo and
    introspection. It can demand the provider's nonces (§8 for the token endpoint, §9 for a
    resource), until reset: off by default, as most providers run."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        #: Proofs sent here must carry the provider's current nonce (``use_dpop_nonce``).
        self.dpop_nonce = False

    @action("Demand DPoP proofs with the provider's nonce (RFC 9449 §8, §9)")
    def require_dpop_nonce(self, required: bool = True) -> Self:
        if not isinstance(required, bool):
            raise ConfigurationError(f"required must be true or false, not {required!r}")
        self.dpop_nonce = required
        return self

    def reset(self) -> None:
        super().reset()
        self.dpop_nonce = False


@dataclass(frozen=True)
class Endpoint:
    """What the provider serves under one name: where (the generic profile's path, below the
    issuer), for which methods, with which fault controls. The one declaration of an endpoint:
    routing, CORS preflights, the fast path, profiles, ``idp.endpoint(name)`` and
    ``RemoteIdP`` all read it; the web face binds each name to its handler."""

    name: str
    path: str
    methods: tuple[str, ...] = ("GET",)
    control: type[EndpointControl] = EndpointControl
    #: mockidp's own: at the server's root in every profile, never below the issuer.
    internal: bool = False
    #: Answered from cached bytes (GET/HEAD) while no fault is set on it.
    cached: bool = False


_FORM_POST = ("GET", "POST")

#: Every endpoint, by name, in the order discovery lists them.
ENDPOINTS: Mapping[str, Endpoint] = {e.name: e for e in (
    Endpoint("discovery", "/.well-known/openid-configuration", control=DiscoveryControl,
             cached=True),
    Endpoint("oauth-metadata", "/.well-known/oauth-authorization-server",
             control=DiscoveryControl, cached=True),
    Endpoint("jwks", "/.well-known/jwks.json", control=JwksControl, cached=True),
    # The published keys' certificates as {kid: PEM}, the format google-auth and
    # firebase-admin read (Google's /oauth2/v1/certs).
    Endpoint("certs", "/certs"),
    Endpoint("authorize", "/authorize", _FORM_POST),
    Endpoint("par", "/par", ("POST",)),
    Endpoint("register", "/register", ("POST",)),
    Endpoint("client-configuration", "/register/{client_id}", ("GET", "PUT", "DELETE")),
    Endpoint("token", "/token", ("POST",), control=DPoPControl),
    Endpoint("userinfo", "/userinfo", _FORM_POST, control=DPoPControl),
    Endpoint("introspect", "/introspect", ("POST",), control=DPoPControl),
    Endpoint("revoke", "/revoke", ("POST",)),
    Endpoint("end-session", "/logout", _FORM_POST),
    Endpoint("device", "/device_authorization", ("POST",)),
    Endpoint("device-verification", "/device", _FORM_POST),
    # Served for the jku / x5u faults: a consumer that fetches these trusted a token header.
    Endpoint("attacker-jwks", "/_mockidp/attacker/jwks.json", internal=True),
    Endpoint("attacker-certificate", "/_mockidp/attacker/{kid}.pem", internal=True),
    Endpoint("redirected", "/_mockidp/redirected/{name}", internal=True),
    Endpoint("control", "/_mockidp/{rest:path}", ("GET", "POST", "DELETE"), internal=True),
)}


class Endpoints:
    """The controls of every endpoint, by name."""

    def __init__(self, endpoints: Mapping[str, Endpoint]) -> None:
        self._controls = {name: e.control(name) for name, e in endpoints.items()}

    def __getitem__(self, name: str) -> EndpointControl:
        try:
            return self._controls[name]
        except (KeyError, TypeError):
            raise UnknownEndpointError(name, self._controls) from None

    def get(self, name: str | None) -> EndpointControl | None:
        return self._controls.get(name) if name is not None else None

    def reset(self) -> None:
        """Every endpoint back to normal; delayed answers go at once."""
        for control in self._controls.values():
            control.reset()
