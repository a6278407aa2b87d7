"""The ``mockidp`` command: ``main(argv) -> int``, so it is tested in-process."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

__all__ = ["main"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parser() -> argparse.ArgumentParser:
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
    serve.add_argument("--alg", default="RS256", help="default signing algorithm (RS256)")
    serve.add_argument("--login", choices=("page", "auto"), default="page",
                       help="page: a login page to pick a user (default); auto: sign in the "
                            "default user without a page")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow listening on a non-loopback address")
    faults = commands.add_parser("faults", help="list the token fault catalog")
    faults.add_argument("--markdown", action="store_true",
                        help="print the catalog as the docs/faults.md page")
    return parser


def _faults(args: argparse.Namespace) -> int:
    from . import faults

    if args.markdown:
        print(faults.markdown())
        return 0
    width = max(map(len, faults.FAULTS))
    for fault in faults.FAULTS.values():
        print(f"{fault:<{width}}  {fault.description}  ({fault.reference})")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .errors import MockIdPError
    from .provider import MockIdP

    if not _is_loopback(args.host):
        if not args.allow_remote:
            print(f"mockidp: error: --host {args.host} is not a loopback address; add "
                  "--allow-remote to listen on it anyway", file=sys.stderr)
            return 2
        print("mockidp: warning: listening beyond loopback. This is a mock provider for "
              "tests: anyone who reaches it can mint tokens it signs.", file=sys.stderr)
    try:
        provider = MockIdP(host=args.host, port=args.port, alg=args.alg, login=args.login)
        provider.start()
    except MockIdPError as exc:
        print(f"mockidp: error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        print(f"mockidp {__version__} serving (a mock provider for tests, not a real IdP)")
        print(f"issuer:    {provider.issuer}")
        print(f"discovery: {provider.discovery_url}")
        print(f"jwks:      {provider.jwks_uri}", flush=True)
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        provider.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _faults(args) if args.command == "faults" else _serve(args)
