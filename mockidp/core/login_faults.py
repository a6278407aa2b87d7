"""The sign-in fault catalog: each entry plants exactly one wrong thing in the next sign-in.

``idp.users.next_login(fault="id-token-wrong-nonce")`` marks the next authorization request;
the fault then travels with that sign-in's grant and changes exactly what its name says in the
one place it names — the authorization response, the token response, every ID token of the
sign-in, or the userinfo answer — while everything else stays valid. A relying party that
still signs the user in has missed precisely that check (OIDC Core §3.1.3.7, §3.2.2.11,
§3.3.2.12, §5.3.4; RFC 9207 §2.4; the OpenID Foundation's ``oidcc-client-test-*`` modules).

Where the ID token comes from decides how bad accepting a wrong one is: OIDC Core §3.1.3.7
step 6 lets a client that received it straight from the token endpoint over TLS skip the
signature, so signature faults are critical when an ID token comes through the browser
(implicit and hybrid flows, §3.2.2.11) and hardening in the code flow, as the conformance
suite grades them. ``code_flow_severity`` holds the second grade.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import UnknownLoginFaultError
from .faults import CatalogEntry, Severity, severity_sections
from .jws import b64url_encode, jti_and_exp, parse_compact, signing_input

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from typing_extensions import Self

__all__ = ["LOGIN_FAULTS", "LoginFault", "Stage", "get",
           "id_token_plant", "markdown", "plant_authorization", "plant_token_response",
           "plant_userinfo", "refusal", "remember_userinfo_fault", "seal_id_token"]

#: Where a fault is planted.
Stage = Literal["authorization", "id_token", "token", "userinfo"]
#: What a sign-in must have for a fault to reach the app (the audit reports the others as not
#: reached): a nonce or state in the request, an ID token through the browser with a code or
#: an access token, an at_hash anywhere, a code exchanged, a userinfo call, a client secret, a
#: client registered for signed userinfo answers.
Needs = Literal["", "nonce", "state", "front-code", "front-token", "at_hash", "token-endpoint",
                "userinfo", "client-secret", "signed-userinfo"]

#: Another client, another person, another issuer: what the wrong values are.
OTHER_CLIENT = "mockidp-other-client"
OTHER_SUB = "mockidp-impostor"
EVIL_ISSUER = "https://attacker.invalid"
FORGED_STATE = "mockidp-forged-state"
WRONG_NONCE = "mockidp-replayed-nonce"
#: The hash of another token: what a wrong at_hash / c_hash holds (well-formed, not this one's).
WRONG_HASH = b64url_encode(b"mockidp-other-tok").decode()[:22]
#: Markup in an error_description (RFC 6749 §4.1.2.1 allows < and >): an app that shows it
#: unescaped lets the provider — or whoever forged the redirect — run script in its origin.
MARKUP = '<img src=x onerror="alert(document.domain)" id="mockidp-markup">'
UNKNOWN_TOKEN_TYPE = "mockidp-unknown"


class TokenContext(Protocol):
    """What an ID token edit changes: a :class:`~mockidp.TokenContext`'s claims, header and
    fault (a protocol, so the catalog needs nothing of the flows or the directory)."""

    header: dict[str, Any]
    claims: dict[str, Any]
    fault: str | None


class _Store(Protocol):
    def put(self, key: str, value: str, expires_at: float, now: float | None = None
            ) -> None: ...


@dataclass(frozen=True)
class _Info:
    stage: Stage
    description: str
    reference: str
    check: str
    weakness: str
    severity: Severity
    why: str
    needs: Needs = ""
    #: The grade when the ID token came only from the token endpoint (the code flow); ``None``:
    #: accepting it there is no weakness. Defaults to :attr:`severity`.
    code_flow_severity: Severity | Literal["same"] | None = "same"
    #: ID token: edit the token before it is signed, as a token hook does (it may set
    #: ``context.fault`` to a token fault of ``mockidp.FAULTS``).
    edit: Callable[[TokenContext], object] | None = field(default=None, repr=False)
    #: ID token: make the signed token into another (HS256 keyed with the client secret).
    seal: Callable[[str, str | None], str] | None = field(default=None, repr=False)
    #: Authorization response, token response or userinfo answer: change the parameters.
    change: Callable[[dict[str, Any]], object] | None = field(default=None, repr=False)
    #: Authorization: answer with this error instead of signing in.
    error: tuple[str, str] | None = None


class LoginFault(CatalogEntry):
    """A sign-in catalog entry: an entry of :data:`LOGIN_FAULTS`, in the shape of
    :class:`~mockidp.Fault`, with where it plants its one wrong thing."""

    stage: Stage
    needs: Needs
    code_flow_severity: Severity | None
    edit: Callable[[TokenContext], object] | None
    seal: Callable[[str, str | None], str] | None
    change: Callable[[dict[str, Any]], object] | None
    error: tuple[str, str] | None
    _FIELDS = ("stage", "needs", "edit", "seal", "change", "error")

    def __new__(cls, name: str, info: _Info) -> Self:
        self = super().__new__(cls, name, info)
        code_flow = info.severity if info.code_flow_severity == "same" \
            else info.code_flow_severity
        object.__setattr__(self, "code_flow_severity", code_flow)
        return self

    def severity_for(self, front_channel: bool) -> Severity | None:
        """The grade for a sign-in whose ID token came through the browser (implicit, hybrid)
        or only from the token endpoint (``front_channel=False``)."""
        return self.severity if front_channel else self.code_flow_severity


# -- what each fault changes --------------------------------------------------------------------


def _claims(**changes: Any) -> Callable[[TokenContext], None]:
    """An ID token edit that sets claims (``None`` removes one)."""

    def edit(context: TokenContext) -> None:
        for name, value in changes.items():
            if value is None:
                context.claims.pop(name, None)
            else:
                context.claims[name] = value

    return edit


def _replace_claim(name: str, value: str) -> Callable[[TokenContext], None]:
    """Change ``name`` where the token has it (a code-flow ID token has no c_hash)."""

    def edit(context: TokenContext) -> None:
        if name in context.claims:
            context.claims[name] = value

    return edit


def _token_fault(name: str) -> Callable[[TokenContext], None]:
    """Make the ID token with the token fault ``name`` of ``mockidp.FAULTS``."""

    def edit(context: TokenContext) -> None:
        context.fault = name

    return edit


def _expired(context: TokenContext) -> None:
    """Expired an hour ago: past any clock-skew leeway a client allows (Authlib's is 120 s)."""
    claims = context.claims
    iat, exp = claims.get("iat"), claims.get("exp")
    if isinstance(iat, int) and isinstance(exp, int):
        lifetime = exp - iat
        claims["exp"] = iat - 3600
        claims["iat"] = claims["nbf"] = claims["auth_time"] = claims["exp"] - lifetime


def _issued_tomorrow(context: TokenContext) -> None:
    claims = context.claims
    iat, exp = claims.get("iat"), claims.get("exp")
    if isinstance(iat, int) and isinstance(exp, int):
        claims["iat"], claims["exp"] = iat + 86_400, exp + 86_400


def _hs256_client_secret(token: str, client_secret: str | None) -> str:
    """The ID token MACed with HS256 keyed with the client secret (OIDC Core §10.1), though
    the client registered (or defaults to) an asymmetric algorithm."""
    header, claims, _, _ = parse_compact(token)
    header = {"alg": "HS256", "typ": header.get("typ", "JWT")}
    message = signing_input(header, claims)
    secret = (client_secret or "").encode()
    signature = hmac.new(secret, message, "sha256").digest()
    return f"{message.decode()}.{b64url_encode(signature).decode()}"


def _setter(**changes: Any) -> Callable[[dict[str, Any]], None]:
    """A change of response parameters (``None`` removes one)."""

    def change(params: dict[str, Any]) -> None:
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value

    return change


def _wrong_state(params: dict[str, Any]) -> None:
    if "state" in params:
        params["state"] = FORGED_STATE


# -- the catalog --------------------------------------------------------------------------------

_SIGNATURE_WHY = ("critical where the ID token comes through the browser (OIDC Core §3.2.2.11, "
                  "§3.3.2.12: the signature MUST be checked); hardening in the code flow, where "
                  "§3.1.3.7 step 6 lets TLS to the token endpoint stand in for it")

_ENTRIES: list[tuple[str, _Info]] = [
    ("id-token-wrong-nonce", _Info(
        "id_token", "the ID token's nonce is not the one the app sent",
        "OIDC Core §3.1.3.7 step 11; oidcc-client-test-nonce-invalid",
        "compare nonce with the value stored with this sign-in",
        "pyoidc 1.7's parse_response (it leaves the nonce to the app); apps that decode the "
        "ID token without comparing it",
        "high", "a genuine ID token of another sign-in replayed into this one: MUST be refused",
        needs="nonce", edit=_claims(nonce=WRONG_NONCE))),
    ("id-token-missing-nonce", _Info(
        "id_token", "the ID token has no nonce, though the app sent one",
        "OIDC Core §3.1.3.7 step 11",
        "require a nonce claim when one was sent, and compare it",
        "apps that compare the nonce only when the claim is present",
        "high", "§3.1.3.7 step 11: if a nonce was sent, the claim MUST be present",
        needs="nonce", edit=_claims(nonce=None))),
    ("id-token-wrong-aud", _Info(
        "id_token", "aud is another client", "OIDC Core §3.1.3.7 step 3; "
        "oidcc-client-test-invalid-aud",
        "require the client's own client_id in aud",
        "mozilla-django-oidc 5 (never checks aud); requests-oauthlib (reads no ID token)",
        "high", "an ID token issued to another client MUST be refused (step 3)",
        edit=_claims(aud=OTHER_CLIENT, azp=None))),
    ("id-token-missing-aud", _Info(
        "id_token", "no aud claim", "OIDC Core §2, §3.1.3.7 step 3; "
        "oidcc-client-test-missing-aud",
        "require aud and the client's client_id in it",
        "mozilla-django-oidc 5 (never checks aud)",
        "high", "aud is REQUIRED (§2): a token for no one is for no one",
        edit=_claims(aud=None, azp=None))),
    ("id-token-untrusted-audience", _Info(
        "id_token", "aud lists the client and another audience, azp names the client",
        "OIDC Core §3.1.3.7 step 3",
        "refuse ID tokens with audiences the client does not trust",
        "Authlib, pyoidc (accept any aud that includes the client)",
        "hardening", "step 3 rejects audiences 'not trusted by the Client', which only the "
        "client can name; the token still names it and its azp",
        edit=_claims(aud=["__client__", OTHER_CLIENT]))),
    ("id-token-azp-missing", _Info(
        "id_token", "several audiences and no azp", "OIDC Core §3.1.3.7 step 4",
        "with several audiences, require azp (and refuse untrusted audiences)",
        "mozilla-django-oidc 5",
        "hardening", "step 4 is a SHOULD",
        edit=_claims(aud=["__client__", OTHER_CLIENT], azp=None))),
    ("id-token-wrong-azp", _Info(
        "id_token", "azp is another client", "OIDC Core §3.1.3.7 step 5",
        "when azp is present, require it to be the client_id",
        "mozilla-django-oidc 5",
        "hardening", "step 5 is a SHOULD: the token was issued for another party's use",
        edit=_claims(azp=OTHER_CLIENT))),
    ("id-token-wrong-iss", _Info(
        "id_token", "iss is another issuer", "OIDC Core §3.1.3.7 step 2; "
        "oidcc-client-test-invalid-iss",
        "compare iss with the provider's issuer exactly",
        "mozilla-django-oidc 5 (never checks iss)",
        "high", "step 2: the issuer MUST exactly match",
        edit=_claims(iss=EVIL_ISSUER))),
    ("id-token-expired", _Info(
        "id_token", "exp was an hour ago", "OIDC Core §3.1.3.7 step 9",
        "reject when now is past exp (with at most a few minutes' leeway)",
        "an app that decodes the ID token without verifying it",
        "high", "step 9: the current time MUST be before exp",
        edit=_expired)),
    ("id-token-issued-in-future", _Info(
        "id_token", "iat (and exp) a day in the future", "OIDC Core §3.1.3.7 step 10",
        "reject an iat too far from now", "apps that check only exp",
        "hardening", "step 10 is a MAY", edit=_issued_tomorrow)),
    ("id-token-missing-iat", _Info(
        "id_token", "no iat claim", "OIDC Core §2; oidcc-client-test-missing-iat",
        "require iat", "mozilla-django-oidc 5 (checks iat only when present)",
        "hardening", "iat is REQUIRED of the provider (§2), but no validation step of §3.1.3.7 "
        "makes the client refuse it missing; the conformance suite does",
        edit=_claims(iat=None))),
    ("id-token-missing-sub", _Info(
        "id_token", "no sub claim", "OIDC Core §2; oidcc-client-test-missing-sub",
        "require sub: it is who signed in",
        "mozilla-django-oidc 5 (signs in by the email from userinfo)",
        "high", "sub is REQUIRED (§2) and is the identity; without it the app signs in no one "
        "in particular (or whoever another claim names)",
        edit=_claims(sub=None))),
    ("id-token-alg-none", _Info(
        "id_token", "alg none, no signature", "OIDC Core §3.1.3.7 steps 6-7, §3.2.2.11; "
        "oidcc-client-test-idtoken-sig-none",
        "accept only the registered (or RS256) algorithm",
        "pyoidc 1.7 through the browser, even for a client registered for RS256; apps that "
        "decode without verifying", "critical", _SIGNATURE_WHY,
        code_flow_severity="hardening", edit=_token_fault("alg-none"))),
    ("id-token-bad-signature", _Info(
        "id_token", "the signature does not verify", "OIDC Core §3.1.3.7 step 6, §3.2.2.11; "
        "oidcc-client-test-invalid-sig-rs256",
        "verify the signature with the provider's published key",
        "an app that decodes without verifying", "critical", _SIGNATURE_WHY,
        code_flow_severity="hardening", edit=_token_fault("bad-signature"))),
    ("id-token-unknown-kid", _Info(
        "id_token", "kid names no published key", "OIDC Core §10.1; RFC 7515 §4.1.4",
        "select the key by kid, refresh the JWKS once, then refuse",
        "apps that decode without verifying", "hardening",
        "signed by the provider's own key: only the kid is wrong (as the token fault "
        "unknown-kid)", code_flow_severity="hardening", edit=_token_fault("unknown-kid"))),
    ("id-token-hs256-client-secret", _Info(
        "id_token", "HS256 keyed with the client secret, where the client registered an "
        "asymmetric algorithm", "OIDC Core §3.1.3.7 steps 7-8, §10.1; "
        "oidcc-client-test-invalid-sig-hs256",
        "accept only the registered id_token_signed_response_alg (RS256 by default)",
        "pyoidc 1.7 (takes the alg from the token header and keys HMAC with the secret)",
        "high", "anyone who holds the client secret can make such a token; where it comes "
        "through the browser it MUST be the registered algorithm",
        needs="client-secret", code_flow_severity="hardening", seal=_hs256_client_secret)),
    ("id-token-wrong-at-hash", _Info(
        "id_token", "at_hash is the hash of another access token", "OIDC Core §3.2.2.9, "
        "§3.3.2.9, §3.1.3.8; oidcc-client-test-invalid-athash",
        "compare at_hash with the hash of the access token received",
        "mozilla-django-oidc 5 (never looks at at_hash)", "high",
        "with an access token through the browser the check is a MUST (§3.2.2.9); in the code "
        "flow a MAY (§3.1.3.8)", needs="at_hash", code_flow_severity="hardening",
        edit=_replace_claim("at_hash", WRONG_HASH))),
    ("id-token-missing-at-hash", _Info(
        "id_token", "no at_hash, though an access token came with the ID token through the "
        "browser", "OIDC Core §3.2.2.10, §3.3.2.11; oidcc-client-test-missing-athash",
        "require at_hash when the authorization response carries an access token",
        "apps that check at_hash only when present", "high",
        "REQUIRED with response_type id_token token and code id_token token; OPTIONAL in the "
        "code flow", needs="front-token", code_flow_severity=None,
        edit=_claims(at_hash=None))),
    ("id-token-wrong-c-hash", _Info(
        "id_token", "c_hash is the hash of another code", "OIDC Core §3.3.2.10; "
        "oidcc-client-test-invalid-chash",
        "compare c_hash with the hash of the code received",
        "hybrid clients that never look at c_hash", "high",
        "§3.3.2.10: a hybrid client MUST check c_hash, or an injected code goes unnoticed",
        needs="front-code", code_flow_severity=None,
        edit=_replace_claim("c_hash", WRONG_HASH))),
    ("id-token-missing-c-hash", _Info(
        "id_token", "no c_hash, though the code came with the ID token", "OIDC Core §3.3.2.11; "
        "oidcc-client-test-missing-chash",
        "require c_hash in an ID token that comes with a code", "hybrid clients that check "
        "c_hash only when present", "high",
        "REQUIRED with response_type code id_token and code id_token token (§3.3.2.11)",
        needs="front-code", code_flow_severity=None, edit=_claims(c_hash=None))),
    ("response-wrong-iss", _Info(
        "authorization", "the authorization response's iss is another issuer",
        "RFC 9207 §2.4; RFC 9700 §4.4",
        "compare the response's iss with the issuer the request went to",
        "Authlib 1.9, mozilla-django-oidc 5, requests-oauthlib 2 (ignore iss in the response; "
        "pyoidc 1.7 compares it)",
        "hardening", "RFC 9207 defends against mix-up, which needs a client of several "
        "providers; a client of one cannot be mixed up",
        change=_setter(iss=EVIL_ISSUER))),
    ("response-missing-iss", _Info(
        "authorization", "the authorization response has no iss, though discovery says "
        "authorization_response_iss_parameter_supported", "RFC 9207 §2.4",
        "refuse a response without iss from a provider that sends it",
        "Authlib 1.9, pyoidc 1.7, mozilla-django-oidc 5, requests-oauthlib 2", "hardening",
        "as response-wrong-iss: a mix-up defence", change=_setter(iss=None))),
    ("response-wrong-state", _Info(
        "authorization", "the authorization response's state is not the request's",
        "RFC 6749 §10.12; OIDC Core §3.1.2.7; RFC 9700 §4.7",
        "compare state with the value bound to the user's session",
        "an app that keeps no state", "high",
        "a response to someone else's request: login CSRF signs the victim into the "
        "attacker's account", needs="state", change=_wrong_state)),
    ("error-markup", _Info(
        "authorization", "an error response whose error_description carries HTML",
        "RFC 6749 §4.1.2.1; OWASP XSS prevention",
        "refuse, and escape error_description if it is shown",
        "an app that renders error_description as HTML", "high",
        "the error_description is the provider's (or an attacker's) text: shown unescaped it "
        "runs script in the app's origin",
        error=("access_denied", f"The user refused. {MARKUP}"))),
    ("token-response-without-id-token", _Info(
        "token", "the token response has no id_token", "OIDC Core §3.1.3.3",
        "refuse an OpenID Connect sign-in without an ID token",
        "pyoidc 1.7 in the hybrid flow; requests-oauthlib (no ID token at all)", "high",
        "id_token is REQUIRED in the response: without it nothing says who authenticated, "
        "or for which client", needs="token-endpoint", change=_setter(id_token=None))),
    ("token-type-unknown", _Info(
        "token", "token_type is neither Bearer nor DPoP", "RFC 6749 §7.1, §5.1",
        "refuse to use an access token of a type it does not understand",
        "pyoidc 1.7, mozilla-django-oidc 5 (send it as a Bearer token anyway)", "high",
        "§7.1: the client MUST NOT use such a token; no finding if the app never uses it",
        needs="token-endpoint", change=_setter(token_type=UNKNOWN_TOKEN_TYPE))),
    ("userinfo-wrong-sub", _Info(
        "userinfo", "userinfo's sub differs from the ID token's", "OIDC Core §5.3.4; "
        "oidcc-client-test-userinfo-invalid-sub",
        "compare userinfo's sub with the ID token's and discard the answer if they differ",
        "mozilla-django-oidc 5, Authlib's userinfo(), requests-oauthlib (no ID token to "
        "compare with)", "high", "§5.3.4: the values MUST NOT be used; otherwise the app signs in "
        "whoever the answer names", needs="userinfo", change=_setter(sub=OTHER_SUB))),
    ("userinfo-unsigned", _Info(
        "userinfo", "plain JSON from userinfo, though the client registered "
        "userinfo_signed_response_alg", "OIDC Core §5.3.2; OIDC Registration §2; "
        "oidcc-client-test-userinfo-signed",
        "require a JWT signed with the registered algorithm",
        "pyoidc 1.7 (parses whatever content type comes back)", "high",
        "the client asked for signed claims; unsigned ones are unverified",
        needs="signed-userinfo")),
]

#: Every sign-in fault, by name. Iterating gives :class:`LoginFault` objects.
LOGIN_FAULTS: Mapping[str, LoginFault] = {
    f: f for f in (LoginFault(name, info) for name, info in _ENTRIES)}


def get(name: object) -> LoginFault:
    try:
        return LOGIN_FAULTS[name]  # type: ignore[index]
    except (KeyError, TypeError):
        raise UnknownLoginFaultError(name, LOGIN_FAULTS) from None


# -- planting -----------------------------------------------------------------------------------


def _at(fault: str | None, stage: Stage) -> LoginFault | None:
    entry = LOGIN_FAULTS.get(fault) if fault is not None else None
    return entry if entry is not None and entry.stage == stage else None


def plant_authorization(fault: str | None, params: dict[str, Any]) -> None:
    """Change the authorization response's parameters as ``fault`` says, if it is planted
    there."""
    entry = _at(fault, "authorization")
    if entry is not None and entry.change is not None:
        entry.change(params)


def refusal(fault: str | None) -> tuple[str, str] | None:
    """The error the authorization endpoint answers instead of signing in, for ``fault``."""
    entry = _at(fault, "authorization")
    return entry.error if entry is not None else None


def id_token_plant(fault: str | None, client_id: str
                   ) -> Callable[[TokenContext], object] | None:
    """The edit ``fault`` makes to each ID token of the sign-in (run after the test's hooks),
    or ``None``. ``"__client__"`` in an audience list stands for the client's own id."""
    entry = _at(fault, "id_token")
    if entry is None or entry.edit is None:
        return None
    edit = entry.edit

    def plant(context: TokenContext) -> None:
        edit(context)
        aud = context.claims.get("aud")
        if isinstance(aud, list):
            context.claims["aud"] = [client_id if a == "__client__" else a for a in aud]

    return plant


def seal_id_token(fault: str | None, token: str, client_secret: str | None) -> str:
    """The ID token as ``fault`` makes it once signed (unchanged for most faults)."""
    entry = _at(fault, "id_token")
    if entry is None or entry.seal is None:
        return token
    return entry.seal(token, client_secret)


def plant_token_response(fault: str | None, body: dict[str, Any]) -> None:
    entry = _at(fault, "token")
    if entry is not None and entry.change is not None:
        entry.change(body)


def plant_userinfo(fault: str | None, body: dict[str, Any]) -> bool:
    """Change the userinfo claims as ``fault`` says; whether to answer them unsigned."""
    entry = _at(fault, "userinfo")
    if entry is None:
        return False
    if entry.change is not None:
        entry.change(body)
    return entry.needs == "signed-userinfo"


def markdown() -> str:
    """The catalog as a Markdown section of ``docs/faults.md`` (``mockidp faults --login
    --markdown``), grouped by severity."""
    lines = [
        "# Sign-in fault catalog",
        "",
        "`idp.users.next_login(fault=NAME)` plants one wrong thing in the next sign-in: its",
        "authorization response, its token response, every ID token it issues, or its userinfo",
        "answer. `mockidp.LOGIN_FAULTS` holds the same entries, `mockidp.audit_login` runs them",
        "all through an app's sign-in. The severity is for an ID token that comes through the",
        "browser (implicit and hybrid flows); *code flow* is the grade when it comes only from",
        "the token endpoint, where OIDC Core §3.1.3.7 step 6 lets TLS stand in for the",
        "signature (— : no finding there).",
        "",
    ]
    lines += severity_sections(LOGIN_FAULTS.values(), [
        ("where", lambda f: f.stage), ("what is wrong", lambda f: f.description),
        ("reference", lambda f: f.reference), ("a correct app", lambda f: f.check),
        ("code flow", lambda f: f.code_flow_severity or "—"),
        ("why this severity", lambda f: f.why), ("known weaknesses", lambda f: f.weakness or "—")])
    return "\n".join(lines)


def remember_userinfo_fault(fault: str | None, access_token: str, planted: _Store,
                            now: float) -> None:
    """Keep ``fault`` for the userinfo answers to ``access_token`` (by its ``jti``, until it
    expires), if it is planted there."""
    if _at(fault, "userinfo") is None:
        return
    assert fault is not None
    found = jti_and_exp(access_token)
    if found is not None:
        planted.put(found[0], fault, found[1], now)
