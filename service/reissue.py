"""Re-issuing one credential in a citizen's wallet: the step of change cascades and of
the re-issue after a key compromise.

:meth:`Reissue.replace` issues a new credential of the same type by the same issuer, to
the same citizen and wallet holder key, with some claims changed (a new name) or none
(a fresh signature under the issuer's current key); delivers it to the wallet and to
every device; then revokes the old one, with its device copies, and takes it out of the
wallet. In that order, so that the citizen is never left with neither version: for the
moment between the delivery and the revocation both are valid.

A guardian's or a carer's link credential and held-for copies are re-issued in place
(:mod:`service.links`): with the old one's ``exp``; a copy is known as one before the
wallet shows it (it never reaches a device); the new link credential takes the link over
before the old one is revoked, so the link and its copies live on (a link that ended
meanwhile: the new one is revoked, ``link_ended``).

It is idempotent for a given ``new_id`` (the caller notes the id in its job journal
before calling), whatever the moment a crash interrupted an earlier call:

* nothing issued under ``new_id`` yet: everything is done;
* issued and in the wallet: what is left (device copies, the old one's revocation and
  removal) is done;
* issued but not in the wallet (the crash came between the registry and the wallet):
  nobody holds it, so it is revoked and ``orphaned`` answered; the caller notes
  another id and calls again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from issuer import CredentialIssuer
from issuer.errors import InvalidTransition, UnknownCredential
from keys.pseudonym import Pseudonyms
from service.devices import Devices
from service.errors import JobCorrupt
from service.wallets import credential_claims
from store.interface import CredentialRecord, Store
from wallet import WalletVault
from wallet.errors import CredentialNotInWallet

if TYPE_CHECKING:  # service.links builds on the same use cases
    from service.links import Links

__all__ = ["Reissue", "Replaced"]

Outcome = Literal["replaced", "skipped", "orphaned"]


@dataclass(frozen=True, slots=True)
class Replaced:
    """What :meth:`Reissue.replace` did. ``reason`` says why a credential was skipped:
    ``unknown`` (no such credential of this citizen), ``not_valid`` (revoked, suspended
    or expired before the new one was issued), ``not_in_wallet`` (issued to a wallet
    outside the service: it cannot be re-issued here), ``unchanged`` (nothing to change),
    ``link_ended`` (a link credential whose link ended meanwhile)."""

    outcome: Outcome
    old: CredentialRecord | None
    new: CredentialRecord | None = None
    reason: str = ""


class Reissue:
    """Replaces credentials in wallets (see the module doc)."""

    def __init__(
        self,
        store: Store,
        issuer: CredentialIssuer,
        vault: WalletVault,
        devices: Devices,
        pseudonyms: Pseudonyms,
    ) -> None:
        self._store = store
        self._issuer = issuer
        self._vault = vault
        self._devices = devices
        self._pseudonyms = pseudonyms
        self._listeners: list[Callable[[str, CredentialRecord], None]] = []

    def listen(self, listener: Callable[[str, CredentialRecord], None]) -> None:
        """Be told ``(citizen_id, new record)`` after each replacement of one of the
        citizen's own cards is complete (the old one revoked and out of the wallet): the
        derived attestations follow. Not for a link credential or a held-for copy."""
        self._listeners.append(listener)
        #: guardians and carers (:mod:`service.links`): the new card reaches them, the old
        #: one's copies are revoked with it; set by the container
        self.links: Links | None = None

    def claims(self, citizen_id: str, credential_id: str) -> dict[str, object]:
        """The claims of a credential in the citizen's wallet, in clear. Raises
        :class:`~wallet.errors.CredentialNotInWallet`."""
        return credential_claims(self._vault.credential(citizen_id, credential_id).sd_jwt)

    def replace(
        self,
        citizen_id: str,
        old_id: str,
        *,
        new_id: str,
        claims: Mapping[str, object] | None = None,
    ) -> Replaced:
        """Replace credential ``old_id`` of the citizen by ``new_id`` with ``claims``
        changed (see the module doc). Raises what issuing raises
        (:class:`~issuer.errors.ClaimsInvalid` for a value the type refuses…)."""
        old = self._store.get_credential(old_id)
        if old is None or old.subject != self._pseudonyms.of(citizen_id):
            return Replaced("skipped", None, reason="unknown")
        links = self.links
        role = None if links is None else links.role_of(old)
        new = self._store.get_credential(new_id)
        if new is None:
            if self._vault.live_state(old_id) != "valid":
                return Replaced("skipped", old, reason="not_valid")
            try:
                current = self.claims(citizen_id, old_id)
            except CredentialNotInWallet:
                return Replaced("skipped", old, reason="not_in_wallet")
            issued = self._issuer.issue(
                old.issuer,
                old.vct,
                subject=citizen_id,
                claims={**current, **(claims or {})},
                holder_jwk=self._vault.holder_jwk(citizen_id),
                credential_id=new_id,
                # a link's credential ends with the link, a copy with its card or link
                not_after=None if role is None else old.expires_at,
            )
            if links is not None and role == "copy":
                links.register_copy(old, new_id)  # before the wallet (and devices) see it
            self._vault.add(citizen_id, new_id, issued.sd_jwt)
            new = issued.record
        else:
            if new.subject != old.subject or new.vct != old.vct:
                raise JobCorrupt("a noted credential id belongs to another credential")
            try:
                self._vault.item(citizen_id, new_id)
            except CredentialNotInWallet:
                # Issued, but the crash came before the wallet kept it: nobody holds it.
                with suppress(InvalidTransition, UnknownCredential):
                    self._devices.follow(self._issuer.revoke(new.issuer, new_id))
                return Replaced("orphaned", old, new)
        if links is not None and role == "link" and not links.relink(citizen_id, old, new):
            # the link ended meanwhile (withdrawn, revoked, expired): the new one is of no use
            with suppress(InvalidTransition, UnknownCredential):
                self._devices.follow(self._issuer.revoke(new.issuer, new_id))
            with suppress(CredentialNotInWallet):
                self._vault.remove(citizen_id, new_id)
            return Replaced("skipped", old, reason="link_ended")
        self._devices.deliver(citizen_id, new_id)  # a copy is kept off (Devices.keep_off)
        if links is not None and role is None:
            links.deliver(citizen_id, new_id)
        with suppress(InvalidTransition, UnknownCredential):
            revoked = self._issuer.revoke(old.issuer, old_id)
            if links is not None:
                links.follow(revoked)
        with suppress(CredentialNotInWallet):
            self._vault.remove(citizen_id, old_id)
        self._devices.forget(citizen_id, old_id)  # its copies: revoked and forgotten
        done = self._store.get_credential(new_id) or new
        if role is None:  # a link credential or a copy is no source of the holder's own
            for listener in self._listeners:
                listener(citizen_id, done)
        return Replaced("replaced", old, done)
