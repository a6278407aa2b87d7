"""JWT Secured Authorization Response Mode (JARM, OpenID Foundation, 2022): the
authorization response as one signed JWT in a ``response`` parameter, as FAPI 2.0 Message
Signing requires.

§2.1: the JWT carries ``iss`` (this issuer), ``aud`` (the client id), ``exp`` and the response
parameters (``code`` and ``state``, or ``error``, ``error_description`` and ``state``).
§2.3: ``query.jwt``, ``fragment.jwt`` and ``form_post.jwt`` deliver it as the plain modes do;
``jwt`` is ``query.jwt`` for the code flow and ``fragment.jwt`` for a response type with a
token in it, whose ``query.jwt`` is refused (§2.3.1: only encrypted, which is not served). It
is signed with
the provider's default key: JWE-encrypted responses are not served (discovery lists no
``authorization_encryption_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.issuer import Issuer

__all__ = ["JARM_LIFETIME", "JARM_MODES", "plain_mode", "response_jwt"]

#: §2.1: "exp" SHOULD be short; the spec recommends 10 minutes.
JARM_LIFETIME = 600
#: Each JARM mode and the plain mode that delivers its ``response`` parameter (§2.3).
JARM_MODES = {"jwt": "query", "query.jwt": "query", "fragment.jwt": "fragment",
              "form_post.jwt": "form_post"}


def plain_mode(response_mode: str) -> str:
    """How ``response_mode`` delivers its parameters: itself, or for a JARM mode its plain
    counterpart."""
    return JARM_MODES.get(response_mode, response_mode)


def response_jwt(issuer: Issuer, client_id: str, params: Mapping[str, str]) -> str:
    """The signed authorization response (§2.1) with ``params`` as claims."""
    minter = issuer.minter
    key = minter.select_key(None, None)
    now = int(issuer.clock.time())
    claims = {**params, "iss": issuer.issuer, "aud": client_id, "exp": now + JARM_LIFETIME}
    return minter.sign(key, minter.header(key, None, None), claims)
