"""The citizen's wallet (``/api/v1/wallet``): credentials, presentations, activity.

Every route takes the citizen's session token (:func:`api.principals.current_citizen`)
and reaches only that citizen's wallet: another citizen's credential (or presentation)
id answers ``404 not_found`` exactly like an id that does not exist. Answers are
``Cache-Control: no-store`` (the chassis default under ``/api/v1``; QR images too).

Presentations are shown offline (the compact QR text of the presentation) or online
(a short URL redeemed once at ``POST /api/v1/verify``); each gets an id whose QR image
its owner fetches until it expires (:mod:`service.presentations`, :mod:`api.presentations`).
A citizen's phone that holds a device key makes its presentations itself and hands an
online one to ``POST /api/v1/wallet/presentations`` to be held behind a short URL
(:meth:`service.wallets.Wallets.hold`); the service never signs for that device.

No QR code for a credential that cannot pass: a revoked, suspended or expired
credential (live status from the store, ``exp`` against the service's clock with the
verifier's leeway: :meth:`wallet.WalletVault.presentable`) answers ``409``
``credential_revoked``, ``credential_suspended`` or ``credential_expired``, both when
a presentation is asked for (nothing is made) and when the QR image of an earlier one
is fetched.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response
from flask.blueprints import BlueprintSetupState
from pydantic import BaseModel, ConfigDict, Field

from api import presentations as qr_presentations
from api.openapi import SECURITY_CITIZEN, APIBlueprint, Tag, problems
from api.principals import current_citizen
from api.services import services
from issuer import UnknownCredentialType, load_catalogue
from keys import LocalizedName
from service.links import HeldFor
from service.presentations import ShownPresentation
from service.wallets import CHANGE_SCENE_PREFIX, Card
from store.interface import ActivityRecord, VenueRecord
from wallet.qr import render_png, render_svg

__all__ = ["bp"]

bp = APIBlueprint(
    "wallet",
    __name__,
    url_prefix="/api/v1/wallet",
    abp_tags=[
        Tag(name="wallet", description="A citizen's own credentials, presentations and activity.")
    ],
    abp_security=SECURITY_CITIZEN,
)


def _init_presentations(state: BlueprintSetupState) -> None:
    qr_presentations.init_app(state.app)


bp.record_once(_init_presentations)


class CredentialPath(BaseModel):
    """A credential in the wallet (the id the department got at issuance)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class WalletEntry(BaseModel):
    """A credential in the wallet (no personal data)."""

    id: str
    vct: str
    name: LocalizedName = Field(description="The credential type's name (catalogue).")
    issuer: str = Field(description="The issuer's URL (`iss`).")
    status: Literal["valid", "revoked", "suspended", "unknown"] = Field(
        description="Live, from the issuer's registry and its status list (either one "
        "revoking or suspending counts); `unknown` if the registry does not know the id."
    )
    expires_at: int = Field(
        description="The credential's technical `exp` (epoch seconds); the document's own "
        "end of validity is `valid_until`."
    )
    valid_until: str | None = Field(
        default=None,
        description="The document's own `valid_until` claim (`YYYY-MM-DD`), as printed on "
        "it; null if its type has none or the document is long-term.",
    )
    long_term: bool = Field(
        default=False,
        description="The type has a `valid_until` claim and this document has none: "
        "valid for the long term (长期).",
    )
    held_for: HeldForEntry | None = Field(
        default=None,
        description="A card held for a ward or a principal (代…持有): whose; null for the "
        "citizen's own.",
    )


class HeldForEntry(BaseModel):
    """For whom a card is held (issue 12): a ward's card in a guardian's wallet, a
    principal's in a carer's; presented as one set with the link credential."""

    name: str = Field(description="The ward's or principal's name (from the link).")
    kind: Literal["guardianship", "care"]
    link_id: str


class WalletList(BaseModel):
    """The citizen's credentials, oldest first."""

    items: list[WalletEntry]


class ClaimLabel(BaseModel):
    """A claim of the credential's type and its label (catalogue)."""

    name: str
    label: LocalizedName


class WalletCredential(WalletEntry):
    """One credential with its content, for its owner only."""

    claims: dict[str, Any] = Field(description="Every claim of the credential, in clear.")
    fields: list[ClaimLabel] = Field(
        default_factory=list,
        description="Every claim its type may have, with its label, in the catalogue's "
        "order (for showing the whole card).",
    )
    credential: str = Field(description="The SD-JWT VC with all its disclosures.")


class PresentationBody(BaseModel):
    """Which scene to show the credential for."""

    model_config = ConfigDict(extra="forbid")

    scene: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A scene id (`hotel`).")
    mode: Literal["offline", "online"] = Field(
        default="offline",
        description="`offline`: the QR text is the presentation itself, in the compact "
        "QR transport (`EC2:…`), checked with no network. `online`: the QR text is a "
        "short URL `<base>/p/<token>` (a QR code of version 6 or less) that a venue "
        "redeems once at `POST /api/v1/verify`.",
    )


class HeldPresentationBody(BaseModel):
    """A presentation the citizen's phone made, to hold behind an online QR URL."""

    model_config = ConfigDict(extra="forbid")

    presentation: str = Field(
        min_length=1,
        description="The SD-JWT+KB (`jwt~disclosures~kb-jwt`) made on the phone with its "
        "device key, for `scene`: a copy bound to one of the caller's active devices.",
    )
    scene: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A scene id (`hotel`).")
    mode: Literal["online"] = Field(
        default="online",
        description="Only `online`: an offline code is the presentation itself, drawn "
        "on the phone.",
    )


class PresentationAnswer(BaseModel):
    """A presentation to show as a QR code."""

    id: str = Field(
        description="The presentation's id, for its QR image "
        "(`/api/v1/wallet/presentations/{id}/qr.png` or `.svg`) until it expires."
    )
    qr: str = Field(description="The text to encode in the QR code.")
    mode: Literal["offline", "online"]
    expires_at: int = Field(description="When verifiers stop accepting it (epoch seconds).")


class PresentationPath(BaseModel):
    """A presentation made by the citizen (the id in its answer)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class ActivityVenue(BaseModel):
    """The venue that checked."""

    id: str
    name: LocalizedName | None = Field(description="null if the venue no longer exists.")


class ActivityEntry(BaseModel):
    """One verification of the citizen's credential seen by the service, or one card
    re-issued because a subject field of the citizen changed (``kind`` ``change``)."""

    id: str = Field(
        description="The event's id: a check's receipt, rating and misuse report are at "
        "`/api/v1/wallet/receipts/{id}`."
    )
    at: int = Field(description="When (epoch seconds).")
    kind: Literal["check", "change"] = Field(
        default="check",
        description="`check`: a venue checked the card; `change`: the card was re-issued "
        "with a changed subject field (`venue` is then the issuer that re-issued it).",
    )
    field: str | None = Field(
        default=None, description="For a change: the subject field that changed (`name`)."
    )
    field_label: LocalizedName | None = Field(
        default=None, description="For a change: the subject field's label (catalogue)."
    )
    venue: ActivityVenue
    scene: str
    vct: str | None
    claims: list[str] = Field(description="The names of the claims shown (never values).")
    credential: str | None = Field(
        default=None,
        description="The wallet's id of the card checked (a check of a device's copy is "
        "listed under its card; a copy forgotten with its removed card keeps the copy's "
        "id); null if unknown.",
    )
    valid: bool
    codes: list[str] = Field(description="Error codes of a failed check (DESIGN.md §4).")


class ActivityList(BaseModel):
    """The citizen's activity, newest first."""

    items: list[ActivityEntry]


@bp.get(
    "/credentials",
    summary="List the citizen's credentials",
    responses={200: WalletList},
)
def list_credentials() -> dict[str, Any]:
    """The credentials in the wallet, with their current status."""
    citizen = current_citizen()
    cards = services().wallets.credentials(citizen)
    held = services().links.held_for(citizen)
    return WalletList(
        items=[_entry(card, held.get(card.item.credential_id)) for card in cards]
    ).model_dump()


@bp.get(
    "/credentials/<id>",
    summary="One credential with its claims",
    responses={200: WalletCredential, **problems(404)},
)
def get_credential(path: CredentialPath) -> dict[str, Any]:
    """The credential's claims in clear and the SD-JWT itself (for a native wallet)."""
    card = services().wallets.credential(current_citizen(), path.id)
    entry = _entry(card).model_dump()
    return WalletCredential(
        **entry, claims=card.claims, fields=_fields(card.item.vct), credential=card.sd_jwt
    ).model_dump()


@bp.delete(
    "/credentials/<id>",
    summary="Remove a credential from the wallet",
    responses={204: None, **problems(404)},
)
def delete_credential(path: CredentialPath) -> Response:
    """Remove it from the wallet (the issuer's registry and its status are unchanged)."""
    services().wallets.remove(current_citizen(), path.id)
    return Response(status=204)


#: The 409 of the presentation routes (OpenAPI): which codes it answers.
_UNUSABLE = (
    "The credential cannot pass a verifier, so no QR code is given: "
    "`credential_revoked` or `credential_suspended` (by its issuer, from the live "
    "registry), `credential_expired` (its `exp` has passed)."
)


@bp.post(
    "/credentials/<id>/presentations",
    summary="Make a presentation for a scene",
    responses={201: PresentationAnswer, **problems(404, 409, descriptions={409: _UNUSABLE})},
)
def create_presentation(path: CredentialPath, body: PresentationBody) -> tuple[Any, int]:
    """A presentation disclosing exactly the claims the scene asks for, bound to the
    scene and fresh for its `max_age`.

    `409 credential_revoked`, `credential_suspended` or `credential_expired` when the
    credential cannot pass a verifier now (its live status in the issuer's registry;
    its `exp`, with the verifier's 30-second leeway): nothing is made. `404
    unknown_scene` for a scene not in the trust list; `400 scene_unmet` when the
    scene does not accept this credential type. The answer's `id` names the
    presentation's QR image until `expires_at`. A card held for a ward or a principal
    (issue 12) is presented as one set with the guardianship or care authorisation;
    `400 scene_unmet` when the scene does not take that link.

    For a scene whose `all_of` names this credential's type, one set presentation of
    this card and the newest usable card of each other required type (`400
    set_credential_missing` with `vct` when the wallet has none); asked for `offline`,
    it is shown `online` while it does not pack into one QR code (the answer's `mode`).
    """
    citizen, svc = current_citizen(), services()
    if svc.links.is_held_copy(citizen, path.id):
        # a card held for a ward or a principal: only ever one set with its link
        shown = svc.links.present(citizen, path.id, body.scene, body.mode)
    else:
        shown = svc.wallets.present(citizen, path.id, body.scene, body.mode)
    answer = PresentationAnswer(
        id=shown.id, qr=shown.qr, mode=shown.mode, expires_at=shown.expires_at
    )
    return answer.model_dump(), 201


@bp.post(
    "/presentations",
    summary="Hold a presentation made on the phone behind an online QR URL",
    responses={201: PresentationAnswer, **problems(403, 404, 409, descriptions={409: _UNUSABLE})},
)
def hold_presentation(body: HeldPresentationBody) -> tuple[Any, int]:
    """The phone's online mode: it made the presentation itself (signed with its device
    key, with the `portrait` disclosure for a scene that asks for it) and the service
    keeps it behind a short URL `<base>/p/<token>`, redeemed once at
    `POST /api/v1/verify` like any online QR code, until the key-binding JWT's `iat`
    plus the scene's `max_age`.

    Checked before it is held: `400 presentation_too_large` (more than 16 KiB; a body
    over 64 KiB is `413 too_large`), `404
    unknown_scene`, `400 presentation_refused` when it does not verify for the scene
    with the live status (`reason`: the verifier's first code, e.g.
    `key_binding_invalid` for another scene, `invalid_signature`, `revoked` for a
    removed device's copy; its nonce is not used up), `403 device_copy_required` when
    the credential is not a copy bound to one of the caller's active devices (another
    citizen's, a credential whose key the service holds). The answer's `id` names its
    QR image, refused with `409` like the card's own presentations once the card
    cannot pass.
    """
    shown = services().wallets.hold(current_citizen(), body.presentation, body.scene)
    answer = PresentationAnswer(
        id=shown.id, qr=shown.qr, mode=shown.mode, expires_at=shown.expires_at
    )
    return answer.model_dump(), 201


def _image(media_type: str, description: str) -> dict[str, Any]:
    schema = {"type": "string", "format": "binary"}
    return {"description": description, "content": {media_type: {"schema": schema}}}


@bp.get(
    "/presentations/<id>/qr.png",
    summary="A presentation's QR code as PNG",
    responses={
        200: _image("image/png", "The QR code (level M)."),
        **problems(404, 409, descriptions={409: _UNUSABLE}),
    },
)
def presentation_png(path: PresentationPath) -> Response:
    """The QR code of one of the citizen's presentations, until it expires.

    Another citizen's presentation, an unknown id and an expired one all answer
    `404 not_found`; a presentation whose credential was revoked, suspended or
    expired since answers `409` with the same code as a new presentation would.
    Not cacheable (`no-store`).
    """
    shown = _shown(path.id)
    return _no_store(Response(render_png(shown.qr), mimetype="image/png"))


@bp.get(
    "/presentations/<id>/qr.svg",
    summary="A presentation's QR code as SVG",
    responses={
        200: _image("image/svg+xml", "The QR code (level M)."),
        **problems(404, 409, descriptions={409: _UNUSABLE}),
    },
)
def presentation_svg(path: PresentationPath) -> Response:
    """The QR code of one of the citizen's presentations as SVG, until it expires.

    Another citizen's presentation, an unknown id and an expired one all answer
    `404 not_found`; a presentation whose credential was revoked, suspended or
    expired since answers `409` with the same code as a new presentation would.
    Not cacheable (`no-store`).
    """
    shown = _shown(path.id)
    return _no_store(Response(render_svg(shown.qr), mimetype="image/svg+xml"))


@bp.get(
    "/activity",
    summary="Who checked the citizen's credentials",
    responses={200: ActivityList},
)
def activity() -> dict[str, Any]:
    """Every verification of this citizen's credentials that the service saw, newest
    first: when, which venue, which scene, which claims (names), and the result."""
    events = services().wallets.activity(current_citizen())
    items = [_activity(event, venue) for event, venue in events]
    return ActivityList(items=items).model_dump()


# -- helpers ---------------------------------------------------------------------------


def _shown(presentation_id: str) -> ShownPresentation:
    """The caller's presentation while its credential can still pass (404, 409)."""
    return services().wallets.shown(current_citizen(), presentation_id)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _entry(card: Card, held: HeldFor | None = None) -> WalletEntry:
    item = card.item
    held_for = None
    if held is not None:
        held_for = HeldForEntry(name=held.party_name, kind=held.kind, link_id=held.link_id)
    return WalletEntry(
        id=item.credential_id,
        vct=item.vct,
        name=_type_name(item.vct),
        issuer=item.issuer,
        status=card.status,
        expires_at=item.expires_at,
        valid_until=card.valid_until,
        long_term=card.long_term,
        held_for=held_for,
    )


def _type_name(vct: str) -> LocalizedName:
    try:
        name = load_catalogue().get(vct).name
    except UnknownCredentialType:
        return LocalizedName(zh=vct, en=vct)
    return LocalizedName(zh=name.zh, en=name.en)


def _fields(vct: str) -> list[ClaimLabel]:
    try:
        claims = load_catalogue().get(vct).claims
    except UnknownCredentialType:
        return []
    return [
        ClaimLabel(name=c.name, label=LocalizedName(zh=c.label.zh, en=c.label.en))
        for c in claims
    ]


def _field_label(field: str) -> LocalizedName | None:
    subject = load_catalogue().subject_field(field)
    if subject is None:
        return None
    return LocalizedName(zh=subject.label.zh, en=subject.label.en)


def _activity(event: ActivityRecord, venue: VenueRecord | None) -> ActivityEntry:
    name = LocalizedName(zh=venue.name_zh, en=venue.name_en) if venue is not None else None
    change = event.scene.startswith(CHANGE_SCENE_PREFIX)
    return ActivityEntry(
        id=event.event_id,
        at=event.at,
        kind="change" if change else "check",
        field=event.scene.removeprefix(CHANGE_SCENE_PREFIX) if change else None,
        field_label=_field_label(event.scene.removeprefix(CHANGE_SCENE_PREFIX)) if change else None,
        venue=ActivityVenue(id=venue.venue_id if change and venue else event.venue_id, name=name),
        scene=event.scene,
        vct=event.vct,
        claims=list(event.claims),
        credential=event.credential_id,
        valid=event.valid,
        codes=list(event.codes),
    )
