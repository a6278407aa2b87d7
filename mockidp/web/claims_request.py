"""The ``claims`` request parameter (OIDC Core §5.5): individual claims a client asks for in the
ID token (the ``id_token`` member) or at the userinfo endpoint (``userinfo``), in addition to
what the scopes release (§5.4).

The ID token carries every claim the user has, whatever the scope, so each claim the
``id_token`` member names is in it when the user has it, from the token endpoint and the
authorization endpoint alike. The ``userinfo`` member's claim names travel with the grant
(``Grant.userinfo_claims``) through the code and its refresh tokens, and each access token
issued under the grant is remembered by its ``jti`` until it expires
(``issuer.flows.userinfo_claims``, bounded like the other flow stores): the tokens a consumer
decodes carry no provider-private claim.

§5.5.1: ``value`` / ``values`` and ``essential`` change nothing for these claims. A claim the
user does not have is left out and the provider invents no value; essential or not, "the
Authorization Server MUST NOT generate an error when Claims are not returned ... unless
otherwise specified in the description of the specific claim". Two claims specify otherwise:
``acr`` (§5.5.1.1, :mod:`.stepup`) and ``sub`` asked for with a value in the ID token (§5.5:
no positive answer for another user, so ``login_required``). Members other than ``userinfo``
and ``id_token`` (§5.5), and members of a claim's request other than §5.5.1's, are ignored.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..core.jws import jti_and_exp
from .responses import OAuthError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.flows import Grant
    from ..core.issuer import Issuer

__all__ = ["check_subject", "claims_parameter", "remember_userinfo_claims",
           "requested_values", "subjects", "userinfo_claims", "userinfo_claims_of"]

_MEMBERS = ("userinfo", "id_token")


def claims_parameter(params: Mapping[str, str]) -> dict[str, Any]:
    """OIDC Core §5.5: a JSON object whose ``userinfo`` and ``id_token`` members are objects,
    each member of those ``null`` or an object (§5.5.1); ``invalid_request`` otherwise."""
    text = params.get("claims")
    if text is None:
        return {}
    try:
        request = json.loads(text)
    except (ValueError, RecursionError):
        raise OAuthError("invalid_request", "claims must be a JSON object (OIDC Core "
                         "§5.5)") from None
    if not isinstance(request, dict) or not all(
            isinstance(request.get(member, {}), dict) for member in _MEMBERS):
        raise OAuthError("invalid_request", "claims must be a JSON object whose userinfo and "
                         "id_token members are objects (OIDC Core §5.5)")
    for member in _MEMBERS:
        for name, wanted in request.get(member, {}).items():
            if wanted is not None and not isinstance(wanted, dict):
                raise OAuthError("invalid_request", f"claims {member}.{name} must be null or "
                                 f"an object (OIDC Core §5.5.1)")
    return request


def requested_values(request: Mapping[str, Any], member: str, name: str
                     ) -> tuple[tuple[str, ...], bool] | None:
    """The string values (``value`` / ``values``, most preferred first) asked for claim
    ``name`` of ``member`` and whether it is essential (§5.5.1), or ``None`` if the claim is
    not asked for with a request object; ``invalid_request`` for a value that is no string."""
    wanted = request.get(member, {}).get(name)
    if not isinstance(wanted, dict):
        return None
    values = wanted.get("values", [wanted["value"]] if "value" in wanted else [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise OAuthError("invalid_request", f"claims {member}.{name} values must be strings")
    return tuple(values), wanted.get("essential") is True


def userinfo_claims(request: Mapping[str, Any]) -> tuple[str, ...]:
    """The claims the ``userinfo`` member names (§5.5)."""
    return tuple(request.get("userinfo", {}))


def subjects(request: Mapping[str, Any]) -> tuple[str, ...]:
    """The subjects the ``id_token`` member's ``sub`` value(s) allow; empty: any (§5.5)."""
    found = requested_values(request, "id_token", "sub")
    return found[0] if found is not None else ()


def check_subject(grant: Grant, sub: str) -> None:
    """§5.5: with a ``sub`` value asked for in the ID token, only that user gets a positive
    answer ("MUST NOT reply with an ID Token or Access Token for a different user")."""
    if grant.subjects and sub not in grant.subjects:
        raise OAuthError("login_required", f"the request is for sub "
                         f"{' or '.join(grant.subjects)}, and {sub!r} signed in (OIDC Core "
                         f"§5.5)")


def remember_userinfo_claims(issuer: Issuer, grant: Grant, access_token: str) -> None:
    """Keep the grant's ``userinfo`` claims for ``access_token`` (by its final ``jti``, until
    its ``exp``); a token a hook or fault left without them gets the scopes' claims alone."""
    found = jti_and_exp(access_token) if grant.userinfo_claims else None
    if found is not None:
        issuer.flows.userinfo_claims.put(found[0], grant.userinfo_claims, found[1],
                                         issuer.clock.time())


def userinfo_claims_of(issuer: Issuer, jti: object) -> tuple[str, ...]:
    """The ``userinfo`` claims the grant of the access token ``jti`` asked for."""
    return (issuer.flows.userinfo_claims.get(jti) or ()) if isinstance(jti, str) else ()
