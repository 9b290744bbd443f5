"""Citizens' logins and sessions, and the API keys of departments and venues."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from api.errors import AccountInvalid, AuthError, LoginFailed, UnknownCitizen
from service.accounts import Accounts, token_hash
from store.interface import Conflict, NotFound, Store
from tests.factory import Clock

#: Cheap Argon2id parameters for tests only (the default costs 64 MiB per hash).
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000)


@pytest.fixture
def accounts(store: Store, clock: Clock) -> Accounts:
    return Accounts(store, clock=clock, hasher=FAST)


def test_login_opens_a_session_that_expires(accounts: Accounts, clock: Clock) -> None:
    accounts.create_citizen("alice", "correct horse")
    session = accounts.login("alice", "correct horse", client="10.0.0.1")
    assert session.expires_in == 3600
    assert accounts.citizen_for_token(session.access_token) == "alice"
    clock.advance(3601)
    with pytest.raises(AuthError):
        accounts.citizen_for_token(session.access_token)


def test_tokens_and_passwords_are_never_stored_in_clear(accounts: Accounts, store: Store) -> None:
    record = accounts.create_citizen("alice", "correct horse")
    assert record.password_hash.startswith("$argon2id$")
    session = accounts.login("alice", "correct horse", client="c")
    assert store.get_session(session.access_token, 0) is None
    assert store.get_session(token_hash(session.access_token), 0) is not None
    key, secret = accounts.issue_api_key("venue", "grand-hotel")
    assert key.key_hash == token_hash(secret) and secret not in repr(key)


@pytest.mark.parametrize(
    ("citizen", "password"), [("alice", "wrong password"), ("nobody", "correct horse")]
)
def test_a_failed_login_does_not_say_why(accounts: Accounts, citizen: str, password: str) -> None:
    accounts.create_citizen("alice", "correct horse")
    with pytest.raises(LoginFailed) as info:
        accounts.login(citizen, password, client="c")
    assert info.value.message == "invalid citizen id or password"


def test_logout_ends_the_session(accounts: Accounts) -> None:
    accounts.create_citizen("alice", "correct horse")
    session = accounts.login("alice", "correct horse", client="c")
    accounts.logout(session.access_token)
    with pytest.raises(AuthError):
        accounts.citizen_for_token(session.access_token)


def test_citizen_policy(accounts: Accounts) -> None:
    with pytest.raises(AccountInvalid):
        accounts.create_citizen("bad id with spaces", "correct horse")
    with pytest.raises(AccountInvalid):
        accounts.create_citizen("alice", "short")
    accounts.create_citizen("alice", "correct horse")
    with pytest.raises(Conflict):
        accounts.create_citizen("alice", "correct horse")
    with pytest.raises(UnknownCitizen):
        accounts.set_password("nobody", "correct horse")


def test_identity_provider_only_citizens_cannot_use_a_password(accounts: Accounts) -> None:
    accounts.create_citizen("idp-user")
    with pytest.raises(LoginFailed):
        accounts.login("idp-user", "anything at all", client="c")


def test_the_identity_provider_seam(store: Store, clock: Clock) -> None:
    class CityIdP:
        def authenticate(self, citizen_id: str, password: str) -> bool:
            return password == f"otp-for-{citizen_id}"

    accounts = Accounts(store, clock=clock, hasher=FAST, authenticator=CityIdP())
    accounts.create_citizen("bob")
    assert accounts.login("bob", "otp-for-bob", client="c").citizen_id == "bob"


def test_api_keys_by_kind_revocation_and_rotation(accounts: Accounts) -> None:
    key, secret = accounts.issue_api_key("department", "https://ecert.example/issuers/police")
    assert accounts.api_key(secret, "department").principal.endswith("/police")
    with pytest.raises(AuthError):
        accounts.api_key(secret, "venue")  # a department key is no venue key
    new, new_secret = accounts.rotate_api_key(key.key_id)
    with pytest.raises(AuthError):
        accounts.api_key(secret, "department")
    assert accounts.api_key(new_secret, "department").key_id == new.key_id
    accounts.revoke_api_key(new.key_id)
    with pytest.raises(AuthError):
        accounts.api_key(new_secret, "department")
    with pytest.raises(NotFound):
        accounts.rotate_api_key("key_missing")
    with pytest.raises(AuthError):
        accounts.api_key("not-a-key", "department")
