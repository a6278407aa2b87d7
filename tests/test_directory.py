from __future__ import annotations

import pytest

from mockidp import ConfigurationError
from mockidp.core.directory import Clients, UnknownClientError, UnknownUserError, Users


def test_users_are_reproducible_per_seed() -> None:
    a, b, c = Users(seed=7), Users(seed=7), Users(seed=8)
    assert a.default == b.default
    assert a.default.sub != c.default.sub
    assert a.add() == b.add()


def test_user_profile_claims_can_be_set() -> None:
    users = Users()
    user = users.add("alice", email="alice@corp.test", groups=["admins"], default=True)
    assert users.default is user and users["alice"] is user
    assert user["email"] == "alice@corp.test" and user["sub"] == "alice"
    assert {"name", "given_name", "family_name", "preferred_username"} <= set(user.claims)


def test_restore_makes_the_next_user_the_same_again() -> None:
    users = Users()
    snapshot = users.snapshot()
    first = users.add()
    users.restore(snapshot)
    assert users.add() == first
    assert len(users) == 2


def test_clients_defaults_and_public_clients() -> None:
    clients = Clients()
    assert clients.default.client_secret
    spa = clients.add("spa", public=True, redirect_uris=["http://127.0.0.1/cb"])
    assert spa.public and spa.client_secret is None
    generated = clients.add()
    assert generated.client_id.startswith("client-") and generated.client_secret


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda u, c: u["nobody"], UnknownUserError, "no user with sub 'nobody'"),
        (lambda u, c: u.add(u.default.sub), ConfigurationError, "already exists"),
        (lambda u, c: u.add(sub=""), ConfigurationError, "non-empty"),
        (lambda u, c: c["nobody"], UnknownClientError, "no client 'nobody'"),
        (lambda u, c: c.add("x", "s", public=True), ConfigurationError, "no secret"),
        (lambda u, c: c.add("x", redirect_uris="http://a"), ConfigurationError, "list"),
        (lambda u, c: c.add(c.default.client_id), ConfigurationError, "already exists"),
    ],
)
def test_misuse(call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        call(Users(), Clients())
