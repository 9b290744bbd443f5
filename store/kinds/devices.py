"""Citizens' devices (phones holding their own holder key) and the credential copies
bound to each.

A device is known by the citizen's pseudonym (:mod:`keys.pseudonym`), never the citizen
id. Its public key is kept as a JWK with its RFC 7638 thumbprint (``kid``); the private
key never leaves the device. A copy is one credential issued again for one device: its
own registry id (``copy_id``, a :class:`~store.kinds.registry.CredentialRecord` with its
own status index), the card it copies (``credential_id``) and the SD-JWT sealed under
the service's device-copy key (``blob``: personal data, never in clear).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

__all__ = [
    "DEVICE_STATES",
    "DeviceAdded",
    "DeviceCopy",
    "DeviceRecord",
    "DeviceState",
    "DeviceStore",
]

DeviceState = Literal["active", "removed"]
DEVICE_STATES: tuple[str, ...] = get_args(DeviceState)
#: What :meth:`DeviceStore.add_device` did: ``added``; ``duplicate`` (this citizen already
#: registered a device with this key, removed or not); ``full`` (``limit`` active devices).
DeviceAdded = Literal["added", "duplicate", "full"]


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device of a citizen (``citizen_id`` is the pseudonym)."""

    citizen_id: str
    device_id: str
    kid: str
    public_jwk: str
    label: str
    created_at: int
    last_seen: int
    state: DeviceState = "active"


@dataclass(frozen=True, slots=True)
class DeviceCopy:
    """A credential issued again for one device: ``copy_id`` is its registry id,
    ``credential_id`` the card (the wallet's and the department's id) it copies."""

    citizen_id: str
    device_id: str
    copy_id: str
    credential_id: str
    vct: str
    added_at: int
    blob: bytes


@runtime_checkable
class DeviceStore(Protocol):
    """A citizen's devices and their copies (all of one citizen in one Redis Cluster slot)."""

    def add_device(self, record: DeviceRecord, limit: int) -> DeviceAdded:
        """In one atomic step: refuse a key (``kid``) this citizen registered before
        (``duplicate``) or a citizen with ``limit`` active devices (``full``), else
        insert (``added``). Raises :class:`Conflict` if the citizen has this device id."""

    def get_device(self, citizen_id: str, device_id: str) -> DeviceRecord | None: ...
    def list_devices(self, citizen_id: str) -> list[DeviceRecord]:
        """The citizen's devices (removed ones too), by ``created_at`` then ``device_id``."""

    def remove_device(self, citizen_id: str, device_id: str) -> bool:
        """Mark the device removed; False if it is unknown or already removed."""

    def device_seen(self, citizen_id: str, device_id: str, at: int) -> None:
        """Set ``last_seen`` of an existing device (never backwards)."""

    def put_device_copy(self, copy: DeviceCopy) -> None:
        """Insert or replace the copy with this citizen and ``copy_id``."""

    def list_device_copies(self, citizen_id: str, device_id: str | None = None) -> list[DeviceCopy]:
        """The citizen's copies (of one device, or all), by ``added_at`` then ``copy_id``."""

    def delete_device_copies(self, citizen_id: str, credential_id: str) -> list[str]:
        """Forget every copy of the card ``credential_id``; the ``copy_id`` s forgotten."""
