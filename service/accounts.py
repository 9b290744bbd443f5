"""Who may call the service: citizens (password or identity provider, then a session
token), departments and venues (API keys). No Flask here: the HTTP layer calls this.

Secrets are never stored: sessions and API keys are kept as SHA-256 of the random
token (they are 256-bit random values, so a fast hash is enough), passwords as
Argon2id. The login-failure counters are named by an HMAC of the citizen id or
client address under a key derived from the instance secret (a plain hash of an
enumerable ID number is no pseudonym), so a store dump shows neither.

Citizens are stored under their pseudonym (:mod:`keys.pseudonym`): every method here
takes the clear citizen id (from the login or the department's request) and maps it
before it reaches the store. A session keeps the citizen id sealed (AEAD, bound to the
token hash), so :meth:`Accounts.citizen_for_token` gives the clear id back for the
length of the session and the store never holds it in clear.

Login limits (:class:`LoginPolicy`, docs/operations.md says why these numbers):
only **failed** attempts count, in sliding windows, per account and per client
address. A success never counts and forgets the account's failures. An account or
address over its limit is refused (429, ``Retry-After``) before the password is
checked, so a locked account is no oracle; an unknown id and a wrong password count
and answer alike.

The seam for the city's identity provider is :class:`CitizenAuthenticator`: an
object with ``authenticate(citizen_id, password) -> bool``. The default checks the
Argon2id hash kept in the store; a deployment passes its own (an OIDC or LDAP
bridge) to :class:`Accounts` and everything else (rate limits, sessions) stays.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from keys.errors import SealBroken
from keys.pseudonym import Pseudonyms
from service.errors import (
    AccountInvalid,
    AuthError,
    Forbidden,
    LoginFailed,
    RateLimited,
    UnknownCitizen,
)
from store.interface import (
    ApiKeyKind,
    ApiKeyRecord,
    CitizenRecord,
    Conflict,
    InvalidArgument,
    Limit,
    NotFound,
    SessionRecord,
    Store,
    StoreError,
    check_limits,
)

#: Citizen ids: letters, digits and ``_.-``, 1–64 characters (ID numbers fit).
CITIZEN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
SESSION_TTL = 3600
#: Failed logins allowed per account: 10 in any 15 minutes, 100 in any 24 hours.
LOGIN_PER_ACCOUNT: tuple[Limit, ...] = (Limit(10, 15 * 60), Limit(100, 24 * 3600))
#: Failed logins allowed per client address (an IPv6 /64): 300 in any 15 minutes.
LOGIN_PER_ADDRESS: tuple[Limit, ...] = (Limit(300, 15 * 60),)
#: The label of the counters' HMAC key (``Instance.derive_key(LOGIN_KEY_LABEL)``).
LOGIN_KEY_LABEL = "ecert/login-counters/v1"


class CitizenAuthenticator(Protocol):
    """The identity-provider seam: decides whether a citizen's login is genuine."""

    def authenticate(self, citizen_id: str, password: str) -> bool:
        """True when ``password`` proves ``citizen_id``; never raises for a wrong one."""
        ...


class PasswordAuthenticator:
    """Checks Argon2id hashes kept in the store; rehashes when parameters change."""

    def __init__(
        self, store: Store, hasher: PasswordHasher, pseudonyms: Pseudonyms | None = None
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._pseudonyms = pseudonyms or Pseudonyms.none()
        # Compared against when the citizen is unknown, so that both cases cost the same.
        self._dummy = hasher.hash(secrets.token_urlsafe(16))

    def authenticate(self, citizen_id: str, password: str) -> bool:
        """See :class:`CitizenAuthenticator`."""
        record = self._store.get_citizen(self._pseudonyms.of(citizen_id))
        stored = record.password_hash if record is not None and record.password_hash else None
        try:
            self._hasher.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if stored is None:
            return False
        if self._hasher.check_needs_rehash(stored):
            self._store.set_citizen_password(
                self._pseudonyms.of(citizen_id), self._hasher.hash(password)
            )
        return True


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How many failed logins are allowed, per account and per client address.

    Configuration (``ECERT_*`` or ``create_app(config)``): ``LOGIN_ACCOUNT_LIMITS``
    and ``LOGIN_ADDRESS_LIMITS``, each a JSON list of ``[failures, seconds]`` pairs
    (1 to 4 of them), e.g. ``[[10, 900], [100, 86400]]``.
    """

    per_account: tuple[Limit, ...] = LOGIN_PER_ACCOUNT
    per_address: tuple[Limit, ...] = LOGIN_PER_ADDRESS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoginPolicy:
        """Read the two keys above (absent: the defaults). Raises ``ValueError``."""
        return cls(
            per_account=_limits(config.get("LOGIN_ACCOUNT_LIMITS"), LOGIN_PER_ACCOUNT),
            per_address=_limits(config.get("LOGIN_ADDRESS_LIMITS"), LOGIN_PER_ADDRESS),
        )


def _limits(value: Any, default: tuple[Limit, ...]) -> tuple[Limit, ...]:
    if value is None:
        return default
    try:
        if isinstance(value, str | bytes) or not all(len(pair) == 2 for pair in value):
            raise TypeError
        return check_limits([Limit(pair[0], pair[1]) for pair in value])
    except (TypeError, InvalidArgument) as err:
        raise ValueError(
            f"login limits are a list of [failures, seconds] pairs, not {value!r}: {err}"
        ) from None


@dataclass(frozen=True, slots=True)
class Session:
    """A new citizen session: the bearer token is shown once and stored only hashed."""

    access_token: str
    citizen_id: str
    expires_in: int


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a bearer token: what the store keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """Citizens, their sessions, and the API keys of departments and venues."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        authenticator: CitizenAuthenticator | None = None,
        hasher: PasswordHasher | None = None,
        session_ttl: int = SESSION_TTL,
        counter_key: bytes | None = None,
        policy: LoginPolicy | None = None,
        pseudonyms: Pseudonyms | None = None,
        on_citizen: Callable[[str], None] | None = None,
    ) -> None:
        """``counter_key`` names the login counters (HMAC); every worker sharing a store
        must pass the same one (:mod:`api.services` derives it from the instance
        secret). None: a random key, so counters are private to this object.
        ``pseudonyms``: the instance's (``Instance.pseudonyms``); None stores ids as
        given (tests). ``on_citizen`` is called with the id of a citizen created or
        logged in (the instance's citizen directory)."""
        self._store = store
        self.clock = clock
        self.policy = policy or LoginPolicy()
        self._counter_key = counter_key or secrets.token_bytes(32)
        self._pseudonyms = pseudonyms or Pseudonyms.none()
        # RFC 9106 second recommended option (64 MiB, 3 passes) is argon2-cffi's default.
        self._hasher = hasher or PasswordHasher()
        self.authenticator = authenticator or PasswordAuthenticator(
            store, self._hasher, self._pseudonyms
        )
        self._session_ttl = session_ttl
        self._on_citizen = on_citizen

    # -- citizens --------------------------------------------------------------------

    def create_citizen(self, citizen_id: str, password: str | None = None) -> CitizenRecord:
        """Register a citizen (``password`` None: identity-provider login only).

        Raises :class:`AccountInvalid` and :class:`~store.interface.Conflict`.
        """
        _check_citizen_id(citizen_id)
        record = CitizenRecord(
            citizen_id=self._pseudonyms.of(citizen_id),
            password_hash="" if password is None else self._hash(password),
            created_at=int(self.clock()),
        )
        try:
            self._store.put_citizen(record)
        except Conflict:  # the store's message would name the pseudonym
            raise Conflict("a citizen with this id already exists") from None
        if self._on_citizen is not None:
            self._on_citizen(citizen_id)
        return record

    def set_password(self, citizen_id: str, password: str) -> None:
        """Change a citizen's password. Raises :class:`UnknownCitizen`, :class:`AccountInvalid`."""
        try:
            self._store.set_citizen_password(self._pseudonyms.of(citizen_id), self._hash(password))
        except NotFound:
            raise UnknownCitizen("no citizen with this id") from None

    def require_citizen(self, citizen_id: str) -> CitizenRecord:
        """The citizen's record (stored under the pseudonym). Raises :class:`UnknownCitizen`."""
        record = self._store.get_citizen(self._pseudonyms.of(citizen_id))
        if record is None:
            raise UnknownCitizen("no citizen with this id")
        return record

    def _hash(self, password: str) -> str:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise AccountInvalid(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        return self._hasher.hash(password)

    # -- sessions --------------------------------------------------------------------

    def login(self, citizen_id: str, password: str, *, client: str) -> Session:
        """Check a login and open a session.

        Raises :class:`RateLimited` (before the password is checked) when the account
        or the client address has too many recent failures, else :class:`LoginFailed`
        (the same answer for an unknown id and a wrong password). The attempt holds a
        place in the account's window while the password is checked, so parallel
        guesses cannot overshoot the limit; a success gives it back and clears the
        account's failures, a failure keeps it and counts once for the address.
        """
        now = self.clock()
        account = self.counter_name("acct", citizen_id.casefold())
        address = self.counter_name("addr", client_network(client))
        attempt = secrets.token_hex(8)
        address_wait = self._store.window_wait(address, now, self.policy.per_address)
        account_wait = self._store.window_add(account, attempt, now, self.policy.per_account)
        if address_wait > 0 or account_wait > 0:
            if account_wait <= 0:
                self._store.window_discard(account, attempt)
            raise RateLimited(
                "too many failed logins; try again later",
                retry_after=max(1, math.ceil(max(address_wait, account_wait))),
            )
        try:
            genuine = (
                CITIZEN_ID.fullmatch(citizen_id) is not None
                and bool(password)
                and self.authenticator.authenticate(citizen_id, password)
            )
        except BaseException:
            # The check itself failed (identity provider or store down): no guess was
            # answered, so the attempt does not count against the citizen.
            with suppress(StoreError):
                self._store.window_discard(account, attempt)
            raise
        if not genuine:
            self._store.window_add(address, attempt, now, self.policy.per_address, force=True)
            raise LoginFailed("invalid citizen id or password")
        self._store.window_clear(account)
        if self._on_citizen is not None:
            self._on_citizen(citizen_id)
        token = "es_" + secrets.token_urlsafe(32)
        hashed = token_hash(token)
        self._store.put_session(
            SessionRecord(
                token_hash=hashed,
                citizen_id=self._pseudonyms.seal(citizen_id, hashed),
                created_at=int(now),
                expires_at=int(now) + self._session_ttl,
            )
        )
        return Session(token, citizen_id, self._session_ttl)

    def counter_name(self, kind: str, value: str) -> str:
        """The store name of a login counter: ``login:<kind>:`` and the HMAC-SHA-256 of
        ``value`` under the counter key (no citizen id or address in clear)."""
        mac = hmac.new(self._counter_key, f"{kind}\0{value}".encode(), hashlib.sha256)
        return f"login:{kind}:{mac.hexdigest()}"

    def citizen_for_token(self, token: str) -> str:
        """The citizen a session token belongs to. Raises :class:`AuthError`."""
        if not token.startswith("es_"):
            raise AuthError("a citizen session token is required")
        hashed = token_hash(token)
        record = self._store.get_session(hashed, self.clock())
        if record is None:
            raise AuthError("the session is unknown or has expired; log in again")
        try:
            return self._pseudonyms.open(record.citizen_id, hashed)
        except SealBroken:  # another secret, or moved from another token: not this session
            raise AuthError("the session is unknown or has expired; log in again") from None

    def logout(self, token: str) -> None:
        """End a session (idempotent)."""
        self._store.delete_session(token_hash(token))

    # -- API keys --------------------------------------------------------------------

    def issue_api_key(self, kind: ApiKeyKind, principal: str) -> tuple[ApiKeyRecord, str]:
        """A new API key for a department (``principal`` = issuer URL) or a venue.

        Returns the record and the secret, which is shown once and never stored.
        """
        secret = "ek_" + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            key_id="key_" + secrets.token_hex(6),
            key_hash=token_hash(secret),
            kind=kind,
            principal=principal,
            created_at=int(self.clock()),
        )
        self._store.put_api_key(record)
        return record, secret

    def api_key(self, secret: str, kind: ApiKeyKind) -> ApiKeyRecord:
        """The live key of ``kind`` with this secret. Raises :class:`AuthError`."""
        record = self._store.get_api_key(token_hash(secret)) if secret.startswith("ek_") else None
        if record is None or record.revoked_at is not None or record.kind != kind:
            raise AuthError(f"a valid {kind} API key is required")
        return record

    def operator_key(self, secret: str) -> ApiKeyRecord:
        """The live operator key with this secret.

        Raises :class:`AuthError` (401) for an unknown, revoked or malformed key, and
        :class:`Forbidden` (403) for a live key of a department or venue: a valid key
        that may not do what only an operator may.
        """
        record = self._store.get_api_key(token_hash(secret)) if secret.startswith("ek_") else None
        if record is None or record.revoked_at is not None:
            raise AuthError("a valid operator API key is required")
        if record.kind != "operator":
            raise Forbidden("only an operator key may do this")
        return record

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke a key at once. Raises :class:`~store.interface.NotFound`."""
        self._store.revoke_api_key(key_id, int(self.clock()))
        _REVOKED[0] += 1  # this process's key caches forget what they kept

    def rotate_api_key(self, key_id: str) -> tuple[ApiKeyRecord, str]:
        """Issue a new key for the same principal and revoke the old one.

        Raises :class:`~store.interface.NotFound`.
        """
        old = next((k for k in self._store.list_api_keys() if k.key_id == key_id), None)
        if old is None:
            raise NotFound(f"no API key {key_id}")
        new = self.issue_api_key(old.kind, old.principal)
        self.revoke_api_key(key_id)
        return new


#: How many API keys this process has revoked (two racing revocations add at least
#: one): per-worker key caches (:class:`service.verification.VenueKeys`) drop what
#: they kept when it changes, so a revocation made in this process counts at once.
_REVOKED = [0]


def api_key_revocations() -> int:
    """A number that changes whenever this process revokes an API key."""
    return _REVOKED[0]


def client_network(client: str) -> str:
    """The unit a client address is limited by: an IPv4 address as it is, an IPv6
    address by its /64 (one subscriber's prefix: the rest is theirs to vary), an
    IPv4-mapped IPv6 address as the IPv4 address; anything else as given."""
    try:
        ip = ipaddress.ip_address(client.strip())
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.IPv6Network((ip.exploded.split("%")[0], 64), strict=False))
        return str(ip)
    except ValueError:
        return client


def _check_citizen_id(citizen_id: str) -> None:
    if not CITIZEN_ID.fullmatch(citizen_id):
        raise AccountInvalid("a citizen id has 1-64 letters, digits, '_', '.' or '-'")
