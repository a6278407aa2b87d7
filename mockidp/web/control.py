"""The JSON control API under ``/_mockidp/``: what a test in another process (or language) uses
to mint tokens, change keys, break endpoints, read the request log and move the clock.

Every route maps to one call of the Python API. The key routes and the endpoint actions are
derived from the control surface (:mod:`mockidp.drivers.surface`), and the OpenAPI document
(``/_mockidp/openapi.json``) from the same route table, so none of them can drift apart.
Private key material never leaves: keys are described by their public JWK only. When the
provider has a control token (always, when it listens beyond loopback), every call needs
``Authorization: Bearer`` — under a tenant's path too.

Before the token, the ``Host``: a page on any site can make a browser send requests here by
DNS rebinding (its name, resolved again, points at 127.0.0.1), and such a request is
same-origin to the browser, its ``Origin`` the attacker's name and its ``Host`` too. So the
control API and the dashboard answer only a ``Host`` that cannot be rebound: a loopback name
or address, the address the server is bound to, or the configured issuer URL's host
(:meth:`ControlSettings.host_allowed`); any other is a 421 (RFC 9110 §15.5.20).
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..core.checks import http_url
from ..core.directory import ClientOptions
from ..core.dpop import PROOF_TYP, ProofError, parse_proof
from ..core.faults import FAULTS
from ..core.issuer import Issuer
from ..core.jws import MalformedJWS, parse_compact
from ..core.registration import client_metadata
from ..core.tokens import IdTokenOptions, TokenOptions
from ..drivers.config import Rule as ClaimRule
from ..drivers.scenario import Scenario, runs, start
from ..drivers.surface import ENDPOINT_ACTIONS, KEY_ACTIONS, Action, bind
from ..errors import ConfigurationError, InvalidTokenError, MockIdPError, UnknownKeyError
from .pages import FAVICON, dashboard_page, signin_page
from .responses import OAuthError, from_http_exception, json_response

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from ..core.keys import Key
    from ..core.recording import RecordedRequest

__all__ = ["ROUTES", "ControlAPI", "ControlSettings", "describe_key", "describe_request",
           "is_loopback", "openapi"]

PREFIX = "/_mockidp"
CONTROL_COOKIE = "mockidp_control"

TOKEN_OPTIONS = ("claims", *TokenOptions.__annotations__)
ID_TOKEN_OPTIONS = ("claims", *IdTokenOptions.__annotations__)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 without brackets) is loopback:
    ``localhost``, 127.0.0.0/8 or ::1 (RFC 6761 §6.3, RFC 1122 §3.2.1.3, RFC 4291 §2.5.3).
    Any other name may resolve anywhere."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def host_name(host: str) -> str:
    """The name or address of a ``Host`` header value, without its port or IPv6 brackets,
    in lower case (RFC 9110 §7.2, RFC 3986 §3.2.2)."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    return host.rpartition(":")[0].lower() if ":" in host else host.lower()


@dataclass
class ControlSettings:
    """Who may drive a provider: its control token, the browser origins allowed besides its
    own, and the ``Host`` names it answers control calls for besides loopback ones (the bound
    address and the issuer URL's host; ``any_address`` when bound to every address). A
    tenant's control API shares its parent's, changes included."""

    token: str | None = None
    origins: Collection[str] = frozenset()
    hosts: Collection[str] = frozenset()
    any_address: bool = False

    def host_allowed(self, host: str) -> bool:
        """Whether a control call with this ``Host`` header may be answered: a name a
        DNS-rebinding page cannot have its victim's browser send. A loopback name or address
        is the machine itself; the bound address and the issuer URL's host are the ones the
        provider's user chose. Bound to every address, any IP literal is one of them (a page
        whose origin is an IP address was served from that address, so it cannot be a
        rebound name). ``X-Forwarded-Host`` is never consulted: a page can set it."""
        name = host_name(host)
        if is_loopback(name) or name in self.hosts:
            return True
        return self.any_address and _ip(name) is not None

    def __post_init__(self) -> None:
        token, origins = self.token, self.origins
        if token is not None and (not isinstance(token, str) or len(token) < 16):
            raise ConfigurationError("control_token must be a string of at least 16 characters")
        if isinstance(origins, str):
            raise ConfigurationError("control_origins takes a list of origins like "
                                     f"'http://localhost:3000', not {origins!r}")
        self.origins = frozenset(http_url("each of control_origins", o, origin=True)
                                 for o in origins)
        self.hosts = frozenset(host_name(h) if h.startswith("[") else h.lower()
                               for h in self.hosts)


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    name: str
    summary: str
    handler: Callable[..., Any]
    body: tuple[str, ...] = ()


def describe_key(issuer: Issuer, key: Key) -> dict[str, Any]:
    return {
        "kid": key.kid, "alg": key.alg, "kty": key.kty, "crv": key.crv, "size": key.size,
        "state": issuer.keys.state(key.kid), "corruption": issuer.keys.corruption(key.kid),
        "public_jwk": key.public_jwk,
    }


def describe_request(entry: RecordedRequest) -> dict[str, Any]:
    return {
        "method": entry.method, "path": entry.path, "endpoint": entry.endpoint,
        "headers": dict(entry.headers), "query": dict(entry.query), "form": dict(entry.form),
        "status": entry.status, "time": entry.time, "duration": entry.duration,
        "truncated": entry.truncated, "remote_addr": entry.remote_addr,
        "authorization": dict(entry.authorization),
    }


# -- the routes' handlers: (api, body, **path arguments) -> JSON -------------------------------

def _state(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    issuer = api.issuer
    return {
        "issuer": issuer.issuer, "discovery_url": issuer.discovery_url,
        "jwks_uri": issuer.jwks_uri, "default_alg": issuer.keys.default_alg,
        "profile": issuer.profile.name,
        "endpoints": {name: issuer.url_for(name) for name in issuer.layout.paths},
        "audience": issuer.audience, "keys": _keys(api, body)["keys"],
        "clock": _clock(api, body),
    }


def _token(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    return {"token": api.issuer.token(**body)}


def _id_token(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    return {"token": api.issuer.id_token(**body)}


def _keys(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    return {"keys": [describe_key(api.issuer, k) for k in api.issuer.keys]}


def _jwks(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    return api.issuer.jwks()


def _key(api: ControlAPI, body: dict[str, Any], kid: str) -> dict[str, Any]:
    return describe_key(api.issuer, api.issuer.keys[kid])


def _key_action(action: Action) -> Callable[..., Any]:
    def handle(api: ControlAPI, body: dict[str, Any], **kid: str) -> dict[str, Any]:
        return describe_key(api.issuer, act_on_keys(api.issuer, action, body, kid.get("kid")))
    return handle


def act_on_keys(issuer: Issuer, action: Action, options: dict[str, Any],
                kid: str | None, where: str = "body") -> Key:
    """Run a key action with options that came as JSON (control API, dashboard, scenario)."""
    method = getattr(issuer.keys, action.name)
    options = bind(action, options, where)
    key: Key = method(kid, **options) if action.kid else method(**options)
    return key


def _snapshot_keys(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    snapshot_id = secrets.token_hex(8)
    with api.lock:
        api.snapshots[snapshot_id] = api.issuer.keys.snapshot()
        while len(api.snapshots) > 16:  # the oldest go: a snapshot is for one audit
            del api.snapshots[next(iter(api.snapshots))]
    return {"id": snapshot_id}


def _restore_keys(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    with api.lock:
        snapshot = api.snapshots.get(str(body.get("id")))
    if snapshot is None:
        raise OAuthError("not_found", f"no key snapshot {body.get('id')!r}", 404)
    api.issuer.keys.restore(snapshot)
    return {"restored": True}


def act_on_endpoint(issuer: Issuer, name: str, options: dict[str, Any],
                    where: str = "body") -> None:
    """Run an endpoint action named by ``options["action"]``, the rest its options."""
    options = dict(options)
    action = ENDPOINT_ACTIONS.get(options.pop("action", None))
    if action is None:
        raise OAuthError("invalid_request", f"action must be one of "
                         f"{', '.join(ENDPOINT_ACTIONS)}")
    control = issuer.endpoint(name)
    method = getattr(control, action.name, None)
    if method is None:
        raise OAuthError("invalid_request", f"endpoint {name!r} has no {action.name!r}")
    method(**bind(action, options, where))


def _endpoint(api: ControlAPI, body: dict[str, Any], name: str) -> dict[str, Any]:
    act_on_endpoint(api.issuer, name, body)
    return {"endpoint": name, "action": body.get("action")}


def _requests(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    endpoint = body.get("endpoint")
    issuer = api.issuer
    entries = issuer.requests_to(endpoint) if endpoint else issuer.requests
    return {"requests": [describe_request(e) for e in entries]}


#: The endpoints the timeline marks: what a consumer fetches to learn keys, and token requests.
TIMELINE_ENDPOINTS = frozenset({"discovery", "oauth-metadata", "jwks", "certs", "token"})
#: At most this many of their requests (the newest) go to the timeline, which polls each second.
TIMELINE_LIMIT = 2000


def _timeline(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    """What the dashboard's timeline draws, small enough to poll every second: the keys'
    state changes; the key fetches and token requests, each with its consumer (the client's
    address and User-Agent: two instances of one service are two consumers); and the steps of
    the scenarios started since the last reset. All on the provider's clock."""
    issuer = api.issuer
    fetches = [e for e in issuer.requests if e.endpoint in TIMELINE_ENDPOINTS][-TIMELINE_LIMIT:]
    return {
        "now": issuer.clock.time(),
        "keys": [change._asdict() for change in issuer.keys.history],
        "requests": [{"time": e.time, "endpoint": e.endpoint, "status": e.status,
                      "method": e.method, "consumer": _consumer(e)} for e in fetches],
        "scenarios": [{"source": run.scenario.source, "steps": run.steps()}
                      for run in runs(issuer)],
    }


def _consumer(entry: RecordedRequest) -> str:
    agent = entry.user_agent or "(no User-Agent)"
    return f"{entry.remote_addr} {agent}" if entry.remote_addr else agent


def _clear_requests(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    api.issuer.requests_log.clear()
    return {"cleared": True}


def _clock(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    clock = api.issuer.clock
    return {"time": clock.time(), "now": clock.now().isoformat(), "frozen": clock.frozen}


def _move_clock(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    clock = api.issuer.clock
    if "advance" in body:
        clock.advance(body["advance"])
    if "freeze" in body:
        clock.freeze(body["freeze"])
    if body.get("unfreeze"):
        clock.unfreeze()
    return _clock(api, {})


def _add_user(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    claims = body.get("claims") or {}
    if not isinstance(claims, dict):
        raise OAuthError("invalid_request", "claims must be a JSON object")
    options = {k: body[k] for k in ("password", "default") if k in body}
    user = api.issuer.users.add(body.get("sub"), **options, **claims)
    return {"sub": user.sub, "claims": user.claims}


def _clients(api: ControlAPI, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every client, those registered dynamically (RFC 7591) included, as RFC 7591 §3.2.1
    describes one (the secret too: the control API is the test's own)."""
    return [client_metadata(client) for client in api.issuer.clients]


def _add_client(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    client = api.issuer.clients.add(**body)
    return {"client_id": client.client_id, "client_secret": client.client_secret,
            "redirect_uris": list(client.redirect_uris),
            "grant_types": list(client.grant_types), "public": client.public,
            "id_token_signed_response_alg": client.id_token_signed_response_alg,
            "userinfo_signed_response_alg": client.userinfo_signed_response_alg,
            "access_token_typ": client.access_token_typ,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
            "dpop_nonce": client.dpop_nonce}


def _add_resource(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    return {"uri": api.issuer.resources.add(body.get("uri"))}  # type: ignore[arg-type]


def _approve_device(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    return {"user_code": api.issuer.approve_device(**body)}


def _scenario(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    run = start(api.issuer, Scenario.from_data({"step": body.get("steps", [])}))
    return {"steps": len(run.scenario.steps), "applied": run.applied}


def _add_rule(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    """A claim rule, as in the config file's ``[[rules]]``, for the tokens of this test: it is
    an ``on_token`` hook like any other, so the next reset removes it (a remote test that adds
    its rules in set-up would otherwise add them again on every test). Rules that outlive
    resets belong in the config file."""
    rule = ClaimRule.parse(body.get("match", {}), body.get("claims"), "rule")
    api.issuer.on_token(rule)
    return {"match": dict(rule.match), "claims": dict(rule.claims)}


def _health(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    """Liveness for container orchestration. Answered without the control token, and for any
    ``Host``: a Kubernetes or Docker probe has neither (it calls the pod's address), and the
    answer is a constant, so it tells a caller nothing but that the server answers — no
    issuer, keys, clock or counts."""
    return {"status": "ok"}


def _reset(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    api.reset()
    return {"reset": True}


def _faults(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    return {"faults": [{"name": str(f), "category": f.category,
                        "description": f.description, "reference": f.reference,
                        "check": f.check, "weakness": f.weakness} for f in FAULTS.values()]}


def _openapi(api: ControlAPI, body: dict[str, Any]) -> dict[str, Any]:
    return openapi(api.issuer.issuer)


def _key_routes(action: Action) -> tuple[Route, ...]:
    """``/keys/<name>`` or ``/keys/<kid>/<name>``, under the action's own name; ``add`` is also
    ``POST /keys`` (``add_key``), its first path."""
    path = f"/keys/<kid>/{action.name}" if action.kid else f"/keys/{action.name}"
    route = Route(path, "POST", action.name, action.summary, _key_action(action), action.options)
    if action.name != "add":
        return (route,)
    return (Route("/keys", "POST", "add_key", action.summary, route.handler, route.body), route)


ROUTES: tuple[Route, ...] = (
    Route("/state", "GET", "state", "Issuer, URLs, keys, default algorithm and clock", _state),
    Route("/token", "POST", "token", "Mint an access token (optionally with a fault)", _token,
          TOKEN_OPTIONS),
    Route("/id_token", "POST", "id_token", "Mint an ID token (optionally with a fault)",
          _id_token, ID_TOKEN_OPTIONS),
    Route("/keys", "GET", "keys", "Every key with its state (public parts only)", _keys),
    Route("/jwks", "GET", "jwks", "The key set the JWKS endpoint serves (without its faults)",
          _jwks),
    *(route for action in KEY_ACTIONS.values() for route in _key_routes(action)),
    Route("/keys/snapshot", "POST", "snapshot_keys",
          "Remember the key ring; answers an id for /keys/restore", _snapshot_keys),
    Route("/keys/restore", "POST", "restore_keys", "Put back a remembered key ring",
          _restore_keys, ("id",)),
    Route("/keys/<kid>", "GET", "key", "One key (public parts only)", _key),
    Route("/endpoints/<name>", "POST", "endpoint",
          "Call an endpoint control: {\"action\": \"fail\", \"status\": 503, \"times\": 2}",
          _endpoint, ("action", "*")),
    Route("/requests", "GET", "requests", "The request log (?endpoint=jwks for one endpoint)",
          _requests, ("endpoint",)),
    Route("/timeline", "GET", "timeline",
          "Key state changes, key fetches and token requests, for the dashboard's timeline",
          _timeline),
    Route("/requests", "DELETE", "clear_requests", "Clear the request log", _clear_requests),
    Route("/clock", "GET", "clock", "The provider's time", _clock),
    Route("/clock", "POST", "move_clock",
          "Move the clock: {\"advance\": 60} | {\"freeze\": 1700000000} | {\"unfreeze\": true}",
          _move_clock, ("advance", "freeze", "unfreeze")),
    Route("/users", "POST", "add_user", "Add a user: {\"sub\": ..., \"claims\": {...}}",
          _add_user, ("sub", "claims", "password", "default")),
    Route("/clients", "GET", "clients", "Every client, dynamically registered ones included",
          _clients),
    Route("/clients", "POST", "add_client", "Register a client", _add_client,
          ("client_id", "client_secret", *ClientOptions.__annotations__)),
    Route("/resources", "POST", "add_resource",
          "Register a resource access tokens may be for (RFC 8707): {\"uri\": ...}",
          _add_resource, ("uri",)),
    Route("/devices/approve", "POST", "approve_device",
          "Decide a pending device authorization as its user would: "
          "{\"user_code\": ..., \"sub\": ..., \"deny\": false}", _approve_device,
          tuple(inspect.signature(Issuer.approve_device).parameters)[1:]),
    Route("/scenario", "POST", "scenario", "Start a scenario: {\"steps\": [...]} (TOML form)",
          _scenario, ("steps",)),
    Route("/rules", "POST", "add_rule",
          "Add claims to the tokens a rule matches, until the next reset: "
          "{\"match\": {\"client_id\": \"svc-*\"}, \"claims\": {\"roles\": [\"svc\"]}}",
          _add_rule, ("match", "claims")),
    Route("/reset", "POST", "reset", "Back to the start-up state", _reset),
    Route("/faults", "GET", "faults", "The token fault catalog", _faults),
    Route("/openapi.json", "GET", "openapi", "This API as an OpenAPI 3.1 document", _openapi),
)

_ROUTES = {route.name: route for route in ROUTES}


def _pick(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    if "*" in allowed:  # the handler checks the fields itself
        return body
    unknown = set(body) - set(allowed)
    if unknown:
        raise OAuthError("invalid_request", f"unknown field(s) {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(allowed) or 'none'}")
    return body


#: The dashboard's pages and forms, beside the JSON routes.
_UI = (("/ui", "ui", "GET"), ("/ui/rotate", "ui_rotate", "POST"),
       ("/ui/decode", "ui_decode", "POST"), ("/ui/endpoint", "ui_endpoint", "POST"),
       ("/ui/keyring", "ui_keyring", "POST"), ("/ui/keys/<path:kid>/<action>", "ui_key", "POST"))


#: Routes answered without the control token, outside :data:`ROUTES` (whose every route
#: needs it when one is set): the liveness probe, and the dashboard's sign-in form, which
#: checks the token it is given.
_OPEN = (("/health", "health", "GET"), ("/ui/signin", "ui_signin", "POST"))


def rules() -> list[Rule]:
    """The control API's routes for the app's one routing map, each named ``control:<name>``;
    and ``/favicon.ico``, answered here so that it is neither recorded nor a 404 in the log
    each time a browser opens a page of the provider."""
    routes = [*((r.path, r.name, r.method) for r in ROUTES), *_UI, *_OPEN]
    return [*(Rule(PREFIX + path, endpoint=f"control:{name}", methods=[method])
              for path, name, method in routes),
            Rule("/favicon.ico", endpoint="control:favicon", methods=["GET"])]


class ControlAPI:
    """Answers ``/_mockidp/...`` for one issuer. ``reset`` is what ``POST /reset`` does: the
    provider's whole reset (tenants included) for the root, the tenant's own for a tenant."""

    def __init__(self, issuer: Issuer, settings: ControlSettings,
                 reset: Callable[[], None]) -> None:
        self.issuer = issuer
        self.settings = settings
        self.reset = reset
        self.snapshots: dict[str, object] = {}
        self.lock = threading.Lock()

    def __call__(self, request: Request,
                 match: tuple[str, Mapping[str, Any]] | HTTPException) -> Response:
        """Answer a request the app routed here (``match`` is the route, or why none fits)."""
        if not isinstance(match, HTTPException) and match[0] == "control:health":
            return json_response(_health(self, {}), headers={"Cache-Control": "no-store"})
        if not isinstance(match, HTTPException) and match[0] == "control:favicon":
            return Response(FAVICON, content_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})
        try:
            if not isinstance(match, HTTPException) and match[0] == "control:ui_signin":
                return self.signin(request)
            self.authorize(request)
            if isinstance(match, HTTPException):
                raise match
            name, args = match[0].removeprefix("control:"), match[1]
            if name.startswith("ui"):
                result = self.dashboard(request, name, **args)
            else:
                route = _ROUTES[name]
                result = route.handler(self, self.body(request, route), **args)
        except OAuthError as exc:
            if exc.status == 401 and _wants_html(request):
                return signin_page(escape(request.script_root + PREFIX), status=401)
            return exc.response()
        except UnknownKeyError as exc:
            return OAuthError("not_found", str(exc), 404).response()
        except (MockIdPError, ValueError, TypeError) as exc:
            return OAuthError("invalid_request", str(exc)).response()
        except HTTPException as exc:
            return from_http_exception(exc, request.path, request.method).response()
        if isinstance(result, Response):
            return result
        return json_response(result, headers={"Cache-Control": "no-store"})

    def authorize(self, request: Request) -> None:
        """A ``Host`` no rebound name can give; the bearer secret when one is set; and no
        cross-origin browser calls, which would let any web page a developer visits drive
        the provider. The Origin check compares with the request's own ``Host``, which is
        why that is checked first."""
        self.check_browser(request)
        secret = self.settings.token
        if secret is None:
            return
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":  # the dashboard's cookie (set by ?control_token=)
            given = request.args.get("control_token") or request.cookies.get(CONTROL_COOKIE, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise OAuthError("invalid_token", "the control API needs 'Authorization: Bearer "
                             "<control token>' (printed by mockidp serve)", 401,
                             {"WWW-Authenticate": 'Bearer realm="mockidp-control"'})

    def check_browser(self, request: Request) -> None:
        """The ``Host`` and ``Origin`` checks of :meth:`authorize`, which the sign-in form
        needs too: without them a page elsewhere could sign a browser in with a token of
        its own choosing."""
        if not self.settings.host_allowed(request.host):
            raise OAuthError(
                "invalid_request", f"the control API does not answer for Host {request.host!r}:"
                " only loopback names, the bound address and the issuer_url's host (a page "
                "could make a browser send any other by DNS rebinding); set issuer_url "
                "(--issuer-url) to the URL you call it by", 421)
        origin = request.headers.get("Origin")
        if origin is not None and origin != request.host_url.rstrip("/") \
                and origin not in self.settings.origins:
            raise OAuthError("access_denied", f"cross-origin control calls from {origin} are "
                             "refused; allow it with control_origins / --control-origin", 403)

    def signin(self, request: Request) -> Response:
        """The dashboard's sign-in form: the control token in a POST (not in a URL, where it
        would stay in the history and the server's log), kept in the page's cookie."""
        self.check_browser(request)
        base = escape(request.script_root + PREFIX)
        given = request.form.get("control_token", "")
        secret = self.settings.token
        if secret is not None and not hmac.compare_digest(given.encode(), secret.encode()):
            return signin_page(base, error="That is not the control token.", status=401)
        response = Response(status=303, headers={"Location": f"{request.script_root}{PREFIX}/ui"})
        if secret is not None:
            self.remember(request, response, given)
        return response

    def remember(self, request: Request, response: Response, secret: str) -> None:
        """Keep the control token in the dashboard's cookie: HttpOnly (no script reads it),
        SameSite=Strict (no other site's page sends it), Secure under TLS."""
        response.set_cookie(CONTROL_COOKIE, secret, httponly=True, samesite="Strict",
                            path=request.script_root + PREFIX, secure=request.is_secure
                            or self.issuer.base_url.startswith("https://"))

    @staticmethod
    def body(request: Request, route: Route) -> dict[str, Any]:
        """The JSON body of a POST, or the query of a GET, with only the route's fields."""
        if route.method == "GET":
            return _pick(request.args.to_dict(), route.body)
        if not request.get_data(cache=True):
            return {}
        try:
            body = json.loads(request.get_data(cache=True))
        except ValueError as exc:
            raise OAuthError("invalid_request", f"the body is not JSON: {exc}") from None
        except RecursionError:  # nested thousands deep: the client's input, not our failure
            raise OAuthError("invalid_request", "the body is nested too deeply") from None
        if not isinstance(body, dict):
            raise OAuthError("invalid_request", "the body must be a JSON object")
        return _pick(body, route.body)

    # -- the dashboard (HTML forms; each action redirects back to the page) -----------------

    def dashboard(self, request: Request, name: str, **args: str) -> Response:
        issuer = self.issuer
        base = escape(request.script_root + PREFIX)
        if name == "ui":
            response = dashboard_page(issuer, base)
            secret = request.args.get("control_token")
            if secret:  # remember it for the page's own calls
                self.remember(request, response, secret)
            return response
        if name == "ui_decode":
            token = request.form.get("token", "").strip()
            return dashboard_page(issuer, base, decode_report(issuer, token), token)
        form = request.form
        if name == "ui_rotate":
            issuer.keys.rotate(form.get("alg") or None)
        elif name == "ui_keyring":  # add, rotate, ensure_active: an alg, a kid, staged or not
            action = KEY_ACTIONS.get(form.get("action", ""))
            if action is None or action.kid:
                raise NotFound()
            options: dict[str, Any] = {"alg": form.get("alg") or None}
            if form.get("kid") and "kid" in action.options:
                options["kid"] = form["kid"]
            if "activate" in action.options:
                options["activate"] = "staged" not in form
            act_on_keys(issuer, action, options, None, "form")
        elif name == "ui_endpoint":
            try:
                options = json.loads(form.get("options") or "{}")
            except ValueError as exc:
                raise OAuthError("invalid_request", f"options are not JSON: {exc}") from None
            except RecursionError:
                raise OAuthError("invalid_request", "options are nested too deeply") from None
            if not isinstance(options, dict):
                raise OAuthError("invalid_request", "options must be a JSON object")
            act_on_endpoint(issuer, form.get("endpoint", ""),
                            {**options, "action": form.get("action")}, "options")
        else:
            action = KEY_ACTIONS.get(args["action"])
            if action is None or not action.kid:
                raise NotFound()
            act_on_keys(issuer, action, {"how": form["how"]} if "how" in form else {},
                        args["kid"], "form")
        return Response(status=303, headers={"Location": f"{request.script_root}{PREFIX}/ui"})


def _wants_html(request: Request) -> bool:
    """A browser opening the dashboard (it asks for HTML first), not a script or RemoteIdP."""
    accept = request.accept_mimetypes
    return request.method == "GET" and accept.quality("text/html") > accept.quality(
        "application/json")


def openapi(server: str) -> dict[str, Any]:
    """The OpenAPI 3.1 description of :data:`ROUTES` (kept in sync by construction)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        path = PREFIX + route.path.replace("<kid>", "{kid}").replace("<name>", "{name}")
        operation: dict[str, Any] = {
            "operationId": route.name, "summary": route.summary,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {}}},
                "400": {"description": "invalid_request", "content": {"application/json": {}}},
                "401": {"description": "the control token is missing or wrong"},
                "404": {"description": "no such key or route"},
            },
        }
        parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                      for p in ("kid", "name") if "{" + p + "}" in path]
        if route.method == "GET":
            parameters += [{"name": f, "in": "query", "required": False,
                            "schema": {"type": "string"}} for f in route.body]
        elif route.body:
            operation["requestBody"] = {"required": False, "content": {"application/json": {
                "schema": {"type": "object", "additionalProperties": "*" in route.body,
                           "properties": {f: {} for f in route.body if f != "*"}}}}}
        if parameters:
            operation["parameters"] = parameters
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "mockidp control API", "version": "1",
                 "description": "Drive a running mockidp: a mock identity provider for tests."},
        "servers": [{"url": server}],
        "paths": paths,
        "components": {"securitySchemes": {"controlToken": {"type": "http",
                                                             "scheme": "bearer"}}},
        "security": [{}, {"controlToken": []}],
    }


def decode_report(issuer: Issuer, token: str) -> str:
    """What the dashboard's decoder shows: header, claims, which key, and the verdict; for a
    DPoP-bound token the key it is bound to, for a DPoP proof its key and signature."""
    try:
        header, claims, _, _ = parse_compact(token)
    except (MalformedJWS, UnicodeError) as exc:
        return f"not a compact JWS: {exc}"
    if header.get("typ") == PROOF_TYP:
        return "\n".join(["header: " + json.dumps(header, indent=2),
                          "claims: " + json.dumps(claims, indent=2), *_dates(claims),
                          _proof_verdict(token)])
    kid = header.get("kid")
    key = issuer.keys.get(kid) if isinstance(kid, str) else None
    where = (f"key {kid} ({key.alg}, {issuer.keys.state(key.kid)})" if key is not None
             else f"no key of this provider has kid {kid!r}")
    try:
        issuer.verify(token)
        verdict = "valid: this provider accepts it now"
    except InvalidTokenError as exc:
        verdict = f"not valid: {exc}"
    return "\n".join([
        "header: " + json.dumps(header, indent=2), "claims: " + json.dumps(claims, indent=2),
        *_dates(claims), *_binding(claims), where, verdict,
    ])


def _binding(claims: Mapping[str, Any]) -> list[str]:
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if not isinstance(jkt, str):
        return []
    return [f"DPoP-bound: cnf.jkt {jkt} (RFC 9449 §6.1): send it as Authorization: DPoP with "
            "a proof of that key"]


def _proof_verdict(proof: str) -> str:
    """A DPoP proof: its key's thumbprint if RFC 9449 §4.3 steps 2-7 hold (the request's own
    checks, method, URI, time and replay, need the request)."""
    try:
        _, _, jkt = parse_proof(proof)
    except ProofError as exc:
        return f"a DPoP proof, not valid: {exc.description}"
    return (f"a DPoP proof, signed by its jwk (RFC 9449 §4.3 steps 2-7 hold); key thumbprint "
            f"{jkt}")


def _dates(claims: Mapping[str, Any]) -> list[str]:
    """The time claims as UTC dates, which nobody reads from a POSIX timestamp."""
    lines = []
    for name in ("iat", "nbf", "auth_time", "exp"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                when = datetime.fromtimestamp(value, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                continue  # a fault token's absurd value: the JSON above shows it
            lines.append(f"{name}: {when:%Y-%m-%d %H:%M:%S} UTC")
    return lines
