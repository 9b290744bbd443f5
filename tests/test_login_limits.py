"""Login limits (issue 7 §4) on :class:`service.accounts.Accounts`, on SQLite and Redis,
with an injected clock: only failures count, in sliding windows, per account and per
client address; a success forgets the account's failures.

The clock starts near the real time and only moves forward: Redis expires the logs by
its own clock. The HTTP side is in ``tests/test_api_logins.py``.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from api.errors import LoginFailed, RateLimited
from service.accounts import Accounts, LoginPolicy, client_network
from store.interface import Limit, Store
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.factory import Clock, run_threads
from tests.hygiene import personal
from tests.redis_replies import all_bytes
from tests.test_accounts import FAST

PASSWORD = personal("correct horse", "test_login_limits PASSWORD")
WINDOW = 900  # the default short window: 10 failures in any 15 minutes


@pytest.fixture
def clock() -> Clock:
    # On a 15-minute boundary plus 100 s, a few minutes ahead of the real clock.
    return Clock(float((int(time.time()) // WINDOW + 1) * WINDOW + 100))


@pytest.fixture
def accounts(store: Store, clock: Clock) -> Accounts:
    return Accounts(store, clock=clock, hasher=FAST)


def fail(accounts: Accounts, citizen: str = "alice", client: str = "10.0.0.1") -> None:
    with pytest.raises(LoginFailed):
        accounts.login(citizen, "wrong password", client=client)


def refused(accounts: Accounts, citizen: str = "alice", client: str = "10.0.0.1") -> int:
    """Assert a 429 even with the right password; its Retry-After."""
    with pytest.raises(RateLimited) as info:
        accounts.login(citizen, PASSWORD, client=client)
    retry = info.value.retry_after
    assert isinstance(retry, int)  # the accounts give whole seconds
    return retry


def test_twenty_successful_logins_in_a_row(accounts: Accounts, clock: Clock) -> None:
    accounts.create_citizen("alice", PASSWORD)
    for _ in range(20):
        assert accounts.login("alice", PASSWORD, client="10.0.0.1").citizen_id == "alice"
        clock.advance(1)


def test_failures_lock_the_account_with_an_exact_retry_after(
    accounts: Accounts, clock: Clock
) -> None:
    accounts.create_citizen("alice", PASSWORD)
    for n in range(10):
        fail(accounts, client=f"10.0.0.{n}")  # from anywhere: the account counts
        clock.advance(10)
    # The first failure (100 s ago) leaves the 15-minute window in 800 s.
    assert refused(accounts, client="10.9.9.9") == WINDOW - 100
    clock.advance(WINDOW - 100 - 1)
    assert refused(accounts) == 1
    clock.advance(1)
    assert accounts.login("alice", PASSWORD, client="10.0.0.1").citizen_id == "alice"


def test_a_locked_account_is_no_oracle(accounts: Accounts, store: Store) -> None:
    """Locked, the right password and a wrong one get the same 429, and so does an
    unknown id locked the same way."""
    accounts.create_citizen("alice", PASSWORD)
    for citizen in ("alice", "nobody"):
        for _ in range(10):
            fail(accounts, citizen)
        right = refused(accounts, citizen)
        with pytest.raises(RateLimited) as wrong:
            accounts.login(citizen, "wrong password", client="10.0.0.1")
        assert right == wrong.value.retry_after


def test_the_window_slides_over_epoch_aligned_boundaries(
    accounts: Accounts, clock: Clock
) -> None:
    """Ten failures just before a 15-minute boundary and none allowed just after it
    (a fixed window would allow ten more: twenty guesses in seconds)."""
    accounts.create_citizen("alice", PASSWORD)
    boundary = (int(clock.now) // WINDOW + 1) * WINDOW
    clock.now = boundary - 10
    for _ in range(10):
        fail(accounts)
        clock.advance(0.5)
    clock.now = boundary + 5
    assert refused(accounts) == WINDOW - 15
    clock.now = boundary - 10 + WINDOW
    fail(accounts)  # the first failure has left the window: one more guess, no more
    refused(accounts)


def test_a_success_clears_the_account_failures(accounts: Accounts, clock: Clock) -> None:
    accounts.create_citizen("alice", PASSWORD)
    for _ in range(9):
        fail(accounts)
    accounts.login("alice", PASSWORD, client="10.0.0.1")
    for _ in range(10):  # a fresh allowance
        fail(accounts)
    refused(accounts)


def test_the_daily_limit_holds_after_the_short_window(accounts: Accounts, clock: Clock) -> None:
    """NIST SP 800-63B §5.2.2: at most 100 failed attempts per account (here a day)."""
    accounts.create_citizen("alice", PASSWORD)
    for _ in range(10):
        for _ in range(10):
            fail(accounts, client="10.1.1.1")
            clock.advance(1)
        clock.advance(WINDOW)
    assert refused(accounts) == 24 * 3600 - 10 * (10 + WINDOW)


def test_a_thousand_citizens_behind_one_address_are_never_refused(
    accounts: Accounts, clock: Clock
) -> None:
    """A carrier NAT: successes never count against the shared address."""
    citizens = [f"1101011990010{n:05d}" for n in range(1000)]
    for citizen in citizens:
        accounts.create_citizen(citizen, PASSWORD)
    for citizen in citizens:
        assert accounts.login(citizen, PASSWORD, client="198.51.100.7").citizen_id == citizen
        clock.advance(0.1)


def test_honest_typos_behind_one_address_are_not_refused(
    accounts: Accounts, clock: Clock
) -> None:
    """A fifth of a thousand citizens behind one NAT mistype once in 15 minutes."""
    citizens = [f"3101011990010{n:05d}" for n in range(1000)]
    for citizen in citizens:
        accounts.create_citizen(citizen, PASSWORD)
    for n, citizen in enumerate(citizens):
        if n % 5 == 0:
            fail(accounts, citizen, client="198.51.100.7")
        assert accounts.login(citizen, PASSWORD, client="198.51.100.7").citizen_id == citizen
        clock.advance(0.5)


def test_one_address_spraying_many_accounts_is_slowed(accounts: Accounts, clock: Clock) -> None:
    accounts.create_citizen("alice", PASSWORD)
    for n in range(300):  # one guess per account: no account limit is reached
        fail(accounts, f"victim{n}", client="203.0.113.66")
    clock.advance(60)
    assert refused(accounts, "victim999", client="203.0.113.66") == WINDOW - 60
    # Other addresses, and the citizen's own account from them, are not affected.
    assert accounts.login("alice", PASSWORD, client="10.0.0.1").citizen_id == "alice"
    fail(accounts, "victim999", client="10.0.0.2")
    # A success from the spraying address does not wipe its failures.
    refused(accounts, "alice", client="203.0.113.66")
    clock.advance(WINDOW - 60)
    fail(accounts, "victim1000", client="203.0.113.66")


def test_ipv6_clients_are_limited_by_their_64(accounts: Accounts) -> None:
    for n in range(300):
        fail(accounts, f"victim{n}", client=f"2001:db8:1:2::{n:x}")
    refused(accounts, "victim999", client="2001:db8:1:2:ffff::1")
    fail(accounts, "victim999", client="2001:db8:1:3::1")
    assert client_network("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_network("2001:DB8::1") == "2001:db8::/64"
    assert client_network("not an address") == "not an address"


def test_case_variants_of_an_id_share_the_account_counter(accounts: Accounts) -> None:
    """An identity provider may match ids case-insensitively (ID numbers end in X)."""
    accounts.create_citizen("11010519491231002X", PASSWORD)
    for n in range(10):
        fail(accounts, "11010519491231002X" if n % 2 else "11010519491231002x")
    refused(accounts, "11010519491231002X")


def test_parallel_guesses_cannot_overshoot_the_limit(accounts: Accounts) -> None:
    accounts.create_citizen("alice", PASSWORD)

    def guess(n: int) -> str:
        try:
            accounts.login("alice", f"guess {n}", client=f"10.2.0.{n}")
        except LoginFailed:
            return "failed"
        except RateLimited:
            return "limited"
        return "in"

    outcomes = run_threads(40, guess)
    assert outcomes.count("failed") == 10 and outcomes.count("limited") == 30


def test_an_identity_provider_outage_does_not_count(store: Store, clock: Clock) -> None:
    class DownIdP:
        def authenticate(self, citizen_id: str, password: str) -> bool:
            raise ConnectionError("the city's identity provider is down")

    accounts = Accounts(store, clock=clock, hasher=FAST, authenticator=DownIdP())
    for _ in range(20):
        with pytest.raises(ConnectionError):
            accounts.login("alice", PASSWORD, client="10.0.0.1")
    counter = accounts.counter_name("acct", "alice")
    assert store.window_wait(counter, clock.now, (Limit(1, 60),)) == 0


def test_the_policy_is_configurable(store: Store, clock: Clock) -> None:
    policy = LoginPolicy.from_config(
        {"LOGIN_ACCOUNT_LIMITS": [[2, 60]], "LOGIN_ADDRESS_LIMITS": [[3, 60]]}
    )
    accounts = Accounts(store, clock=clock, hasher=FAST, policy=policy)
    fail(accounts, "a")
    fail(accounts, "a")
    assert refused(accounts, "a") == 60
    fail(accounts, "b")
    assert refused(accounts, "c") == 60
    assert LoginPolicy.from_config({}) == LoginPolicy()
    for bad in ("10", [[0, 60]], [[10]], [[10, 60, 1]], [["10", 60]], [[10, 60]] * 5, 7):
        with pytest.raises(ValueError):
            LoginPolicy.from_config({"LOGIN_ACCOUNT_LIMITS": bad})


def test_counters_hold_no_citizen_id_or_address(
    store: Store, clock: Clock, accounts: Accounts
) -> None:
    citizen, client = "110101199003070011", "198.51.100.23"
    for _ in range(3):
        fail(accounts, citizen, client=client)
    secrets_ = [citizen, client]
    secrets_ += [hashlib.sha256(v.encode()).hexdigest() for v in (citizen, client)]
    dump = _dump(store)
    assert "login:acct:" in dump and "login:addr:" in dump
    for value in secrets_:
        assert value not in dump
    # Another instance (another key) names the same citizen's counter differently.
    other = Accounts(store, clock=clock, hasher=FAST)
    assert other.counter_name("acct", citizen) != accounts.counter_name("acct", citizen)


def _dump(store: Store) -> str:
    if isinstance(store, SQLiteStore):
        with open(store.path, "rb") as fh:
            data = fh.read()
        with open(store.path + "-wal", "rb") as fh:
            data += fh.read()
        return data.decode("latin-1")
    assert isinstance(store, RedisStore)
    parts = []
    for key in all_bytes(store.client.scan_iter(match="*")):  # every master of a cluster too
        parts.append(key.decode())
        parts += [m.decode() for m in all_bytes(store.client.zrange(key, 0, -1))]
    return "\n".join(parts)
