"""Claim defaults and minting of access tokens and ID tokens.

The defaults are chosen so that every mainstream consumer accepts a token unchanged: header
``alg``, ``kid``, ``typ``; claims ``iss``, ``sub``, ``aud``, ``exp``, ``iat``, ``nbf``, ``jti``.
A ``None`` in ``claims`` or ``headers`` removes that member, which is how a test asks for a token
without, say, ``exp`` or ``kid``.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import ConfigurationError, InvalidTokenError
from . import faults
from .faults import Attacker, Draft
from .flows import TokenContext
from .jws import (
    MalformedJWS,
    b64url_encode,
    dumps,
    parse_compact,
    sign_compact,
    sign_encoded,
)
from .profiles import ClaimContext

if TYPE_CHECKING:
    from .clock import Clock
    from .directory import Client, Clients, User, Users
    from .dpop import DPoPKey
    from .keys import Key, KeyRing
    from .profiles import Profile

__all__ = ["Audience", "IdTokenOptions", "Minter", "TokenOptions"]

Audience = str | Sequence[str]


class TokenOptions(TypedDict, total=False):
    """The keyword options of an access token: ``idp.token()``, ``RemoteIdP.token()`` and the
    control API's ``POST /token`` all take exactly these (with ``claims``). Defaults: ``sub``
    the default user, ``aud`` the provider's audience, ``alg`` the default algorithm,
    ``expires_in`` 3600 seconds, ``typ`` ``"JWT"``. ``dpop``, a holder key
    (``idp.dpop_key()``) or its thumbprint, binds the token to it (``cnf.jkt``, RFC 9449
    §6.1)."""

    sub: str | None
    aud: Audience | None
    scope: str | Sequence[str] | None
    alg: str | None
    kid: str | None
    expires_in: float | timedelta
    headers: Mapping[str, Any] | None
    client_id: str | None
    typ: str | None
    fault: str | None
    dpop: DPoPKey | str | None


class IdTokenOptions(TypedDict, total=False):
    """The keyword options of an ID token (``idp.id_token()`` and its drivers). ``aud``
    defaults to the default client's id; ``access_token`` and ``code`` add ``at_hash`` and
    ``c_hash``; ``auth_time`` defaults to now."""

    sub: str | None
    aud: Audience | None
    nonce: str | None
    alg: str | None
    kid: str | None
    expires_in: float | timedelta
    headers: Mapping[str, Any] | None
    access_token: str | None
    code: str | None
    auth_time: float | None
    fault: str | None

#: A token lifetime beyond a century either way is a mistake, not a test case.
MAX_LIFETIME = 100 * 365.25 * 24 * 3600


def _seconds(expires_in: float | timedelta) -> float:
    if isinstance(expires_in, timedelta):
        expires_in = expires_in.total_seconds()
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) \
            or not math.isfinite(expires_in) or abs(expires_in) > MAX_LIFETIME:
        raise ConfigurationError(
            f"expires_in must be seconds (a finite int or float, at most {MAX_LIFETIME:.0f} "
            f"either way) or a timedelta, not {expires_in!r}"
        )
    return expires_in


def _merge(base: dict[str, Any], extra: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    if extra is None:
        return base
    if not isinstance(extra, Mapping):
        raise ConfigurationError(f"{what} must be a dict, not {type(extra).__name__}")
    for name, value in extra.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def _text(name: str, value: Any) -> Any:
    """``value`` if it is ``None`` or a string; a ConfigurationError naming ``name`` if not."""
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, not {value!r}")
    return value


def _strings(name: str, value: Any) -> str | list[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigurationError(f"{name} must be a string or a list of strings, not {value!r}")


def _scope(scope: str | Sequence[str]) -> str:
    value = _strings("scope", scope)
    return value if isinstance(value, str) else " ".join(value)


def _audience(aud: Audience) -> str | list[str]:
    value = _strings("aud", aud)
    if not value:
        raise ConfigurationError("aud must name at least one audience; for a token without "
                                 "aud, pass claims={'aud': None}")
    return value


def _not_json(exc: Exception) -> ConfigurationError:
    if isinstance(exc, ConfigurationError):
        return exc
    return ConfigurationError(f"claims and headers must be JSON values (str, int, float, bool, "
                              f"None, lists and dicts of them): {exc}")


#: How many of the latest tokens a minter keeps (:attr:`Minter.minted`): enough for the pytest
#: plugin to show what a failing test was given, and bounded, as `mockidp serve` mints for days.
MINTED_LIMIT = 20


class Minter:
    """Makes signed JWTs from the provider's keys, clock, users and clients."""

    def __init__(
        self,
        keys: KeyRing,
        clock: Clock,
        users: Users,
        clients: Clients,
        issuer: Callable[[], str],
        audience: Callable[[], Audience],
        url_for: Callable[[str], str],
        profile: Profile | None = None,
        profile_options: Mapping[str, str] | None = None,
    ) -> None:
        self.keys = keys
        #: Default claims of the provider this one looks like (``None``: generic).
        self.profile = profile if profile is not None and profile.name != "generic" else None
        self._profile_options = profile_options or {}
        self.clock = clock
        self.users = users
        self.clients = clients
        self.attacker = Attacker()
        self._issuer = issuer
        self._audience = audience
        self._url_for = url_for
        self._headers: dict[tuple[str, str, str | None], bytes] = {}
        #: Functions that shape each token before it is signed (``idp.on_token``): a test's
        #: state, cleared by a reset.
        self.hooks: list[Callable[[TokenContext], object]] = []
        #: The same, from the configuration (the config file's ``[[rules]]``): they run before
        #: the hooks and a reset keeps them.
        self.rules: list[Callable[[TokenContext], object]] = []
        #: The latest tokens minted, oldest first, for the report of a failing test: kept as
        #: the compact strings (an append costs nothing; decoding waits until a test fails).
        self.minted: deque[str] = deque(maxlen=MINTED_LIMIT)

    def select_key(self, alg: str | None, kid: str | None) -> Key:
        """The key named by ``kid`` (in any state, revoked included), else the active key of
        ``alg`` (default: the ring's default algorithm)."""
        if kid is None:
            return self.keys.ensure_active(alg or self.keys.default_alg)
        key = self.keys[kid]
        if alg is not None and alg != key.alg:
            raise ConfigurationError(
                f"key {kid!r} signs {key.alg}, not {alg}; drop alg= or pick a {alg} key"
            )
        return key

    def sign(
        self,
        key: Key,
        header: dict[str, Any],
        claims: dict[str, Any],
        fault: str | None = None,
    ) -> str:
        """The compact JWS; with ``fault``, the token that fault makes of the same parts."""
        if fault is None:
            return sign_compact(header, claims, key.algorithm.signer, key.signing_key)
        draft = Draft(header, claims, key, self.keys, self.attacker, self._url_for)
        return faults.get(fault).build(draft)

    def header(self, key: Key, typ: str | None, headers: Mapping[str, Any] | None
               ) -> dict[str, Any]:
        base = {"alg": key.alg, "kid": key.kid}
        if typ is not None:  # typ=None: a header without typ
            base["typ"] = typ
        return _merge(base, headers, "headers")

    def access_claims(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        sub: str | None = None,
        aud: Audience | None = None,
        scope: str | Sequence[str] | None = None,
        client_id: str | None = None,
        expires_in: float | timedelta = 3600,
        typ: str | None = "JWT",
        dpop: DPoPKey | str | None = None,
    ) -> dict[str, Any]:
        _text("typ", typ)
        _text("sub", sub)
        _text("client_id", client_id)
        now = int(self.clock.time())
        body: dict[str, Any] = {
            "iss": self._issuer(),
            "sub": sub if sub is not None else self.users.default.sub,
            "aud": _audience(aud if aud is not None else self._audience()),
            "exp": now + int(_seconds(expires_in)),
            "iat": now,
            "nbf": now,
            "jti": os.urandom(16).hex(),
        }
        if (typ or "").lower() in ("at+jwt", "application/at+jwt") and client_id is None:
            client_id = self.clients.default.client_id  # RFC 9068 §2.2 requires it
        if client_id is not None:
            body["client_id"] = client_id
        if scope is not None:
            body["scope"] = _scope(scope)
        if dpop is not None:
            jkt = dpop if isinstance(dpop, str) else getattr(dpop, "jkt", None)
            if not isinstance(jkt, str) or not jkt:
                raise ConfigurationError(f"dpop takes a key of idp.dpop_key() or its "
                                         f"thumbprint, not {dpop!r}")
            body["cnf"] = {"jkt": jkt}  # RFC 9449 §6.1
        if self.profile is not None:
            user = self.users.default if sub is None else self.users.get(sub)
            body = self.profile.claims("access", body, self._context(client_id, scope, user))
            if aud is not None:  # a profile may leave the default aud out, never a given one
                body["aud"] = _audience(aud)
        return _merge(body, claims, "claims")

    def _context(self, client_id: str | None, scope: str | Sequence[str] | None,
                 user: User | None) -> ClaimContext:
        return ClaimContext(
            self._profile_options, self._issuer(),
            client_id if client_id is not None else self.clients.default.client_id,
            _scope(scope).split() if scope is not None else [], user,
        )

    def access_token(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        alg: str | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        typ: str | None = "JWT",
        fault: str | None = None,
        grant_type: str | None = None,
        client: Client | None = None,
        form: Mapping[str, str] | None = None,
        **options: Any,
    ) -> str:
        """An access token: ``idp.token()``, the control API, the CLI and the token endpoint
        (which names its ``grant_type``, ``client`` and the request's ``form``) all mint
        here."""
        if fault is not None:
            faults.get(fault)  # an unknown name fails before any key is made
        key = self.select_key(alg, kid)
        body = self.access_claims(claims, typ=typ, **options)
        try:
            if headers is None and fault is None and not (self.hooks or self.rules):
                # The common case: one header per key, serialized once.
                token = sign_encoded(self.encoded_header(key, typ), body, key.algorithm.signer,
                                     key.signing_key)
            else:
                context = self._context_for("access_token", grant_type, client, body,
                                            self.header(key, typ, headers), fault, form=form)
                token = self.finish(context, key)
        except (TypeError, ValueError) as exc:
            raise _not_json(exc) from None
        self.minted.append(token)
        return token

    def finish(self, context: TokenContext, key: Key,
               plant: Callable[[TokenContext], object] | None = None) -> str:
        """The end of every token's way: the test's hooks edit it (then ``plant``, a sign-in
        fault's edit), then it is signed — by the key its header now names, if a hook changed
        the kid — or made into ``context.fault``."""
        kid = context.header.get("kid")
        for hook in (*self.rules, *self.hooks, *((plant,) if plant is not None else ())):
            hook(context)
        named = context.header.get("kid")
        if named != kid and isinstance(named, str) and named in self.keys:
            key = self.keys[named]
        return self.sign(key, context.header, context.claims, context.fault)

    def _context_for(self, kind: str, grant_type: str | None, client: Client | None,
                     body: dict[str, Any], header: dict[str, Any], fault: str | None,
                     scope: str | None = None, form: Mapping[str, str] | None = None
                     ) -> TokenContext:
        if client is None:
            named = body.get("client_id", body.get("azp"))
            client = (self.clients.get(named) if isinstance(named, str) else None) \
                or self.clients.default
        sub = body.get("sub")
        user = self.users.get(sub) if isinstance(sub, str) else None
        if scope is None:
            given = body.get("scope")
            scope = given if isinstance(given, str) else ""
        return TokenContext(kind, grant_type, client, user, scope, header, body, fault,
                            dict(form or {}))

    def encoded_header(self, key: Key, typ: str | None) -> bytes:
        """BASE64URL of the default header of ``key``, built once per key and ``typ``."""
        cache_key = (key.kid, key.alg, typ)
        encoded = self._headers.get(cache_key)
        if encoded is None:
            encoded = self._headers[cache_key] = b64url_encode(dumps(self.header(key, typ,
                                                                                None)))
        return encoded

    def id_claims(
        self,
        key: Key,
        claims: Mapping[str, Any] | None = None,
        *,
        sub: str | None = None,
        aud: Audience | None = None,
        nonce: str | None = None,
        expires_in: float | timedelta = 3600,
        auth_time: float | None = None,
        access_token: str | None = None,
        code: str | None = None,
    ) -> dict[str, Any]:
        """OIDC Core §2 ID token claims, with the user's profile (§5.1)."""
        for name, value in (("sub", sub), ("nonce", nonce), ("access_token", access_token),
                            ("code", code)):
            _text(name, value)
        if auth_time is not None and (isinstance(auth_time, bool)
                                      or not isinstance(auth_time, int | float)
                                      or not math.isfinite(auth_time)):
            raise ConfigurationError(f"auth_time must be a POSIX timestamp, not {auth_time!r}")
        user = self.users.default if sub is None else self.users.get(sub)
        now = int(self.clock.time())
        client_id = self.clients.default.client_id
        body: dict[str, Any] = {
            "iss": self._issuer(),
            "sub": sub if sub is not None else self.users.default.sub,
            "aud": _audience(aud if aud is not None else client_id),
            "exp": now + int(_seconds(expires_in)),
            "iat": now,
            "nbf": now,
            "auth_time": int(auth_time) if auth_time is not None else now,
            "jti": os.urandom(16).hex(),
        }
        first_aud = body["aud"] if isinstance(body["aud"], str) else body["aud"][0]
        body["azp"] = first_aud
        if nonce is not None:
            body["nonce"] = nonce
        # OIDC Core §3.1.3.6 / §3.3.2.11: half of the hash the signing algorithm uses.
        if access_token is not None:
            half = key.algorithm.half_hash(access_token.encode("ascii"), key.crv)
            body["at_hash"] = b64url_encode(half).decode()
        if code is not None:
            half = key.algorithm.half_hash(code.encode("ascii"), key.crv)
            body["c_hash"] = b64url_encode(half).decode()
        if user is not None:
            body.update(user.claims)
        if self.profile is not None:
            body = self.profile.claims("id", body, self._context(client_id, None, user))
            if aud is not None:
                body["aud"] = _audience(aud)
        return _merge(body, claims, "claims")

    def id_token(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        alg: str | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        fault: str | None = None,
        grant_type: str | None = None,
        client: Client | None = None,
        scope: str = "",
        form: Mapping[str, str] | None = None,
        plant: Callable[[TokenContext], object] | None = None,
        **options: Any,
    ) -> str:
        """An ID token, through the same hooks and faults as :meth:`access_token`; ``scope``
        is the grant's, for the hooks; ``plant`` is a sign-in fault's edit, after them."""
        if fault is not None:
            faults.get(fault)
        key = self.select_key(alg, kid)
        body = self.id_claims(key, claims, **options)
        try:
            context = self._context_for("id_token", grant_type, client, body,
                                        self.header(key, "JWT", headers), fault, scope, form)
            token = self.finish(context, key, plant)
        except (TypeError, ValueError) as exc:
            raise _not_json(exc) from None
        self.minted.append(token)
        return token

    def signed_userinfo(self, claims: Mapping[str, Any], client_id: str, alg: str) -> str:
        """The userinfo answer as a JWT (OIDC Core §5.3.2): the claims with ``iss`` (this
        issuer) and ``aud`` (the client) added, signed by the active key of ``alg``."""
        key = self.select_key(alg, None)
        body = {**claims, "iss": self._issuer(), "aud": client_id}
        return sign_encoded(self.encoded_header(key, "JWT"), body, key.algorithm.signer,
                            key.signing_key)

    def verify(self, token: str, *, expired_ok: bool = False) -> dict[str, Any]:
        """The claims of a token this provider signed with a published key, checked for
        ``iss``, ``exp`` and ``nbf`` on the provider's clock; :class:`InvalidTokenError`
        otherwise. This is how the provider's own endpoints (userinfo) accept tokens.

        ``expired_ok=True`` skips the time checks alone, for an ``id_token_hint`` at logout:
        OpenID Connect RP-Initiated Logout 1.0 §2 has the OP validate the hint's signature
        and issuer but accept it expired."""
        try:
            header, claims, message, signature = parse_compact(token)
        except (MalformedJWS, UnicodeError) as exc:
            raise InvalidTokenError(f"malformed token: {exc}") from None
        if "crit" in header:
            # RFC 7515 §4.1.11: a recipient that does not understand a listed extension (the
            # provider understands none, RFC 7797's b64 among them) must refuse the JWS.
            raise InvalidTokenError(f"crit names extensions this provider does not support: "
                                    f"{header['crit']!r} (RFC 7515 §4.1.11)")
        kid = header.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None or self.keys.state(key.kid) == "revoked":
            raise InvalidTokenError(f"no published key with kid {kid!r}")
        if header.get("alg") != key.alg:
            raise InvalidTokenError(f"alg {header.get('alg')!r} is not the key's {key.alg}")
        signer = key.algorithm.signer
        verifying_key = key.secret if key.secret is not None else key.public_key
        if not signer.verify(message, verifying_key, signature):
            raise InvalidTokenError("bad signature")
        if claims.get("iss") != self._issuer():
            raise InvalidTokenError(f"issuer {claims.get('iss')!r} is not this provider")
        if expired_ok:
            return claims
        now = self.clock.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
            raise InvalidTokenError("expired or without a numeric exp")
        if not isinstance(nbf, int | float) or isinstance(nbf, bool) or nbf > now:
            raise InvalidTokenError("not valid yet")
        return claims
