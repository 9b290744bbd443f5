"""Who may call the service: citizens (password or identity provider, then a session
token), departments and venues (API keys). No Flask here: the HTTP layer calls this.

Secrets are never stored: sessions and API keys are kept as SHA-256 of the random
token (they are 256-bit random values, so a fast hash is enough), passwords as
Argon2id. Citizen ids in counters are hashed too, so the store's keys carry no
personal data.

The seam for the city's identity provider is :class:`CitizenAuthenticator`: an
object with ``authenticate(citizen_id, password) -> bool``. The default checks the
Argon2id hash kept in the store; a deployment passes its own (an OIDC or LDAP
bridge) to :class:`Accounts` and everything else (rate limits, sessions) stays.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from keys.errors import EcertError
from store.interface import (
    ApiKeyKind,
    ApiKeyRecord,
    CitizenRecord,
    NotFound,
    SessionRecord,
    Store,
)

#: Citizen ids: letters, digits and ``_.-``, 1–64 characters (ID numbers fit).
CITIZEN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
SESSION_TTL = 3600
#: Login attempts allowed per window, per account and per client address.
LOGIN_WINDOW = 300
LOGIN_PER_ACCOUNT = 5
LOGIN_PER_CLIENT = 30


class AuthError(EcertError):
    """Missing, unknown, expired or revoked credentials (HTTP 401)."""

    code = "unauthorized"


class LoginFailed(AuthError):
    """Wrong citizen id or password; deliberately does not say which."""

    code = "login_failed"


class Forbidden(EcertError):
    """Authenticated, but not allowed to do this (HTTP 403)."""

    code = "forbidden"


class RateLimited(EcertError):
    """Too many attempts; ``retry_after`` seconds until the window ends (HTTP 429)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownCitizen(EcertError):
    """No citizen with this id (HTTP 404)."""

    code = "unknown_citizen"


class AccountInvalid(EcertError):
    """A citizen id or password that the policy refuses (HTTP 400)."""

    code = "invalid_request"


class CitizenAuthenticator(Protocol):
    """The identity-provider seam: decides whether a citizen's login is genuine."""

    def authenticate(self, citizen_id: str, password: str) -> bool:
        """True when ``password`` proves ``citizen_id``; never raises for a wrong one."""
        ...


class PasswordAuthenticator:
    """Checks Argon2id hashes kept in the store; rehashes when parameters change."""

    def __init__(self, store: Store, hasher: PasswordHasher) -> None:
        self._store = store
        self._hasher = hasher
        # Compared against when the citizen is unknown, so that both cases cost the same.
        self._dummy = hasher.hash(secrets.token_urlsafe(16))

    def authenticate(self, citizen_id: str, password: str) -> bool:
        """See :class:`CitizenAuthenticator`."""
        record = self._store.get_citizen(citizen_id)
        stored = record.password_hash if record is not None and record.password_hash else None
        try:
            self._hasher.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if stored is None:
            return False
        if self._hasher.check_needs_rehash(stored):
            self._store.set_citizen_password(citizen_id, self._hasher.hash(password))
        return True


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
    ) -> None:
        self._store = store
        self._clock = clock
        # RFC 9106 second recommended option (64 MiB, 3 passes) is argon2-cffi's default.
        self._hasher = hasher or PasswordHasher()
        self.authenticator = authenticator or PasswordAuthenticator(store, self._hasher)
        self._session_ttl = session_ttl

    # -- citizens --------------------------------------------------------------------

    def create_citizen(self, citizen_id: str, password: str | None = None) -> CitizenRecord:
        """Register a citizen (``password`` None: identity-provider login only).

        Raises :class:`AccountInvalid` and :class:`~store.interface.Conflict`.
        """
        _check_citizen_id(citizen_id)
        record = CitizenRecord(
            citizen_id=citizen_id,
            password_hash="" if password is None else self._hash(password),
            created_at=int(self._clock()),
        )
        self._store.put_citizen(record)
        return record

    def set_password(self, citizen_id: str, password: str) -> None:
        """Change a citizen's password. Raises :class:`UnknownCitizen`, :class:`AccountInvalid`."""
        try:
            self._store.set_citizen_password(citizen_id, self._hash(password))
        except NotFound:
            raise UnknownCitizen("no citizen with this id") from None

    def require_citizen(self, citizen_id: str) -> CitizenRecord:
        """The citizen's record. Raises :class:`UnknownCitizen`."""
        record = self._store.get_citizen(citizen_id)
        if record is None:
            raise UnknownCitizen("no citizen with this id")
        return record

    def _hash(self, password: str) -> str:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise AccountInvalid(
                f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
            )
        return self._hasher.hash(password)

    # -- sessions --------------------------------------------------------------------

    def login(self, citizen_id: str, password: str, *, client: str) -> Session:
        """Check a login and open a session.

        Attempts are counted per account and per client address before the password
        is checked. Raises :class:`RateLimited` or :class:`LoginFailed` (the same
        answer for an unknown id and a wrong password).
        """
        now = self._clock()
        account = "login:acct:" + hashlib.sha256(citizen_id.encode("utf-8")).hexdigest()
        address = "login:ip:" + hashlib.sha256(client.encode("utf-8")).hexdigest()
        for counter, limit in ((account, LOGIN_PER_ACCOUNT), (address, LOGIN_PER_CLIENT)):
            if self._store.hit(counter, LOGIN_WINDOW, now) > limit:
                retry = LOGIN_WINDOW - int(now) % LOGIN_WINDOW
                raise RateLimited("too many login attempts; try again later", retry_after=retry)
        if not CITIZEN_ID.fullmatch(citizen_id) or not password:
            raise LoginFailed("invalid citizen id or password")
        if not self.authenticator.authenticate(citizen_id, password):
            raise LoginFailed("invalid citizen id or password")
        token = "es_" + secrets.token_urlsafe(32)
        self._store.put_session(
            SessionRecord(
                token_hash=token_hash(token),
                citizen_id=citizen_id,
                created_at=int(now),
                expires_at=int(now) + self._session_ttl,
            )
        )
        return Session(token, citizen_id, self._session_ttl)

    def citizen_for_token(self, token: str) -> str:
        """The citizen a session token belongs to. Raises :class:`AuthError`."""
        if not token.startswith("es_"):
            raise AuthError("a citizen session token is required")
        record = self._store.get_session(token_hash(token), self._clock())
        if record is None:
            raise AuthError("the session is unknown or has expired; log in again")
        return record.citizen_id

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
            created_at=int(self._clock()),
        )
        self._store.put_api_key(record)
        return record, secret

    def api_key(self, secret: str, kind: ApiKeyKind) -> ApiKeyRecord:
        """The live key of ``kind`` with this secret. Raises :class:`AuthError`."""
        record = self._store.get_api_key(token_hash(secret)) if secret.startswith("ek_") else None
        if record is None or record.revoked_at is not None or record.kind != kind:
            raise AuthError(f"a valid {kind} API key is required")
        return record

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke a key at once. Raises :class:`~store.interface.NotFound`."""
        self._store.revoke_api_key(key_id, int(self._clock()))

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


def _check_citizen_id(citizen_id: str) -> None:
    if not CITIZEN_ID.fullmatch(citizen_id):
        raise AccountInvalid("a citizen id has 1-64 letters, digits, '_', '.' or '-'")
