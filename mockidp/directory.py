"""The provider's users and OAuth clients.

Users are made by faker from a seed, so the same seed gives the same people in every run and a
failing test can be replayed. The directory state is two small dicts; snapshot and restore are
copies of them.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import ConfigurationError, MockIdPError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["Client", "Clients", "UnknownClientError", "UnknownUserError", "User", "Users"]

DEFAULT_CLIENT_ID = "mockidp-client"
DEFAULT_CLIENT_SECRET = "mockidp-client-secret"


class UnknownUserError(MockIdPError, KeyError):
    def __init__(self, sub: object) -> None:
        self.sub = sub
        super().__init__(sub)

    def __str__(self) -> str:
        return f"no user with sub {self.sub!r}; add one with idp.users.add(sub=...)"


class UnknownClientError(MockIdPError, KeyError):
    def __init__(self, client_id: object) -> None:
        self.client_id = client_id
        super().__init__(client_id)

    def __str__(self) -> str:
        return f"no client {self.client_id!r}; add one with idp.clients.add(client_id=...)"


@dataclass(frozen=True)
class User:
    """A person who can sign in: ``sub`` and the OIDC standard claims (OIDC Core §5.1)."""

    sub: str
    claims: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, claim: str) -> Any:
        return self.sub if claim == "sub" else self.claims[claim]


class _Snapshot(NamedTuple):
    items: dict[str, Any]
    default: str
    made: int = 0  # users made so far: the faker seed of the next one


def _check(snapshot: object) -> _Snapshot:
    if not isinstance(snapshot, _Snapshot):
        raise ConfigurationError("restore() takes what snapshot() returned")
    return snapshot


def _profile(faker: Any) -> dict[str, Any]:
    given, family = faker.first_name(), faker.last_name()
    username = f"{given}.{family}".lower()
    return {
        "name": f"{given} {family}",
        "given_name": given,
        "family_name": family,
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "locale": "en-US",
        "zoneinfo": faker.timezone(),
    }


class Users:
    """The users the provider knows; the first one is the default subject of every token."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._faker: Any = None
        first = self._make(None, {}, 0)
        self._state = _Snapshot({first.sub: first}, first.sub, 1)

    def _make(self, sub: str | None, claims: dict[str, Any], index: int) -> User:
        if self._faker is None:
            from faker import Faker

            self._faker = Faker("en_US")
        # Each user is a function of (seed, index) alone, whatever else used faker meanwhile.
        self._faker.seed_instance(self._seed * 1_000_003 + index)
        profile = _profile(self._faker)
        sub = sub if sub is not None else str(self._faker.uuid4())
        if not isinstance(sub, str) or not sub:
            raise ConfigurationError(f"sub must be a non-empty string, not {sub!r}")
        if "sub" in claims:
            raise ConfigurationError("give the subject as sub=..., not as a claim")
        profile.update(claims)
        return User(sub, profile)

    def add(self, sub: str | None = None, *, default: bool = False, **claims: Any) -> User:
        """A new user with faker-made profile claims, overridden by ``claims``.

        ``default=True`` makes it the subject of tokens minted without ``sub``.
        """
        with self._lock:
            if sub is not None and sub in self._state.items:
                raise ConfigurationError(f"a user with sub {sub!r} already exists")
            state = self._state
            user = self._make(sub, claims, state.made)
            self._state = _Snapshot(
                {**state.items, user.sub: user},
                user.sub if default else state.default,
                state.made + 1,
            )
        return user

    @property
    def default(self) -> User:
        state = self._state
        return state.items[state.default]  # type: ignore[no-any-return]

    def get(self, sub: str) -> User | None:
        return self._state.items.get(sub)

    def __getitem__(self, sub: str) -> User:
        user = self.get(sub)
        if user is None:
            raise UnknownUserError(sub)
        return user

    def __iter__(self) -> Iterator[User]:
        return iter(list(self._state.items.values()))

    def __len__(self) -> int:
        return len(self._state.items)

    def snapshot(self) -> object:
        return self._state

    def restore(self, snapshot: object) -> None:
        self._state = _check(snapshot)


@dataclass(frozen=True)
class Client:
    """A registered OAuth client (RFC 6749 §2). ``client_secret`` is ``None`` for public ones."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("authorization_code", "client_credentials", "refresh_token")

    @property
    def public(self) -> bool:
        return self.client_secret is None


class Clients:
    """The clients the token and authorize endpoints accept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        first = Client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        self._state = _Snapshot({first.client_id: first}, first.client_id)

    def add(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        redirect_uris: Iterable[str] = (),
        public: bool = False,
        grant_types: Iterable[str] | None = None,
    ) -> Client:
        if public and client_secret is not None:
            raise ConfigurationError("a public client has no secret; drop client_secret")
        if isinstance(redirect_uris, str):
            raise ConfigurationError("redirect_uris takes a list of URIs, not one string")
        client_id = client_id if client_id is not None else f"client-{secrets.token_hex(6)}"
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError(f"client_id must be a non-empty string, not {client_id!r}")
        if not public and client_secret is None:
            client_secret = secrets.token_urlsafe(24)
        options = {} if grant_types is None else {"grant_types": tuple(grant_types)}
        client = Client(client_id, client_secret, tuple(redirect_uris), **options)
        with self._lock:
            if client_id in self._state.items:
                raise ConfigurationError(f"a client {client_id!r} already exists")
            self._state = self._state._replace(items={**self._state.items, client_id: client})
        return client

    @property
    def default(self) -> Client:
        state = self._state
        return state.items[state.default]  # type: ignore[no-any-return]

    def get(self, client_id: str) -> Client | None:
        return self._state.items.get(client_id)

    def __getitem__(self, client_id: str) -> Client:
        client = self.get(client_id)
        if client is None:
            raise UnknownClientError(client_id)
        return client

    def __iter__(self) -> Iterator[Client]:
        return iter(list(self._state.items.values()))

    def __len__(self) -> int:
        return len(self._state.items)

    def snapshot(self) -> object:
        return self._state

    def restore(self, snapshot: object) -> None:
        self._state = _check(snapshot)
