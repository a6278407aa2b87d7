"""Requests the audits send to a running service, one hop each: a redirect is the service's
answer, never followed.

An API refuses a bad token with 401 or 403 (RFC 6750 §3.1); one that redirects instead (to
its login page, which answers 200) has not accepted the token, and following the redirect
would judge the login page's answer as the API's: every fault accepted, every baseline too.
So a 3xx is a refusal unless the caller expects that status, and the refusal says where it
pointed; a service that redirects a valid token is then broken, as it should be.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.fetch import FETCH_LIMIT, is_loopback

if TYPE_CHECKING:
    from collections.abc import Sequence
    from email.message import Message

__all__ = ["Answer", "ServiceFailure", "judge", "no_redirects", "send"]


class ServiceFailure(Exception):
    """What an HTTP verifier raises when the service answers 5xx or not at all in time: a
    failure, not a refusal."""


@dataclass(frozen=True)
class Answer:
    """The service's answer: its status, headers (names in any case) and (up to
    ``FETCH_LIMIT``) body."""

    status: int
    headers: Message
    body: bytes = b""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as the answer (an HTTPError)


def no_redirects(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener with ``handlers`` (a cookie jar's) that follows no redirect."""
    return urllib.request.build_opener(*handlers, _NoRedirect())


_OPENER = no_redirects()
#: For a service on loopback (the audits' default): no proxy from the environment, which
#: would send the tokens to the proxy and the proxy to its own loopback.
_DIRECT = no_redirects(urllib.request.ProxyHandler({}))
_DIRECT_FOLLOWING = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def send(request: urllib.request.Request, timeout: float, *, follow: bool = False) -> Answer:
    """``request``'s answer, a redirect as it came (or followed, with ``follow``: for a
    document, not a token's verdict); :class:`ServiceFailure` ("no answer") when none came
    within ``timeout`` or the connection was refused, reset or closed without one: a worker
    that died on the request is a crash, not a refusal."""
    if is_loopback(request.full_url):
        opener = _DIRECT_FOLLOWING if follow else _DIRECT
    else:
        opener = urllib.request.build_opener() if follow else _OPENER
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read(FETCH_LIMIT))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.headers, exc.read(FETCH_LIMIT))
    except (TimeoutError, ConnectionError, urllib.error.URLError) as exc:
        # http.client.RemoteDisconnected is a ConnectionResetError; urllib wraps what happens
        # while connecting (refused, reset) in a URLError.
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise ServiceFailure(f"no answer within {timeout} s") from None
        if isinstance(reason, ConnectionError):
            raise ServiceFailure(f"no answer: {reason or type(reason).__name__}") from None
        raise


def judge(answer: Answer, expect: Sequence[int] = ()) -> None:
    """Return if the service accepted (``expect``, default any 2xx); raise
    :class:`ServiceFailure` for a 5xx, ``PermissionError`` for a refusal — a redirect named
    as one."""
    status = answer.status
    if status >= 500:
        raise ServiceFailure(f"HTTP {status}")
    if status in expect if expect else 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise PermissionError(f"HTTP {status}, a redirect to {answer.headers.get('Location')!r}"
                              ": counted as a refusal (an API answers 401 or 403)")
    raise PermissionError(f"HTTP {status}")
