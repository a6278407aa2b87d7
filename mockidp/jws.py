"""Compact JWS serialization (RFC 7515 §7.1), assembled by hand around PyJWT's signers.

PyJWT's ``jwt.encode`` validates claims and lets the header's ``alg`` pick the signer, which is
right for a production issuer and wrong for a test authority: the fault lab must be able to sign
a header that lies about its algorithm, an ``exp`` that is a string, or bytes that are not JSON at
all. So the header and payload are serialized here and only the signature comes from PyJWT's
algorithm objects (``sign`` on cryptography key objects, never on key text, which would re-parse
the key on every token).
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["b64url_decode", "b64url_encode", "dumps", "sign_compact", "signing_input"]


def b64url_encode(data: bytes) -> bytes:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(data: str | bytes) -> bytes:
    if isinstance(data, str):
        data = data.encode("ascii")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def dumps(obj: Mapping[str, Any]) -> bytes:
    """Compact JSON, the form every JOSE library emits."""
    return json.dumps(obj, separators=(",", ":")).encode()


def signing_input(header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes) -> bytes:
    """``BASE64URL(header) '.' BASE64URL(payload)``; raw bytes are taken as already serialized."""
    head = header if isinstance(header, bytes) else dumps(header)
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return b64url_encode(head) + b"." + b64url_encode(body)


def sign_compact(
    header: Mapping[str, Any] | bytes,
    payload: Mapping[str, Any] | bytes,
    signer: Any,
    key: Any,
) -> str:
    """A compact JWS signed by ``signer`` (a PyJWT algorithm object) with ``key``."""
    message = signing_input(header, payload)
    signature = signer.sign(message, key)
    return (message + b"." + b64url_encode(signature)).decode("ascii")
