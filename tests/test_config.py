from __future__ import annotations

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
