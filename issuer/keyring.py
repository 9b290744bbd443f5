"""Signing keys of issuers and of the trust anchor, kept encrypted in the store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from issuer.errors import NoSigningKey
from keys import KeyState, KeyStateError, KeyWrapper, SigningKey, can_transition
from keys.jwk import Alg, JWKDict
from store.interface import TRUST_VERSION as _TRUST_VERSION
from store.interface import KeyRecord, Store

#: The owner name of the platform's trust-anchor key.
ANCHOR = "anchor"
#: Config entry changed whenever what the trust list says changes (keys, issuers,
#: scenes): online verifiers rebuild when they see a new value. Declared with the
#: store's config kind; read it with ``store.trust_version()``.
TRUST_VERSION = _TRUST_VERSION


class Keyring:
    """Creates, rotates and opens the signing keys of one store.

    Rotation: a new key is created ``pending`` (published, not signing); activating
    it retires the previous active key of the same owner, which keeps verifying.
    """

    def __init__(
        self, store: Store, wrapper: KeyWrapper, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._wrapper = wrapper
        self._clock = clock
        self._opened: dict[str, SigningKey] = {}

    def create(
        self, owner: str, *, alg: Alg = "ES256", state: KeyState = KeyState.ACTIVE
    ) -> SigningKey:
        """Generate a key for ``owner``, store it encrypted and return it.

        Creating an ``active`` key retires the owner's previous active key.
        """
        key = SigningKey.generate(alg)
        if state is KeyState.ACTIVE:
            self._retire_active(owner)
        self._store.put_key(
            KeyRecord(
                kid=key.kid,
                owner=owner,
                alg=key.alg,
                state=state.value,
                public_jwk=json.dumps(key.public_jwk(), separators=(",", ":")),
                private_blob=self._wrapper.wrap(key),
                created_at=int(self._clock()),
            )
        )
        self._opened[key.kid] = key
        self._store.bump_trust_version()
        return key

    def records(self, owner: str) -> list[KeyRecord]:
        """The owner's keys in every state, oldest first."""
        return self._store.list_keys(owner)

    def signing_key(self, owner: str) -> SigningKey:
        """The owner's active key, opened. Raises :class:`NoSigningKey`."""
        active = [r for r in self._store.list_keys(owner) if r.state == KeyState.ACTIVE.value]
        if not active:
            raise NoSigningKey(f"{owner} has no active signing key")
        record = active[-1]
        key = self._opened.get(record.kid)
        if key is None:
            key = self._wrapper.unwrap(record.private_blob, record.kid)
            self._opened[record.kid] = key
        return key

    def set_state(self, kid: str, state: KeyState) -> None:
        """Move a key to ``state``; activating a key retires the owner's active one.

        Raises :class:`KeyStateError` for a transition the life cycle forbids (a
        compromised key never comes back) and :class:`NoSigningKey` for an unknown kid.
        """
        record = self._store.get_key(kid)
        if record is None:
            raise NoSigningKey(f"no key with kid {kid}")
        current = KeyState(record.state)
        if current is state:
            return
        if not can_transition(current, state):
            raise KeyStateError(f"key {kid} cannot go from {current.value} to {state.value}")
        if state is KeyState.ACTIVE:
            self._retire_active(record.owner)
        self._store.set_key_state(kid, state.value)
        if not state.signs:
            self._opened.pop(kid, None)
        self._store.bump_trust_version()

    def published_jwks(self, owner: str) -> list[JWKDict]:
        """Public JWKs of the owner's pending, active and retired keys."""
        out: list[JWKDict] = []
        for record in self._store.list_keys(owner):
            if KeyState(record.state).published:
                out.append(json.loads(record.public_jwk))
        return out

    def revoked_kids(self, owner: str) -> list[str]:
        """Kids of the owner's compromised keys."""
        return [
            r.kid for r in self._store.list_keys(owner) if r.state == KeyState.COMPROMISED.value
        ]

    def _retire_active(self, owner: str) -> None:
        for record in self._store.list_keys(owner):
            if record.state == KeyState.ACTIVE.value:
                self._store.set_key_state(record.kid, KeyState.RETIRED.value)
                self._opened.pop(record.kid, None)
