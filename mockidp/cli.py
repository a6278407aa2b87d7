"""The ``mockidp`` command: ``main(argv) -> int``, so it is tested in-process.

Every error in the arguments or in a config or scenario file is one line on stderr and exit
code 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

    from .drivers.consumer_audit import AuditReport
    from .drivers.remote import RemoteIdP
    from .provider import MockIdP

__all__ = ["main"]


def _is_loopback(host: str) -> bool:
    from .web.control import is_loopback  # the rule MockIdP itself applies

    return is_loopback(host)


class _Printable(logging.Formatter):
    """Log lines with every control character escaped, whatever logged them: the request log
    lines carry the client's path and query, and a CR LF or an ESC sequence printed as is
    forges a line or drives the terminal (CWE-117, CWE-150). ``mockidp.web.app`` escapes its
    own lines already; this covers any other message that quotes a request."""

    def format(self, record: logging.LogRecord) -> str:
        from .web.app import printable

        return printable(super().format(record))


class _Fail(Exception):
    """A one-line error for the user; exit code 2."""


def _parser() -> argparse.ArgumentParser:
    from .core.profiles import PROFILES

    parser = argparse.ArgumentParser(
        prog="mockidp",
        description="A mock OAuth 2.0 / OpenID Connect provider for tests. Not a real IdP.",
    )
    parser.add_argument("--version", action="version", version=f"mockidp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the provider until interrupted")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=8080,
                       help="port to listen on (default 8080; 0 = any free port)")
    serve.add_argument("--issuer-url",
                       help="the public URL consumers use (behind a proxy, in a container)")
    serve.add_argument("--trust-forwarded", action="store_true",
                       help="behind a proxy: take the issuer from X-Forwarded-Proto/-Host/"
                            "-Prefix of each request")
    serve.add_argument("--alg", help="default signing algorithm (RS256)")
    serve.add_argument("--profile", help="look like a real provider: " + ", ".join(PROFILES)
                       + " (default generic)")
    serve.add_argument("--profile-option", action="append", default=[], metavar="NAME=VALUE",
                       help="an option of the profile, e.g. realm=demo (repeatable)")
    serve.add_argument("--certificates", action="store_true", default=None,
                       help="publish x5c/x5t/x5t#S256 with every key (on in profiles whose "
                            "provider does)")
    serve.add_argument("--login", choices=("page", "auto"),
                       help="page: a login page to pick a user (default); auto: sign in the "
                            "default user without a page")
    serve.add_argument("--tls", action="store_true",
                       help="serve HTTPS with a certificate from a CA made at start-up")
    serve.add_argument("--config", metavar="FILE", help="TOML: keys, clients, users, tenants")
    serve.add_argument("--resource", action="append", default=[], metavar="URI",
                       help="a resource tokens may be for (RFC 8707 resource, an MCP "
                            "server's URL; repeatable)")
    serve.add_argument("--scenario", metavar="FILE", help="TOML: timed rotations and faults")
    serve.add_argument("--control-token", metavar="SECRET",
                       help="require this bearer token on the control API (/_mockidp/); "
                            "one is generated when listening beyond loopback")
    serve.add_argument("--control-origin", action="append", default=[], metavar="ORIGIN",
                       help="a browser origin allowed to call the control API (repeatable)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow listening on a non-loopback address")
    serve.add_argument("--quiet", action="store_true", help="do not log each request")

    token = commands.add_parser("token", help="print a signed token")
    token.add_argument("--url", help="a running mockidp (its issuer URL); default: a one-off "
                                     "provider whose key is printed to stderr as a JWKS")
    token.add_argument("--control-token", metavar="SECRET", help="for --url")
    token.add_argument("--alg", help="signing algorithm")
    token.add_argument("--sub", help="subject")
    token.add_argument("--aud", help="audience")
    token.add_argument("--expires-in", type=int, default=3600, help="seconds (may be < 0)")
    token.add_argument("--fault", help="a token fault from `mockidp faults`")
    token.add_argument("--id-token", action="store_true", help="an ID token instead")
    token.add_argument("--claim", action="append", default=[], metavar="NAME=VALUE",
                       help="add a claim (VALUE is JSON if it parses, else a string)")

    audit = commands.add_parser(
        "audit", help="send every token fault to a running service; exit 1 if any got through")
    audit.add_argument("--url", required=True, help="a protected URL of the service")
    audit.add_argument("--idp-port", type=int, default=8080,
                       help="port of the provider this command starts, which the service must "
                            "trust: http://127.0.0.1:PORT (default 8080)")
    audit.add_argument("--issuer", help="a running mockidp the service already trusts, driven "
                                        "through its control API instead of starting one")
    audit.add_argument("--control-token", metavar="SECRET", help="for --issuer")
    audit.add_argument("--audience", help="the aud the service expects (default mockidp-api)")
    audit.add_argument("--alg", action="append", default=[], metavar="ALG",
                       help="an algorithm the service accepts (repeatable; default RS256)")
    audit.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                       help="an extra request header (repeatable)")
    audit.add_argument("--expect-status", type=int, action="append", default=[],
                       metavar="CODE", help="status of an accepted request (default any 2xx)")
    audit.add_argument("--resource", action="store_true",
                       help="audit URL as a protected resource (RFC 9728, MCP authorization): "
                            "metadata, challenge, audience, scope, then the token faults")
    audit.add_argument("--scope", help="with --resource: the scope the resource needs")
    audit.add_argument("--fail-on", choices=("critical", "high", "hardening"), default="high",
                       help="the least severe accepted fault that makes the exit code 1 "
                            "(default high: critical and high faults)")
    audit.add_argument("--dpop", action="store_true",
                       help="audit a DPoP resource server (RFC 9449): bound tokens, proof "
                            "faults, its DPoP-Nonce challenges followed")
    audit.add_argument("--format", choices=("text", "json", "junit"), default="text")
    audit.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    audit.add_argument("--allow-remote", action="store_true",
                       help="allow a --url beyond loopback")

    login = commands.add_parser(
        "audit-login", help="sign in through a running app with every sign-in fault; exit 1 "
                            "if the app signed anyone in it should have refused")
    login.add_argument("--start", required=True, metavar="URL",
                       help="the app's URL that starts a sign-in (redirects to the provider)")
    login.add_argument("--signed-in", required=True, metavar="CHECK",
                       help="how to tell the user was signed in, after the last redirect: "
                            "url:PREFIX, status:CODE, cookie:NAME or text:TEXT")
    login.add_argument("--idp-port", type=int, default=8080,
                       help="port of the provider this command starts, which the app must "
                            "use: http://127.0.0.1:PORT (default 8080)")
    login.add_argument("--client-id", help="the app's client id (default mockidp-client)")
    login.add_argument("--client-secret", help="its secret (default mockidp-client-secret)")
    login.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="run only this sign-in fault (repeatable; default all)")
    login.add_argument("--fail-on", choices=("critical", "high", "hardening"), default="high",
                       help="the least severe accepted fault that makes the exit code 1")
    login.add_argument("--format", choices=("text", "json", "junit"), default="text")
    login.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    login.add_argument("--allow-remote", action="store_true",
                       help="allow a --start URL beyond loopback")

    faults = commands.add_parser("faults", help="list the token (or sign-in) fault catalog")
    faults.add_argument("--markdown", action="store_true",
                        help="print the catalogs as the docs/faults.md page")
    faults.add_argument("--dpop", action="store_true",
                        help="list the DPoP proof fault catalog (RFC 9449) instead")
    faults.add_argument("--login", action="store_true",
                        help="the sign-in fault catalog (mockidp.LOGIN_FAULTS) instead")
    return parser


def _claims(pairs: list[str]) -> dict[str, Any]:
    import json

    claims: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise _Fail(f"--claim {pair!r}: write NAME=VALUE")
        try:
            claims[name] = json.loads(value)
        except ValueError:
            claims[name] = value
    return claims


def _remote(flag: str, url: str, control_token: str | None) -> RemoteIdP:
    """A ``RemoteIdP`` for ``--url`` / ``--issuer``, its errors naming the flag and what to
    check: a newcomer's first try is often a URL without ``http://`` or no server running."""
    from .drivers.remote import RemoteIdP
    from .errors import ConfigurationError, RemoteAuthError, UnreachableError

    try:
        return RemoteIdP(url, control_token=control_token)
    except ConfigurationError as exc:
        raise _Fail(f"{flag} {url!r}: {exc}; give the issuer `mockidp serve` prints") from None
    except UnreachableError as exc:
        raise _Fail(f"{flag} {url}: {exc}; is `mockidp serve` running there?") from None
    except RemoteAuthError as exc:
        raise _Fail(f"{flag} {url}: {exc}; pass the server's --control-token") from None


def _start(provider: MockIdP, flag: str, also: str = "") -> None:
    """Start ``provider``; a port in use names the command's flag, not ``port=0``, and
    ``also`` what else the user may mean."""
    from .errors import BindError

    try:
        provider.start()
    except BindError as exc:
        raise _Fail(f"{flag} {exc.port}: cannot listen on {exc.host}:{exc.port}: {exc.reason}; "
                    f"pick another {flag}, or {flag} 0 for any free port{also}") from None


def _answering(flag: str, url: str) -> None:
    """Fail at once, in one line, when nothing listens at ``url``: each case of an audit would
    otherwise report the refused connection as a refusal of its token."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as exc:
        raise _Fail(f"{flag} {url}: nothing answers there ({exc.strerror or exc}); start the "
                    "service first") from None


def _provider(args: argparse.Namespace) -> MockIdP:
    from .core import profiles
    from .provider import MockIdP

    options: dict[str, Any] = {}
    config = None
    if args.config:
        from .drivers.config import Config

        config = Config.load(args.config)
        options.update(config.provider_options())
    for name in ("alg", "login", "issuer_url", "profile", "certificates"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    options["profile_options"] = {**options.get("profile_options", {}),
                                  **profiles.parse_options(args.profile_option)}
    options.setdefault("login", "page")
    # A long-running server keeps the last 2,000 requests (the dashboard shows 50).
    provider = MockIdP(host=args.host, port=args.port, tls=args.tls,
                       control_token=args.control_token, trust_forwarded=args.trust_forwarded,
                       control_origins=args.control_origin, allow_remote=args.allow_remote,
                       log_limit=2000, **options)
    if config is not None:
        config.apply(provider)
    for uri in args.resource:
        provider.resources.add(uri)
    return provider


def _serve(args: argparse.Namespace) -> int:
    from .web.server import format_host

    if not _is_loopback(args.host):
        if not args.allow_remote:
            raise _Fail(f"--host {args.host} is not a loopback address; add --allow-remote "
                        "to listen on it anyway")
        print("mockidp: warning: listening beyond loopback. This is a mock provider for "
              "tests: anyone who reaches it can mint tokens it signs.", file=sys.stderr)
    scenario = None
    if args.scenario:
        from .drivers.scenario import Scenario

        scenario = Scenario.load(args.scenario)
    provider = _provider(args)
    _start(provider, "--port")
    # A scenario step that fails as it plays is logged here (the scenario stops; the server
    # keeps serving), whatever --quiet says: it is an error, not a request line.
    scenario_log = logging.getLogger("mockidp.scenario")
    scenario_handler = logging.StreamHandler(sys.stderr)
    scenario_handler.setFormatter(_Printable("mockidp: scenario: %(message)s"))
    scenario_log.addHandler(scenario_handler)
    if not args.quiet:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_Printable("%(message)s"))
        requests_log = logging.getLogger("mockidp.requests")
        requests_log.addHandler(handler)
        requests_log.setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    player = None
    try:
        print(f"mockidp {__version__} serving (a mock provider for tests, not a real IdP)")
        print(f"issuer:    {provider.issuer}")
        print(f"discovery: {provider.discovery_url}")
        print(f"jwks:      {provider.jwks_uri}")
        print(f"listening: {'https' if args.tls else 'http'}://"
              f"{format_host(provider.host)}:{provider.port}")
        if provider.control_token is not None:  # given, or generated beyond loopback
            print(f"control token: {provider.control_token}")
        if args.tls:
            print(f"CA bundle: {provider.ca_bundle}")
        # Below the root URL, not the issuer's path: a profile's issuer (/realms/demo) is not
        # where the control API is.
        dashboard = f"{provider.base_url}/_mockidp/ui"
        if provider.control_token is not None:
            dashboard += "  (open it once with ?control_token=<the token>)"
        print(f"dashboard: {dashboard}")
        print(f"health:    {provider.base_url}/_mockidp/health")
        sys.stdout.flush()
        if scenario is not None:
            run = provider.run_scenario(scenario)
            player = threading.Thread(target=run.play, args=(stop,), name="mockidp-scenario",
                                      daemon=True)
            player.start()
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if player is not None:
            player.join()
        provider.stop()
        scenario_log.removeHandler(scenario_handler)
    return 0


def _token(args: argparse.Namespace) -> int:
    import json

    options: dict[str, Any] = {"claims": _claims(args.claim) or None, "alg": args.alg,
                               "sub": args.sub, "aud": args.aud,
                               "expires_in": args.expires_in, "fault": args.fault}
    options = {k: v for k, v in options.items() if v is not None}
    if args.url:
        remote = _remote("--url", args.url, args.control_token)
        print(remote.id_token(**options) if args.id_token else remote.token(**options))
        return 0
    from .provider import MockIdP

    with MockIdP() as provider:
        print(provider.id_token(**options) if args.id_token else provider.token(**options))
        print(json.dumps(provider.jwks()), file=sys.stderr)
    return 0


def _check_url(flag: str, url: str, allow_remote: bool) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, _ = parts.hostname or "", parts.port  # .port checks the port's syntax and range
    except ValueError as exc:
        raise _Fail(f"{flag} {url!r} must be an http(s) URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise _Fail(f"{flag} {url!r} must be an http(s) URL")
    if not _is_loopback(host) and not allow_remote:
        raise _Fail(f"{flag} {url} is not on loopback; add --allow-remote to audit it anyway")


def _progress(case: Any) -> None:
    mark = {"ok": ".", "vulnerable": "V", "weak": "w", "broken": "B"}[case.verdict]
    print(mark, end="", file=sys.stderr, flush=True)


def _report(args: argparse.Namespace, report: AuditReport) -> int:
    """Print or write the report as ``--format`` says; the exit code ``--fail-on`` gives."""
    print(file=sys.stderr)
    if args.format == "json":
        text = report.to_json(args.fail_on)
    elif args.format == "junit":
        text = report.to_junit_xml(min_severity=args.fail_on)
    else:
        text = str(report)
    if args.output:
        with open(args.output, "w") as out:
            out.write(text)
    else:
        print(text)
    return 1 if report.failures(args.fail_on) else 0


def _audit(args: argparse.Namespace) -> int:
    from .drivers.consumer_audit import audit, http_verifier
    from .drivers.resource_audit import audit_resource
    from .provider import MockIdP

    _check_url("--url", args.url, args.allow_remote)
    if args.scope and not args.resource:
        raise _Fail("--scope is the scope a --resource audit asks for; add --resource, or "
                    "drop --scope")
    headers = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise _Fail(f"--header {header!r}: write NAME:VALUE")
        headers[name.strip()] = value.strip()
    options: dict[str, Any] = {"port": args.idp_port}
    if args.audience:
        options["audience"] = args.audience
    if args.alg:
        options["alg"] = args.alg[0]
    verify = http_verifier(args.url, headers=headers, expect_status=args.expect_status,
                           dpop=args.dpop)

    def run(idp: Any) -> AuditReport:
        if args.resource:
            return audit_resource(args.url, idp, scope=args.scope, progress=_progress)
        return audit(verify, idp, audience=args.audience, algorithms=args.alg or None,
                     progress=_progress, dpop=args.dpop, url=args.url)

    if args.issuer:
        remote = _remote("--issuer", args.issuer, args.control_token)
        _answering("--url", args.url)
        print(f"mockidp audit: provider {remote.issuer} -> {args.url}", file=sys.stderr)
        report = run(remote)
    else:
        provider = MockIdP(**options)
        _start(provider, "--idp-port", f" (if a mockidp serve the service trusts runs there, "
                                       f"audit through it: --issuer http://127.0.0.1:"
                                       f"{args.idp_port})")
        with provider:
            _answering("--url", args.url)
            print(f"mockidp audit: provider {provider.issuer} -> {args.url}", file=sys.stderr)
            report = run(provider)
    return _report(args, report)


def _audit_login(args: argparse.Namespace) -> int:
    """The sign-in audit over HTTP: a provider on ``--idp-port`` that signs the default user
    in without a page, the app's client registered in it, a cookie session per sign-in."""
    from .core.login_faults import get
    from .drivers.login_audit import SignedInCheck, audit_login, http_login
    from .provider import MockIdP

    _check_url("--start", args.start, args.allow_remote)
    check = SignedInCheck(args.signed_in)
    faults = [str(get(name)) for name in args.fault] or None
    provider = MockIdP(port=args.idp_port)
    _start(provider, "--idp-port")
    with provider:
        client = provider.clients.default
        if args.client_id and args.client_id != client.client_id:
            client = provider.clients.add(args.client_id, args.client_secret)
        elif args.client_secret:
            raise _Fail("--client-secret needs --client-id: the default client's secret is "
                        f"{client.client_secret}")
        _answering("--start", args.start)
        print(f"mockidp audit-login: provider {provider.issuer}, client {client.client_id} "
              f"-> {args.start}", file=sys.stderr)
        report = audit_login(http_login(args.start, check), provider, client, faults=faults,
                             progress=_progress)
    return _report(args, report)


def _faults(args: argparse.Namespace) -> int:
    from .core import dpop, faults, login_faults

    if args.markdown:  # the docs/faults.md page: every catalog, or the sign-in one alone
        print(login_faults.markdown() if args.login else
              f"{faults.markdown()}\n{dpop.markdown()}\n{login_faults.markdown()}")
        return 0
    if args.dpop:
        for entry in dpop.DPOP_FAULTS.values():
            severity = "accept" if entry.must_accept else entry.severity
            print(f"{entry:<16}  {severity:<9}  {entry.description}  ({entry.reference})")
        return 0
    entries = login_faults.LOGIN_FAULTS if args.login else faults.FAULTS
    width = max(map(len, entries))
    for severity in faults.SEVERITIES:
        for fault in (f for f in entries.values() if f.severity == severity):
            print(f"{fault:<{width}}  {severity:<9}  {fault.description}  ({fault.reference})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import MockIdPError

    args = _parser().parse_args(argv)
    command = {"serve": _serve, "token": _token, "audit": _audit, "audit-login": _audit_login,
               "faults": _faults}[args.command]
    try:
        return command(args)
    except (_Fail, MockIdPError) as exc:
        from .web.app import printable

        # one line, whatever the error; and no control character from what a remote
        # provider answered (RemoteIdP's errors quote its error_description)
        message = printable(" ".join(str(exc).split()))
        print(f"mockidp: error: {message}", file=sys.stderr)
        return 2
