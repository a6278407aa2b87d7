from __future__ import annotations

import json
from pathlib import Path

import pytest

from mockidp import ConfigurationError, MockIdP
from mockidp.drivers.config import Config

GOOD = """
alg = "ES256"
audience = "orders"
login = "auto"
refresh_token_rotation = true

[[keys]]
alg = "RS256"
kid = "rsa-1"
activate = false

[[clients]]
client_id = "web"
client_secret = "web-secret"
redirect_uris = ["http://localhost:3000/cb"]

[[users]]
sub = "alice"
password = "pw"
default = true
claims = { email = "alice@example.com" }

[tenants.acme]
[[tenants.acme.clients]]
client_id = "acme-web"
client_secret = "acme-secret"
"""


def test_a_config_file_sets_up_the_provider(tmp_path: Path) -> None:
    path = tmp_path / "mockidp.toml"
    path.write_text(GOOD)
    config = Config.load(path)
    provider = MockIdP(**config.provider_options())
    config.apply(provider)
    with provider:
        assert provider.keys.default_alg == "ES256" and provider.audience == "orders"
        assert provider.keys.state("rsa-1") == "next"
        assert provider.clients["web"].redirect_uris == ("http://localhost:3000/cb",)
        assert provider.users.default.sub == "alice"
        assert provider.users["alice"].claims["email"] == "alice@example.com"
        assert provider.refresh_token_rotation is True
        assert provider.tenant("acme").clients["acme-web"].client_secret == "acme-secret"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('colour = "blue"\n', "colour: unknown field"),
        ("seed = \"one\"\n", "seed: expected an integer"),
        ("[[clients]]\nclient_id = 7\n", r"clients\[0\].client_id: expected a string"),
        ('[[clients]]\nredirect_uris = "http://x"\n', "expected a list of strings"),
        ('[[keys]]\nalg = "RS1"\n', "unknown JWS algorithm 'RS1'"),
        ('[[users]]\nnickname = "x"\n', r"users\[0\].nickname: unknown field"),
        ("keys = 3\n", "keys: expected an array of tables"),
        ("[tenants.a]\ncolour = 1\n", "tenants.a.colour: unknown field"),
        ("alg = \n", "not valid TOML"),
        ('profile = "okta"\nprofile_options = { realm = "x" }\n',
         r"profile 'okta' has no option\(s\) realm"),
        ('profile = "nope"\n', "unknown profile 'nope'"),
        ("profile_options = 3\n", "profile_options: expected a table"),
    ],
)
def test_bad_config_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    def load_and_apply() -> None:
        config = Config.load(path)
        config.apply(MockIdP(**config.provider_options()))

    with pytest.raises(ConfigurationError, match=message):
        load_and_apply()


def test_a_config_file_picks_a_profile(tmp_path: Path) -> None:
    path = tmp_path / "mockidp.toml"
    path.write_text('profile = "okta"\ncertificates = true\n'
                    'profile_options = { server = "aus1" }\n')
    with MockIdP(**Config.load(path).provider_options()) as provider:
        assert provider.issuer.endswith("/oauth2/aus1") and provider.keys.certificates


def test_missing_file() -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        Config.load("/no/such/file.toml")


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    """TOML is UTF-8; a file saved as Latin-1 is one ConfigurationError naming it, not a
    UnicodeDecodeError."""
    path = tmp_path / "mockidp.toml"
    path.write_bytes('[[users]]\nsub = "José"\n'.encode("latin-1"))
    with pytest.raises(ConfigurationError, match=r"mockidp\.toml: config is not UTF-8 "
                                                 r"\(byte 0xe9 at offset 20\)"):
        Config.load(path)


# -- claim rules -------------------------------------------------------------------------------

RULES = """
[[clients]]
client_id = "svc-orders"
client_secret = "s"

[[clients]]
client_id = "svc-42"
client_secret = "s"

[[rules]]
match = { grant_type = "client_credentials", client_id = "svc-*" }
claims = { roles = ["service"], tier = "glob", who = "${client_id} for ${scope}" }

[[rules]]
match = { client_id = "re:svc-[0-9]+" }
claims = { tier = "regex" }

[[rules]]
match = { scope = "admin" }
claims = { admin = true, grant = "${grant_type}" }

[[rules]]
match = { sub = "alice", kind = "id_token" }
claims = { greeting = "hello ${sub}" }
"""


def _ruled(tmp_path: Path, text: str = RULES) -> MockIdP:
    path = tmp_path / "mockidp.toml"
    path.write_text(text)
    provider = MockIdP()
    Config.load(path).apply(provider)
    return provider


def _client_credentials(provider: MockIdP, client_id: str, scope: str) -> dict[str, object]:
    import urllib.parse
    import urllib.request

    import jwt

    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": "s", "scope": scope}).encode()
    with urllib.request.urlopen(provider.token_endpoint, form) as response:
        token = json.loads(response.read())["access_token"]
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_rules_shape_the_tokens_a_request_matches(tmp_path: Path) -> None:
    with _ruled(tmp_path) as provider:
        claims = _client_credentials(provider, "svc-orders", "read admin")
        assert claims["roles"] == ["service"] and claims["tier"] == "glob"  # a glob
        assert claims["who"] == "svc-orders for read admin"  # templates
        assert claims["admin"] is True and claims["grant"] == "client_credentials"  # one scope
        later = _client_credentials(provider, "svc-42", "read")
        assert later["tier"] == "regex"  # both match: the later rule wins
        assert "admin" not in later


def test_rules_match_direct_mints_only_on_what_they_have(tmp_path: Path) -> None:
    """A token the test mints itself has no grant type: the grant_type rule leaves it alone,
    the others apply."""
    with _ruled(tmp_path) as provider:
        claims = provider.verify(provider.token(client_id="svc-42", scope="admin"))
        assert claims["tier"] == "regex" and claims["admin"] is True and claims["grant"] == ""
        assert "roles" not in claims
        provider.users.add("alice")
        assert "greeting" not in provider.verify(provider.token(sub="alice"))  # kind
        id_token = provider.id_token(sub="alice", aud=provider.clients.default.client_id)
        assert jwt_claims(id_token)["greeting"] == "hello alice"


def jwt_claims(token: str) -> dict[str, object]:
    import jwt

    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_rules_survive_a_reset_and_run_before_the_tests_hooks(tmp_path: Path) -> None:
    with _ruled(tmp_path) as provider:
        provider.reset()
        provider.reset()
        assert provider.verify(provider.token(client_id="svc-42"))["tier"] == "regex"

        @provider.on_token
        def mine(context: object) -> None:
            context.claims["tier"] = "test"  # type: ignore[attr-defined]

        assert provider.verify(provider.token(client_id="svc-42"))["tier"] == "test"
        provider.reset()  # the test's hook goes, the rules stay, once each
        assert provider.minter.hooks == [] and len(provider.minter.rules) == 4
        assert provider.verify(provider.token(client_id="svc-42"))["tier"] == "regex"


def test_a_tenant_has_rules_of_its_own(tmp_path: Path) -> None:
    text = ('[tenants.acme]\n[[tenants.acme.rules]]\nmatch = {}\n'
            'claims = { tenant = "acme" }\n')
    with _ruled(tmp_path, text) as provider:
        tenant = provider.tenant("acme")
        assert tenant.verify(tenant.token())["tenant"] == "acme"
        assert "tenant" not in provider.verify(provider.token())


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('match = { colour = "x" }\nclaims = { a = 1 }',
         r"rules\[1\]\.match\.colour: unknown field; known fields: kind, grant_type"),
        ('match = { client_id = "re:[" }\nclaims = { a = 1 }',
         r"rules\[1\]\.match\.client_id: not a regular expression 're:\['"),
        ('match = { client_id = 7 }\nclaims = { a = 1 }',
         r"rules\[1\]\.match\.client_id: expected a string"),
        ('match = {}\nclaims = { a = "${nope}" }',
         r"rules\[1\]\.claims\.a: unknown template \$\{nope\}"),
        ('match = {}\nclaims = { a = ["${form.}"] }',
         r"rules\[1\]\.claims\.a\[0\]: unknown template \$\{form\.\}"),
        ('match = { "form" = "x" }\nclaims = { a = 1 }',
         r"rules\[1\]\.match\.form: unknown field; known fields: .*form\.NAME"),
        ("match = {}\nclaims = {}", r"rules\[1\]\.claims: expected a table of claims"),
        ('matches = {}\nclaims = { a = 1 }', r"rules\[1\]\.matches: unknown field"),
    ],
)
def test_a_wrong_rule_is_one_error_naming_the_file_and_rule(tmp_path: Path, rule: str,
                                                             message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(f"[[rules]]\nmatch = {{}}\nclaims = {{ ok = 1 }}\n\n[[rules]]\n{rule}\n")
    with pytest.raises(ConfigurationError, match=r"rules\.toml: " + message):
        Config.load(path)


# -- fixed keys --------------------------------------------------------------------------------

def _pem(key: object) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


def _published(path: Path) -> list[dict[str, object]]:
    config = Config.load(path)
    provider = MockIdP(**config.provider_options())
    config.apply(provider)
    with provider:
        fixed = [k for k in provider.jwks()["keys"] if k["kid"] in ("from-pem", "ec", "inline")]
        token = provider.token()
        assert jwt_header(token)["kid"] == provider.keys.active.kid
        return fixed


def jwt_header(token: str) -> dict[str, object]:
    import jwt

    return dict(jwt.get_unverified_header(token))


def test_fixed_keys_are_the_same_at_every_start(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from mockidp.core.keys import Key

    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "signing.pem").write_text(
        _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    ec_jwk = Key.from_material("ES256", ec.generate_private_key(ec.SECP256R1()))
    private = json.loads(__import__("jwt").algorithms.ECAlgorithm.to_jwk(ec_jwk.private_key))
    (tmp_path / "keys" / "ec.json").write_text(json.dumps({**private, "kid": "ec"}))
    inline = _pem(ec.generate_private_key(ec.SECP384R1()))
    path = tmp_path / "mockidp.toml"
    path.write_text(f'''
[[keys]]
file = "keys/ec.json"
activate = false

[[keys]]
pem = """{inline}"""
alg = "ES384"
kid = "inline"

[[keys]]
file = "keys/signing.pem"
kid = "from-pem"
''')
    first, second = _published(path), _published(path)
    assert first == second and {k["kid"] for k in first} == {"from-pem", "ec", "inline"}


def test_a_fixed_key_without_kid_has_its_thumbprint(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    data = {"keys": [{"pem": pem, "alg": "ES256"}]}
    kids = []
    for _ in range(2):
        provider = MockIdP()
        Config.from_data(data).apply(provider)
        with provider:
            kids.append(provider.keys.active_for("ES256").kid)
    assert kids[0] == kids[1]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('file = "missing.pem"', r"keys\[0\]: cannot read key file .*missing\.pem"),
        ('pem = "nope"', r"keys\[0\]: not an unencrypted PEM private key"),
        ('jwk = { kty = "EC", crv = "P-256", x = "a", y = "b" }',
         r"keys\[0\]: the JWK has no private part"),
        ('pem = "x"\njwk = {}', r"keys\[0\]: give one of file, pem and jwk"),
    ],
)
def test_bad_fixed_keys(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(f"[[keys]]\n{entry}\n")
    with pytest.raises(ConfigurationError, match=r"keys\.toml: " + message):
        Config.load(path).apply(MockIdP())


def test_tenants_that_are_no_table_next_to_a_key_file(tmp_path: Path) -> None:
    """Key files are resolved before the file is checked: a wrong ``tenants`` is still the
    check's one error, not an AttributeError."""
    path = tmp_path / "keys.toml"
    path.write_text('tenants = "acme"\n[[keys]]\nfile = "k.pem"\n')
    with pytest.raises(ConfigurationError, match="tenants: expected a table of tenants"):
        Config.load(path)


def test_rules_read_the_token_requests_form(tmp_path: Path) -> None:
    """``form.NAME`` matches a field of the token request and ``${form.NAME}`` fills one in."""
    text = ('[[clients]]\nclient_id = "svc-1"\nclient_secret = "s"\n\n'
            '[[rules]]\nmatch = { grant_type = "client_credentials", "form.tenant" = "acme*" }\n'
            'claims = { tenant = "${form.tenant}", roles = ["service"] }\n')
    path = tmp_path / "form.toml"
    path.write_text(text)
    provider = MockIdP()
    Config.load(path).apply(provider)
    with provider:
        import urllib.parse
        import urllib.request

        import jwt

        def claims(**form: str) -> dict[str, object]:
            body = urllib.parse.urlencode({"grant_type": "client_credentials",
                                           "client_id": "svc-1", "client_secret": "s",
                                           **form}).encode()
            with urllib.request.urlopen(provider.token_endpoint, body) as response:
                token = json.loads(response.read())["access_token"]
            decoded: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
            return decoded

        assert claims(tenant="acme-eu")["tenant"] == "acme-eu"
        assert "tenant" not in claims(tenant="other")
        assert "tenant" not in provider.verify(provider.token())  # no form: no match


def test_a_rule_reads_the_client_id_the_token_names() -> None:
    """idp.token(client_id=...) for a client that is not registered still matches and fills in
    by that id, not the default client's."""
    config = Config.from_data({"rules": [
        {"match": {"client_id": "svc-*"}, "claims": {"tenant": "${client_id}"}}]})
    provider = MockIdP()
    config.apply(provider)
    with provider:
        assert provider.verify(provider.token(client_id="svc-9"))["tenant"] == "svc-9"
