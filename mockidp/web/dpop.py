"""DPoP (RFC 9449) at the provider's endpoints: the proof a token request carries (§5) and the
proof that goes with a DPoP-bound access token at userinfo and introspection (§7), answered
with the errors and challenges the RFC defines. The checks themselves are the core's
(:func:`mockidp.core.dpop.check_proof`); this module reads the headers and writes the answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.dpop import DPOP_ALGS, ProofError, check_proof
from ..core.endpoints import DPoPControl
from .responses import CORS, OAuthError, quoted

if TYPE_CHECKING:
    from collections.abc import Mapping

    from werkzeug.wrappers import Request

    from ..core.directory import Client
    from ..core.issuer import Issuer

__all__ = ["CHALLENGE", "JKT", "bound_jkt", "dpop_error", "nonce_headers",
           "refuse_bound_bearer", "request_proof", "resource_proof", "token_proof"]

#: Where the token endpoint keeps the thumbprint of the request's proof key for the grant
#: that issues the tokens (``None``: no proof, Bearer tokens).
JKT = "mockidp.dpop.jkt"
#: The DPoP challenge (§7.1): the scheme and the proof algorithms taken.
CHALLENGE = f'DPoP algs="{" ".join(DPOP_ALGS)}"'
#: A browser client must be able to read the nonce (Fetch §3.2.5: not a safelisted header).
_EXPOSE = {"Access-Control-Expose-Headers": "DPoP-Nonce"}


def _nonce_required(issuer: Issuer, endpoint: str, client: Client | None) -> bool:
    control = issuer.endpoint(endpoint)
    return (issuer.require_dpop_nonce
            or (isinstance(control, DPoPControl) and control.dpop_nonce)
            or (client is not None and client.dpop_nonce))


def nonce_headers(issuer: Issuer, endpoint: str, client: Client | None = None
                  ) -> dict[str, str]:
    """``DPoP-Nonce`` with the current nonce where the endpoint (or the client) demands one:
    §8.2 lets a server hand the next nonce out with any answer, so a client need not fail
    first."""
    if not _nonce_required(issuer, endpoint, client):
        return {}
    return {"DPoP-Nonce": issuer.dpop.nonce(issuer.clock.time()), **_EXPOSE}


def token_proof(issuer: Issuer, request: Request, client: Client) -> str | None:
    """The thumbprint of the key of the token request's proof (§5), checked as §4.3 says
    for a POST to the token endpoint; ``None`` without a ``DPoP`` header, which a client
    registered with ``dpop_bound_access_tokens`` must send (§5.2). Errors are answered as
    §5 has it: 400 ``invalid_dpop_proof``, or ``use_dpop_nonce`` with a ``DPoP-Nonce``
    header (§8)."""
    if not request.headers.getlist("DPoP") and client.dpop_bound_access_tokens:
        raise OAuthError("invalid_dpop_proof", f"client {client.client_id!r} is registered "
                         "with dpop_bound_access_tokens: send a DPoP proof (RFC 9449 §5.2)")
    return request_proof(issuer, request, client, "token")


def request_proof(issuer: Issuer, request: Request, client: Client, endpoint: str
                  ) -> str | None:
    """The thumbprint of the key of the proof a POST to the authorization server's
    ``endpoint`` carries (the token endpoint, §5; the PAR endpoint, §10.1), checked as §4.3
    says with ``htu`` that endpoint's URL and the nonce rules of :func:`nonce_headers`;
    ``None`` without a ``DPoP`` header. Errors: 400 ``invalid_dpop_proof``, or
    ``use_dpop_nonce`` with a ``DPoP-Nonce`` header (§8)."""
    values = request.headers.getlist("DPoP")
    if not values:
        return None
    try:
        proof = check_proof(values, method=request.method, url=issuer.url_for(endpoint),
                            now=issuer.clock.time(), state=issuer.dpop,
                            nonce_required=_nonce_required(issuer, endpoint, client))
    except ProofError as exc:
        headers = {**CORS, **nonce_headers(issuer, endpoint, client)} \
            if exc.error == "use_dpop_nonce" else CORS
        raise OAuthError(exc.error, exc.description, 400, headers) from None
    return proof.jkt


def bound_jkt(request: Request) -> str | None:
    """The proof key's thumbprint that :func:`token_proof` found for this token request."""
    jkt: str | None = request.environ.get(JKT)
    return jkt


def dpop_error(error: str, description: str, status: int = 401,
               headers: Mapping[str, str] | None = None) -> OAuthError:
    """A refusal of a request in the DPoP scheme (§7.1): the error in the body and in a
    ``DPoP`` challenge that names the algorithms taken."""
    return OAuthError(error, description, status, {
        "WWW-Authenticate": f'{CHALLENGE}, error="{error}", '
                            f'error_description="{quoted(description)}"', **(headers or {})})


def resource_proof(issuer: Issuer, request: Request, endpoint: str, token: str,
                   claims: Mapping[str, Any]) -> None:
    """§7.1: a DPoP-bound token (``cnf.jkt``) sent as ``Authorization: DPoP`` with a proof
    for this request, its ``ath`` and its key the token's. Refusals are 401s with a DPoP
    challenge: ``invalid_token`` for a token that is not DPoP-bound, ``invalid_dpop_proof``
    for the proof, ``use_dpop_nonce`` with a ``DPoP-Nonce`` header (§9) where the endpoint
    demands nonces, or the client the token was issued to was registered with
    ``dpop_nonce``."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if not isinstance(jkt, str):
        raise dpop_error("invalid_token", "the access token is not DPoP-bound (no cnf.jkt): "
                         "send it as Bearer")
    named = claims.get("client_id", claims.get("azp"))
    client = issuer.clients.get(named) if isinstance(named, str) else None
    try:
        check_proof(request.headers.getlist("DPoP"), method=request.method,
                    url=issuer.url_for(endpoint), now=issuer.clock.time(), state=issuer.dpop,
                    access_token=token, jkt=jkt,
                    nonce_required=_nonce_required(issuer, endpoint, client))
    except ProofError as exc:
        nonce = nonce_headers(issuer, endpoint, client) if exc.error == "use_dpop_nonce" else {}
        raise dpop_error(exc.error, exc.description, headers=nonce) from None


def refuse_bound_bearer(claims: Mapping[str, Any]) -> None:
    """§7.2: a DPoP-bound token sent as a bearer token is refused (401 ``invalid_token``
    with a DPoP challenge): accepting it would undo the binding."""
    cnf = claims.get("cnf")
    if isinstance(cnf, dict) and "jkt" in cnf:
        raise dpop_error("invalid_token", "the access token is DPoP-bound (cnf.jkt): send it "
                         "as Authorization: DPoP with a DPoP proof (RFC 9449 §7.1)")
