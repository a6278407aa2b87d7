"""Authentication requirements of an authorization request (OIDC Core §3.1.2.1, §5.5): the
``acr`` asked for (``acr_values``, or ``acr`` in the ``claims`` parameter, essential or
voluntary), ``max_age``, and what the sign-in achieved.

The achieved ``acr`` / ``amr`` come from the sign-in: ``idp.users.next_login(acr=...,
amr=[...])`` or the login page's fields; without either, the user is taken to have done what
was asked (the first ``acr`` requested) — a test provider steps up when asked. An essential
``acr`` the sign-in did not achieve is ``unmet_authentication_requirements`` (OpenID Connect
Core Unmet Authentication Requirements 1.0 §2); a voluntary one is only reported in the
token's ``acr`` (§5.5.1.1). ``acr``, ``amr`` and ``auth_time`` go into the ID token and the
access token (RFC 9068 §2.2.1 lists them for access tokens too)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .claims_request import requested_values
from .responses import OAuthError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.flows import Grant

__all__ = ["achieved_claims", "max_age", "requested_acr"]

#: ``max_age``: seconds as ASCII digits, few enough to be a time.
_SECONDS = re.compile(r"[0-9]{1,10}")


def requested_acr(params: Mapping[str, str], claims: Mapping[str, Any]
                  ) -> tuple[tuple[str, ...], bool]:
    """The ``acr`` values asked for, most preferred first, and whether they are essential:
    the ``claims`` parameter's ``id_token.acr`` (``value`` / ``values``, ``essential``,
    §5.5.1.1; ``claims`` as :func:`.claims_request.claims_parameter` read it) wins over
    ``acr_values`` (§3.1.2.1, always voluntary)."""
    acr = requested_values(claims, "id_token", "acr")
    if acr is not None:
        return acr
    return tuple(params.get("acr_values", "").split()), False


def max_age(params: Mapping[str, str]) -> int | None:
    """OIDC Core §3.1.2.1 ``max_age``: a whole number of seconds, or ``None``."""
    value = params.get("max_age")
    if value is None:
        return None
    if not _SECONDS.fullmatch(value):  # ASCII digits: str.isdigit takes "²" and "٣" too
        raise OAuthError("invalid_request", f"max_age must be a whole number of seconds "
                         f"(at most 10 digits), not {value[:40]!r}")
    return int(value)


def achieved_claims(grant: Grant, claims: Mapping[str, Any] | None) -> dict[str, Any]:
    """The sign-in's extra claims with the ``acr`` achieved (see the module docstring);
    ``unmet_authentication_requirements`` if an essential one was not."""
    result = dict(claims or {})
    if "acr" not in result and grant.acr_values:
        result["acr"] = grant.acr_values[0]
    if grant.acr_essential and result.get("acr") not in grant.acr_values:
        raise OAuthError("unmet_authentication_requirements", f"the sign-in achieved acr "
                         f"{result.get('acr')!r}, not one of the essential "
                         f"{', '.join(grant.acr_values)}")
    return result
