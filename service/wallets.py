"""A citizen's wallet on the service: presentations shown as QR codes, and the activity.

:meth:`Wallets.present` makes a presentation for a scene of the live trust list and
gives it an id and a QR text (offline or online, :mod:`service.presentations`);
:meth:`Wallets.shown` hands a citizen's own presentation back while its credential can
still pass; :meth:`Wallets.activity` lists who checked the citizen's credentials.
"""

from __future__ import annotations

from keys.pseudonym import Pseudonyms
from service.presentations import Mode, QrPresentations, ShownPresentation
from service.verification import OnlineVerifier
from store.interface import ActivityRecord, Store, VenueRecord
from verifier.errors import UnknownScene
from wallet import WalletVault

__all__ = ["Wallets"]


class Wallets:
    """Citizens' presentations and activity over the service's vault and store."""

    def __init__(
        self,
        store: Store,
        vault: WalletVault,
        presentations: QrPresentations,
        online: OnlineVerifier,
        pseudonyms: Pseudonyms,
    ) -> None:
        self._store = store
        self._pseudonyms = pseudonyms
        self._vault = vault
        self._presentations = presentations
        self._online = online

    def present(
        self, citizen_id: str, credential_id: str, scene_id: str, mode: Mode
    ) -> ShownPresentation:
        """A presentation of the credential for the scene, disclosing exactly what the
        scene asks for, with its id and QR text for ``mode``.

        Raises (in this order) ``not_found`` / ``credential_revoked``… for the
        credential, :class:`UnknownScene` for a scene not in the live trust list, and
        ``scene_unmet`` when the scene does not accept this credential type.
        """
        self._vault.presentable(citizen_id, credential_id)
        scene = self._online.verifier().trust_list.scenes.get(scene_id)
        if scene is None:
            raise UnknownScene("No scene with this id.")
        presentation = self._vault.present(citizen_id, credential_id, scene)
        return self._presentations.show(citizen_id, presentation, mode)

    def shown(self, citizen_id: str, presentation_id: str) -> ShownPresentation:
        """The citizen's presentation (``not_found`` alike if not theirs, unknown or
        expired), if its credential can still pass (``credential_revoked``… otherwise;
        ``not_found`` if the citizen removed it from the wallet since)."""
        shown = self._presentations.get(citizen_id, presentation_id)
        if shown.credential_id:
            self._vault.presentable(citizen_id, shown.credential_id)
        return shown

    def activity(self, citizen_id: str) -> list[tuple[ActivityRecord, VenueRecord | None]]:
        """Every check of the citizen's credentials, newest first, with its venue (None
        for a venue no longer registered)."""
        venues: dict[str, VenueRecord | None] = {}
        events = []
        # The activity log is kept under the citizen's pseudonym, as the registry's subject.
        for event in self._store.list_activity(self._pseudonyms.of(citizen_id)):
            if event.venue_id not in venues:
                venues[event.venue_id] = self._store.get_venue(event.venue_id)
            events.append((event, venues[event.venue_id]))
        return events
