"""The sign-in audit: every sign-in fault (``mockidp.LOGIN_FAULTS``), and valid baselines,
through the user's own relying party; a verdict on each, in the token audit's report.

``login(idp)`` performs one whole sign-in through the app (its test client, a
``requests.Session``, a browser — anything) and returns normally when the app signed the user
in, raises when it refused. A valid sign-in comes first: what it asked for (its response type,
nonce and state) and which endpoints it used (token, userinfo) decide which faults can reach
the app at all, and how bad accepting one is (an ID token through the browser must be signed,
one from the token endpoint need not be: OIDC Core §3.1.3.7 step 6). Each fault is then planted
with ``idp.users.next_login(fault=NAME)`` and the sign-in run again; a valid sign-in closes the
audit, proving no fault left the app unable to sign anyone in. The fault reaches only the first
authorization request of its run: an app that went back to the provider more often than in its
valid sign-in refused the planted response and started a new sign-in (as one that redirects a
failed sign-in to its login page does), so the fault counts as refused even if the new sign-in
succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

from ..core.fetch import is_loopback
from ..core.login_faults import LOGIN_FAULTS, MARKUP, LoginFault, get
from ..errors import ConfigurationError
from .consumer_audit import AuditCase, AuditReport
from .service_http import no_redirects

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ..core.directory import Client
    from ..core.faults import Severity
    from ..core.recording import RecordedRequest
    from ..provider import MockIdP

__all__ = ["LoginAuditReport", "LoginRefused", "SignIn", "SignedInCheck", "audit_login",
           "http_login"]


@dataclass(frozen=True)
class SignIn:
    """What one sign-in did at the provider, read from its request log."""

    #: The (first) authorization request's parameters, as the endpoint resolved them (PAR,
    #: JAR).
    authorization: Mapping[str, str] | None
    endpoints: tuple[str, ...]  # every endpoint it reached, in order

    @property
    def authorizations(self) -> int:
        """How many authorization requests it made: one more than a valid sign-in's means
        the app went back to the provider, a new sign-in after refusing the first."""
        return self.endpoints.count("authorize")

    @property
    def response_type(self) -> frozenset[str]:
        return frozenset((self.authorization or {}).get("response_type", "").split())

    @property
    def front_channel(self) -> bool:
        """Whether an ID token came through the browser (implicit, hybrid)."""
        return "id_token" in self.response_type

    def used(self, endpoint: str) -> bool:
        return endpoint in self.endpoints


class LoginAuditReport(AuditReport):
    """:class:`~mockidp.AuditReport` of a sign-in audit: the same verdicts, table, JSON and
    JUnit; ``not_reached`` names the faults this app's sign-in gives no way in (a nonce it never
    sends, a userinfo endpoint it never calls), and why."""

    subject = "sign-in"
    valid = "sign-in"

    def __init__(self, cases: Sequence[AuditCase], not_reached: Mapping[str, str]) -> None:
        super().__init__(cases)
        self.not_reached = dict(not_reached)

    def __str__(self) -> str:
        lines = [super().__str__()]
        lines += [f"not reached: {name}: {why}" for name, why in self.not_reached.items()]
        return "\n".join(lines)


def _since(idp: MockIdP, marker: RecordedRequest | None) -> list[RecordedRequest]:
    entries = idp.requests
    if marker is not None:
        for index in range(len(entries) - 1, -1, -1):
            if entries[index] is marker:
                return entries[index + 1:]
    return entries


def _run(login: Callable[[MockIdP], Any], idp: MockIdP
         ) -> tuple[bool, str | None, object, SignIn]:
    """One sign-in: whether the app signed the user in, its error, what it returned (or the
    exception), and what it did at the provider."""
    log = idp.requests
    marker = log[-1] if log else None
    try:
        returned: object = login(idp)
        accepted, error = True, None
    except Exception as exc:  # any refusal counts; its type and message are the evidence
        # one line: a refusal is often a whole error page
        returned, accepted = exc, False
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    served = _since(idp, marker)
    # As the endpoint resolved them: a pushed request's or a request object's parameters,
    # not the outer query's client_id and request_uri (RFC 9126 §4, RFC 9101 §6.3).
    authorization = next((dict(r.authorization) or dict(r.query) or dict(r.form)
                          for r in served if r.endpoint == "authorize"), None)
    return accepted, error, returned, SignIn(authorization,
                                             tuple(r.endpoint or "" for r in served))


def _unreached(fault: LoginFault, baseline: SignIn, client: Client | None) -> str | None:
    """Why ``fault`` cannot reach this app's sign-in, or ``None`` if it can."""
    asked = baseline.authorization or {}
    types = baseline.response_type
    reasons: dict[str, tuple[bool, str]] = {
        "nonce": ("nonce" in asked, "the app sends no nonce"),
        "state": ("state" in asked, "the app sends no state"),
        "front-code": ({"code", "id_token"} <= types,
                       "no ID token comes with a code through the browser"),
        "front-token": ({"token", "id_token"} <= types,
                        "no ID token comes with an access token through the browser"),
        "at_hash": ("token" in types or baseline.used("token"),
                    "the app's ID tokens carry no at_hash"),
        "token-endpoint": (baseline.used("token"), "the app never calls the token endpoint"),
        "userinfo": (baseline.used("userinfo"), "the app never calls userinfo"),
        "client-secret": (client is not None and client.client_secret is not None,
                          "the client has no secret"),
        "signed-userinfo": (client is not None
                            and client.userinfo_signed_response_alg is not None
                            and baseline.used("userinfo"),
                            "the client did not register userinfo_signed_response_alg, or "
                            "never calls userinfo"),
    }
    if fault.needs and not reasons[fault.needs][0]:
        return reasons[fault.needs][1]
    if fault.stage == "id_token" and fault.severity_for(baseline.front_channel) is None:
        return "only an ID token through the browser must have this (OIDC Core §3.3.2.11)"
    return None


def _judge(fault: LoginFault, accepted: bool, returned: object, run: SignIn,
           front_channel: bool) -> tuple[bool, Severity | None, str]:
    """Whether the fault got through, how bad that is here, and a note."""
    severity = fault.severity_for(front_channel)
    if fault.error is not None:  # error-markup: signing in is wrong, and so is echoing markup
        page = returned.page if isinstance(returned, LoginRefused) else None
        if page is not None and MARKUP in page:
            return True, severity, "the app showed error_description as markup, unescaped"
        if page is None and not accepted:
            return accepted, severity, "refused; raise mockidp.LoginRefused(message, page) " \
                                       "to have the page searched for the markup"
        return accepted, severity, ""
    if fault == "token-type-unknown" and accepted and not run.used("userinfo"):
        return accepted, None, "accepted, but the app never used the access token"
    return accepted, severity, ""


def audit_login(
    login: Callable[[MockIdP], Any],
    idp: MockIdP,
    client: str | Client | None = None,
    *,
    faults: Sequence[str] | None = None,
    progress: Callable[[AuditCase], object] | None = None,
) -> LoginAuditReport:
    """Run valid sign-ins and every sign-in fault (or ``faults``) through ``login``.

    ``login(idp)`` signs in once through the app and returns when the app signed the user in,
    raises when it refused — :class:`LoginRefused` with the page the app showed, to have it
    searched for the raw markup of the ``error-markup`` fault. ``client`` is
    the app's client (default: the one its authorization request names), which decides
    whether the faults that need a client secret or signed userinfo answers apply. The
    provider's keys are as they were when the audit returns.
    """
    if not callable(login):
        raise ConfigurationError("audit_login() takes the sign-in as a function of the "
                                 "provider: login(idp) returns when the app signed in")
    chosen = [get(name) for name in faults] if faults is not None else list(LOGIN_FAULTS.values())
    snapshot = idp.keys.snapshot()
    cases: list[AuditCase] = []
    not_reached: dict[str, str] = {}

    def record(case: AuditCase) -> None:
        cases.append(case)
        if progress is not None:
            progress(case)

    def baseline(name: str) -> SignIn:
        _drain(idp)
        accepted, error, _, run = _run(login, idp)
        if run.authorization is None and accepted:
            accepted, error = False, "the sign-in never reached the authorization endpoint"
        record(AuditCase(name, "baseline", accepted, error, "a valid sign-in"))
        return run

    try:
        first = baseline("valid sign-in")
        if cases[0].accepted:
            registered = _client(idp, client, first)
            ready = idp.keys.snapshot()
            for fault in chosen:
                why = _unreached(fault, first, registered)
                if why is not None:
                    not_reached[str(fault)] = why
                    continue
                _drain(idp)
                idp.users.next_login(fault=fault)
                accepted, error, returned, run = _run(login, idp)
                idp.keys.restore(ready)
                if run.authorization is None:
                    not_reached[str(fault)] = "the sign-in never reached the authorization " \
                                              "endpoint"
                    continue
                if accepted and run.authorizations > first.authorizations:
                    # The fault went to the first authorization request only; the app that
                    # signed the user in after asking again refused what it got, as an app
                    # that redirects a failed sign-in to its login page does.
                    accepted, severity, note = False, fault.severity_for(
                        first.front_channel), "the app refused and started a new sign-in"
                    error = f"{note}: {run.authorizations} authorization requests, " \
                            f"{first.authorizations} in a valid sign-in"
                else:
                    accepted, severity, note = _judge(fault, accepted, returned, run,
                                                      first.front_channel)
                record(AuditCase(str(fault), "fault", accepted, error, fault.description,
                                 fault.reference, severity, fault.check, note))
            baseline("valid sign-in again")
    finally:
        _drain(idp)
        idp.keys.restore(snapshot)
    return LoginAuditReport(cases, not_reached)


def _drain(idp: MockIdP) -> None:
    """Forget planned sign-ins a run left unused (the app never reached the provider)."""
    while idp.users.take_login() is not None:
        pass


def _client(idp: MockIdP, client: str | Client | None, run: SignIn) -> Client | None:
    if client is None:
        named = (run.authorization or {}).get("client_id")
        return idp.clients.get(named) if named else None
    if isinstance(client, str):
        return idp.clients[client]
    return client


class SignedInCheck:
    """How ``mockidp audit-login`` tells a signed-in user from a refused one, after the last
    redirect: ``url:PREFIX`` (the final URL starts with it), ``status:CODE``, ``cookie:NAME``
    (the app set or changed that cookie from its callback on) or ``text:TEXT`` (the page
    contains it)."""

    KINDS = ("url", "status", "cookie", "text")

    def __init__(self, spec: str) -> None:
        kind, sep, value = spec.partition(":")
        if not sep or kind not in self.KINDS or not value:
            raise ConfigurationError(f"--signed-in {spec!r}: write url:PREFIX, status:CODE, "
                                     "cookie:NAME or text:TEXT")
        if kind == "status" and not value.isdigit():
            raise ConfigurationError(f"--signed-in {spec!r}: the status is a number")
        self.kind, self.value = kind, value

    def passes(self, url: str, status: int, cookies: set[str], text: str) -> bool:
        """``cookies``: the names of those set or changed since the provider redirected back
        to the app — a cookie from before (a session holding the state and nonce, set when
        the sign-in began) is no sign that the user signed in."""
        if self.kind == "url":
            return url.startswith(self.value)
        if self.kind == "status":
            return status == int(self.value)
        if self.kind == "cookie":
            return self.value in cookies
        return self.value in text


class LoginRefused(Exception):
    """Raise it from ``login(idp)`` when the app refused the sign-in, with the page it showed:
    the audit searches the page for the markup of the ``error-markup`` fault, which an app
    that shows ``error_description`` unescaped puts there. (Any exception means refused; only
    this one carries a page.) :func:`http_login` raises it."""

    def __init__(self, message: str, page: str = "") -> None:
        super().__init__(message)
        self.page = page


#: How many redirects (and form posts) one sign-in may take.
MAX_HOPS = 20


def http_login(start: str, signed_in: SignedInCheck, *, timeout: float = 10.0
               ) -> Callable[[MockIdP], str]:
    """A ``login`` for :func:`audit_login` that signs in through a running app over HTTP: a
    fresh cookie session GETs ``start`` and follows every redirect (and the ``form_post``
    page mockidp answers with) through the provider and back to the app, then
    ``signed_in`` decides, on the cookies set or changed from the app's callback on. A
    response in the URL fragment (implicit and hybrid flows without ``form_post``) needs a
    browser: the session cannot read it."""
    import http.cookiejar
    import urllib.error
    import urllib.request
    from html.parser import HTMLParser

    class _Form(HTMLParser):
        """The form_post page's form: its action and hidden fields."""

        def __init__(self) -> None:
            super().__init__()
            self.action: str | None = None
            self.fields: dict[str, str] = {}

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            named = dict(attrs)
            if tag == "form" and self.action is None:
                self.action = named.get("action") or ""
            elif tag == "input" and named.get("name"):
                self.fields[named["name"] or ""] = named.get("value") or ""

    def cookies(jar: http.cookiejar.CookieJar) -> set[tuple[str, str, str, str | None]]:
        return {(c.domain, c.path, c.name, c.value) for c in jar}

    def login(idp: MockIdP) -> str:
        jar = http.cookiejar.CookieJar()
        # Redirects are followed by hand below, one hop at a time; an app on loopback is
        # reached directly, whatever proxy the environment names.
        direct = (urllib.request.ProxyHandler({}),) if is_loopback(start) else ()
        opener = no_redirects(urllib.request.HTTPCookieProcessor(jar), *direct)
        provider = _origin(idp.issuer)
        url, data = start, None
        at_provider, before_callback = False, None
        for _ in range(MAX_HOPS):
            if _origin(url) == provider:
                at_provider = True
            elif at_provider:  # back at the app: its callback, whose cookies count
                at_provider, before_callback = False, cookies(jar)
            request = urllib.request.Request(url, data=data)
            try:
                response = opener.open(request, timeout=timeout)
            except urllib.error.HTTPError as exc:
                response = exc
            with response:
                status, headers = response.status, response.headers
                text: str = response.read().decode("utf-8", "replace")
            location = headers.get("Location")
            if 300 <= status < 400 and location:
                url, data = urljoin(url, location), None
                continue
            form = _Form()
            if url.startswith(idp.authorization_endpoint) and "<form" in text:
                form.feed(text)
            if form.action:  # mockidp's form_post page: post it, as its script would
                url, data = urljoin(url, form.action), urlencode(form.fields).encode()
                continue
            since = set() if before_callback is None else cookies(jar) - before_callback
            if signed_in.passes(url, status, {name for _, _, name, _ in since}, text):
                return text
            raise LoginRefused(f"not signed in: HTTP {status} at {url}", text)
        raise LoginRefused(f"more than {MAX_HOPS} redirects from {start}")

    return login


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
