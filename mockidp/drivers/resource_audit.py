"""The protected-resource audit: what the MCP authorization spec and RFC 9728 require of a
resource server, checked against a running one over HTTP, each check a verdict with a
severity in the consumer audit's report (:class:`~mockidp.AuditReport`).

The checks: protected-resource metadata at ``/.well-known/oauth-protected-resource`` (RFC
9728 §3) naming the resource and this provider; a 401 with a ``WWW-Authenticate`` challenge
carrying ``resource_metadata`` (§5.1, MCP "Authorization Server Location"); a valid token for
the resource accepted; a token for another resource (wrong ``aud``) refused, never passed
through (MCP "Token Passthrough", RFC 8707); a token without the needed scope answered 403
``insufficient_scope`` naming the scope (RFC 6750 §3.1); then every bearer-token fault of the
catalog (:func:`~mockidp.audit`), minted for the resource."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..core.fetch import FETCH_LIMIT
from ..errors import ConfigurationError
from .consumer_audit import AuditCase, AuditReport, audit, http_verifier

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..provider import MockIdP
    from .remote import RemoteIdP

__all__ = ["audit_resource", "metadata_url"]

#: The resource another token is for, in the wrong-audience check.
OTHER_RESOURCE = "https://mockidp.invalid/another-resource"
_WELL_KNOWN = "/.well-known/oauth-protected-resource"


def metadata_url(resource: str) -> str:
    """RFC 9728 §3.1: the well-known suffix inserted between the host and the resource's path
    (``https://host/.well-known/oauth-protected-resource/mcp`` for ``https://host/mcp``)."""
    parts = urlsplit(resource)
    return urlunsplit(parts._replace(path=_WELL_KNOWN + parts.path.rstrip("/"), query=""))


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read(FETCH_LIMIT)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read(FETCH_LIMIT)


def _check(name: str, problem: str | None, description: str, reference: str, severity: Any,
           check: str, evidence: str = "") -> AuditCase:
    """A check as an audit case: a problem found is an accepted fault (its verdict follows
    the severity); none found is ok, with the evidence as its note."""
    return AuditCase(name, "fault", problem is not None, None if problem else evidence,
                     description, reference, severity, check, problem or "")


def _metadata_case(resource: str, issuer: str) -> AuditCase:
    url = metadata_url(resource)
    status, _, body = _get(url)
    problem: str | None = None
    try:
        document = json.loads(body) if status == 200 else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        problem = f"GET {url} answered {status} without a JSON object"
    elif document.get("resource") != resource:
        problem = f"its resource is {document.get('resource')!r}, not {resource!r} (§3.3)"
    elif issuer not in (document.get("authorization_servers") or []):
        problem = f"authorization_servers {document.get('authorization_servers')!r} do not " \
                  f"name {issuer}"
    return _check("resource-metadata", problem, "protected-resource metadata naming the "
                  "resource and this authorization server", "RFC 9728 §3, §3.3; MCP "
                  "authorization: authorization server location", "high",
                  "serve /.well-known/oauth-protected-resource with resource and "
                  "authorization_servers", f"{url} names {issuer}")


def _challenge_case(resource: str) -> AuditCase:
    status, headers, _ = _get(resource)
    challenge = next((v for k, v in headers.items() if k.lower() == "www-authenticate"), "")
    problem = None
    if status != 401:
        problem = f"a request without a token got {status}, not 401"
    elif not challenge.lower().startswith("bearer") or "resource_metadata=" not in challenge:
        problem = f"WWW-Authenticate {challenge!r} has no Bearer resource_metadata"
    return _check("resource-metadata-challenge", problem, "a 401 whose WWW-Authenticate "
                  "carries resource_metadata", "RFC 9728 §5.1; RFC 6750 §3", "high",
                  "answer 401 with WWW-Authenticate: Bearer resource_metadata=\"...\"",
                  challenge)


def _scope_case(idp: MockIdP | RemoteIdP, resource: str, scope: str) -> AuditCase:
    token = idp.token(aud=resource, scope="mockidp:unrelated", typ="at+jwt")
    status, headers, _ = _get(resource, token)
    challenge = next((v for k, v in headers.items() if k.lower() == "www-authenticate"), "")
    problem = None
    if status != 403:
        problem = f"a token without scope {scope!r} got {status}, not 403"
    elif 'error="insufficient_scope"' not in challenge or "scope=" not in challenge:
        problem = f"WWW-Authenticate {challenge!r} lacks error=\"insufficient_scope\" and scope"
    return _check("insufficient-scope", problem, "a token without the needed scope",
                  "RFC 6750 §3.1; MCP authorization: scope challenge", "high",
                  "answer 403 with error=\"insufficient_scope\" and the scope needed",
                  challenge)


def audit_resource(url: str, idp: MockIdP | RemoteIdP, *, resource: str | None = None,
                   scope: str | None = None, faults: Sequence[str] | None = None
                   ) -> AuditReport:
    """Audit the protected resource at ``url`` (see the module docstring) that trusts
    ``idp``. ``resource`` is its identifier (default: ``url``), the ``aud`` of the tokens;
    ``scope`` the scope it needs, if any (then the insufficient-scope check runs and the
    tokens carry it); ``faults`` limits the catalog run (default: all)."""
    resource = resource if resource is not None else url
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigurationError(f"audit_resource() takes the resource's http(s) URL, not "
                                 f"{url!r}")
    issuer = idp.issuer
    claims = {"scope": scope} if scope else {}
    cases = [_metadata_case(resource, issuer), _challenge_case(url)]
    verify = http_verifier(url)
    cases.extend(audit(verify, idp, audience=resource, typ="at+jwt", faults=faults,
                       claims=claims))
    other = idp.token(aud=OTHER_RESOURCE, typ="at+jwt", claims=claims)
    status, _, _ = _get(url, other)
    cases.append(_check(
        "token-for-another-resource", f"accepted with {status}" if status < 400 else None,
        "a token of this provider for another resource (aud)", "RFC 8707 §2; MCP "
        "authorization: token audience binding, token passthrough", "critical",
        "accept only tokens whose aud is this resource", f"refused with {status}"))
    if scope:
        cases.append(_scope_case(idp, url, scope))
    return AuditReport(cases)
