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

__all__ = [
    "MalformedJWS",
    "b64url_decode",
    "b64url_encode",
    "dumps",
    "jti_and_exp",
    "parse_compact",
    "sign_compact",
    "sign_encoded",
    "signing_input",
]


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


def sign_encoded(encoded_header: bytes, payload: Mapping[str, Any], signer: Any, key: Any
                 ) -> str:
    """:func:`sign_compact` for a header already serialized and encoded (the hot path)."""
    message = encoded_header + b"." + b64url_encode(dumps(payload))
    return (message + b"." + b64url_encode(signer.sign(message, key))).decode("ascii")


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


class MalformedJWS(ValueError):
    """The text is not a compact JWS with a JSON header and payload."""


def parse_compact(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Split a compact JWS into (header, payload, signing input, signature) without verifying.

    Raises :class:`MalformedJWS` on anything but three base64url segments of JSON objects,
    including JSON nested deeper than the decoder goes: that ``RecursionError`` comes from
    text anyone can send (a bearer token, an assertion), so it is the sender's error, not the
    provider's (RFC 6750 §3.1 ``invalid_token``, RFC 6749 §5.2).
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJWS(f"a compact JWS has 3 segments, this has {len(parts)}")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeError) as exc:
        raise MalformedJWS(f"undecodable segment: {exc}") from None
    except RecursionError:
        raise MalformedJWS("undecodable segment: JSON nested too deep") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise MalformedJWS("header and payload must be JSON objects")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def jti_and_exp(token: str) -> tuple[str, float] | None:
    """The ``jti`` and ``exp`` of a token the provider issued (read, not verified), or
    ``None`` when a hook or fault left it without them: what remembering a token until it
    expires needs."""
    try:
        claims = parse_compact(token)[1]
    except (MalformedJWS, UnicodeError):
        return None
    jti, exp = claims.get("jti"), claims.get("exp")
    if isinstance(jti, str) and isinstance(exp, int | float) and not isinstance(exp, bool):
        return jti, float(exp)
    return None
