"""The response types of OIDC Core §3.2 (implicit) and §3.3 (hybrid): which the authorization
endpoint serves, what a request for one must carry, and the tokens it then returns itself.

OAuth 2.0 Multiple Response Type Encoding Practices §5: a response type with a token in it is
answered in the fragment by default, and never in the query (§2.1: tokens in a query end up
in logs and ``Referer`` headers). OIDC Core §3.2.2.1 and §3.3.2.11 (and the conformance suite's
``oidcc-ensure-request-without-nonce-fails``): an ID token from the authorization endpoint
needs a ``nonce``. RFC 7591 §2 names the grant a client needs: ``implicit`` for a token or
ID token from the authorization endpoint, ``authorization_code`` for a code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import login_faults
from ..core.directory import served_response_types
from .claims_request import remember_userinfo_claims
from .responses import OAuthError
from .token import TOKEN_LIFETIME, id_token

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.directory import Client
    from ..core.flows import Grant
    from ..core.issuer import Issuer

__all__ = ["check", "default_mode", "parse", "served", "tokens"]

#: What leaves the authorization endpoint in the browser besides a code.
_TOKENS = frozenset({"token", "id_token"})


def served(issuer: Issuer) -> tuple[str, ...]:
    """The response types the authorization endpoint serves (and discovery lists): all of
    :data:`~mockidp.core.directory.RESPONSE_TYPES`, or ``code`` alone under a profile that
    is ``code_only`` (OAuth 2.1 has no implicit grant)."""
    return served_response_types(issuer.profile.code_only)


def parse(issuer: Issuer, response_type: str | None) -> frozenset[str]:
    """The values of ``response_type`` (RFC 6749 §3.1.1: space-delimited, order does not
    matter), if it is one served; ``unsupported_response_type`` otherwise (§4.1.2.1)."""
    if not response_type:
        raise OAuthError("invalid_request", "response_type is required")
    values = response_type.split(" ")
    given = frozenset(values)
    types = served(issuer)
    if len(given) != len(values) or given not in {frozenset(t.split()) for t in types}:
        raise OAuthError("unsupported_response_type", f"response_type {response_type!r} is "
                         f"not served; use one of: {', '.join(types)}")
    return given


def default_mode(response_type: str | None) -> str:
    """Where the answer (an error too) goes unless ``response_mode`` says otherwise: the query
    for ``code``, the fragment for any response type with a token in it (Multiple Response
    Types §5), even one not served."""
    return "fragment" if _TOKENS & set((response_type or "").split()) else "query"


def check(types: frozenset[str], params: Mapping[str, str], client: Client) -> None:
    """What a request for ``types`` must carry, and who may make it."""
    if "id_token" in types and not params.get("nonce"):
        raise OAuthError("invalid_request", "nonce is required when the authorization "
                         "endpoint returns an ID token (OIDC Core §3.2.2.1, §3.3.2.11)")
    for needed, why in (("authorization_code", "code" in types),
                        ("implicit", bool(_TOKENS & types))):
        if why and needed not in client.grant_types:
            raise OAuthError("unauthorized_client",
                             f"client {client.client_id!r} may not use {needed} "
                             f"(response_type {' '.join(sorted(types))})")


def tokens(issuer: Issuer, grant: Grant, client: Client, types: frozenset[str],
           code: str | None, form: Mapping[str, str]) -> dict[str, str]:
    """The access token (RFC 6749 §4.2.2) and ID token (OIDC Core §3.2.2.5, §3.3.2.5) the
    authorization endpoint returns for ``types``; the ID token hashes the code (``c_hash``)
    and the access token (``at_hash``) it comes with (§3.3.2.11). Hooks see ``grant_type``
    ``"implicit"``, the grant name of tokens from the authorization endpoint (RFC 7591 §2)."""
    params: dict[str, str] = {}
    access = None
    if "token" in types:
        access = issuer.minter.access_token(
            grant.claims, sub=grant.sub, client_id=client.client_id,
            scope=grant.scope or None, expires_in=TOKEN_LIFETIME,
            typ=client.access_token_typ or issuer.access_token_typ, grant_type="implicit",
            client=client, form=form)
        login_faults.remember_userinfo_fault(grant.fault, access, issuer.flows.planted,
                                             issuer.clock.time())
        remember_userinfo_claims(issuer, grant, access)
        params.update(access_token=access, token_type="Bearer",
                      expires_in=str(TOKEN_LIFETIME))
        if grant.scope:
            params["scope"] = grant.scope
    if "id_token" in types:
        params["id_token"] = id_token(issuer, grant, client, "implicit", grant.scope, form,
                                      nonce=grant.nonce, access_token=access, code=code)
    return params
