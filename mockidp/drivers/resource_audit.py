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
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigurationError
from .consumer_audit import AuditCase, AuditReport, audit, http_verifier
from .service_http import Answer, ServiceFailure, judge, send

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

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


def _get(url: str, token: str | None = None) -> Answer:
    """The resource's answer to ``url``, with ``token`` as a bearer token; a redirect is its
    answer (:mod:`.service_http`)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return send(urllib.request.Request(url, headers=headers), timeout=10)


def _check(name: str, problem: str | None, description: str, reference: str, severity: Any,
           check: str, evidence: str = "") -> AuditCase:
    """A check as an audit case: a problem found is an accepted fault (its verdict follows
    the severity); none found is ok, with the evidence as its note."""
    return AuditCase(name, "fault", problem is not None, None if problem else evidence,
                     description, reference, severity, check, problem or "")


def _metadata_case(resource: str, issuer: str) -> AuditCase:
    url = metadata_url(resource)
    # A document, fetched as a client would: redirects followed.
    answer = send(urllib.request.Request(url), timeout=10, follow=True)
    problem: str | None = None
    try:
        document = json.loads(answer.body) if answer.status == 200 else None
    except ValueError:
        document = None
    servers = document.get("authorization_servers") if isinstance(document, dict) else None
    if not isinstance(document, dict):
        problem = f"GET {url} answered {answer.status} without a JSON object"
    elif document.get("resource") != resource:
        problem = f"its resource is {document.get('resource')!r}, not {resource!r} (§3.3)"
    elif not isinstance(servers, list):  # §2: a JSON array of issuer identifiers
        problem = f"authorization_servers {servers!r} is not a JSON array (§2)"
    elif issuer not in servers:
        problem = f"authorization_servers {servers!r} do not name {issuer}"
    return _check("resource-metadata", problem, "protected-resource metadata naming the "
                  "resource and this authorization server", "RFC 9728 §2, §3, §3.3; MCP "
                  "authorization: authorization server location", "high",
                  "serve /.well-known/oauth-protected-resource with resource and "
                  "authorization_servers", f"{url} names {issuer}")


def _challenge_case(resource: str) -> AuditCase:
    answer = _get(resource)
    challenge = answer.headers.get("WWW-Authenticate", "")
    problem = None
    if answer.status != 401:
        problem = f"a request without a token got {answer.status}, not 401"
    elif not challenge.lower().startswith("bearer") or "resource_metadata=" not in challenge:
        problem = f"WWW-Authenticate {challenge!r} has no Bearer resource_metadata"
    return _check("resource-metadata-challenge", problem, "a 401 whose WWW-Authenticate "
                  "carries resource_metadata", "RFC 9728 §5.1; RFC 6750 §3", "high",
                  "answer 401 with WWW-Authenticate: Bearer resource_metadata=\"...\"",
                  challenge)


def _scope_case(idp: MockIdP | RemoteIdP, resource: str, scope: str) -> AuditCase:
    token = idp.token(aud=resource, scope="mockidp:unrelated", typ="at+jwt")
    answer = _get(resource, token)
    challenge = answer.headers.get("WWW-Authenticate", "")
    problem = None
    if answer.status != 403:
        problem = f"a token without scope {scope!r} got {answer.status}, not 403"
    elif 'error="insufficient_scope"' not in challenge or "scope=" not in challenge:
        problem = f"WWW-Authenticate {challenge!r} lacks error=\"insufficient_scope\" and scope"
    return _check("insufficient-scope", problem, "a token without the needed scope",
                  "RFC 6750 §3.1; MCP authorization: scope challenge", "high",
                  "answer 403 with error=\"insufficient_scope\" and the scope needed",
                  challenge)


def _other_resource_case(idp: MockIdP | RemoteIdP, url: str, claims: dict[str, str]
                         ) -> AuditCase:
    """A token for another resource: refused is right; a 3xx is a refusal
    (:mod:`.service_http`); a 5xx or no answer is a failure that tells neither — the
    service may have passed the token on — so the case is broken."""
    description = "a token of this provider for another resource (aud)"
    reference = "RFC 8707 §2; MCP authorization: token audience binding, token passthrough"
    check = "accept only tokens whose aud is this resource"
    other = idp.token(aud=OTHER_RESOURCE, typ="at+jwt", claims=claims)
    try:
        answer = _get(url, other)
        judge(answer)
    except ServiceFailure as exc:
        return AuditCase("token-for-another-resource", "fault", False,
                         f"ServiceFailure: {exc} instead of a refusal: the token may have "
                         "been passed on", description, reference, None, check,
                         "the service failed instead of refusing", crashed=True)
    except PermissionError as exc:
        return _check("token-for-another-resource", None, description, reference, "critical",
                      check, f"refused: {exc}")
    return _check("token-for-another-resource", f"accepted with {answer.status}", description,
                  reference, "critical", check)


def audit_resource(url: str, idp: MockIdP | RemoteIdP, *, resource: str | None = None,
                   scope: str | None = None, faults: Sequence[str] | None = None,
                   progress: Callable[[AuditCase], object] | None = None) -> AuditReport:
    """Audit the protected resource at ``url`` (see the module docstring) that trusts
    ``idp``. ``resource`` is its identifier (default: ``url``), the ``aud`` of the tokens;
    ``scope`` the scope it needs, if any (then the insufficient-scope check runs and the
    tokens carry it); ``faults`` limits the catalog run (default: all); ``progress`` is
    called with each case as it is decided, as :func:`~mockidp.audit` does."""
    resource = resource if resource is not None else url
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigurationError(f"audit_resource() takes the resource's http(s) URL, not "
                                 f"{url!r}")
    issuer = idp.issuer
    claims = {"scope": scope} if scope else {}
    cases: list[AuditCase] = []

    def decided(case: AuditCase) -> None:
        cases.append(case)
        if progress is not None:
            progress(case)

    decided(_metadata_case(resource, issuer))
    decided(_challenge_case(url))
    audit(http_verifier(url), idp, audience=resource, typ="at+jwt", faults=faults,
          claims=claims, progress=decided)
    decided(_other_resource_case(idp, url, claims))
    if scope:
        decided(_scope_case(idp, url, scope))
    return AuditReport(cases)
