"""The consumer audit: every catalog fault, and valid baselines, through the user's own
``verify(token)``; a verdict on each.

``verify`` returning means the token was accepted, raising means it was rejected. A fault that
was accepted is a vulnerability; a valid baseline that was rejected means the validator is
broken (or configured for another issuer, audience or algorithm). Baselines are minted to match
what the validator expects (``audience``, ``algorithms``, ``typ``), and one more comes after a
staged rotation: its key is published before the first token, as real providers do, so a
validator that caches the JWKS has had the chance to see it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from xml.sax.saxutils import escape, quoteattr

from ..core.dpop import DPOP_FAULTS
from ..core.faults import FAULTS, SEVERITIES, Severity, at_least
from ..errors import ConfigurationError, UnknownFaultError
from .dpop_audit import DPOP_URL, HttpDPoPVerifier, dpop_cases
from .service_http import ServiceFailure, judge, send

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from ..provider import MockIdP
    from .dpop_audit import CaseFields
    from .remote import RemoteIdP

__all__ = ["AuditCase", "AuditReport", "audit", "http_verifier"]

#: ok: refused a fault, or accepted a valid token; vulnerable: accepted a critical or high
#: fault; weak: accepted a hardening fault; broken: refused a valid token, or failed (5xx, no
#: answer) where only a clean answer can be judged (a check of ``audit_resource``).
Verdict = Literal["ok", "vulnerable", "weak", "broken"]


@dataclass(frozen=True)
class AuditCase:
    """One token put to the validator, and what it did."""

    name: str  # the fault's name, or "valid RS256", "valid after rotation"
    kind: Literal["fault", "baseline"]
    accepted: bool
    error: str | None  # "ExceptionType: message" when rejected
    description: str
    reference: str = ""
    #: For a fault: how bad accepting it is (``mockidp.FAULTS``), for what the validator
    #: expects; ``None`` for a baseline, or for a fault accepted harmlessly (``note`` says why).
    severity: Severity | None = None
    #: What a correct consumer does (for a fault).
    check: str = ""
    #: Why an accepted fault is no weakness here (e.g. the validator kept the last duplicate),
    #: or how a resource-exhaustion fault broke the validator.
    note: str = ""
    #: The validator did not refuse a resource-exhaustion fault cleanly: it ran out of stack or
    #: memory, or (over HTTP) answered 5xx or timed out. Without a severity (a check of
    #: ``audit_resource``, whose failure tells neither refusal nor acceptance) it is broken.
    crashed: bool = False

    @property
    def verdict(self) -> Verdict:
        if self.kind == "baseline":
            return "ok" if self.accepted else "broken"
        if self.crashed and self.severity is None:
            return "broken"
        if not (self.accepted or self.crashed) or self.severity is None:
            return "ok"
        return "weak" if self.severity == "hardening" else "vulnerable"

    @property
    def fault(self) -> str | None:
        return self.name if self.kind == "fault" else None

    def fails(self, min_severity: Severity) -> bool:
        """Whether this case fails an audit whose threshold is ``min_severity``."""
        if self.verdict == "broken":
            return True
        return self.verdict in ("vulnerable", "weak") and self.severity is not None \
            and at_least(self.severity, min_severity)


def _threshold(min_severity: str) -> Severity:
    if min_severity not in SEVERITIES:
        raise ConfigurationError(f"min_severity must be one of {', '.join(SEVERITIES)}, "
                                 f"not {min_severity!r}")
    return min_severity


class AuditReport:
    """The audit's results: iterable cases, a readable table, JSON and JUnit XML.

    ``min_severity`` (``"critical"``, ``"high"`` — the default — or ``"hardening"``) is the
    least severe accepted fault that fails the audit; a refused valid token always does."""

    #: What the audit checked: a token validator, or (``mockidp.audit_login``) a sign-in.
    subject = "token validation"
    #: What a baseline is: a valid token, or a valid sign-in.
    valid = "token"

    def __init__(self, cases: Sequence[AuditCase]) -> None:
        self.cases = tuple(cases)

    def __iter__(self) -> Iterator[AuditCase]:
        return iter(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, name: str) -> AuditCase:
        for case in self.cases:
            if case.name == name:
                return case
        raise KeyError(name)

    @property
    def vulnerabilities(self) -> list[AuditCase]:
        """Critical and high faults the validator accepted."""
        return [c for c in self.cases if c.verdict == "vulnerable"]

    @property
    def weaknesses(self) -> list[AuditCase]:
        """Hardening faults the validator accepted: defence in depth it does without."""
        return [c for c in self.cases if c.verdict == "weak"]

    @property
    def broken(self) -> list[AuditCase]:
        """Valid tokens the validator rejected, and checks the service failed."""
        return [c for c in self.cases if c.verdict == "broken"]

    def failures(self, min_severity: Severity = "high") -> list[AuditCase]:
        """The cases that fail the audit at ``min_severity``."""
        threshold = _threshold(min_severity)
        return [c for c in self.cases if c.fails(threshold)]

    @property
    def safe(self) -> bool:
        """No critical or high fault accepted, and nothing broken (no valid token refused)."""
        return not self.failures()

    def assert_safe(self, min_severity: Severity = "high") -> None:
        """Fail (``AssertionError`` with the table) when a fault of ``min_severity`` or worse
        got through, or a valid token did not."""
        if self.failures(min_severity):
            raise AssertionError(f"{self.subject} audit failed (at {min_severity}):\n{self}")

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.cases) if self.cases else 4
        lines = [f"{'case':<{width}}  {'severity':<9}  {'verdict':<10}  {'outcome':<8}  detail",
                 f"{'-' * width}  {'-' * 9}  {'-' * 10}  {'-' * 8}  {'-' * 30}"]
        for case in self.cases:
            outcome = "accepted" if case.accepted else "rejected"
            detail: str | None
            if case.kind == "baseline" and not case.accepted:
                detail = f"{case.error}; it was {case.description}"
            elif not case.accepted:
                detail = case.error
            elif case.verdict in ("vulnerable", "weak"):
                detail = f"accepted: {case.description}; a correct consumer would {case.check}"
            else:
                detail = case.note or case.description
            verdict = case.verdict.upper() if case.verdict in ("vulnerable", "broken") \
                else case.verdict
            lines.append(f"{case.name:<{width}}  {case.severity or '':<9}  {verdict:<10}  "
                         f"{outcome:<8}  {(detail or '')[:300]}")
        failed = sum(c.kind == "fault" for c in self.broken)
        lines.append(f"{len(self.vulnerabilities)} critical or high fault(s) accepted, "
                     f"{len(self.weaknesses)} hardening fault(s) accepted, "
                     f"{len(self.broken) - failed} valid {self.valid}(s) rejected, "
                     + (f"{failed} check(s) failed by the service, " if failed else "")
                     + f"{len(self.cases)} cases")
        if any(c.kind == "baseline" and not c.accepted for c in self.cases):
            lines.append(f"A valid {self.valid} was rejected: until the baselines pass, a "
                         "rejected fault may have been rejected for that same reason, not for "
                         "its own; set the audit up as the baseline's detail says.")
        return "\n".join(lines)

    def to_json(self, min_severity: Severity = "high") -> str:
        return json.dumps({
            "safe": not self.failures(min_severity),
            "min_severity": min_severity,
            "cases": [{"name": c.name, "kind": c.kind, "accepted": c.accepted,
                       "verdict": c.verdict, "severity": c.severity, "error": c.error,
                       "description": c.description, "reference": c.reference,
                       "check": c.check, "note": c.note} for c in self.cases],
        }, indent=2)

    def to_junit_xml(self, suite: str | None = None,
                     min_severity: Severity = "high") -> str:
        """JUnit XML: one testcase per case, a failure for each that fails at
        ``min_severity``; an accepted fault below it is reported in the case's output.
        ``suite`` defaults to "mockidp token audit" ("mockidp sign-in audit")."""
        suite = suite or f"mockidp {self.valid} audit"
        threshold = _threshold(min_severity)
        failures = self.failures(threshold)
        parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name={quoteattr(suite)} '
                 f'tests="{len(self.cases)}" failures="{len(failures)}">']
        for case in self.cases:
            parts.append(f"  <testcase classname=\"mockidp.audit\" name={quoteattr(case.name)}>")
            if case.verdict == "broken":
                message = f"valid {self.valid} rejected" if case.kind == "baseline" \
                    else "the service failed (5xx or no answer)"
                parts.append(f"    <failure message={quoteattr(message)}>"
                             f"{escape(case.error or case.note)}</failure>")
            elif case.verdict in ("vulnerable", "weak"):
                message = f"accepted ({case.severity}): {case.description}"
                if case in failures:
                    parts.append(f"    <failure message={quoteattr(message)}>"
                                 f"{escape(case.reference)}</failure>")
                else:
                    parts.append(f"    <system-out>{escape(message)}</system-out>")
            parts.append("  </testcase>")
        parts.append("</testsuite>")
        return "\n".join(parts) + "\n"


#: Errors that mean the validator broke rather than refused.
_CRASHES = (RecursionError, MemoryError, ServiceFailure)


def _outcome(verify: Callable[[str], Any], token: str
             ) -> tuple[bool, str | None, object]:
    try:
        returned = verify(token)
    except Exception as exc:  # any rejection counts; its type and message are the evidence
        return False, f"{type(exc).__name__}: {exc}", exc
    return True, None, returned


def audit(
    verify: Callable[..., Any],
    idp: MockIdP | RemoteIdP | None = None,
    *,
    audience: str | Sequence[str] | None = None,
    algorithms: Sequence[str] | None = None,
    typ: str | None = "JWT",
    faults: Sequence[str] | None = None,
    progress: Callable[[AuditCase], object] | None = None,
    claims: Mapping[str, Any] | None = None,
    verify_for: Callable[[str], Callable[[str], Any]] | None = None,
    dpop: bool = False,
    dpop_alg: str = "ES256",
    dpop_nonce: str | None = None,
    method: str = "GET",
    url: str | None = None,
) -> AuditReport:
    """Run the catalog (or ``faults``) and valid baselines through ``verify``.

    ``idp`` is the provider the validator trusts, in-process or a running one through
    :class:`~mockidp.RemoteIdP` (default: a provider started for the audit,
    which is of use only when ``verify`` finds its keys through the tokens' issuer).
    ``audience`` and ``algorithms`` are what the validator expects: baselines and faults are
    minted with that audience, one valid baseline per algorithm, faults with the first.
    ``claims`` go into every token (e.g. the ``nonce`` an OIDC client checks).
    ``verify_for(audience)`` — a validator for another audience, sharing whatever the service
    shares between its validators (a verification cache) — adds the case
    ``audience-cache``: a token accepted for the expected audience must still be refused for
    another one.
    The provider's keys are as they were when the audit returns.

    ``dpop=True`` audits a DPoP resource server (RFC 9449 §7): ``verify(token, proof, method,
    url)`` checks a request of ``method`` to ``url`` (default ``GET`` of
    :data:`~mockidp.drivers.dpop_audit.DPOP_URL`) that carries ``Authorization: DPoP token``
    and the ``DPoP`` header ``proof`` (``None``: none). The token faults come bound to a key
    of ``dpop_alg`` with valid proofs, then every :data:`mockidp.DPOP_FAULTS` entry with a
    valid token; ``dpop_nonce`` is the nonce the service demands, if it does (§9), which adds
    ``nonce-missing`` and ``nonce-stale``. Over HTTP (``http_verifier(url, dpop=True)``) the
    service's own ``DPoP-Nonce`` challenges are followed instead.
    """
    if not callable(verify):
        raise ConfigurationError("audit() takes the validator as a function of the token")
    if idp is None:
        from ..provider import MockIdP

        with MockIdP() as provider:
            return audit(verify, provider, audience=audience, algorithms=algorithms, typ=typ,
                         faults=faults, progress=progress, claims=claims,
                         verify_for=verify_for, dpop=dpop, dpop_alg=dpop_alg,
                         dpop_nonce=dpop_nonce, method=method, url=url)
    names = list(FAULTS) if faults is None else list(faults)
    algs = list(algorithms) if algorithms else [idp.keys.default_alg]
    aud = audience if audience is not None else idp.audience
    mint: dict[str, Any] = {"aud": aud, "typ": typ, "claims": dict(claims or {})}
    proof_cases: Callable[[], list[CaseFields]] | None = None
    if dpop:
        if verify_for is not None:
            raise ConfigurationError("verify_for is for bearer validators; drop it with dpop")
        mint["dpop"] = idp.dpop_key(dpop_alg)
        verify, proof_cases = dpop_cases(
            verify, idp, mint=mint, method=method, url=url or DPOP_URL, key=mint["dpop"],
            nonce=dpop_nonce, faults=faults, outcome=_outcome)
        names = [name for name in names if name not in DPOP_FAULTS]
    snapshot = idp.keys.snapshot()
    cases: list[AuditCase] = []

    def record(case: AuditCase) -> None:
        cases.append(case)
        if progress is not None:
            progress(case)

    try:
        for alg in algs:
            idp.keys.ensure_active(alg)
        # Publish the next key before anything is verified (a staged rotation).
        staged = idp.keys.add(algs[0], activate=False)
        ready = idp.keys.snapshot()  # each fault starts from here, whatever the last one added
        minted = f"iss {idp.issuer!r}, aud {aud!r}, typ {typ!r}"
        for alg in algs:
            accepted, error, _ = _outcome(verify, idp.token(alg=alg, **mint))
            record(AuditCase(f"valid {alg}", "baseline", accepted, error,
                             f"a valid {alg} token ({minted}; pass audience=, algorithms= "
                             "and typ= for what your validator expects)"))
        for name in names:
            fault = FAULTS.get(name)
            if fault is None:
                raise UnknownFaultError(name, FAULTS)
            accepted, error, returned = _outcome(verify,
                                                 idp.token(alg=algs[0], fault=name, **mint))
            idp.keys.restore(ready)
            severity = fault.severity_for(typ)
            note = "" if severity is not None else (
                "accepted, as any validator of plain JWTs would: only one that expects at+jwt "
                "can tell this token apart")
            crashed = fault.exhausts and isinstance(returned, _CRASHES)
            if crashed:
                # Out of memory or out of time takes the service down; a RecursionError or a
                # 5xx is one failed request, defence in depth to bound.
                exhausted = isinstance(returned, MemoryError) or (
                    isinstance(returned, ServiceFailure) and "no answer" in str(returned))
                severity = "high" if exhausted else "hardening"
                note = f"the validator broke instead of refusing: {error}"
            elif accepted and severity is not None and fault.judge is not None:
                severity, note = fault.judge(returned, severity)
            record(AuditCase(str(fault), "fault", accepted, error, fault.description,
                             fault.reference, severity, fault.check, note, crashed))
        idp.keys.activate(staged.kid)
        accepted, error, _ = _outcome(verify, idp.token(alg=algs[0], **mint))
        record(AuditCase("valid after rotation", "baseline", accepted, error,
                         "a valid token of the next key, published before the audit"))
        if verify_for is not None:
            record(_audience_cache(verify_for, idp.token(alg=algs[0], **mint), aud))
        for fields in proof_cases() if proof_cases is not None else ():
            record(AuditCase(*fields))
    finally:
        idp.keys.restore(snapshot)
    return AuditReport(cases)


#: Another audience for the audience-cache case.
OTHER_AUDIENCE = "https://mockidp.invalid/another-api"


def _audience_cache(verify_for: Callable[[str], Callable[[str], Any]], token: str,
                    audience: str | Sequence[str]) -> AuditCase:
    """One genuine token verified for its audience, then for another: a verification cache
    keyed without the audience (lua-resty-openidc#399, Envoy jwt_authn before PR #24184)
    lets the second through."""
    expected = audience if isinstance(audience, str) else audience[0]
    first, error, _ = _outcome(verify_for(expected), token)
    if not first:
        return AuditCase("audience-cache", "baseline", False, error,
                         "a valid token, verified for its own audience")
    accepted, error, _ = _outcome(verify_for(OTHER_AUDIENCE), token)
    return AuditCase(
        "audience-cache", "fault", accepted, error,
        "a token accepted for its audience, presented again where another audience is expected",
        "lua-resty-openidc#399; envoyproxy/envoy#24184; RFC 7519 §4.1.3", "high",
        "key a verification cache by token and audience, or check aud after the cache")


def http_verifier(url: str, *, headers: Mapping[str, str] | None = None,
                  expect_status: Sequence[int] = (), timeout: float = 10.0,
                  dpop: bool = False) -> Callable[..., None]:
    """A ``verify`` for :func:`audit` that sends each token as a bearer token to a running
    service: accepted when it answers ``expect_status`` (default: any 2xx). With ``dpop``,
    for ``audit(..., dpop=True)``: each request is sent as it comes, ``Authorization: DPoP``
    with its ``DPoP`` headers (:class:`~mockidp.drivers.dpop_audit.HttpDPoPVerifier`)."""
    if dpop:
        return HttpDPoPVerifier(url, headers=headers, expect_status=expect_status,
                                timeout=timeout)
    import urllib.request

    def verify(token: str) -> None:
        request = urllib.request.Request(
            url, headers={**(headers or {}), "Authorization": f"Bearer {token}"})
        judge(send(request, timeout), expect_status)

    return verify
