"""The pushed authorization request endpoint (RFC 9126): a client posts its authorization
request, authenticated as at the token endpoint, and gets a one-time ``request_uri`` to send
to the authorization endpoint instead of the parameters.

§2.1: the request is validated here as the authorization endpoint would (client, redirect
URI, response type, PKCE, resources; a ``request`` object verified, RFC 9101), and must not
carry a ``request_uri``. §2.2: the answer is 201 with ``request_uri`` and ``expires_in``. §2.3:
errors are those of the token endpoint — 400 with the authorization endpoint's error codes,
401 ``invalid_client``, 405 for a method other than POST, 413 for a body too large.

RFC 9449 §10.1: a DPoP proof sent here is checked as at the token endpoint (§4.3, its
``htu`` this endpoint's URL; a nonce where the provider or the client demands one) and its
key binds the code as ``dpop_jkt`` would; a ``dpop_jkt`` naming another key is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.datastructures import MultiDict

from .authorize import authorization_grant, refuse_script_uri
from .clientauth import authenticate_client
from .dpop import nonce_headers, request_proof
from .jar import request_object_parameters
from .responses import CORS, NO_STORE, OAuthError, check_form, json_response, redirect_uri

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from ..core.issuer import Issuer

__all__ = ["PUSH_LIMIT", "pushed_authorization_request"]

#: The largest pushed request taken, in bytes of its body (413 beyond, RFC 9126 §2.3): the
#: provider keeps up to ``idp.pushed.limit`` of them for their lifetime, so each must be
#: small; a request object signed with a certificate chain is a few KiB.
PUSH_LIMIT = 64 * 1024

#: Client authentication's own parameters: not part of the authorization request.
_AUTHENTICATION = frozenset({"client_secret", "client_assertion", "client_assertion_type"})


def pushed_authorization_request(issuer: Issuer, request: Request) -> Response:
    if len(request.get_data(cache=True)) > PUSH_LIMIT:
        raise OAuthError("invalid_request", f"a pushed request may be at most {PUSH_LIMIT} "
                         "bytes (RFC 9126 §2.3)", 413)
    check_form(request)
    client = authenticate_client(issuer, request)
    form = request.form
    if "request_uri" in form:
        raise OAuthError("invalid_request", "a pushed request must not contain request_uri "
                         "(RFC 9126 §2.1)")
    signed = False
    if "request" in form:
        params, signed = request_object_parameters(issuer, client, form["request"])
    else:
        params = MultiDict([(k, v) for k, v in form.items(multi=True)
                            if k not in _AUTHENTICATION])
        params["client_id"] = client.client_id
    if client.require_signed_request_object and not signed:
        raise OAuthError("invalid_request", "this client must send a signed request object "
                         "(require_signed_request_object, RFC 9101 §10.5)")
    jkt = request_proof(issuer, request, client, "par")
    if jkt is not None:
        if params.get("dpop_jkt", jkt) != jkt:
            raise OAuthError("invalid_dpop_proof", "dpop_jkt is not the thumbprint of the "
                             "DPoP proof's key (RFC 9449 §10.1)")
        params["dpop_jkt"] = jkt
    given_uri = params.get("redirect_uri")
    refuse_script_uri(redirect_uri(client, given_uri))
    authorization_grant(issuer, params, client, given_uri)  # checked; kept as pushed
    pushed = issuer.pushed
    request_uri = pushed.push(client.client_id, params.items(multi=True), issuer.clock.time(),
                              signed=signed)
    return json_response({"request_uri": request_uri, "expires_in": pushed.lifetime}, 201,
                         {**NO_STORE, **CORS, **nonce_headers(issuer, "par", client)})
