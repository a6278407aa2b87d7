"""The protected resources the provider issues access tokens for (RFC 8707 resource
indicators): a client names one or more in ``resource`` and the access token's ``aud`` is
exactly those. A resource the provider does not know is ``invalid_target`` (RFC 8707 §2), so a
test registers the resource servers it runs (``idp.resources.add("http://127.0.0.1:8001/mcp")``).
The state is one immutable mapping, swapped whole, so a reset restores it in one assignment."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Resources", "resource_problem"]


def resource_problem(uri: object) -> str | None:
    """Why ``uri`` cannot be a resource indicator, or ``None``: RFC 8707 §2 says an absolute
    URI (RFC 3986 §4.3) without a fragment, and SHOULD NOT have a query."""
    if not isinstance(uri, str) or not uri:
        return f"a resource is a non-empty string, not {uri!r}"
    parts = urlsplit(uri)
    if not parts.scheme or "#" in uri:
        return f"resource {uri!r} must be an absolute URI without a fragment (RFC 8707 §2)"
    return None


class Resources:
    """The resource indicators the provider knows. ``idp.resources.add(uri)`` registers one;
    ``uri in idp.resources`` asks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: frozenset[str] = frozenset()

    def add(self, uri: str) -> str:
        """Register the resource ``uri`` (an absolute URI, RFC 8707 §2). Returns ``uri``."""
        problem = resource_problem(uri)
        if problem is not None:
            raise ConfigurationError(problem)
        with self._lock:
            self._items = self._items | {uri}
        return uri

    def discard(self, uri: str) -> None:
        """Forget ``uri`` if it was registered."""
        with self._lock:
            self._items = self._items - {uri}

    def __contains__(self, uri: object) -> bool:
        return uri in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def snapshot(self) -> object:
        return self._items

    def restore(self, snapshot: object) -> None:
        if not isinstance(snapshot, frozenset):
            raise ConfigurationError("restore() takes what snapshot() returned")
        self._items = snapshot
