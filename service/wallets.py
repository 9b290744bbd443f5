"""A citizen's wallet on the service: credentials, presentations shown as QR codes, and
the activity.

:meth:`Wallets.credentials` lists the wallet with each credential's live status,
:meth:`Wallets.credential` opens one (its claims in clear), :meth:`Wallets.remove`
deletes one; :meth:`Wallets.present` makes a presentation for a scene of the live
trust list and gives it an id and a QR text (offline or online,
:mod:`service.presentations`); :meth:`Wallets.shown` hands a citizen's own
presentation back while its credential can still pass; :meth:`Wallets.hold` keeps a
presentation the citizen's phone made with its device key behind an online QR URL;
:meth:`Wallets.activity` lists who checked the citizen's credentials.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from issuer import UnknownCredentialType, load_catalogue
from issuer.catalogue import LONG_TERM
from keys import parse_compact
from keys.errors import FormatError
from keys.pseudonym import Pseudonyms
from keys.trustlist import PORTRAIT_CLAIM, Scene
from sdjwt import TYP_KB_JWT, TYP_SD_JWT_VC, resolve, split
from sdjwt.qr_transport import is_compact
from service.errors import DeviceCopyRequired, PresentationRefused, PresentationTooLarge
from service.presentations import Mode, QrPresentations, ShownPresentation
from service.verification import OnlineVerifier
from store.interface import (
    ActivityRecord,
    CredentialRecord,
    DeviceCopy,
    Store,
    VenueRecord,
    WalletItem,
)
from verifier import MAX_PRESENTATION
from verifier.errors import UnknownScene
from wallet import WalletVault
from wallet.errors import (
    ClaimsUnavailable,
    CredentialNotInWallet,
    CredentialUnreadable,
    CredentialUnusable,
    SetCredentialMissing,
    WalletCorrupt,
)
from wallet.vault import LiveState, Presentation

__all__ = ["Card", "OpenedCard", "Wallets", "credential_claims", "document_validity"]

#: Claims of the SD-JWT VC layer, not of the citizen.
#: How many times :meth:`Wallets.credentials` reads again a list that changed under it.
_CONSISTENT_READS = 5

_ENVELOPE = frozenset({"iss", "iat", "exp", "nbf", "vct", "cnf", "status", "_sd", "_sd_alg"})

#: The scene of an activity entry that records a change of a subject field
#: (``change:<field>``; :mod:`service.changes`): never a scene id, those are snake_case.
CHANGE_SCENE_PREFIX = "change:"

#: The claim that holds a document's own end of validity (absent: long-term, 长期).
VALID_UNTIL = "valid_until"


@dataclass(frozen=True, slots=True)
class Card:
    """A credential in the wallet with its live status (no personal data)."""

    item: WalletItem
    #: From the issuer's registry and the status list (:meth:`WalletVault.live_state`):
    #: the same status that refuses presentations, so the card list and the QR screen
    #: never disagree.
    status: LiveState
    #: The document's own ``valid_until`` claim (``YYYY-MM-DD``), not the credential's
    #: technical ``exp``: None if its type has no such claim or this document has none.
    valid_until: str | None = field(default=None, kw_only=True)
    #: Its type has a ``valid_until`` claim and this document has none (长期).
    long_term: bool = field(default=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class OpenedCard(Card):
    """A credential decrypted for its owner: every claim in clear and the SD-JWT VC."""

    claims: dict[str, Any]
    sd_jwt: str


class Wallets:
    """Citizens' presentations and activity over the service's vault and store."""

    def __init__(
        self,
        store: Store,
        vault: WalletVault,
        presentations: QrPresentations,
        online: OnlineVerifier,
        pseudonyms: Pseudonyms,
        *,
        on_remove: Callable[[str, str], None] | None = None,
    ) -> None:
        """``on_remove(citizen_id, credential_id)`` runs after a card is removed (the
        devices' copies of it are revoked and forgotten: :meth:`Devices.forget`)."""
        self._store = store
        self._on_remove = on_remove
        self._pseudonyms = pseudonyms
        self._vault = vault
        self._presentations = presentations
        self._online = online
        #: Run with the citizen id before the list is read (the derived attestations
        #: due are issued: :meth:`service.derived.Derived.refresh_due`).
        self.before_list: Callable[[str], None] | None = None
        #: ``held_copies(citizen_id)``: the ids of the cards the citizen holds for another
        #: (:mod:`service.links`), shown only with their link; set by the container
        self.held_copies: Callable[[str], frozenset[str]] = lambda citizen_id: frozenset()

    def credentials(self, citizen_id: str) -> list[Card]:
        """The citizen's credentials, oldest first, each with its live status and the
        document's own validity (each credential is decrypted for its ``valid_until``).

        The list and the statuses are separate reads, and a re-issue may run between
        them (deliver the new card, then revoke the old one): a list read before the
        delivery with a status read after the revocation would show the card with no
        valid version. So the list is read again after the statuses, and the whole
        read repeated when it changed; a re-issue that revoked a listed card has
        delivered its successor first, so the second read sees the change."""
        if self.before_list is not None:
            self.before_list(citizen_id)
        cards = self._cards(citizen_id)
        for _ in range(_CONSISTENT_READS):
            now = [item.credential_id for item in self._vault.items(citizen_id)]
            if now == [card.item.credential_id for card in cards]:
                break
            cards = self._cards(citizen_id)
        return cards

    def _cards(self, citizen_id: str) -> list[Card]:
        cards = []
        for item in self._vault.items(citizen_id):
            try:
                held = self._vault.credential(citizen_id, item.credential_id)
                claims = credential_claims(held.sd_jwt)
            except CredentialNotInWallet:
                continue  # taken out (re-issued) since the list was read: the re-read sees it
            except (CredentialUnreadable, WalletCorrupt):
                claims = {}  # the list still shows it; opening it reports the damage
            until, long_term = document_validity(item.vct, claims)
            cards.append(
                Card(
                    item,
                    self._vault.live_state(item.credential_id),
                    valid_until=until,
                    long_term=long_term,
                )
            )
        return cards

    def credential(self, citizen_id: str, credential_id: str) -> OpenedCard:
        """One of the citizen's credentials, decrypted, with its claims resolved.

        Raises :class:`~wallet.errors.CredentialNotInWallet` (``not_found``; another
        citizen's id alike) and :class:`~wallet.errors.WalletCorrupt`.
        """
        item = self._vault.item(citizen_id, credential_id)
        held = self._vault.credential(citizen_id, credential_id)
        claims = credential_claims(held.sd_jwt)
        until, long_term = document_validity(item.vct, claims)
        return OpenedCard(
            item,
            self._vault.live_state(credential_id),
            claims,
            held.sd_jwt,
            valid_until=until,
            long_term=long_term,
        )

    def remove(self, citizen_id: str, credential_id: str) -> None:
        """Delete the credential from the citizen's wallet (the issuer's registry and its
        status are unchanged; the copies on the citizen's devices are revoked and
        forgotten). Raises :class:`~wallet.errors.CredentialNotInWallet`."""
        self._vault.remove(citizen_id, credential_id)
        if self._on_remove is not None:
            self._on_remove(citizen_id, credential_id)

    def present(
        self, citizen_id: str, credential_id: str, scene_id: str, mode: Mode
    ) -> ShownPresentation:
        """A presentation of the credential for the scene, disclosing exactly what the
        scene asks for (online, for a scene that asks for it, the portrait too), with
        its id and QR text for ``mode``.

        Raises (in this order) ``not_found`` / ``credential_revoked``… for the
        credential, :class:`UnknownScene` for a scene not in the live trust list, and
        ``scene_unmet`` when the scene does not accept this credential type. For a
        scene whose ``all_of`` names the type (and whose ``accept`` does not), one set
        presentation (:meth:`_present_set`).
        """
        item = self._vault.presentable(citizen_id, credential_id)
        if credential_id in self.held_copies(citizen_id):
            # a ward's or a principal's card: only with its link (service.links.present)
            raise ClaimsUnavailable("a card held for another is shown only with its link")
        scene = self._online.verifier().trust_list.scenes.get(scene_id)
        if scene is None:
            raise UnknownScene("No scene with this id.")
        if item.vct not in scene.accept and any(v == item.vct for v, _ in scene.all_of):
            return self._present_set(citizen_id, credential_id, item.vct, scene, mode)
        # The portrait only online: the service holds that presentation, and an offline
        # QR code must stay small enough to scan (docs/formats.md).
        optional = (PORTRAIT_CLAIM,) if mode == "online" and scene.portrait else ()
        presentation = self._vault.present(citizen_id, credential_id, scene, optional=optional)
        return self._presentations.show(citizen_id, presentation, mode)

    def _present_set(
        self, citizen_id: str, credential_id: str, vct: str, scene: Scene, mode: Mode
    ) -> ShownPresentation:
        """One set presentation for a scene with ``all_of``, starting from the card
        ``credential_id`` (of type ``vct``): for every other required type, the newest
        card of that type in the wallet that can pass now (of the citizen's own: never
        one held for another). Raises
        :class:`~wallet.errors.SetCredentialMissing` naming a type the wallet lacks."""
        chosen = {vct: credential_id}
        others = self.held_copies(citizen_id)  # a ward's card is never one of the holder's
        items = sorted(
            (i for i in self._vault.items(citizen_id) if i.credential_id not in others),
            key=lambda i: i.added_at,
            reverse=True,
        )
        for required, _ in scene.all_of:
            if required in chosen:
                continue
            for candidate in (i for i in items if i.vct == required):
                try:
                    self._vault.presentable(citizen_id, candidate.credential_id)
                except CredentialUnusable:
                    continue
                chosen[required] = candidate.credential_id
                break
            else:
                raise SetCredentialMissing(
                    f"This scene needs {_type_names(required)} as well: the wallet holds "
                    "none that can be shown.",
                    vct=required,
                )
        ids = [chosen[v] for v, _ in scene.all_of]
        ids.remove(credential_id)  # the card asked for first: it names the presentation
        presentation = self._vault.present_set(citizen_id, [credential_id, *ids], scene)
        return self._presentations.show(citizen_id, presentation, mode)

    def shown(self, citizen_id: str, presentation_id: str) -> ShownPresentation:
        """The citizen's presentation (``not_found`` alike if not theirs, unknown or
        expired), if its credential can still pass (``credential_revoked``… otherwise;
        ``not_found`` if the citizen removed it from the wallet since)."""
        shown = self._presentations.get(citizen_id, presentation_id)
        if shown.credential_id:
            self._vault.presentable(citizen_id, shown.credential_id)
        return shown

    def hold(self, citizen_id: str, text: str, scene_id: str) -> ShownPresentation:
        """Keep a presentation made on the citizen's phone (signed with its device key)
        behind an online QR URL, redeemed once like the service's own
        (:meth:`QrPresentations.redeem`).

        Checked first, in this order: its length (:class:`PresentationTooLarge`), the
        scene (:class:`UnknownScene`), the whole verification for the scene with the
        live status, but without using up its nonce (:class:`PresentationRefused`,
        ``reason`` the verifier's first code), then that the credential is a copy bound
        to one of this citizen's active devices (:class:`DeviceCopyRequired`: another
        citizen's copy, a service-held credential, a removed device's copy). The
        presentation's id names the card, so that its QR image is refused like the
        card's own once the card cannot pass.
        """
        if len(text) > MAX_PRESENTATION:
            raise PresentationTooLarge(
                f"A presentation has at most {MAX_PRESENTATION} characters."
            )
        verifier = self._online.verifier()
        scene = verifier.trust_list.scenes.get(scene_id)
        if scene is None:
            raise UnknownScene("No scene with this id.")
        if is_compact(text) or "~" not in text:
            # the phone hands over the plain SD-JWT+KB, never the QR transport
            raise PresentationRefused("This is not an SD-JWT presentation.", reason="malformed")
        result, card = self._online.check(text, scene_id)
        if result.errors:
            first = result.errors[0]
            raise PresentationRefused(
                f"The presentation does not verify for this scene: {first['code']}.",
                reason=first["code"],
            )
        copy = self._device_copy(self._pseudonyms.of(citizen_id), card)
        presentation = Presentation(
            text, scene.id, _kb_iat(text) + scene.max_age, copy.credential_id
        )
        return self._presentations.show(citizen_id, presentation, "online")

    def _venue(self, event: ActivityRecord) -> VenueRecord | None:
        """Who the event names: the venue that checked, or for a change of a subject
        field (scene ``change:<field>``) the issuer that re-issued the card."""
        if not event.scene.startswith(CHANGE_SCENE_PREFIX):
            return self._store.get_venue(event.venue_id)
        issuer = self._store.get_issuer(event.venue_id)
        if issuer is None:
            return None
        return VenueRecord(issuer.slug, issuer.name_zh, issuer.name_en, (), 0)

    def _device_copy(self, owner: str, card: CredentialRecord | None) -> DeviceCopy:
        """The citizen's copy ``card`` on one of their active devices."""
        if card is not None and card.subject == owner:
            for copy in self._store.list_device_copies(owner):
                if copy.copy_id != card.id:
                    continue
                device = self._store.get_device(owner, copy.device_id)
                if device is not None and device.state == "active":
                    return copy
        raise DeviceCopyRequired(
            "Only a credential copy on one of your active devices can be handed over."
        )

    def activity(self, citizen_id: str) -> list[tuple[ActivityRecord, VenueRecord | None]]:
        """Every check of the citizen's credentials, newest first, with its venue (None
        for a venue no longer registered).

        A check of a device copy is listed under its card: the event's
        ``credential_id`` (the copy's, as the registry knows it) is mapped to the card's
        id here, from the citizen's device copies (the store's layout is unchanged; a
        copy forgotten with its card keeps the copy's id).
        """
        owner = self._pseudonyms.of(citizen_id)
        venues: dict[str, VenueRecord | None] = {}
        events = []
        cards: dict[str, str] | None = None
        # The activity log is kept under the citizen's pseudonym, as the registry's subject.
        for event in self._store.list_activity(owner):
            if event.venue_id not in venues:
                venues[event.venue_id] = self._venue(event)
            if event.credential_id is not None:
                if cards is None:
                    copies = self._store.list_device_copies(owner)
                    cards = {copy.copy_id: copy.credential_id for copy in copies}
                card_id = cards.get(event.credential_id)
                if card_id is not None:
                    event = dataclasses.replace(event, credential_id=card_id)
            events.append((event, venues[event.venue_id]))
        return events


def _kb_iat(text: str) -> int:
    """The ``iat`` of a verified presentation's key-binding JWT."""
    kb_jwt = split(text)[2]
    try:
        iat = parse_compact(kb_jwt, typ=TYP_KB_JWT, max_length=len(kb_jwt)).payload["iat"]
    except (FormatError, KeyError):  # pragma: no cover - the verifier read it just now
        raise PresentationRefused("The key-binding JWT has no iat.", reason="malformed") from None
    if not isinstance(iat, int) or isinstance(iat, bool):  # pragma: no cover - as above
        raise PresentationRefused("The key-binding JWT has no iat.", reason="malformed")
    return iat


def _type_names(vct: str) -> str:
    """A credential type's names in both languages (its ``vct`` if the catalogue has none)."""
    try:
        name = load_catalogue().get(vct).name
    except UnknownCredentialType:
        return vct
    return f"{name.zh} ({name.en})"


def document_validity(vct: str, claims: dict[str, Any]) -> tuple[str | None, bool]:
    """The document's own end of validity from its claims, and whether it is long-term
    (its ``valid_until`` is ``"long-term"``, or its type, in the catalogue, has a
    ``valid_until`` claim and this document has none)."""
    until = claims.get(VALID_UNTIL)
    if until == LONG_TERM:
        return None, True
    if isinstance(until, str):
        return until, False
    try:
        names = {claim.name for claim in load_catalogue().get(vct).claims}
    except UnknownCredentialType:
        return None, False
    return None, VALID_UNTIL in names


def credential_claims(sd_jwt: str) -> dict[str, Any]:
    """Every claim of an SD-JWT VC: its plain claims and all its disclosures, resolved
    (the SD-JWT VC layer's own claims, ``iss``, ``cnf``, ``_sd``…, left out)."""
    jwt, disclosures, _ = split(sd_jwt)
    payload = parse_compact(jwt, typ=TYP_SD_JWT_VC, max_length=len(jwt)).payload
    processed = resolve(payload, disclosures)
    return {k: v for k, v in processed.items() if k not in _ENVELOPE}
