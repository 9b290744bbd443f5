"""A citizen's devices (``/api/v1/wallet/devices``): phones that hold their own key.

The wallet page makes a P-256 key with WebCrypto that cannot be exported, asks for a
``c_nonce`` (``POST /nonce``), signs an OpenID4VCI key proof JWT over it
(:mod:`wallet.device_proof`) and registers (``POST``). The device then fetches its own
copy of each of the citizen's credentials (``GET /{id}/credentials``), bound to its key,
and presents them itself, offline. Removing a device (``DELETE``) revokes its copies at
once. Every route takes the citizen's session token and reaches only that citizen's
devices: another citizen's device id answers ``404 not_found`` like an unknown one.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from api.openapi import SECURITY_CITIZEN, APIBlueprint, Tag, problems
from api.principals import current_citizen
from api.security import bearer_token
from api.services import services
from store.interface import DeviceRecord
from wallet.device_proof import MAX_PROOF_LENGTH

__all__ = ["bp"]

bp = APIBlueprint(
    "devices",
    __name__,
    url_prefix="/api/v1/wallet/devices",
    abp_tags=[
        Tag(
            name="devices",
            description="A citizen's devices: holder keys kept on the phone, and the copy "
            "of each credential bound to each device.",
        )
    ],
    abp_security=SECURITY_CITIZEN,
)


class DevicePath(BaseModel):
    """A device of the citizen (the id given at registration)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class NonceAnswer(BaseModel):
    """A fresh nonce for one key proof (OpenID4VCI's ``c_nonce``)."""

    c_nonce: str
    expires_in: int = Field(description="Seconds the nonce stays usable (once).")


class RegisterBody(BaseModel):
    """The device's key proof and its label."""

    model_config = ConfigDict(extra="forbid")

    proof: str = Field(
        max_length=MAX_PROOF_LENGTH,
        description="An OpenID4VCI key proof JWT (`typ` `openid4vci-proof+jwt`, `ES256`, "
        "the public P-256 `jwk` in the header; `aud` the service's base URL, `iat`, "
        "`nonce` the `c_nonce`).",
    )
    label: str | None = Field(
        default=None,
        max_length=200,
        description="A name the citizen chose (trimmed, 1 to 40 characters); default: "
        "the browser's short name.",
    )


class DeviceEntry(BaseModel):
    """One device (no key material but its thumbprint)."""

    id: str
    label: str
    kid: str = Field(description="The RFC 7638 thumbprint of the device's public key.")
    created: int = Field(description="When it was registered (epoch seconds).")
    last_seen: int = Field(description="When it last fetched its credentials.")
    state: Literal["active", "removed"]


class Registered(BaseModel):
    """A device just registered."""

    id: str
    label: str
    kid: str
    created: int
    credentials: int = Field(description="How many credential copies it was given.")


class DeviceList(BaseModel):
    """The citizen's devices, oldest first."""

    items: list[DeviceEntry]


class DeviceCredentialEntry(BaseModel):
    """One credential copy bound to the device's key."""

    credential_id: str = Field(description="The card's id (the wallet's credential id).")
    id: str = Field(description="The copy's own id (its own status list entry).")
    vct: str
    sd_jwt: str = Field(description="The SD-JWT VC with all its disclosures.")
    status: Literal["valid", "revoked", "suspended", "unknown"]


class DeviceCredentials(BaseModel):
    """The copies bound to one device."""

    items: list[DeviceCredentialEntry]


_PROOF = (
    "The key proof is refused: `device_proof_invalid` (shape, `typ`, `alg`, claims), "
    "`device_key_invalid` (not a public P-256 `jwk` alone), `device_proof_signature`, "
    "`device_proof_audience` (`aud`), `device_proof_stale` (`iat`), "
    "`device_nonce_invalid` (unknown, expired, used or another session's nonce); "
    "or the label is unusable (`invalid_request`)."
)
_CONFLICT = (
    "`device_key_registered`: this key is already one of the citizen's devices; "
    "`device_limit_reached`: the citizen has the most active devices allowed."
)


@bp.post(
    "/nonce",
    summary="A nonce for a device's key proof",
    responses={200: NonceAnswer},
)
def nonce() -> dict[str, Any]:
    """A `c_nonce` to sign in the key proof; usable once, by this session, for
    `expires_in` seconds."""
    given = services().devices.nonce(current_citizen(), bearer_token())
    return NonceAnswer(c_nonce=given.c_nonce, expires_in=given.expires_in).model_dump()


@bp.post(
    "",
    summary="Register a device",
    responses={
        201: Registered,
        **problems(400, 409, descriptions={400: _PROOF, 409: _CONFLICT}),
    },
)
def register(body: RegisterBody) -> tuple[dict[str, Any], int]:
    """Register the device whose key the proof proves, and issue it a copy of each of
    the citizen's valid credentials, bound to that key."""
    done = services().devices.register(
        current_citizen(),
        bearer_token(),
        body.proof,
        body.label,
        user_agent=request.headers.get("User-Agent"),
    )
    device = done.device
    answer = Registered(
        id=device.device_id,
        label=device.label,
        kid=device.kid,
        created=device.created_at,
        credentials=done.credentials,
    )
    return answer.model_dump(), 201


@bp.get(
    "",
    summary="List the citizen's devices",
    responses={200: DeviceList},
)
def list_devices() -> dict[str, Any]:
    """The citizen's devices, oldest first, removed ones too."""
    devices = services().devices.list_devices(current_citizen())
    return DeviceList(items=[_entry(d) for d in devices]).model_dump()


@bp.delete(
    "/<id>",
    summary="Remove a device",
    responses={204: None, **problems(404)},
)
def remove_device(path: DevicePath) -> tuple[str, int]:
    """Remove the device (a lost phone) and revoke every credential copy bound to it at
    once. Another citizen's device, an unknown or removed one: `404 not_found`."""
    services().devices.remove(current_citizen(), path.id)
    return "", 204


@bp.get(
    "/<id>/credentials",
    summary="The credential copies of one device",
    responses={200: DeviceCredentials, **problems(404)},
)
def device_credentials(path: DevicePath) -> dict[str, Any]:
    """The copies bound to this active device, each with all its disclosures, for the
    phone to keep and present offline."""
    copies = services().devices.credentials(current_citizen(), path.id)
    items = [
        DeviceCredentialEntry(
            credential_id=c.credential_id, id=c.id, vct=c.vct, sd_jwt=c.sd_jwt, status=c.status
        )
        for c in copies
    ]
    return DeviceCredentials(items=items).model_dump()


def _entry(device: DeviceRecord) -> DeviceEntry:
    return DeviceEntry(
        id=device.device_id,
        label=device.label,
        kid=device.kid,
        created=device.created_at,
        last_seen=device.last_seen,
        state=device.state,
    )
