"""Signing keys of issuers and of the trust anchor, kept encrypted in the store.

Keys over time (``docs/operations.md``, "Key states and rotation"):

- :meth:`Keyring.rotate` creates a ``pending`` key with an activation time (``now`` +
  the lead, at least the trust list's refresh interval unless forced). It is published
  at once and signs nothing until then.
- The switch needs nobody: whenever the keyring is asked for an owner's signing key or
  published keys and a pending key's ``activate_at`` has passed, it is promoted with a
  compare-and-set (of workers racing, one promotes); the owner's other active keys are
  then retired (again one compare-and-set each). Of several active keys (a crash between
  the two steps), the one activated last signs, and the next call retires the others.
- A retired key stays published until the last credential it signed expires (plus the
  verifiers' clock leeway): :data:`SETTLE_AFTER` seconds after it stopped signing (an
  issuance that read it just before has put its registry record by then), the registry
  is asked once for that expiry, which is kept on the key as ``verify_until``; past
  it the key leaves ``jwks``.
- :meth:`Keyring.compromise` lists a key in ``revoked_kids`` at once; an owner left
  without an active key gets one at once (its newest pending key, else a new one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from issuer.errors import KeyLeadTooShort, NoSigningKey
from keys import KeyState, KeyStateError, KeyWrapper, SigningKey, can_transition
from keys.jwk import Alg, JWKDict
from keys.trustlist import DEFAULT_TTL
from sdjwt import LEEWAY
from store.interface import TRUST_VERSION as _TRUST_VERSION
from store.interface import KeyRecord, KeyStateName, Store

__all__ = ["ANCHOR", "SETTLE_AFTER", "TRUST_VERSION", "VERIFY_GRACE", "Keyring"]

#: The owner name of the platform's trust-anchor key.
ANCHOR = "anchor"
#: Config entry changed whenever what the trust list says changes (keys, issuers,
#: scenes): online verifiers rebuild when they see a new value. Declared with the
#: store's config kind; read it with ``store.trust_version()``.
TRUST_VERSION = _TRUST_VERSION
#: Seconds after a key stopped signing before the registry is asked when the last
#: credential it signed expires (longer than any issuance between reading the signing
#: key and putting the registry record: a request times out after 30 s).
SETTLE_AFTER = 120
#: Seconds a retired key stays published after its last credential expires: the
#: verifiers' clock leeway, during which that credential still verifies.
VERIFY_GRACE = LEEWAY
#: A lead time longer than this is a typo (ten years).
MAX_LEAD = 10 * 366 * 86400

_ACTIVE: KeyStateName = "active"
_PENDING: KeyStateName = "pending"
_RETIRED: KeyStateName = "retired"


def _rank(record: KeyRecord) -> tuple[int, int, str]:
    """Of several active keys, the greatest signs: the one activated last."""
    return (record.activate_at, record.created_at, record.kid)


class Keyring:
    """Creates, rotates and opens the signing keys of one store (see the module doc)."""

    def __init__(
        self, store: Store, wrapper: KeyWrapper, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._wrapper = wrapper
        self._clock = clock
        self._opened: dict[str, SigningKey] = {}

    def create(
        self,
        owner: str,
        *,
        alg: Alg = "ES256",
        state: KeyState = KeyState.ACTIVE,
        activate_at: int = 0,
    ) -> SigningKey:
        """Generate a key for ``owner``, store it encrypted and return it.

        Creating an ``active`` key retires the owner's previous active key (its
        ``activate_at`` is now). A ``pending`` key with ``activate_at`` (Unix seconds)
        becomes active by itself then; with 0, only by :meth:`set_state`.
        """
        key = SigningKey.generate(alg)
        now = int(self._clock())
        if state is KeyState.ACTIVE:
            activate_at = self._next_activation(owner, now)
        elif state is not KeyState.PENDING:
            activate_at = 0
        self._store.put_key(
            KeyRecord(
                kid=key.kid,
                owner=owner,
                alg=key.alg,
                state=state.value,
                public_jwk=json.dumps(key.public_jwk(), separators=(",", ":")),
                private_blob=self._wrapper.wrap(key),
                created_at=now,
                activate_at=activate_at,
                retired_at=now if state is KeyState.RETIRED else 0,
            )
        )
        self._opened[key.kid] = key
        if state is KeyState.ACTIVE:  # after the put: a crash between leaves it signing
            self._retire_active(owner, now, keep=key.kid)
        self._store.bump_trust_version()
        return key

    def rotate(
        self,
        owner: str,
        *,
        lead: int | None = None,
        min_lead: int = DEFAULT_TTL,
        force: bool = False,
        alg: Alg = "ES256",
    ) -> KeyRecord:
        """A new ``pending`` key for ``owner`` that becomes active ``lead`` seconds from
        now (default ``min_lead``: the trust list's ``ttl``, its refresh interval), with
        no one acting then. Returns its record.

        Raises :class:`KeyLeadTooShort` for a lead under ``min_lead`` (unless ``force``:
        offline verifiers that refreshed before the key appeared would meet its
        credentials first) and :class:`KeyStateError` for a negative or absurd lead.
        """
        lead = min_lead if lead is None else lead
        if not 0 <= lead <= MAX_LEAD:
            raise KeyStateError(f"a lead time is 0..{MAX_LEAD} seconds")
        if lead < min_lead and not force:
            raise KeyLeadTooShort(
                f"a lead of {lead} s is shorter than the trust list's refresh interval "
                f"({min_lead} s): offline verifiers would meet the key before they learn it"
            )
        activate_at = self._next_activation(owner, int(self._clock()) + lead)
        key = self.create(owner, alg=alg, state=KeyState.PENDING, activate_at=activate_at)
        record = self._store.get_key(key.kid)
        assert record is not None  # just put
        return record

    def records(self, owner: str) -> list[KeyRecord]:
        """The owner's keys in every state, oldest first (due pending keys promoted)."""
        return self._settled(owner)

    def signing_key(self, owner: str) -> SigningKey:
        """The owner's active key, opened (a pending key whose time has come is promoted
        first). Raises :class:`NoSigningKey`."""
        active = [r for r in self._settled(owner) if r.state == _ACTIVE]
        if not active:
            raise NoSigningKey(f"{owner} has no active signing key")
        record = max(active, key=_rank)
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
        for _ in range(5):  # a compare-and-set lost to another worker: look again
            record = self._store.get_key(kid)
            if record is None:
                raise NoSigningKey(f"no key with kid {kid}")
            current = KeyState(record.state)
            if current is state:
                return
            if not can_transition(current, state):
                raise KeyStateError(f"key {kid} cannot go from {current.value} to {state.value}")
            now = int(self._clock())
            if self._store.update_key(
                kid,
                expect=current.value,
                state=state.value,
                activate_at=(
                    self._next_activation(record.owner, now) if state is KeyState.ACTIVE else None
                ),
                retired_at=now if state is KeyState.RETIRED else None,
            ):
                break
        else:
            raise KeyStateError(f"key {kid} keeps changing: try again")
        if state is KeyState.ACTIVE:
            self._retire_active(record.owner, now, keep=kid)
        if not state.signs:
            self._opened.pop(kid, None)
        self._store.bump_trust_version()

    def compromise(self, kid: str) -> SigningKey | None:
        """Report ``kid`` compromised (listed in ``revoked_kids`` from now on); if its
        owner is then left without an active key, activate one at once (no lead: the old
        key must not sign again): the owner's newest pending key, already published,
        else a new key of the same algorithm. Returns that key, or None when the owner
        still had one. Safe to run again (after a crash between the two steps).

        Raises :class:`NoSigningKey` for an unknown kid.
        """
        record = self._store.get_key(kid)
        if record is None:
            raise NoSigningKey(f"no key with kid {kid}")
        self.set_state(kid, KeyState.COMPROMISED)
        records = self._settled(record.owner)
        if any(r.state == _ACTIVE for r in records):
            return None
        pending = sorted((r for r in records if r.state == _PENDING), key=_rank)
        for candidate in reversed(pending):
            now = self._next_activation(record.owner, int(self._clock()))
            if self._store.update_key(
                candidate.kid, expect=_PENDING, state=_ACTIVE, activate_at=now
            ):
                self._store.bump_trust_version()
                return self.signing_key(record.owner)
        alg: Alg = "EdDSA" if record.alg == "EdDSA" else "ES256"
        return self.create(record.owner, alg=alg)

    def published_jwks(self, owner: str) -> list[JWKDict]:
        """Public JWKs of the owner's pending and active keys, and of its retired keys
        until ``verify_until`` (the last expiry of what they signed) has passed."""
        now = int(self._clock())
        out: list[JWKDict] = []
        for record in self._settled(owner):
            if not KeyState(record.state).published:
                continue
            if record.state == _RETIRED and owner != ANCHOR:
                until = self._verify_until(record, now)
                if 0 < until <= now:
                    continue
            out.append(json.loads(record.public_jwk))
        return out

    def revoked_kids(self, owner: str) -> list[str]:
        """Kids of the owner's compromised keys."""
        return [
            r.kid for r in self._store.list_keys(owner) if r.state == KeyState.COMPROMISED.value
        ]

    # -- over time -----------------------------------------------------------------------

    def _settled(self, owner: str) -> list[KeyRecord]:
        """The owner's keys after promoting the pending keys whose time has come and
        retiring every active key but the one activated last."""
        records = self._store.list_keys(owner)
        now = int(self._clock())
        due = [r for r in records if r.state == _PENDING and 0 < r.activate_at <= now]
        if not due and sum(r.state == _ACTIVE for r in records) <= 1:
            return records
        changed = False
        for record in sorted(due, key=_rank):
            changed |= self._store.update_key(record.kid, expect=_PENDING, state=_ACTIVE)
        records = self._store.list_keys(owner)
        if self._retire_active(owner, now, records=records) or changed:
            self._store.bump_trust_version()
            records = self._store.list_keys(owner)
        return records

    def _next_activation(self, owner: str, at: int) -> int:
        """``at``, or one second after the owner's latest activation if that is not
        earlier: a key activated later always ranks higher (:func:`_rank`)."""
        latest = max(
            (r.activate_at for r in self._store.list_keys(owner) if r.state == _ACTIVE),
            default=0,
        )
        return max(at, latest + 1, 1)

    def _retire_active(
        self,
        owner: str,
        now: int,
        *,
        keep: str | None = None,
        records: list[KeyRecord] | None = None,
    ) -> bool:
        """Retire the owner's active keys but ``keep`` (None: the one activated last).
        True if this call retired one."""
        if records is None:
            records = self._store.list_keys(owner)
        active = sorted((r for r in records if r.state == _ACTIVE), key=_rank)
        if keep is None and active:
            keep = active[-1].kid
        changed = False
        for record in active:
            if record.kid != keep:
                changed |= self._store.update_key(
                    record.kid, expect=_ACTIVE, state=_RETIRED, retired_at=now
                )
                self._opened.pop(record.kid, None)
        return changed

    def _verify_until(self, record: KeyRecord, now: int) -> int:
        """Until when a retired key must stay published (0: not known yet). Asked of the
        registry once, :data:`SETTLE_AFTER` seconds after the key stopped signing, and
        kept on the key."""
        if record.verify_until or now < record.retired_at + SETTLE_AFTER:
            return record.verify_until
        signed = self._store.list_credentials(issuer=record.owner, kid=record.kid)
        last = max((c.expires_at for c in signed if c.state != "revoked"), default=0)
        until = max(last + VERIFY_GRACE, record.retired_at, 1)
        if (
            self._store.update_key(record.kid, expect=_RETIRED, state=_RETIRED, verify_until=until)
            and until <= now
        ):
            self._store.bump_trust_version()  # it leaves the trust list now
        return until
