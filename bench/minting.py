"""idp.token() against jwt.encode with the same key object, side by side, per algorithm.

    python bench/minting.py
"""

from __future__ import annotations

import jwt
from _harness import rate, table

from mockidp import MockIdP

ALGS = ["RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256"]


def main() -> None:
    rows = []
    with MockIdP() as idp:
        for alg in ALGS:
            key = idp.keys.ensure_active(alg)
            payload = {"iss": idp.issuer, "sub": idp.users.default.sub, "aud": idp.audience,
                       "exp": 2_000_000_000, "iat": 1_700_000_000, "nbf": 1_700_000_000,
                       "jti": "0" * 32}

            def raw(key=key, alg=alg, payload=payload) -> None:  # type: ignore[no-untyped-def]
                jwt.encode(payload, key.signing_key, algorithm=alg, headers={"kid": key.kid})

            def ours(alg=alg) -> None:  # type: ignore[no-untyped-def]
                idp.token(alg=alg)

            baseline, measured = rate(raw), rate(ours)
            rows.append([alg, f"{measured:,.0f}", f"{baseline:,.0f}",
                         f"{measured / baseline:.2f}x"])
    table("Minting, tokens/s (median of 5 rounds)",
          ["alg", "idp.token()", "jwt.encode", "ratio"], rows)


if __name__ == "__main__":
    main()
