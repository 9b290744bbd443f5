"""Issuance by a department: issue into a citizen's wallet, compensate, idempotency.

:meth:`Issuance.issue` issues a credential and delivers it into the citizen's wallet at
once, bound to the wallet's holder key; the id the department gets is the id in the
wallet. If the delivery fails, the just-issued credential is revoked (best effort) and
the error raised: no credential is left valid that nobody holds.

:meth:`Issuance.idempotent` implements ``Idempotency-Key``
(draft-ietf-httpapi-idempotency-key-header): the first answer to a key is kept for
:data:`IDEMPOTENCY_TTL` in the store (shared by every worker) and repeated, as is, to a
retry with the same key and request fingerprint. A retry while the first request is
still running raises :class:`IdempotencyPending` (409); the same key with another
request raises :class:`IdempotencyKeyReused` (422). Failed requests are not kept: a
retry runs again. The clock is injected (``clock``, epoch seconds).

A key is stored under a keyed name, never as a plain hash: departments build keys from
what they know (README's example is ``permit-$CITIZEN``), and a plain SHA-256 of a
guessable key could be checked against a dump. The entry is named
``idem:<department>:m1:<hex HMAC-SHA-256(K, "<n>:<department>:<key>")>`` (``n`` the
department's length in UTF-8 bytes, the key UTF-8) with ``K`` derived from the instance
secret (:data:`IDEMPOTENCY_KEY_LABEL`).

Upgrade from the plain names (``idem:<department>:<hex SHA-256(key)>``): an answer the
old code kept must still be found for its lifetime, or a retry in flight during the
upgrade would be issued twice. So for :data:`LEGACY_WINDOW` (``IDEMPOTENCY_TTL +
PENDING_TTL``: 24 hours and one minute) after the first start of this code on the
store (the config value :data:`LEGACY_SINCE`, written once), a request that claims a
new name also looks for the old one and, if it is there, gives up its claim and answers
from it (the kept answer, pending, or key reused). Past the window every old entry has
expired and the old name is no longer read. Old-code workers still running after the
window opens write old names that new-code workers only see within the window: finish
a rolling upgrade within it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from issuer import CredentialIssuer, NotAuthorised
from issuer.credentials import IssuedCredential, IssueRequest
from keys import EcertError
from service.accounts import Accounts
from service.errors import IdempotencyKeyReused, IdempotencyPending, UnknownCitizen
from service.stats import Counters
from store.interface import IDEMPOTENCY, CredentialRecord, IssuerRecord, Store
from store.kinds.config import KEYED_IDEMPOTENCY_SINCE
from wallet import WalletVault
from wallet.errors import WalletCorrupt
from wallet.vault import OpenedWallet

if TYPE_CHECKING:  # service.devices imports service.wallets, which needs nothing of this
    from service.devices import Devices
    from service.links import Links

__all__ = [
    "IDEMPOTENCY_KEY_LABEL",
    "BulkItem",
    "IDEMPOTENCY_TTL",
    "IssuedListener",
    "LEGACY_SINCE",
    "LEGACY_WINDOW",
    "PENDING_TTL",
    "StatusListener",
    "Issuance",
    "Kept",
    "fingerprint",
]

#: Told of credentials issued into wallets: ``(citizen_id, record)`` pairs.
IssuedListener = Callable[[list[tuple[str, CredentialRecord]]], None]
#: Told of a credential's new status (revoked, suspended, valid again).
StatusListener = Callable[[CredentialRecord], None]

#: The link credentials (guardians and carers, :mod:`service.links`).
_LINK_VCTS = frozenset({"urn:ecert:guardianship", "urn:ecert:care-authorisation"})
#: How long the first answer to an ``Idempotency-Key`` is kept (seconds).
IDEMPOTENCY_TTL = 24 * 3600
#: How long a key stays claimed by a request that never finished (a crashed worker).
PENDING_TTL = 60
#: Label of the key that names idempotency entries (``derive_key(secret, label)``).
IDEMPOTENCY_KEY_LABEL = "ecert/idempotency-keys/v1"
#: Config value: when this code first kept an idempotency key on the store (epoch
#: seconds, ASCII), the start of :data:`LEGACY_WINDOW`.
LEGACY_SINCE = KEYED_IDEMPOTENCY_SINCE
#: How long old (plain SHA-256) entry names are still looked up: the longest an entry
#: written by the old code lives (a done answer; a pending claim becomes one).
LEGACY_WINDOW = IDEMPOTENCY_TTL + PENDING_TTL


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One credential for :meth:`Issuance.issue_many`: its type, the citizen (clear id),
    the claims, and the id to issue it under (None: a random one; a job gives its own,
    written ahead, so that a crash can be resumed)."""

    vct: str
    citizen_id: str
    claims: Mapping[str, Any]
    credential_id: str | None = None


@dataclass(frozen=True, slots=True)
class Kept:
    """An answer as kept for an idempotency key: its status and JSON body."""

    status: int
    body: dict[str, Any]


def fingerprint(request: dict[str, Any]) -> str:
    """The SHA-256 (hex) of a request's canonical JSON: what a retry must match."""
    return _sha256(json.dumps(request, sort_keys=True, ensure_ascii=False))


class Issuance:
    """Departments issue into wallets and change their credentials' status."""

    def __init__(
        self,
        store: Store,
        issuer: CredentialIssuer,
        vault: WalletVault,
        accounts: Accounts,
        *,
        idempotency_key: bytes,
        clock: Callable[[], float] = time.time,
        devices: Devices | None = None,
        counters: Counters | None = None,
    ) -> None:
        """``idempotency_key`` (256 bits, derived from the instance secret under
        :data:`IDEMPOTENCY_KEY_LABEL`) names the idempotency entries; ``devices``
        (the container's) gets a copy of each new credential for every device of the
        citizen and follows each status change on the copies; ``counters`` (the
        container's) counts each credential issued for the operator's dashboard."""
        self._devices = devices
        self._counters = counters
        #: guardians and carers (:mod:`service.links`), set by the container
        self.links: Links | None = None
        if len(idempotency_key) != 32:
            raise ValueError("the idempotency key must be 256 bits")
        self._store = store
        self._idem_key = idempotency_key
        self._legacy_until: float | None = None
        self._issuer = issuer
        self._vault = vault
        self._accounts = accounts
        self.clock = clock
        self._on_issued: list[IssuedListener] = []
        self._on_status: list[StatusListener] = []

    def listen(
        self, *, issued: IssuedListener | None = None, status: StatusListener | None = None
    ) -> None:
        """Be told, after the fact, of credentials issued into wallets (``issued``, with
        ``(citizen_id, record)`` pairs: :meth:`issue`, :meth:`issue_many`) and of status
        changes (``status``: :meth:`revoke`, :meth:`suspend`, :meth:`reinstate`). A
        listener runs in the caller's request; what it raises is raised (a listener
        that must not fail the issuance catches its own errors)."""
        if issued is not None:
            self._on_issued.append(issued)
        if status is not None:
            self._on_status.append(status)

    def issue(
        self,
        department: IssuerRecord,
        vct: str,
        citizen_id: str,
        claims: dict[str, Any],
        *,
        not_after: int | None = None,
        counted: bool = True,
    ) -> CredentialRecord:
        """Issue a credential of ``vct`` to the citizen and deliver it to their wallet
        (``not_after`` caps its ``exp``: a derived attestation ends when its facts change;
        ``counted`` False leaves it out of the dashboard's counters: the demo's seeding).

        Raises :class:`~issuer.errors.NotAuthorised` for a type outside the department's,
        :class:`~service.errors.UnknownCitizen`, :class:`~issuer.errors.ClaimsInvalid`
        (naming the claim, never its value), and whatever the delivery raised (after
        revoking the credential).
        """
        if vct not in department.vcts:
            raise NotAuthorised("this department may not issue this credential type")
        self._accounts.require_citizen(citizen_id)
        # a link credential (guardians, carers) is checked and ends when its link does
        link_end = None if self.links is None else self.links.check_issue(vct, citizen_id, claims)
        if link_end is not None:
            not_after = link_end if not_after is None else min(not_after, link_end)
        issued = self._issuer.issue(
            department.iss,
            vct,
            subject=citizen_id,
            claims=claims,
            holder_jwk=self._vault.holder_jwk(citizen_id),
            not_after=not_after,
        )
        try:
            self._vault.add(citizen_id, issued.id, issued.sd_jwt)
            if self._devices is not None:
                self._devices.deliver(citizen_id, issued.id)
        except Exception:
            self._withdraw(department.iss, issued.id)
            raise
        if self.links is not None:
            # the guardian's copies of a ward's credentials; a new credential of a ward
            # or a principal reaches their guardians and carers
            self.links.issued(citizen_id, issued.record, claims)
        if self._counters is not None and counted:
            self._counters.issued(department.slug, vct, at=self.clock())
        for listener in self._on_issued:
            listener([(citizen_id, issued.record)])
        return issued.record

    def issue_many(
        self, department: IssuerRecord, items: Sequence[BulkItem]
    ) -> list[CredentialRecord | EcertError]:
        """Issue many credentials into citizens' wallets at once, each checked and
        delivered as :meth:`issue` does (the wallet item sealed, a copy for every active
        device); for each item, in order, its record or the error that refused it
        (:class:`~issuer.errors.NotAuthorised`, :class:`~service.errors.UnknownCitizen`,
        :class:`~issuer.errors.ClaimsInvalid`…, :class:`~keys.errors.Conflict` for a
        ``credential_id`` already issued).

        The writes are grouped: the status indices, the registry records and the wallet
        items in one store call each (one SQLite transaction, or one Redis pipeline), the
        issuer's key opened once, each wallet once. Callers pass chunks (a few hundred
        items). If a write fails, the credentials of the chunk not yet delivered are
        revoked (best effort) and the error raised, as :meth:`issue` does for one.
        """
        out: list[CredentialRecord | EcertError | None] = []
        wallets: dict[str, OpenedWallet] = {}
        requests: list[IssueRequest] = []
        slots: list[int] = []
        for n, item in enumerate(items):
            try:
                if item.vct not in department.vcts:
                    raise NotAuthorised("this department may not issue this credential type")
                if self.links is not None and item.vct in _LINK_VCTS:
                    # a link is checked and kept one at a time (POST .../credentials)
                    raise NotAuthorised("a link credential is not issued in a batch")
                wallet = wallets.get(item.citizen_id)
                if wallet is None:
                    self._accounts.require_citizen(item.citizen_id)
                    wallet = wallets[item.citizen_id] = self._vault.opened(item.citizen_id)
            except (NotAuthorised, UnknownCitizen, WalletCorrupt) as err:
                out.append(err)
                continue
            out.append(None)
            slots.append(n)
            requests.append(
                IssueRequest(
                    item.vct,
                    item.citizen_id,
                    item.claims,
                    wallet.holder_jwk,
                    credential_id=item.credential_id,
                )
            )
        if requests:
            issued = self._issuer.issue_many(department.iss, requests)
            made: list[tuple[int, IssuedCredential]] = []
            for n, one in zip(slots, issued, strict=True):
                if isinstance(one, IssuedCredential):
                    made.append((n, one))
                    out[n] = one.record
                else:
                    out[n] = one
            self._deliver_many(department.iss, items, made, wallets)
            if self.links is not None:
                for n, one in made:  # a ward's or a principal's new credential
                    self.links.deliver(items[n].citizen_id, one.id)
            if self._counters is not None:
                by_type: dict[str, int] = {}
                for _, one in made:
                    by_type[one.record.vct] = by_type.get(one.record.vct, 0) + 1
                now = self.clock()
                for vct, n in sorted(by_type.items()):
                    self._counters.issued(department.slug, vct, n, at=now)
            for listener in self._on_issued:
                listener([(items[n].citizen_id, one.record) for n, one in made])
        return [one for one in out if one is not None]

    def _deliver_many(
        self,
        iss: str,
        items: Sequence[BulkItem],
        made: list[tuple[int, IssuedCredential]],
        wallets: dict[str, OpenedWallet],
    ) -> None:
        """Keep the new credentials in their wallets (one store call), then give each
        citizen's devices their copies; on a failure, revoke those not yet delivered."""
        done = 0
        try:
            self._vault.keep(
                [
                    self._vault.sealed(
                        wallets[items[n].citizen_id],
                        one.id,
                        one.sd_jwt,
                        vct=one.record.vct,
                        issuer=iss,
                        expires_at=one.record.expires_at,
                    )
                    for n, one in made
                ]
            )
            if self._devices is not None:
                for n, one in made:
                    self._devices.deliver(items[n].citizen_id, one.id)
                    done += 1
        except Exception:
            for _, one in made[done:]:
                self._withdraw(iss, one.id)
            raise

    def revoke(self, department: IssuerRecord, credential_id: str) -> CredentialRecord:
        """Revoke for good (status list value 1), with every device's copy."""
        return self._follow(self._issuer.revoke(department.iss, credential_id))

    def suspend(self, department: IssuerRecord, credential_id: str) -> CredentialRecord:
        """Suspend (status list value 2) until reinstated, with every device's copy."""
        return self._follow(self._issuer.suspend(department.iss, credential_id))

    def reinstate(self, department: IssuerRecord, credential_id: str) -> CredentialRecord:
        """Make a suspended credential valid again, with its copies on active devices."""
        return self._follow(self._issuer.reinstate(department.iss, credential_id))

    def _follow(self, record: CredentialRecord) -> CredentialRecord:
        """Give the copies on the citizen's devices the card's new state, then tell the
        listeners (the attestations derived from it follow it)."""
        if self._devices is not None:
            self._devices.follow(record)
        for listener in self._on_status:
            listener(record)
        if self.links is not None:
            self.links.follow(record)
        return record

    def _withdraw(self, iss: str, credential_id: str) -> None:
        """Revoke a credential that could not be delivered, and any copy already made;
        the caller re-raises."""
        with suppress(Exception):
            record = self._issuer.revoke(iss, credential_id)
            if self._devices is not None:
                self._devices.follow(record)

    # -- idempotency -------------------------------------------------------------------

    def idempotent(
        self, scope: str, key: str, request_fingerprint: str, run: Callable[[], Kept]
    ) -> Kept:
        """The kept answer for ``key`` (within ``scope``, e.g. the department), or run and
        keep the answer.

        The key is claimed first with a *pending* marker, so that a concurrent retry
        (another worker) is refused instead of issuing twice.
        """
        entries, entry = self._store.once(IDEMPOTENCY), self.entry_name(scope, key)
        now = self.clock()
        pending = json.dumps({"state": "pending", "fingerprint": request_fingerprint})
        if not entries.put(entry, pending.encode("utf-8"), now + PENDING_TTL, now):
            return _replay(entries.get(entry, now), request_fingerprint)
        if now < self._legacy_window_end(now):
            # Claimed under the new name: an answer the old code kept under the plain
            # name wins (give the claim back first, so that the retry is not blocked).
            old = entries.get(f"{scope}:{_sha256(key)}", now)
            if old is not None:
                self._release(entry, now)
                return _replay(old, request_fingerprint)
        try:
            answer = run()
        except BaseException:
            # Nothing was kept: release the key so that a retry runs again (if the store
            # cannot be reached now, the pending marker expires on its own).
            self._release(entry, now)
            raise
        kept = {
            "state": "done",
            "fingerprint": request_fingerprint,
            "status": answer.status,
            "body": answer.body,
        }
        done = self.clock()
        entries.put(
            entry, json.dumps(kept).encode("utf-8"), done + IDEMPOTENCY_TTL, done, replace=True
        )
        return answer

    def entry_name(self, scope: str, key: str) -> str:
        """The name of ``key`` within ``scope`` in the idempotency once-space (stored as
        ``idem:<name>``): keyed, so that no guess of a key can be checked against it
        without the instance secret."""
        message = b"%d:%b:%b" % (len(scope.encode()), scope.encode(), key.encode("utf-8"))
        mac = hmac.new(self._idem_key, message, hashlib.sha256).hexdigest()
        return f"{scope}:m1:{mac}"

    def _release(self, entry: str, now: float) -> None:
        """Give a claim back (if the store cannot be reached now, it expires on its own)."""
        with suppress(Exception):
            self._store.once(IDEMPOTENCY).put(entry, b"", now, now, replace=True)

    def _legacy_window_end(self, now: float) -> float:
        """When old entry names stop being read: :data:`LEGACY_WINDOW` after the first
        start of this code on the store (recorded once, then cached)."""
        if self._legacy_until is None:
            # Two workers racing here: the store keeps the first instant for both.
            since = self._store.keyed_idempotency_since(int(now))
            self._legacy_until = since + LEGACY_WINDOW
        return self._legacy_until


def _replay(raw: bytes | None, request_fingerprint: str) -> Kept:
    """The kept answer to a retry (or the reason there is none)."""
    if raw is None:
        # Released or expired between our two reads: the first attempt failed.
        raise IdempotencyPending(
            "A request with this Idempotency-Key just finished without result; retry.",
        )
    kept = json.loads(raw)
    if kept.get("fingerprint") != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with another request body.",
        )
    if kept.get("state") != "done":
        raise IdempotencyPending(
            "A request with this Idempotency-Key is still in progress; retry later.",
        )
    return Kept(int(kept["status"]), dict(kept["body"]))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
