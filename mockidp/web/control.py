"""The JSON control API under ``/_mockidp/``: what a test in another process (or language) uses
to mint tokens, change keys, break endpoints, read the request log and move the clock.

Every route maps to one call of the Python API, so the two cannot drift apart; the OpenAPI
document (``/_mockidp/openapi.json``) is built from the same route table. Private key material
never leaves: keys are described by their public JWK only. When the provider has a control
token (always, when it listens beyond loopback), every call needs ``Authorization: Bearer``.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from functools import cache
from html import escape
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..errors import MockIdPError, UnknownKeyError
from .oauth import OAuthError, json_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.keys import Key
    from ..core.recording import RecordedRequest
    from ..provider import MockIdP

__all__ = ["ROUTES", "ControlAPI", "describe_key", "describe_request"]

PREFIX = "/_mockidp"
CONTROL_COOKIE = "mockidp_control"

#: The endpoint-control methods the API may call (nothing else of the control object).
ENDPOINT_ACTIONS = frozenset({
    "fail", "respond", "transform", "headers", "drop", "redirect", "flap", "delay", "reset",
    "empty", "malformed_json", "json_array", "missing_keys", "huge", "duplicate_kids",
    "poison_key", "error_with_valid_body", "wrong_content_type", "rate_limited", "cache",
    "wrong_issuer", "missing_jwks_uri", "jwks_uri", "algorithms",
}) - {"transform"}  # a function cannot travel as JSON

TOKEN_OPTIONS = ("claims", "sub", "aud", "scope", "alg", "kid", "expires_in", "headers",
                 "client_id", "typ", "fault")
ID_TOKEN_OPTIONS = ("claims", "sub", "aud", "nonce", "alg", "kid", "expires_in", "headers",
                    "access_token", "code", "auth_time", "fault")
KEY_OPTIONS = ("alg", "kid", "size", "crv", "activate", "publish")


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    name: str
    summary: str
    body: tuple[str, ...] = ()


ROUTES: tuple[Route, ...] = (
    Route("/state", "GET", "state", "Issuer, URLs, keys, default algorithm and clock"),
    Route("/token", "POST", "token", "Mint an access token (optionally with a fault)",
          TOKEN_OPTIONS),
    Route("/id_token", "POST", "id_token", "Mint an ID token (optionally with a fault)",
          ID_TOKEN_OPTIONS),
    Route("/keys", "GET", "keys", "Every key with its state (public parts only)"),
    Route("/jwks", "GET", "jwks", "The key set the JWKS endpoint serves (without its faults)"),
    Route("/keys", "POST", "add_key", "Generate and publish a key", KEY_OPTIONS),
    Route("/keys/rotate", "POST", "rotate", "A new key signs; the old one stays published",
          ("alg",)),
    Route("/keys/ensure_active", "POST", "ensure_active",
          "The active key of alg, made if the provider has none", ("alg",)),
    Route("/keys/snapshot", "POST", "snapshot_keys",
          "Remember the key ring; answers an id for /keys/restore"),
    Route("/keys/restore", "POST", "restore_keys", "Put back a remembered key ring", ("id",)),
    Route("/keys/<kid>", "GET", "key", "One key (public parts only)"),
    Route("/keys/<kid>/activate", "POST", "activate", "Make a published key sign"),
    Route("/keys/<kid>/revoke", "POST", "revoke", "Take a key out of the JWKS"),
    Route("/keys/<kid>/publish", "POST", "publish", "Put a key back into the JWKS"),
    Route("/keys/<kid>/replace", "POST", "replace", "New key material under the same kid"),
    Route("/keys/<kid>/corrupt", "POST", "corrupt", "Publish broken material under a kid",
          ("how",)),
    Route("/keys/<kid>/repair", "POST", "repair", "Publish a corrupted key's real JWK again"),
    Route("/endpoints/<name>", "POST", "endpoint",
          "Call an endpoint control: {\"action\": \"fail\", \"status\": 503, \"times\": 2}",
          ("action", "*")),
    Route("/requests", "GET", "requests", "The request log (?endpoint=jwks for one endpoint)",
          ("endpoint",)),
    Route("/requests", "DELETE", "clear_requests", "Clear the request log"),
    Route("/clock", "GET", "clock", "The provider's time"),
    Route("/clock", "POST", "move_clock",
          "Move the clock: {\"advance\": 60} | {\"freeze\": 1700000000} | {\"unfreeze\": true}",
          ("advance", "freeze", "unfreeze")),
    Route("/users", "POST", "add_user", "Add a user: {\"sub\": ..., \"claims\": {...}}",
          ("sub", "claims", "password", "default")),
    Route("/clients", "POST", "add_client", "Register a client",
          ("client_id", "client_secret", "redirect_uris", "public", "grant_types", "jwks")),
    Route("/scenario", "POST", "scenario", "Start a scenario: {\"steps\": [...]} (TOML form)",
          ("steps",)),
    Route("/reset", "POST", "reset", "Back to the start-up state"),
    Route("/faults", "GET", "faults", "The token fault catalog"),
    Route("/openapi.json", "GET", "openapi", "This API as an OpenAPI 3.1 document"),
)


def describe_key(provider: MockIdP, key: Key) -> dict[str, Any]:
    return {
        "kid": key.kid, "alg": key.alg, "kty": key.kty, "crv": key.crv, "size": key.size,
        "state": provider.keys.state(key.kid), "corruption": provider.keys.corruption(key.kid),
        "public_jwk": key.public_jwk,
    }


def describe_request(entry: RecordedRequest) -> dict[str, Any]:
    return {
        "method": entry.method, "path": entry.path, "endpoint": entry.endpoint,
        "headers": dict(entry.headers), "query": dict(entry.query), "form": dict(entry.form),
        "status": entry.status, "time": entry.time, "duration": entry.duration,
    }


def _pick(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    if "*" in allowed:  # the handler checks the fields itself
        return body
    unknown = set(body) - set(allowed)
    if unknown:
        raise OAuthError("invalid_request", f"unknown field(s) {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(allowed) or 'none'}")
    return body


@cache
def _url_map() -> Map:
    """The control API's routes, compiled once per process (it takes milliseconds)."""
    return Map([Rule(PREFIX + r.path, endpoint=r.name, methods=[r.method]) for r in ROUTES] + [
        Rule(PREFIX + "/ui", endpoint="ui", methods=["GET"]),
        Rule(PREFIX + "/ui/rotate", endpoint="ui_rotate", methods=["POST"]),
        Rule(PREFIX + "/ui/decode", endpoint="ui_decode", methods=["POST"]),
        Rule(PREFIX + "/ui/keys/<kid>/<action>", endpoint="ui_key", methods=["POST"]),
    ])


class ControlAPI:
    """Answers ``/_mockidp/...`` for one provider."""

    def __init__(self, provider: MockIdP) -> None:
        self.provider = provider
        self.routes = {r.name: r for r in ROUTES}
        self.snapshots: dict[str, object] = {}
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        try:
            self.authorize(request)
            name, args = _url_map().bind_to_environ(request.environ).match()
            if name.startswith("ui"):
                result = self.dashboard(request, name, **args)
            else:
                body = self.body(request, self.routes[name])
                handler: Callable[..., Any] = getattr(self, "do_" + name)
                result = handler(body, **args)
        except OAuthError as exc:
            return exc.response()
        except UnknownKeyError as exc:
            return OAuthError("not_found", str(exc), 404).response()
        except (MockIdPError, ValueError, TypeError) as exc:
            return OAuthError("invalid_request", str(exc)).response()
        except NotFound:
            return OAuthError("not_found", f"no control route {request.path}", 404).response()
        except MethodNotAllowed as exc:
            allowed = ", ".join(exc.valid_methods or ())
            return OAuthError("invalid_request", f"use {allowed}", 405,
                              {"Allow": allowed}).response()
        except HTTPException as exc:
            return OAuthError("invalid_request", exc.description or exc.name,
                              exc.code or 400).response()
        if isinstance(result, Response):
            return result
        return json_response(result, headers={"Cache-Control": "no-store"})

    def authorize(self, request: Request) -> None:
        """The bearer secret when one is set; and no cross-origin browser calls, which would
        let any web page a developer visits drive the provider."""
        origin = request.headers.get("Origin")
        if origin is not None and origin != request.host_url.rstrip("/") \
                and origin not in self.provider.control_origins:
            raise OAuthError("access_denied", f"cross-origin control calls from {origin} are "
                             "refused; allow it with control_origins / --control-origin", 403)
        secret = self.provider.control_token
        if secret is None:
            return
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":  # the dashboard's cookie (set by ?control_token=)
            given = request.args.get("control_token") or request.cookies.get(CONTROL_COOKIE, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise OAuthError("invalid_token", "the control API needs 'Authorization: Bearer "
                             "<control token>' (printed by mockidp serve)", 401,
                             {"WWW-Authenticate": 'Bearer realm="mockidp-control"'})

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
        if not isinstance(body, dict):
            raise OAuthError("invalid_request", "the body must be a JSON object")
        return _pick(body, route.body)

    # -- the dashboard (HTML forms; each action redirects back to the page) -----------------

    def dashboard(self, request: Request, name: str, **args: str) -> Response:
        from ..core.tokens import InvalidTokenError
        from .pages import dashboard_page

        provider = self.provider
        base = escape(request.script_root + PREFIX)
        if name == "ui":
            response = dashboard_page(provider, base)
            secret = request.args.get("control_token")
            if secret:  # remember it for the page's own calls
                response.set_cookie(CONTROL_COOKIE, secret, httponly=True, samesite="Strict",
                                    path=PREFIX)
            return response
        if name == "ui_decode":
            token = request.form.get("token", "").strip()
            return dashboard_page(provider, base,
                                  decode_report(provider, token, InvalidTokenError), token)
        if name == "ui_rotate":
            provider.keys.rotate(request.form.get("alg") or None)
        else:
            kid, action = args["kid"], args["action"]
            if action not in ("activate", "revoke", "publish", "corrupt", "repair"):
                raise NotFound()
            options = {"how": request.form["how"]} if action == "corrupt" else {}
            getattr(provider.keys, action)(kid, **options)
        return Response(status=303, headers={"Location": f"{request.script_root}{PREFIX}/ui"})

    # -- routes -------------------------------------------------------------------------------

    def do_state(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self.provider
        return {
            "issuer": provider.issuer, "discovery_url": provider.discovery_url,
            "jwks_uri": provider.jwks_uri, "default_alg": provider.keys.default_alg,
            "profile": provider.profile.name,
            "endpoints": {name: provider.url_for(name) for name in provider.layout.paths},
            "audience": provider.audience, "keys": self.do_keys(body)["keys"],
            "clock": self.do_clock(body),
        }

    def do_token(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"token": self.provider.token(**body)}

    def do_id_token(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"token": self.provider.id_token(**body)}

    def do_keys(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"keys": [describe_key(self.provider, k) for k in self.provider.keys]}

    def do_jwks(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.provider.jwks()

    def do_add_key(self, body: dict[str, Any]) -> dict[str, Any]:
        return describe_key(self.provider, self.provider.keys.add(**body))

    def do_rotate(self, body: dict[str, Any]) -> dict[str, Any]:
        return describe_key(self.provider, self.provider.keys.rotate(body.get("alg")))

    def do_ensure_active(self, body: dict[str, Any]) -> dict[str, Any]:
        return describe_key(self.provider, self.provider.keys.ensure_active(body.get("alg")
                                                                          or "RS256"))

    def do_snapshot_keys(self, body: dict[str, Any]) -> dict[str, Any]:
        snapshot_id = secrets.token_hex(8)
        with self._lock:
            self.snapshots[snapshot_id] = self.provider.keys.snapshot()
            while len(self.snapshots) > 16:  # the oldest go: a snapshot is for one audit
                del self.snapshots[next(iter(self.snapshots))]
        return {"id": snapshot_id}

    def do_restore_keys(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            snapshot = self.snapshots.get(str(body.get("id")))
        if snapshot is None:
            raise OAuthError("not_found", f"no key snapshot {body.get('id')!r}", 404)
        self.provider.keys.restore(snapshot)
        return {"restored": True}

    def do_key(self, body: dict[str, Any], kid: str) -> dict[str, Any]:
        return describe_key(self.provider, self.provider.keys[kid])

    def _key_action(self, action: str, kid: str, **options: Any) -> dict[str, Any]:
        key = getattr(self.provider.keys, action)(kid, **options)
        return describe_key(self.provider, key)

    def do_activate(self, body: dict[str, Any], kid: str) -> dict[str, Any]:
        return self._key_action("activate", kid)

    def do_revoke(self, body: dict[str, Any], kid: str) -> dict[str, Any]:
        return self._key_action("revoke", kid)

    def do_publish(self, body: dict[str, Any], kid: str) -> dict[str, Any]:
        return self._key_action("publish", kid)

    def do_replace(self, body: dict[str, Any], kid: str) -> dict[str, Any]:
        return self._key_action("replace", kid)

    def do_corrupt(self, body: dict[str, Any], kid: str) -> dict[str, Any]:
        return self._key_action("corrupt", kid, **body)

    def do_repair(self, body: dict[str, Any], kid: str) -> dict[str, Any]:
        return self._key_action("repair", kid)

    def do_endpoint(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        options = dict(body)
        action = options.pop("action", None)
        if action not in ENDPOINT_ACTIONS:
            raise OAuthError("invalid_request", f"action must be one of "
                             f"{', '.join(sorted(ENDPOINT_ACTIONS))}, not {action!r}")
        control = self.provider.endpoint(name)
        method = getattr(control, action, None)
        if method is None:
            raise OAuthError("invalid_request", f"endpoint {name!r} has no {action!r}")
        method(**options)
        return {"endpoint": name, "action": action}

    def do_requests(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = body.get("endpoint")
        provider = self.provider
        entries = provider.requests_to(endpoint) if endpoint else provider.requests
        return {"requests": [describe_request(e) for e in entries]}

    def do_clear_requests(self, body: dict[str, Any]) -> dict[str, Any]:
        self.provider.requests_log.clear()
        return {"cleared": True}

    def do_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        clock = self.provider.clock
        return {"time": clock.time(), "now": clock.now().isoformat(), "frozen": clock.frozen}

    def do_move_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        clock = self.provider.clock
        if "advance" in body:
            clock.advance(body["advance"])
        if "freeze" in body:
            clock.freeze(body["freeze"])
        if body.get("unfreeze"):
            clock.unfreeze()
        return self.do_clock({})

    def do_add_user(self, body: dict[str, Any]) -> dict[str, Any]:
        claims = body.get("claims") or {}
        if not isinstance(claims, dict):
            raise OAuthError("invalid_request", "claims must be a JSON object")
        options = {k: body[k] for k in ("password", "default") if k in body}
        user = self.provider.users.add(body.get("sub"), **options, **claims)
        return {"sub": user.sub, "claims": user.claims}

    def do_add_client(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self.provider.clients.add(**body)
        return {"client_id": client.client_id, "client_secret": client.client_secret,
                "redirect_uris": list(client.redirect_uris),
                "grant_types": list(client.grant_types), "public": client.public}

    def do_scenario(self, body: dict[str, Any]) -> dict[str, Any]:
        from ..drivers.scenario import Scenario

        run = self.provider.run_scenario(Scenario.from_data({"step": body.get("steps", [])}))
        return {"steps": len(run.scenario.steps), "applied": run.applied}

    def do_reset(self, body: dict[str, Any]) -> dict[str, Any]:
        self.provider.reset()
        return {"reset": True}

    def do_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        from ..core.faults import FAULTS

        return {"faults": [{"name": str(f), "category": f.category,
                            "description": f.description, "reference": f.reference,
                            "check": f.check, "weakness": f.weakness} for f in FAULTS.values()]}

    def do_openapi(self, body: dict[str, Any]) -> dict[str, Any]:
        return openapi(self.provider.issuer)


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


def decode_report(provider: MockIdP, token: str, invalid: type[Exception]) -> str:
    """What the dashboard's decoder shows: header, claims, which key, and the verdict."""
    from ..core.jws import MalformedJWS, parse_compact

    try:
        header, claims, _, _ = parse_compact(token)
    except (MalformedJWS, UnicodeError) as exc:
        return f"not a compact JWS: {exc}"
    kid = header.get("kid")
    key = provider.keys.get(kid) if isinstance(kid, str) else None
    where = (f"key {kid} ({key.alg}, {provider.keys.state(key.kid)})" if key is not None
             else f"no key of this provider has kid {kid!r}")
    try:
        provider.verify(token)
        verdict = "valid: this provider accepts it now"
    except invalid as exc:
        verdict = f"not valid: {exc}"
    return "\n".join([
        "header: " + json.dumps(header, indent=2), "claims: " + json.dumps(claims, indent=2),
        where, verdict,
    ])
