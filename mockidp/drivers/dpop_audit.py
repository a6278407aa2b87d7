"""The DPoP audit of a resource server (RFC 9449 §7): ``mockidp.audit(verify, idp, dpop=True)``.

``verify(token, proof, method, url)`` is the service's check of a request that carries
``Authorization: DPoP <token>`` and ``DPoP: <proof>`` (``proof`` is ``None`` when the request
has none). Every token fault goes through it bound to a holder key with a valid proof (so only
the token is wrong), then every proof fault of :data:`mockidp.DPOP_FAULTS` with a valid token,
then valid baselines; the report is the token audit's. Over HTTP (``http_verifier(url,
dpop=True)``, ``mockidp audit --dpop``) the requests are real, the faults that only HTTP can
carry (a bound token sent as Bearer, two DPoP headers) are sent too, and the service's
``DPoP-Nonce`` challenges (§9) are followed: a service that demands nonces gets them, and is
asked to refuse proofs without one or with a stale one.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ..core.dpop import DPOP_FAULTS
from ..errors import UnknownFaultError
from .service_http import Answer, ServiceFailure, judge, send

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ..core.dpop import DPoPKey
    from ..core.faults import Severity
    from ..provider import MockIdP
    from .remote import RemoteIdP

    #: An audit case as the token audit's ``AuditCase`` takes it: name, kind, accepted,
    #: error, description, reference, severity, check.
    CaseFields = tuple[str, Literal["fault", "baseline"], bool, str | None, str, str,
                       Severity | None, str]
    Outcome = tuple[bool, str | None, object]

__all__ = ["DPOP_URL", "HttpDPoPVerifier", "Request", "dpop_cases"]

#: The request a verify function is asked about when the caller names none.
DPOP_URL = "https://api.example/resource"


@dataclass(frozen=True)
class Request:
    """One protected resource request: the scheme and token of ``Authorization``, the
    ``DPoP`` header fields, the method and URL."""

    scheme: str
    token: str
    proofs: tuple[str, ...]
    method: str
    url: str


def _function_sender(verify: Callable[..., Any]) -> Callable[[Request], Any]:
    """``verify(token, proof, method, url)`` as a sender of requests with at most one proof."""
    def send(request: Request) -> Any:
        return verify(request.token, request.proofs[0] if request.proofs else None,
                      request.method, request.url)
    return send


class HttpDPoPVerifier:
    """Sends each request to a running service, for real; accepted when it answers
    ``expect_status`` (default: any 2xx). It remembers the last ``DPoP-Nonce`` the service
    gave (§9), which :func:`dpop_cases` puts in the next proofs. Also a ``verify(token,
    proof, method, url)`` of its own."""

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None,
                 expect_status: Sequence[int] = (), timeout: float = 10.0) -> None:
        self.url = url
        self._headers = dict(headers or {})
        self._expect = tuple(expect_status)
        self._timeout = timeout
        #: The nonce of the service's last ``DPoP-Nonce`` header, if it sent one.
        self.nonce: str | None = None
        #: Whether the service asked for a nonce (``use_dpop_nonce``).
        self.demands_nonce = False

    def __call__(self, token: str, proof: str | None, method: str, url: str) -> None:
        self.send(Request("DPoP", token, () if proof is None else (proof,), method, url))

    def send(self, request: Request) -> None:
        headers = {**self._headers, "Authorization": f"{request.scheme} {request.token}"}
        if len(request.proofs) == 1:
            headers["DPoP"] = request.proofs[0]
        http = urllib.request.Request(request.url, method=request.method, headers=headers)
        answer = self._raw(http, request.proofs) if len(request.proofs) > 1 \
            else send(http, self._timeout)
        nonce = answer.headers.get("DPoP-Nonce")
        if nonce:
            self.nonce = nonce
        if 'error="use_dpop_nonce"' in answer.headers.get("WWW-Authenticate", ""):
            self.demands_nonce = True
            raise PermissionError(f"HTTP {answer.status} use_dpop_nonce")
        judge(answer, self._expect)

    def _raw(self, request: urllib.request.Request, proofs: tuple[str, ...]) -> Answer:
        """A request with the ``DPoP`` field repeated, which urllib cannot send: written
        with http.client, one ``putheader`` per field."""
        import http.client as client
        from urllib.parse import urlsplit

        parts = urlsplit(request.full_url)
        connection_type = client.HTTPSConnection if parts.scheme == "https" \
            else client.HTTPConnection
        connection = connection_type(parts.netloc, timeout=self._timeout)
        try:
            connection.putrequest(request.get_method(), parts.path + (f"?{parts.query}"
                                                                      if parts.query else ""))
            for name, value in request.header_items():
                connection.putheader(name, value)
            for proof in proofs:
                connection.putheader("DPoP", proof)
            connection.endheaders()
            response = connection.getresponse()
            response.read()
            return Answer(response.status, response.headers)
        except TimeoutError:
            raise ServiceFailure(f"no answer within {self._timeout} s") from None
        except ConnectionError as exc:  # refused, reset, or closed without an answer
            raise ServiceFailure(f"no answer: {exc or type(exc).__name__}") from None
        finally:
            connection.close()


def dpop_cases(
    verify: Callable[..., Any],
    idp: MockIdP | RemoteIdP,
    *,
    mint: Mapping[str, Any],
    method: str,
    url: str,
    key: DPoPKey,
    nonce: str | None,
    faults: Sequence[str] | None,
    outcome: Callable[[Callable[[str], Any], str], Outcome],
) -> tuple[Callable[[str], Any], Callable[[], list[CaseFields]]]:
    """The token audit's verify (each token, minted with ``mint`` and so bound to ``key``,
    sent with a valid proof of ``key``), and the proof cases to run after it: every DPoP
    fault and the baselines.
    ``outcome(verify, token)`` is the token audit's: (accepted, error, what verify gave)."""

    def _outcome(send: Callable[[Request], Any], request: Request) -> Outcome:
        return outcome(lambda _: send(request), request.token)

    alg = key.alg
    http = verify if isinstance(verify, HttpDPoPVerifier) else None
    send = http.send if http is not None else _function_sender(verify)
    names = list(DPOP_FAULTS) if faults is None else [f for f in faults if f in DPOP_FAULTS]
    fixed_nonce = nonce

    def current_nonce() -> str | None:
        return http.nonce if http is not None and http.demands_nonce else fixed_nonce

    def bound_token() -> str:
        return idp.token(**mint)  # bound to key: mint["dpop"]

    def valid(token: str, target: str = url, fault: str | None = None,
              nonce: str | None = None) -> Request:
        proof = key.proof(method, target, access_token=token, nonce=nonce, fault=fault)
        return Request("DPoP", token, (proof,), method, target)

    def run(build: Callable[[str | None], Request], *, follow: bool = True
            ) -> tuple[bool, str | None, object]:
        """Send, and once more with the service's new nonce if it asked for one (§9)."""
        before = current_nonce()
        result = _outcome(send, build(before))
        if follow and not result[0] and http is not None and http.demands_nonce \
                and http.nonce != before:
            result = _outcome(send, build(http.nonce))
        return result

    def token_verify(token: str) -> Any:
        accepted, error, returned = run(lambda n: valid(token, nonce=n))
        if not accepted:
            raise returned if isinstance(returned, Exception) else PermissionError(error)
        return returned

    def cases() -> list[CaseFields]:
        found: list[CaseFields] = []
        # The baseline first: over HTTP it also learns whether the service demands nonces.
        accepted, error, _ = run(lambda n: valid(bound_token(), nonce=n))
        found.append((f"valid DPoP {alg}", "baseline", accepted, error,
                      f"a DPoP-bound token with a valid {alg} proof for {method} {url} (pass "
                      "method= and url= for the request your verify makes)", "RFC 9449 §7.1",
                      None, ""))
        for name in names:
            fault = DPOP_FAULTS.get(name)
            if fault is None:
                raise UnknownFaultError(name, DPOP_FAULTS)
            if (fault.http_only and http is None) or (fault.needs_nonce
                                                     and current_nonce() is None):
                continue
            token = bound_token()
            if fault == "jti-replay":
                first = valid(token, nonce=current_nonce())
                _outcome(send, first)
                accepted, error, _ = _outcome(send, first)
            elif fault == "htu-query":
                target = url + ("&" if "?" in url else "?") + "mockidp=1"

                def with_query(n: str | None, t: str = token, u: str = target) -> Request:
                    return valid(t, u, nonce=n)
                accepted, error, _ = run(with_query)
            elif fault in ("missing-proof", "bearer-downgrade"):
                scheme = "Bearer" if fault == "bearer-downgrade" else "DPoP"
                accepted, error, _ = _outcome(send, Request(scheme, token, (), method, url))
            elif fault == "two-proofs":
                def twice(n: str | None, t: str = token) -> Request:
                    one, other = valid(t, nonce=n), valid(t, nonce=n)
                    return replace(one, proofs=(*one.proofs, *other.proofs))
                accepted, error, _ = run(twice)
            else:
                def faulty(n: str | None, t: str = token, f: str = name) -> Request:
                    return valid(t, fault=f, nonce=n)
                accepted, error, _ = run(faulty, follow=not fault.needs_nonce)
            found.append((str(fault), "baseline" if fault.must_accept else "fault", accepted,
                          error, fault.description, fault.reference,
                          None if fault.must_accept else fault.severity, fault.check))
        return found

    return token_verify, cases
