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
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from issuer import CredentialIssuer, NotAuthorised
from service.accounts import Accounts
from service.errors import IdempotencyKeyReused, IdempotencyPending
from store.interface import IDEMPOTENCY, CredentialRecord, IssuerRecord, Store
from wallet import WalletVault

__all__ = ["IDEMPOTENCY_TTL", "PENDING_TTL", "Issuance", "Kept", "fingerprint"]

#: How long the first answer to an ``Idempotency-Key`` is kept (seconds).
IDEMPOTENCY_TTL = 24 * 3600
#: How long a key stays claimed by a request that never finished (a crashed worker).
PENDING_TTL = 60


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._issuer = issuer
        self._vault = vault
        self._accounts = accounts
        self.clock = clock

    def issue(
        self, department: IssuerRecord, vct: str, citizen_id: str, claims: dict[str, Any]
    ) -> CredentialRecord:
        """Issue a credential of ``vct`` to the citizen and deliver it to their wallet.

        Raises :class:`~issuer.errors.NotAuthorised` for a type outside the department's,
        :class:`~service.errors.UnknownCitizen`, :class:`~issuer.errors.ClaimsInvalid`
        (naming the claim, never its value), and whatever the delivery raised (after
        revoking the credential).
        """
        if vct not in department.vcts:
            raise NotAuthorised("this department may not issue this credential type")
        self._accounts.require_citizen(citizen_id)
        issued = self._issuer.issue(
            department.iss,
            vct,
            subject=citizen_id,
            claims=claims,
            holder_jwk=self._vault.holder_jwk(citizen_id),
        )
        try:
            self._vault.add(citizen_id, issued.id, issued.sd_jwt)
        except Exception:
            self._withdraw(department.iss, issued.id)
            raise
        return issued.record

    def revoke(self, department: IssuerRecord, credential_id: str) -> CredentialRecord:
        """Revoke for good (status list value 1)."""
        return self._issuer.revoke(department.iss, credential_id)

    def suspend(self, department: IssuerRecord, credential_id: str) -> CredentialRecord:
        """Suspend (status list value 2) until reinstated."""
        return self._issuer.suspend(department.iss, credential_id)

    def reinstate(self, department: IssuerRecord, credential_id: str) -> CredentialRecord:
        """Make a suspended credential valid again."""
        return self._issuer.reinstate(department.iss, credential_id)

    def _withdraw(self, iss: str, credential_id: str) -> None:
        """Revoke a credential that could not be delivered; the caller re-raises."""
        with suppress(Exception):
            self._issuer.revoke(iss, credential_id)

    # -- idempotency -------------------------------------------------------------------

    def idempotent(
        self, scope: str, key: str, request_fingerprint: str, run: Callable[[], Kept]
    ) -> Kept:
        """The kept answer for ``key`` (within ``scope``, e.g. the department), or run and
        keep the answer.

        The key is claimed first with a *pending* marker, so that a concurrent retry
        (another worker) is refused instead of issuing twice.
        """
        entries, entry = self._store.once(IDEMPOTENCY), f"{scope}:{_sha256(key)}"
        now = self.clock()
        pending = json.dumps({"state": "pending", "fingerprint": request_fingerprint})
        if not entries.put(entry, pending.encode("utf-8"), now + PENDING_TTL, now):
            return _replay(entries.get(entry, now), request_fingerprint)
        try:
            answer = run()
        except BaseException:
            # Nothing was kept: release the key so that a retry runs again (if the store
            # cannot be reached now, the pending marker expires on its own).
            with suppress(Exception):
                entries.put(entry, b"", now, now, replace=True)
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
