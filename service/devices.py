"""A citizen's devices: phones that hold their own holder key, and a copy of every
credential of the citizen bound to each (issue 9).

* :meth:`Devices.nonce` gives a ``c_nonce`` (OpenID4VCI) bound to the citizen's session,
  valid :data:`NONCE_TTL` seconds and spent by the first registration that uses it.
* :meth:`Devices.register` checks the device's key proof
  (:func:`wallet.device_proof.verify_device_proof`: ``aud`` is the service's base URL),
  spends the nonce, records the device (a key once per citizen, at most
  ``max_devices`` active) and issues the device its copies.
* A *copy* is the credential issued again by its own issuer, with the same claims and
  an ``exp`` no later than the original's, bound (``cnf.jwk``) to the device's key, with
  its own random status index. The store links copy -> card
  (:class:`store.kinds.devices.DeviceCopy`) and keeps the SD-JWT sealed (AES-GCM, a key
  derived from the instance secret, the citizen's pseudonym, device and copy ids as
  associated data).
* :meth:`Devices.follow` gives every copy of a card the card's new status (revoked,
  suspended, valid again: not the copies of removed devices, which are revoked);
  :meth:`Devices.remove` revokes the device's copies at once; :meth:`Devices.forget`
  revokes and forgets a card's copies when the citizen removes the card.

Citizens without a device keep the service-held key (the vault's): the assisted mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
import unicodedata
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from issuer import CredentialIssuer
from issuer.errors import InvalidTransition, UnknownCredential
from keys.aead import Envelope
from keys.b64 import b64url_encode
from keys.pseudonym import Pseudonyms
from service.errors import (
    DeviceKeyRegistered,
    DeviceLabelInvalid,
    DeviceLimitReached,
    DeviceNotFound,
)
from service.wallets import credential_claims
from store.interface import (
    DEVICE_NONCE,
    DEVICE_NONCE_USED,
    CredentialRecord,
    CredentialState,
    DeviceCopy,
    DeviceRecord,
    Store,
)
from store.validation import MAX_DEVICE_LABEL
from wallet import WalletVault
from wallet.device_proof import verify_device_proof
from wallet.errors import DeviceNonceInvalid, WalletCorrupt
from wallet.vault import LiveState

__all__ = [
    "COPY_KEY_LABEL",
    "DEFAULT_MAX_DEVICES",
    "NONCE_TTL",
    "DeviceCredential",
    "DeviceNonce",
    "Devices",
    "Registered",
    "clean_label",
]

#: Label of the key that seals device copies (``derive_key(secret, label)``).
COPY_KEY_LABEL = "ecert/device-copies/v1"
#: Active devices per citizen unless ``Settings.max_devices`` says otherwise.
DEFAULT_MAX_DEVICES = 5
#: Life of a ``c_nonce`` (seconds; the answer's ``expires_in``).
NONCE_TTL = 300
_VERSION = b"D1"


@dataclass(frozen=True, slots=True)
class DeviceNonce:
    """A fresh ``c_nonce`` and how long it lives (seconds)."""

    c_nonce: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Registered:
    """A device just registered and how many copies it was given."""

    device: DeviceRecord
    credentials: int


@dataclass(frozen=True, slots=True)
class DeviceCredential:
    """One copy as the device keeps it: the card's id, the copy's id, its SD-JWT (all
    disclosures) and its live status."""

    credential_id: str
    id: str
    vct: str
    sd_jwt: str
    status: LiveState


class Devices:
    """Citizens' devices and their credential copies over the store."""

    def __init__(
        self,
        store: Store,
        issuer: CredentialIssuer,
        vault: WalletVault,
        pseudonyms: Pseudonyms,
        *,
        base_url: str,
        copy_key: bytes,
        max_devices: int = DEFAULT_MAX_DEVICES,
        clock: Callable[[], float] = time.time,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        """``base_url``: the ``aud`` a key proof must name; ``copy_key`` (256 bits,
        derived under :data:`COPY_KEY_LABEL`) seals the copies at rest."""
        self._store = store
        self._issuer = issuer
        self._vault = vault
        self._pseudonyms = pseudonyms
        self.base_url = base_url.rstrip("/")
        self._aead = Envelope(copy_key, _VERSION)
        self.max_devices = max_devices
        self.clock = clock
        self._token_bytes = token_bytes
        #: ``keep_off(citizen_id, credential_id)``: a card never copied to a device (a
        #: held-for copy of a guardian or carer, :mod:`service.links`); set by the container
        self.keep_off: Callable[[str, str], bool] | None = None

    # -- nonce and registration ---------------------------------------------------------

    def nonce(self, citizen_id: str, session: str) -> DeviceNonce:
        """A ``c_nonce`` for one key proof of this citizen's ``session`` (its bearer
        token; only a hash of it is kept)."""
        nonce = b64url_encode(self._token_bytes(32))
        now = self.clock()
        self._store.once(DEVICE_NONCE).put(
            _sha256(nonce), self._binding(citizen_id, session), now + NONCE_TTL, now
        )
        return DeviceNonce(nonce, NONCE_TTL)

    def register(
        self,
        citizen_id: str,
        session: str,
        proof: str,
        label: str | None,
        *,
        user_agent: str | None = None,
    ) -> Registered:
        """Register the device whose key ``proof`` proves, and issue it its copies.

        Raises :class:`DeviceLabelInvalid`, a :class:`~wallet.errors.DeviceProofInvalid`
        (its own code per check; ``device_nonce_invalid`` for a nonce that is unknown,
        expired, spent or another session's), :class:`DeviceKeyRegistered` and
        :class:`DeviceLimitReached`.
        """
        name = clean_label(label) if label else _agent_label(user_agent)
        now = self.clock()
        checked = verify_device_proof(proof, aud=self.base_url, now=now)
        self._spend(citizen_id, session, checked.nonce, now)
        owner = self._pseudonyms.of(citizen_id)
        record = DeviceRecord(
            citizen_id=owner,
            # Milliseconds in hex first, so that devices made in one second list in order.
            device_id=f"{int(now * 1000):011x}" + b64url_encode(self._token_bytes(12)),
            kid=checked.kid,
            public_jwk=json.dumps(checked.jwk, sort_keys=True, separators=(",", ":")),
            label=name,
            created_at=int(now),
            last_seen=int(now),
        )
        added = self._store.add_device(record, self.max_devices)
        if added == "duplicate":
            raise DeviceKeyRegistered("This key is already registered as one of your devices.")
        if added == "full":
            raise DeviceLimitReached(
                f"You already have {self.max_devices} devices: remove one first."
            )
        count = 0
        try:
            for card in self._vault.items(citizen_id):
                if self._copy(citizen_id, record, card.credential_id) is not None:
                    count += 1
        except BaseException:
            # No half-equipped device: remove it, which revokes the copies made so far.
            # Its key stays spent (a key is accepted once); the phone makes a new one.
            with contextlib.suppress(Exception):
                self.remove(citizen_id, record.device_id)
            raise
        return Registered(record, count)

    def _binding(self, citizen_id: str, session: str) -> bytes:
        owner = self._pseudonyms.of(citizen_id)
        return hashlib.sha256(
            b"ecert-device-nonce:" + owner.encode() + b"\x00" + session.encode("utf-8")
        ).digest()

    def _spend(self, citizen_id: str, session: str, nonce: str, now: float) -> None:
        name = _sha256(nonce)
        bound = self._store.once(DEVICE_NONCE).get(name, now)
        if bound is None or not secrets.compare_digest(bound, self._binding(citizen_id, session)):
            raise DeviceNonceInvalid("The key proof's nonce is unknown, expired or not yours.")
        if not self._store.once(DEVICE_NONCE_USED).put(name, b"1", now + NONCE_TTL, now):
            raise DeviceNonceInvalid("The key proof's nonce was already used.")

    # -- listing, removing, fetching copies ---------------------------------------------

    def list_devices(self, citizen_id: str) -> list[DeviceRecord]:
        """The citizen's devices, oldest first (removed ones too, marked so)."""
        return self._store.list_devices(self._pseudonyms.of(citizen_id))

    def device(self, citizen_id: str, device_id: str) -> DeviceRecord:
        """One active device of the citizen. Raises :class:`DeviceNotFound`."""
        record = self._store.get_device(self._pseudonyms.of(citizen_id), device_id)
        if record is None or record.state != "active":
            raise DeviceNotFound("No device with this id.")
        return record

    def remove(self, citizen_id: str, device_id: str) -> DeviceRecord:
        """Remove an active device and revoke every copy bound to it at once (the status
        list bit, as a department's revocation). Raises :class:`DeviceNotFound`."""
        record = self.device(citizen_id, device_id)
        if not self._store.remove_device(record.citizen_id, device_id):
            raise DeviceNotFound("No device with this id.")
        for copy in self._store.list_device_copies(record.citizen_id, device_id):
            self._set(copy.copy_id, "revoked")
        return self._store.get_device(record.citizen_id, device_id) or record

    def credentials(self, citizen_id: str, device_id: str) -> list[DeviceCredential]:
        """The copies bound to one active device of the citizen, with all their
        disclosures and live status. Raises :class:`DeviceNotFound`."""
        record = self.device(citizen_id, device_id)
        self._store.device_seen(record.citizen_id, device_id, int(self.clock()))
        return [
            DeviceCredential(
                credential_id=copy.credential_id,
                id=copy.copy_id,
                vct=copy.vct,
                sd_jwt=self._open(copy),
                status=self._vault.live_state(copy.copy_id),
            )
            for copy in self._store.list_device_copies(record.citizen_id, device_id)
        ]

    # -- following the cards ---------------------------------------------------------

    def deliver(self, citizen_id: str, credential_id: str) -> int:
        """Issue a copy of one card of the citizen to each of their active devices that
        has none yet (so a job that delivers again after a crash copies nothing twice);
        how many were issued."""
        owner = self._pseudonyms.of(citizen_id)
        has = {
            c.device_id
            for c in self._store.list_device_copies(owner)
            if c.credential_id == credential_id
        }
        count = 0
        for device in self._store.list_devices(owner):
            if device.state != "active" or device.device_id in has:
                continue
            if self._copy(citizen_id, device, credential_id):
                count += 1
        return count

    def follow(self, card: CredentialRecord) -> None:
        """Give every copy of ``card`` its state: revoked, suspended or valid again
        (a copy already revoked, a removed device's, stays revoked)."""
        for copy in self._store.list_device_copies(card.subject):
            if copy.credential_id == card.id:
                self._set(copy.copy_id, card.state)

    def forget(self, citizen_id: str, credential_id: str) -> None:
        """The citizen removed the card from the wallet: revoke its copies and forget
        them (the original's status is unchanged, as for the wallet's removal)."""
        owner = self._pseudonyms.of(citizen_id)
        for copy_id in self._store.delete_device_copies(owner, credential_id):
            self._set(copy_id, "revoked")

    def _copy(self, citizen_id: str, device: DeviceRecord, credential_id: str) -> DeviceCopy | None:
        """Issue one card again for one device; None if the card cannot be copied (not
        in the registry, revoked or expired)."""
        if self.keep_off is not None and self.keep_off(citizen_id, credential_id):
            return None
        card = self._store.get_credential(credential_id)
        state = self._vault.live_state(credential_id)
        if card is None or state in ("revoked", "unknown") or card.expires_at <= self.clock():
            return None
        sd_jwt = self._vault.credential(citizen_id, credential_id).sd_jwt
        issued = self._issuer.issue(
            card.issuer,
            card.vct,
            subject=citizen_id,
            claims=credential_claims(sd_jwt),
            holder_jwk=json.loads(device.public_jwk),
            not_after=card.expires_at,
        )
        copy = DeviceCopy(
            citizen_id=device.citizen_id,
            device_id=device.device_id,
            copy_id=issued.id,
            credential_id=credential_id,
            vct=card.vct,
            added_at=int(self.clock()),
            blob=self._aead.seal(issued.sd_jwt.encode("ascii"), _aad(device, issued.id)),
        )
        self._store.put_device_copy(copy)
        if state == "suspended":
            self._set(issued.id, "suspended")
        return copy

    def _set(self, copy_id: str, state: CredentialState) -> None:
        record = self._store.get_credential(copy_id)
        if record is None:
            return
        with suppress(InvalidTransition, UnknownCredential):
            if state == "revoked":
                self._issuer.revoke(record.issuer, copy_id)
            elif state == "suspended":
                self._issuer.suspend(record.issuer, copy_id)
            else:
                self._issuer.reinstate(record.issuer, copy_id)

    def _open(self, copy: DeviceCopy) -> str:
        aad = _aad_of(copy.citizen_id, copy.device_id, copy.copy_id)
        try:
            return self._aead.open(copy.blob, aad).decode("ascii")
        except Exception as err:  # SealBroken, or bytes that are not ASCII
            raise WalletCorrupt("a device copy does not open with its key") from err


def clean_label(label: str) -> str:
    """A device label: NFC, trimmed, 1 to 40 characters, no control characters. Raises
    :class:`DeviceLabelInvalid`."""
    text = unicodedata.normalize("NFC", label).strip()
    if not 1 <= len(text) <= MAX_DEVICE_LABEL:
        raise DeviceLabelInvalid(f"A device label has 1 to {MAX_DEVICE_LABEL} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise DeviceLabelInvalid("A device label cannot hold control characters.")
    return text


#: User-agent words -> the short label of a device registered without one (first wins).
_AGENTS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Macintosh", "Mac"),
    ("CrOS", "Chromebook"),
    ("Linux", "Linux"),
)


def _agent_label(user_agent: str | None) -> str:
    agent = (user_agent or "")[:512]
    for word, name in _AGENTS:
        if word in agent:
            return name
    return "Browser"


def _aad(device: DeviceRecord, copy_id: str) -> bytes:
    return _aad_of(device.citizen_id, device.device_id, copy_id)


def _aad_of(owner: str, device_id: str, copy_id: str) -> bytes:
    return b"ecert-device-copy:" + b"\x00".join(
        part.encode("utf-8") for part in (owner, device_id, copy_id)
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
