"""State of the OAuth flows between requests: authorization codes (RFC 6749 §4.1) and PKCE
(RFC 7636).

A code is a random string standing for one sign-in: who, for which client and redirect URI,
with which scope, nonce and PKCE challenge. It is single use and short-lived (RFC 6749 §4.1.2
recommends at most ten minutes; one minute here, on the provider's clock).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

__all__ = ["CODE_LIFETIME", "PKCE_METHODS", "CodeStore", "Grant", "pkce_matches"]

CODE_LIFETIME = 60.0
PKCE_METHODS = ("S256", "plain")


@dataclass(frozen=True)
class Grant:
    """What the user approved at the authorization endpoint."""

    client_id: str
    redirect_uri: str | None
    scope: str
    sub: str
    auth_time: float
    expires_at: float
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str = "plain"


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636 §4.6: does ``verifier`` answer ``challenge``?"""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(verifier.encode(), challenge.encode())


class CodeStore:
    """Issued authorization codes. Thread-safe; ``redeem`` removes a code, so each works once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, Grant] = {}

    def issue(self, grant: Grant) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = grant
        return code

    def redeem(self, code: str, now: float) -> Grant | None:
        """The grant behind ``code`` if it was issued, not yet redeemed and not expired."""
        with self._lock:
            grant = self._codes.pop(code, None)
            # Expired codes are dropped as they are met, so the store cannot grow without bound
            # from codes nobody redeems.
            for stale in [c for c, g in self._codes.items() if g.expires_at <= now]:
                del self._codes[stale]
        if grant is None or grant.expires_at <= now:
            return None
        return grant

    def clear(self) -> None:
        with self._lock:
            self._codes.clear()
