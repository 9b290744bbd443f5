"""Citizens' wallets kept by the service, encrypted at rest per citizen.

Every citizen has a random 256-bit *data key*, stored wrapped (AES-256-GCM) under the
platform's wallet key; the citizen's holder private key and every credential are
encrypted with that data key, with the citizen id (and credential id) as associated
data, so that a dump of the store shows no personal data and no blob can be moved to
another citizen or credential. The platform's wallet key is derived from the
configured secret (:func:`keys.derive_key`), never stored.

The store knows a wallet by the citizen's pseudonym (:mod:`keys.pseudonym`), never by
the citizen id: every method takes the clear id and maps it. The associated data keeps
the clear citizen id (the vault always has it from the caller), as it always has, so
the blobs of an instance made before pseudonyms open unchanged and a blob still
cannot be moved to another citizen.

Before making a presentation the vault checks that a verifier could accept the
credential now (:meth:`WalletVault.presentable`): its live status in the store (the
issuer's registry, and the status list entry a venue checks online) and its ``exp``
against the vault's clock with the verifier's leeway (:data:`sdjwt.LEEWAY`). A
revoked, suspended or expired credential raises a
:class:`~wallet.errors.CredentialUnusable` and nothing is made (no nonce drawn, nothing
signed or stored).

The store interface is all this module knows about storage.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from keys import Scene, SigningKey
from keys.aead import Envelope
from keys.errors import SealBroken
from keys.jwk import JWKDict
from keys.pseudonym import Pseudonyms
from sdjwt import LEEWAY
from store.interface import (
    CredentialState,
    NotFound,
    Store,
    StoreError,
    WalletItem,
    WalletRecord,
)
from wallet.errors import (
    ClaimsUnavailable,
    CredentialExpired,
    CredentialNotInWallet,
    CredentialRevoked,
    CredentialSuspended,
    NotHolder,
    WalletCorrupt,
    WalletError,
)
from wallet.presentation import HeldCredential, present, present_set

#: The wallet blobs' format in the one envelope (:mod:`keys.aead`).
_VERSION = b"W1"

#: A credential's live status: the registry's state, or ``unknown`` if it has no record.
LiveState = Literal["valid", "revoked", "suspended", "unknown"]
#: Status list values (Token Status List §7.1) and what they mean here.
_STATUS_VALUES: dict[int, CredentialState] = {1: "revoked", 2: "suspended"}


@dataclass(frozen=True, slots=True)
class Presentation:
    """A presentation made from a stored credential, and when it stops being fresh."""

    text: str
    scene: str
    expires_at: int
    #: The wallet's (and the registry's) id of the credential shown.
    credential_id: str = ""


@dataclass(frozen=True, slots=True)
class OpenedWallet:
    """A citizen's wallet opened for bulk issuance (:meth:`WalletVault.opened`): the
    public holder key credentials are bound to and the data key that seals them."""

    citizen_id: str
    #: The pseudonym the store knows the wallet by.
    owner: str
    holder_jwk: JWKDict
    envelope: Envelope = field(repr=False)


class WalletVault:
    """Per-citizen custody of holder keys and credentials in a store.

    ``clock`` (epoch seconds) is a public attribute so that tests can move time;
    ``leeway`` is how long after its ``exp`` a credential may still be shown (the
    verifier's, :data:`sdjwt.LEEWAY`, so that the wallet refuses exactly what a
    verifier with the same clock would).
    """

    def __init__(
        self,
        store: Store,
        wallet_key: bytes,
        *,
        clock: Callable[[], float] = time.time,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
        leeway: int = LEEWAY,
        pseudonyms: Pseudonyms | None = None,
        on_create: Callable[[str], None] | None = None,
    ) -> None:
        """``pseudonyms``: the instance's (``Instance.pseudonyms``); None keeps wallets
        under the ids as given (tests). ``on_create`` is called with the citizen id
        before a wallet is created (the instance's citizen directory)."""
        if len(wallet_key) != 32:
            raise WalletError("the wallet key must be 256 bits")
        self._store = store
        self._aead = Envelope(wallet_key, _VERSION)
        self.clock = clock
        self._token_bytes = token_bytes
        self._leeway = leeway
        self._pseudonyms = pseudonyms or Pseudonyms.none()
        self._on_create = on_create

    # -- keys ------------------------------------------------------------------------

    def holder_jwk(self, citizen_id: str) -> JWKDict:
        """The public holder key of the citizen's wallet, creating the wallet if needed."""
        return self._holder(citizen_id).public_jwk()

    def _wallet(self, citizen_id: str) -> tuple[WalletRecord, Envelope]:
        owner = self._pseudonyms.of(citizen_id)
        record = self._store.get_wallet(owner)
        if record is None:
            if self._on_create is not None:
                self._on_create(citizen_id)
            holder = SigningKey.generate("ES256")
            data_key = secrets.token_bytes(32)
            der = holder.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
            candidate = WalletRecord(
                citizen_id=owner,
                holder_kid=holder.kid,
                holder_blob=_seal(Envelope(data_key, _VERSION), der, _aad(b"holder", citizen_id)),
                key_blob=_seal(self._aead, data_key, _aad(b"data-key", citizen_id)),
                created_at=int(self.clock()),
            )
            # If another worker created the wallet first, its record wins: read it back.
            self._store.create_wallet(candidate)
            record = self._store.get_wallet(owner)
            if record is None:
                raise StoreError("the wallet could not be created")
        data_key = _open(self._aead, record.key_blob, _aad(b"data-key", citizen_id))
        if len(data_key) != 32:
            raise WalletCorrupt("a wallet data key is not 256 bits")
        return record, Envelope(data_key, _VERSION)

    def _holder(self, citizen_id: str) -> SigningKey:
        record, aead = self._wallet(citizen_id)
        return _holder_key(record, aead, citizen_id)

    def opened(self, citizen_id: str) -> OpenedWallet:
        """The citizen's wallet opened once for many credentials at a time (bulk
        issuance), creating it if needed: its public holder key and its data key."""
        record, aead = self._wallet(citizen_id)
        key = _holder_key(record, aead, citizen_id)
        return OpenedWallet(citizen_id, record.citizen_id, key.public_jwk(), aead)

    def sealed(
        self,
        wallet: OpenedWallet,
        credential_id: str,
        sd_jwt: str,
        *,
        vct: str,
        issuer: str,
        expires_at: int,
    ) -> WalletItem:
        """The wallet item of a credential this service just issued to ``wallet``'s
        holder key, sealed as :meth:`add` seals it, not yet written (the issuer gives
        ``vct``, ``issuer`` and ``expires_at``: the SD-JWT is not parsed again).
        Keep the items with :meth:`keep`."""
        return WalletItem(
            citizen_id=wallet.owner,
            credential_id=credential_id,
            vct=vct,
            issuer=issuer,
            expires_at=expires_at,
            added_at=int(self.clock()),
            blob=_seal(
                wallet.envelope,
                sd_jwt.encode("ascii"),
                _item_aad(wallet.citizen_id, credential_id),
            ),
        )

    def keep(self, items: list[WalletItem]) -> None:
        """Write sealed items (of any citizens) in one store call."""
        self._store.put_wallet_items(items)

    # -- credentials -----------------------------------------------------------------

    def add(self, citizen_id: str, credential_id: str, sd_jwt: str) -> WalletItem:
        """Keep a credential (bound to this wallet's holder key) under its registry id.

        Raises :class:`~wallet.errors.CredentialUnreadable` or :class:`~wallet.NotHolder`.
        """
        held = HeldCredential.parse(sd_jwt)
        record, aead = self._wallet(citizen_id)
        if held.holder_kid != record.holder_kid:
            raise NotHolder("this credential is bound to another holder key")
        item = WalletItem(
            citizen_id=record.citizen_id,
            credential_id=credential_id,
            vct=held.vct,
            issuer=held.iss,
            expires_at=held.exp,
            added_at=int(self.clock()),
            blob=_seal(aead, sd_jwt.encode("ascii"), _item_aad(citizen_id, credential_id)),
        )
        self._store.put_wallet_item(item)
        return item

    def items(self, citizen_id: str) -> list[WalletItem]:
        """The citizen's credentials (metadata only; nothing decrypted)."""
        return self._store.list_wallet_items(self._pseudonyms.of(citizen_id))

    def item(self, citizen_id: str, credential_id: str) -> WalletItem:
        """One item's metadata. Raises :class:`CredentialNotInWallet`."""
        item = self._store.get_wallet_item(self._pseudonyms.of(citizen_id), credential_id)
        if item is None:
            raise CredentialNotInWallet("no such credential in this wallet")
        return item

    def credential(self, citizen_id: str, credential_id: str) -> HeldCredential:
        """Decrypt one credential. Raises :class:`CredentialNotInWallet`, :class:`WalletCorrupt`."""
        return self._decrypt(citizen_id, self.item(citizen_id, credential_id))

    def _decrypt(self, citizen_id: str, item: WalletItem) -> HeldCredential:
        _, aead = self._wallet(citizen_id)
        aad = _item_aad(citizen_id, item.credential_id)
        return HeldCredential.parse(_open(aead, item.blob, aad).decode("ascii"))

    def live_state(self, credential_id: str) -> LiveState:
        """The credential's status now, from the store, never from the citizen's copy.

        The issuer's registry and the status list entry that venues check online are
        both read: if either says revoked (or suspended), so does this (they differ
        only for the moment of a change, which writes the status list first).
        ``unknown`` when the registry has no record of the id.
        """
        record = self._store.get_credential(credential_id)
        if record is None:
            return "unknown"
        try:
            value = self._store.get_status(record.status_uri, record.status_idx)
        except NotFound:  # the list is gone: the registry alone decides
            value = 0
        listed = _STATUS_VALUES.get(value, "valid")
        if "revoked" in (record.state, listed):
            return "revoked"
        if "suspended" in (record.state, listed):
            return "suspended"
        return "valid"

    def presentable(self, citizen_id: str, credential_id: str) -> WalletItem:
        """The item, if a verifier could accept the credential now.

        Raises :class:`CredentialNotInWallet`, then (in this order)
        :class:`~wallet.errors.CredentialRevoked`,
        :class:`~wallet.errors.CredentialSuspended` (from :meth:`live_state`) and
        :class:`~wallet.errors.CredentialExpired` (the clock is past ``exp`` plus the
        leeway).
        """
        item = self.item(citizen_id, credential_id)
        state = self.live_state(credential_id)
        if state == "revoked":
            raise CredentialRevoked("the issuer has revoked this credential: it cannot be shown")
        if state == "suspended":
            raise CredentialSuspended(
                "the issuer has suspended this credential: it cannot be shown for now"
            )
        if self.clock() > item.expires_at + self._leeway:
            raise CredentialExpired("this credential has expired: it cannot be shown")
        return item

    def remove(self, citizen_id: str, credential_id: str) -> None:
        """Delete one credential from the wallet. Raises :class:`CredentialNotInWallet`."""
        if not self._store.delete_wallet_item(self._pseudonyms.of(citizen_id), credential_id):
            raise CredentialNotInWallet("no such credential in this wallet")

    def present(
        self,
        citizen_id: str,
        credential_id: str,
        scene: Scene,
        *,
        optional: tuple[str, ...] = (),
        aud: str | None = None,
        nonce: str | None = None,
    ) -> Presentation:
        """A presentation of one credential for ``scene`` (exactly the claims it needs,
        and those of ``optional`` the credential has: an online QR's portrait).

        The KB-JWT's ``aud`` is the scene's id unless ``aud`` is given, and its
        ``nonce`` random unless ``nonce`` is given (an OpenID4VP request sets both).

        Raises :class:`CredentialNotInWallet`, a
        :class:`~wallet.errors.CredentialUnusable` (revoked, suspended or expired:
        :meth:`presentable`; checked first, so that nothing is drawn or signed) and
        :class:`~wallet.errors.ClaimsUnavailable` (the scene does not accept the type).
        """
        held = self._decrypt(citizen_id, self.presentable(citizen_id, credential_id))
        wanted = scene.accept.get(held.vct)
        if wanted is None:
            raise ClaimsUnavailable(f"the scene {scene.id!r} does not accept this credential")
        wanted = (*wanted, *(c for c in optional if c in held.disclosures and c not in wanted))
        now = self.clock()
        text = present(
            held,
            wanted,
            holder_key=self._holder(citizen_id),
            aud=scene.id if aud is None else aud,
            now=now,
            nonce=nonce,
            token_bytes=self._token_bytes,
        )
        return Presentation(text, scene.id, int(now) + scene.max_age, credential_id)


    def present_with_link(
        self,
        citizen_id: str,
        credential_id: str,
        link_id: str,
        scene: Scene,
        link_claims: tuple[str, ...],
    ) -> Presentation:
        """A guardian's or carer's set ``[credential, link]`` for ``scene`` (issue 12):
        the held-for credential with exactly the claims the scene asks of it (and its
        ``name``, for the verifier to match it with the link, when the scene asks for
        neither ``name`` nor ``id_number``), and the link credential ``link_id`` with
        ``link_claims``; one ``aud`` and nonce, this wallet's holder key.

        Raises :class:`CredentialNotInWallet`, a :class:`~wallet.errors.CredentialUnusable`
        for either (checked first) and :class:`~wallet.errors.ClaimsUnavailable`.
        """
        held = self._decrypt(citizen_id, self.presentable(citizen_id, credential_id))
        link = self._decrypt(citizen_id, self.presentable(citizen_id, link_id))
        wanted = scene.accept.get(held.vct)
        if wanted is None:
            raise ClaimsUnavailable(f"the scene {scene.id!r} does not accept this credential")
        if "name" not in wanted and "id_number" not in wanted and "name" in held.disclosures:
            wanted = (*wanted, "name")
        now = self.clock()
        text = present_set(
            [held, link],
            {held.vct: wanted, link.vct: link_claims},
            holder_key=self._holder(citizen_id),
            aud=scene.id,
            now=now,
            token_bytes=self._token_bytes,
        )
        return Presentation(text, scene.id, int(now) + scene.max_age, credential_id)


    def present_set(
        self, citizen_id: str, credential_ids: Sequence[str], scene: Scene
    ) -> Presentation:
        """One set presentation for a scene with ``all_of``: the credentials
        ``credential_ids`` (one per required type), each disclosing exactly what the
        scene's ``all_of`` names for its type, one ``aud`` and one nonce.

        Raises what :meth:`presentable` raises for any of them (checked first, so that
        nothing is drawn or signed), and :class:`~wallet.errors.ClaimsUnavailable`.
        """
        items = [self.presentable(citizen_id, cid) for cid in credential_ids]
        helds = [self._decrypt(citizen_id, item) for item in items]
        now = self.clock()
        text = present_set(
            helds,
            dict(scene.all_of),
            holder_key=self._holder(citizen_id),
            aud=scene.id,
            now=now,
            token_bytes=self._token_bytes,
        )
        return Presentation(text, scene.id, int(now) + scene.max_age, credential_ids[0])


def _holder_key(record: WalletRecord, aead: Envelope, citizen_id: str) -> SigningKey:
    """The wallet's holder private key, opened with its data key and checked."""
    der = _open(aead, record.holder_blob, _aad(b"holder", citizen_id))
    private = load_der_private_key(der, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise WalletCorrupt("the holder key has an unexpected type")
    key = SigningKey.from_private_key(private)
    if key.kid != record.holder_kid:
        raise WalletCorrupt("the holder key does not match its kid")
    return key


def _aad(kind: bytes, citizen_id: str) -> bytes:
    return b"ecert-wallet:" + kind + b":" + citizen_id.encode("utf-8")


def _item_aad(citizen_id: str, credential_id: str) -> bytes:
    return _aad(b"item", citizen_id) + b"\x00" + credential_id.encode("utf-8")


def _seal(envelope: Envelope, plaintext: bytes, aad: bytes) -> bytes:
    return envelope.seal(plaintext, aad)


def _open(envelope: Envelope, blob: bytes, aad: bytes) -> bytes:
    try:
        return envelope.open(blob, aad)
    except SealBroken as err:
        raise WalletCorrupt(err.message.replace("sealed blob", "wallet blob")) from None
