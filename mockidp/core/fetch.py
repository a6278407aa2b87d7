"""Fetching a document a client named — a request object by reference (RFC 9101 §5.2), a
client's ``jwks_uri``, a client ID metadata document — without ever reaching past the machine.

A mock provider runs inside test suites and CI: a URL from a request must never make it
call the internet (a test that passes only online, or a provider that can be pointed at
internal hosts). So only loopback hosts are fetched (``localhost``, ``127.0.0.0/8``,
``[::1]``), with a short timeout and a bounded size; a test serves the document from its
own loopback server, or registers it with the provider (``idp.clients.add_metadata_document``)
and nothing is fetched at all."""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FETCH_LIMIT", "FETCH_TIMEOUT", "FetchError", "Fetcher", "fetch_json", "fetch_text",
           "is_loopback"]

#: The largest document fetched, in bytes, and how long a fetch may take, in seconds.
FETCH_LIMIT = 64 * 1024
FETCH_TIMEOUT = 2.0


class FetchError(Exception):
    """A document could not be fetched, or may not be: the message says why."""


def is_loopback(url: str) -> bool:
    """Whether ``url`` is http(s) on a loopback host (no name is resolved but ``localhost``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could leave loopback: none is followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


#: No redirect, and no proxy from the environment (``http_proxy``): a proxy would make the
#: fetch of a loopback URL the proxy host's own loopback.
_opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


def fetch_text(url: str) -> str:
    """The body of ``url`` as text, if it is on loopback and answers 200 in time."""
    if not is_loopback(url):
        raise FetchError(f"{url} is not on a loopback host; mockidp fetches nothing beyond "
                         "the machine (serve it on 127.0.0.1, or register the document)")
    try:
        with _opener.open(url, timeout=FETCH_TIMEOUT) as answer:
            body: bytes = answer.read(FETCH_LIMIT + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"fetching {url} failed: {exc}") from None
    if len(body) > FETCH_LIMIT:
        raise FetchError(f"{url} is larger than {FETCH_LIMIT} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise FetchError(f"{url} is not UTF-8") from None


def fetch_json(url: str) -> Any:
    """The JSON document at ``url`` (see :func:`fetch_text`)."""
    try:
        return json.loads(fetch_text(url))
    except (ValueError, RecursionError) as exc:
        raise FetchError(f"{url} is not JSON: {exc}") from None


class Fetcher:
    """One issuer's fetching: :func:`fetch_text` and :func:`fetch_json` while ``enabled``.

    A provider that listens beyond loopback turns it off: whoever reaches it could register a
    client whose ``jwks_uri``, ``request_uris`` or ``client_id`` names one of the machine's own
    services, and learn from the error which ports answer. Such a provider takes the documents
    registered with it (``jwks``, ``add_metadata_document``, PAR) and fetches nothing."""

    def __init__(self) -> None:
        self.enabled = True

    def text(self, url: str) -> str:
        self._check(url)
        return fetch_text(url)

    def json(self, url: str) -> Any:
        self._check(url)
        return fetch_json(url)

    def _check(self, url: str) -> None:
        if not self.enabled:
            raise FetchError(f"{url} is not fetched: this provider listens beyond loopback "
                             "and fetches no document a client names (register it with the "
                             "provider: jwks, add_metadata_document, or PAR)")
