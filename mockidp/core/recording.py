"""The record of requests the provider served, for assertions like "the consumer fetched the
JWKS exactly once, and once more after the rotation".

Entries are immutable; the log is append-only under a lock and copied out, so a test can read
it while the server thread is still writing.

Each entry is bounded (:func:`bounded`): a request is at most 1 MiB of body and a hundred
headers of up to 16 KiB, and keeping all of it made every unauthenticated request cost the
process about 3 MiB until the log forgot it (10,000 requests later). Past the limits below a
value is cut and ends with :data:`TRUNCATED`, and the entry says ``truncated``.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["RecordedRequest", "RequestLog", "bounded", "entry_size", "weight"]

#: Bodies are kept up to this many bytes (enough for any form or JSON a test sends).
BODY_LIMIT = 64 * 1024
#: Each header, query parameter or form field keeps this many characters of its value (a
#: client assertion with a certificate chain fits), and of its name :data:`NAME_LIMIT`.
VALUE_LIMIT = 4096
NAME_LIMIT = 256
#: At most this many headers, query parameters or form fields are kept per request...
FIELD_LIMIT = 64
#: ... and at most this many characters of names and values in each of the three.
ENTRY_LIMIT = 16 * 1024
#: The end of a value that was cut.
TRUNCATED = "...[truncated]"
#: The log keeps the most recent this many requests, so a long-running `mockidp serve` does not
#: grow without bound; a test that makes more should clear it (`idp.reset()`) between phases.
LOG_LIMIT = 10_000
#: ... and at most about this many bytes of them, oldest dropped first: bounded entries of
#: hostile size would otherwise add up to a gigabyte at LOG_LIMIT.
LOG_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, init=False)
class RecordedRequest:
    """One request as the provider saw it, and the status it answered with (``None`` when the
    endpoint was told to drop the connection)."""

    method: str
    path: str
    endpoint: str | None
    headers: Mapping[str, str]
    query: Mapping[str, str]
    form: Mapping[str, str]
    status: int | None
    time: float  # on the provider's clock
    duration: float  # seconds spent answering, delays included
    body: bytes = field(default=b"", repr=False)
    #: Whether a header, parameter, form field or the body was cut, or some left out.
    truncated: bool = False
    #: The client's IP address as the connection showed it ("" when unknown: an in-process
    #: WSGI client that sets none). With the User-Agent it tells consumers apart.
    remote_addr: str = ""
    #: Of an authorization request: its parameters as the endpoint resolved them — a pushed
    #: request's (RFC 9126 §4) or a request object's (RFC 9101 §6.3), whose outer query holds
    #: only ``client_id`` and ``request_uri`` or ``request``; else the query or form as sent.
    #: Empty for other endpoints, and for a request refused before they were resolved.
    authorization: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __init__(self, method: str, path: str, endpoint: str | None,
                 headers: Mapping[str, str], query: Mapping[str, str], form: Mapping[str, str],
                 status: int | None, time: float, duration: float, body: bytes = b"",
                 truncated: bool = False, remote_addr: str = "",
                 authorization: Mapping[str, str] | None = None) -> None:
        # The generated __init__ of a frozen dataclass sets each field through
        # object.__setattr__; filling __dict__ at once costs a quarter of that, on every
        # request the provider serves.
        self.__dict__.update(method=method, path=path, endpoint=endpoint, headers=headers,
                             query=query, form=form, status=status, time=time,
                             duration=duration, body=body, truncated=truncated,
                             remote_addr=remote_addr,
                             authorization=_EMPTY if authorization is None else authorization)

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("User-Agent")

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status} ({self.endpoint})>"


def freeze(mapping: Mapping[str, Any]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


_EMPTY: Mapping[str, str] = MappingProxyType({})


def bounded(mapping: Mapping[str, str]) -> tuple[Mapping[str, str], bool]:
    """``mapping`` frozen within :data:`FIELD_LIMIT` fields and :data:`ENTRY_LIMIT`
    characters, names and values cut to their limits and marked :data:`TRUNCATED`; and whether
    anything was cut or left out. The first fields are kept, so the ones a request starts with
    (Host, the grant type) survive padding that follows them."""
    if not mapping:
        return _EMPTY, False
    if len(mapping) <= FIELD_LIMIT and all(  # the common case: nothing to cut
            len(name) <= NAME_LIMIT and len(value) <= VALUE_LIMIT
            for name, value in mapping.items()) and sum(
            len(name) + len(value) for name, value in mapping.items()) <= ENTRY_LIMIT:
        return MappingProxyType(dict(mapping)), False
    kept: dict[str, str] = {}
    budget = ENTRY_LIMIT
    cut = False
    for name, value in mapping.items():
        if len(kept) >= FIELD_LIMIT or budget <= 0:
            return MappingProxyType(kept), True
        if len(name) > NAME_LIMIT:
            name, cut = name[:NAME_LIMIT] + TRUNCATED, True
        limit = max(min(VALUE_LIMIT, budget - len(name)), 0)
        if len(value) > limit:
            value, cut = value[:limit] + TRUNCATED, True
        kept[name] = value
        budget -= len(name) + len(value)
    return MappingProxyType(kept), cut


class RequestLog:
    """Every request served since the last ``clear()``, in the order they finished.

    A request that began before a ``clear()`` (say, one held by a delay that the reset let go)
    is not recorded after it: it belongs to the test that is over.
    """

    def __init__(self, limit: int = LOG_LIMIT, budget: int = LOG_BYTES) -> None:
        self._lock = threading.Lock()
        self._entries: deque[tuple[RecordedRequest, int]] = deque()
        self._limit, self._budget, self._bytes = limit, budget, 0
        self._generation = 0

    @property
    def generation(self) -> int:
        """Taken when a request starts and handed back to :meth:`add`."""
        return self._generation

    def add(self, entry: RecordedRequest, generation: int, size: int | None = None) -> None:
        """Keep ``entry`` (unless the log was cleared since ``generation``); ``size``, if
        given, is its :func:`entry_size`, which a caller may know from entries before."""
        if size is None:
            size = entry_size(entry.path, entry.body, entry.headers, entry.query, entry.form,
                              entry.authorization)
        with self._lock:
            if generation != self._generation:
                return
            entries = self._entries
            entries.append((entry, size))
            self._bytes += size
            if len(entries) <= self._limit and self._bytes <= self._budget:
                return  # the usual case, checked once
            while len(entries) > self._limit or (self._bytes > self._budget and len(entries) > 1):
                self._bytes -= entries.popleft()[1]

    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return [entry for entry, _ in self._entries]

    def to(self, endpoint: str) -> list[RecordedRequest]:
        return [e for e in self.entries() if e.endpoint == endpoint]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._generation += 1

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def entry_size(path: str, body: bytes, *mappings: Mapping[str, str]) -> int:
    """About how many bytes an entry with this path, body, headers, query and form keeps
    alive: the sum of a part for the path and body and one per mapping (:func:`weight`)."""
    size = 256 + len(body) + len(path)
    for mapping in mappings:
        if mapping:
            size += weight(mapping)
    return size


def weight(mapping: Mapping[str, str]) -> int:
    """The characters of ``mapping``'s names and values, its part of :func:`entry_size`."""
    return sum(map(len, mapping)) + sum(map(len, mapping.values()))
