"""Interception: connections to a real provider's host reach the in-process server instead.

Code under test keeps its production settings (``https://login.microsoftonline.com/...``), so
the test must answer for that host. Peers mock the HTTP client (responses and respx replace the
transport, aioresponses the session) and so skip the client's real HTTP and TLS; pytest-httpserver
and moto's server mode need the URL changed. Here the client's own HTTP and TLS run unchanged and
only three process-wide points are redirected, while an interception is active:

- name resolution: ``socket.getaddrinfo`` answers an intercepted host with an *alias*, an address
  of its own (an unused loopback address), and so do aiohttp's resolvers (its c-ares resolver
  asks no ``getaddrinfo``);
- connection: ``socket.socket.connect`` / ``connect_ex`` to an alias go to the provider's
  listening socket. Clients that keep the host's port and drop the resolved one (anyio, so
  httpx's async client) need this second step; every client passes through it, so every one
  sees the same address;
- trust: ``ssl.SSLContext.wrap_socket`` / ``wrap_bio`` for an intercepted *server name* use a
  context that trusts the provider's test CA and nothing else, with the caller's verification
  settings. Clients make their contexts at import time (requests, aiohttp) and keep them, so no
  context is changed: the provider's CA is trusted for those names, only inside the block, and
  the real host's certificate would not be.

Proxies from the environment are bypassed for intercepted hosts (``NO_PROXY``). On exit the
patches go (when the last interception ends), and connections made through the block are shut
down so that no pooled connection serves a later request from the provider. Interception is
process-wide, as the code under test may run in threads of its own (a test client's portal).
Not covered: an event loop that connects in native code (uvloop, Windows' proactor loop) and
``ssl.SSLContext`` subclasses with their own ``wrap_socket`` (truststore).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl
import sys
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InterceptError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["intercepted"]

#: Aliases are taken from here: loopback addresses nothing listens on, so a client that slips
#: past the connect hook reaches no real host.
_ALIASES_V4 = ipaddress.ip_network("127.77.0.0/16")
_ALIASES_V6 = ipaddress.ip_network("fd6d:6f63:6b69:6470::/64")  # "mockidp" in a ULA prefix


@dataclass
class Route:
    """One intercepted host: its public port and where its connections go."""

    host: str
    port: int
    target: tuple[Any, ...]
    family: socket.AddressFamily
    context: ssl.SSLContext | None
    owner: object
    alias: str = ""
    depth: int = 0
    sockets: weakref.WeakSet[socket.socket] = field(default_factory=weakref.WeakSet)


_lock = threading.RLock()
_by_host: dict[str, Route] = {}
_by_alias: dict[str, Route] = {}
_saved: dict[str, Any] = {}
_wrapped: set[str] = set()  # hooks another patch was laid over (left in place on exit)
_next_alias = 1


def _route_for(host: object) -> Route | None:
    if not _by_host or not isinstance(host, (str, bytes)):
        return None
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
    return _by_host.get(name.lower().rstrip("."))


# -- the hooks -----------------------------------------------------------------------------------

def _getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                 flags: int = 0) -> list[Any]:
    route = _route_for(host)
    if route is None:
        return _saved["getaddrinfo"](host, port, family, type, proto, flags)  # type: ignore[no-any-return]
    return [(route.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
             (route.alias, _port(port)) if route.family == socket.AF_INET
             else (route.alias, _port(port), 0, 0))]


def _port(port: Any) -> int:
    if port is None:
        return 0
    if isinstance(port, bytes):
        port = port.decode()
    if isinstance(port, str) and not port.isdigit():
        return socket.getservbyname(port, "tcp")
    return int(port)


def _redirect(address: Any) -> tuple[Route, Any] | None:
    if not _by_alias or not isinstance(address, tuple) or not address:
        return None
    route = _by_alias.get(str(address[0]))
    if route is None:
        return None
    if len(address) < 2 or address[1] != route.port:
        raise ConnectionRefusedError(
            f"mockidp intercepts {route.host} on port {route.port} only, not on "
            f"{address[1] if len(address) > 1 else '?'}: use the provider's public URL")
    return route, route.target


def _connect(self: socket.socket, address: Any) -> None:
    hit = _redirect(address)
    if hit is None:
        return _saved["connect"](self, address)  # type: ignore[no-any-return]
    hit[0].sockets.add(self)
    return _saved["connect"](self, hit[1])  # type: ignore[no-any-return]


def _connect_ex(self: socket.socket, address: Any) -> int:
    hit = _redirect(address)
    if hit is None:
        return _saved["connect_ex"](self, address)  # type: ignore[no-any-return]
    hit[0].sockets.add(self)
    return _saved["connect_ex"](self, hit[1])  # type: ignore[no-any-return]


def _context(original: ssl.SSLContext, server_hostname: Any) -> tuple[ssl.SSLContext,
                                                                       Route | None]:
    route = _route_for(server_hostname)
    if route is None or original.verify_mode == ssl.CERT_NONE:
        return original, route  # not intercepted, or the caller turned verification off
    if route.context is None:
        raise ssl.SSLError(f"mockidp intercepts {route.host} over plain HTTP only (the "
                           "provider's public URL is http://)")
    return route.context, route


def _wrap_socket(self: ssl.SSLContext, sock: socket.socket, server_side: bool = False,
                 do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True,
                 server_hostname: str | bytes | None = None,
                 session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
    context, route = (self, None) if server_side else _context(self, server_hostname)
    wrapped: ssl.SSLSocket = _saved["wrap_socket"](
        context, sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
        server_hostname, session)
    if route is not None:  # the plain socket is detached now: this one is the connection
        route.sockets.add(wrapped)
    return wrapped


def _wrap_bio(self: ssl.SSLContext, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
              server_side: bool = False, server_hostname: str | bytes | None = None,
              session: ssl.SSLSession | None = None) -> ssl.SSLObject:
    context = self if server_side else _context(self, server_hostname)[0]
    return _saved["wrap_bio"](  # type: ignore[no-any-return]
        context, incoming, outgoing, server_side, server_hostname, session)


async def _aiohttp_resolve(self: Any, host: str, port: int = 0,
                           family: int = socket.AF_INET) -> list[dict[str, Any]]:
    """aiohttp's resolvers (its c-ares one never calls getaddrinfo): an intercepted host
    resolves to its alias, as ``socket.getaddrinfo`` resolves it."""
    route = _route_for(host)
    if route is None:
        return await _saved[f"aiohttp:{type(self).__name__}"](  # type: ignore[no-any-return]
            self, host, port, family)
    return [{"hostname": host, "host": route.alias, "port": port, "family": route.family,
             "proto": 0, "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}]


_HOOKS: tuple[tuple[Any, str, Any], ...] = (
    (socket, "getaddrinfo", _getaddrinfo),
    (socket.socket, "connect", _connect),
    (socket.socket, "connect_ex", _connect_ex),
    (ssl.SSLContext, "wrap_socket", _wrap_socket),
    (ssl.SSLContext, "wrap_bio", _wrap_bio),
)

_MISSING = object()


def _install() -> None:
    for name in _PROXY_VARIABLES:
        _saved[f"env:{name}"] = os.environ.get(name)
    for owner, name, hook in _HOOKS:
        if name in _wrapped and getattr(owner, name) is not _saved[name]:
            continue  # someone's patch over ours is still there and still calls ours
        _saved[name] = getattr(owner, name)
        _saved[f"own:{name}"] = owner.__dict__.get(name, _MISSING)
        setattr(owner, name, hook)


def _install_aiohttp() -> None:
    """Hook aiohttp's resolvers if aiohttp is imported (it is never imported here)."""
    resolver = sys.modules.get("aiohttp.resolver")
    for cls_name in ("ThreadedResolver", "AsyncResolver"):
        cls = getattr(resolver, cls_name, None)
        if cls is not None and cls.__dict__.get("resolve", _aiohttp_resolve) \
                is not _aiohttp_resolve:
            _saved[f"aiohttp:{cls_name}"] = cls.__dict__["resolve"]
            cls.resolve = _aiohttp_resolve


def _uninstall() -> None:
    """Put back what was there, unless someone patched over a hook since (their patch keeps
    calling ours, which passes everything through once no route is left)."""
    for owner, name, hook in _HOOKS:
        if owner.__dict__.get(name) is not hook:
            _wrapped.add(name)
            continue
        _wrapped.discard(name)
        original = _saved[f"own:{name}"]
        if original is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    resolver = sys.modules.get("aiohttp.resolver")
    for key in [k for k in _saved if k.startswith("aiohttp:")]:
        cls = getattr(resolver, key.partition(":")[2], None)
        if cls is not None and cls.__dict__.get("resolve") is _aiohttp_resolve:
            cls.resolve = _saved[key]
    # The originals stay in _saved: a hook someone kept a reference to still passes through.


# -- proxies -------------------------------------------------------------------------------------

_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")


def _bypass_proxies() -> None:
    """``NO_PROXY`` as it was, plus every intercepted host (requests, httpx and urllib read it;
    a proxy would take the request to the real host). Both spellings get the hosts of both:
    a client that prefers ``no_proxy`` must keep the user's ``NO_PROXY`` exemptions too."""
    given = [value for value in (_saved.get(f"env:{name}") for name in _PROXY_VARIABLES)
             if value]
    for name in _PROXY_VARIABLES:
        before = _saved.get(f"env:{name}")
        if _by_host:
            os.environ[name] = ",".join(dict.fromkeys(
                host for value in [*given, ",".join(_by_host)]
                for host in value.split(",") if host.strip()))
        elif before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


# -- the public context manager -------------------------------------------------------------------

def _alias(family: socket.AddressFamily) -> str:
    global _next_alias
    network = _ALIASES_V4 if family == socket.AF_INET else _ALIASES_V6
    address = str(network[_next_alias % (network.num_addresses - 2) + 1])
    _next_alias += 1
    return address


@contextlib.contextmanager
def intercepted(owner: object, hosts: list[str], port: int, target: tuple[Any, ...],
                family: socket.AddressFamily, context: ssl.SSLContext | None) -> Iterator[None]:
    """While the block runs, connections to ``hosts`` on ``port`` reach ``target`` (the
    provider's listening address) and TLS for them trusts ``context``'s CA only. Re-entrant
    for one ``owner``; another owner's hosts are refused with :class:`InterceptError`."""
    names = [host.lower().rstrip(".") for host in hosts]
    with _lock:
        for name in names:
            route = _by_host.get(name)
            if route is not None and route.owner is not owner:
                raise InterceptError(
                    f"{name} is already intercepted by {route.owner!r}; leave that "
                    "provider's intercept() block first (one provider answers for a host)")
        if not _by_host:
            _install()
        _install_aiohttp()
        for name in names:
            route = _by_host.get(name)
            if route is None:
                route = _by_host[name] = Route(name, port, target, family, context, owner,
                                               alias=_alias(family))
                _by_alias[route.alias] = route
            route.depth += 1
        _bypass_proxies()
    try:
        yield
    finally:
        with _lock:
            for name in names:
                route = _by_host[name]
                route.depth -= 1
                if route.depth == 0:
                    del _by_host[name], _by_alias[route.alias]
                    _cut(route)
            _bypass_proxies()
            if not _by_host:
                _uninstall()


def _cut(route: Route) -> None:
    """Shut down the connections made through ``route``: a pool that kept one finds it closed
    and connects afresh, to wherever the host then resolves."""
    for sock in list(route.sockets):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
