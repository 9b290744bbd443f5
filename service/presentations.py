"""The service's custody of presentations shown as QR codes: an id for each (to fetch
its image), and online QR codes redeemed once at the service.

This is the service's side, not the holder's (it was ``wallet/online.py``): it keeps
presentations in the instance's store, seals them under a key derived from the
instance's secret, builds URLs from the instance's base URL, and redeems a venue's
scan. The container builds one (:attr:`service.instance.Ecert.presentations`); the
use cases :mod:`service.wallets` (showing) and :mod:`service.verification`
(redeeming) share it.

A presentation made for a scene is shown in one of two modes:

* ``offline``: the QR text is the presentation itself in the compact QR transport
  (``EC2:…``, :func:`wallet.qr.presentation_qr_text`); any verifier checks it with no
  network.
* ``online``: the QR text is a short URL ``<base>/p/<token>`` (a version ≤ 6 QR code at
  level M, easy for any camera). The token is 128 random bits, base64url; the
  presentation it stands for waits in the store until a venue redeems the URL at the
  service (once) or the presentation expires.

Either way the presentation gets an ``id``, kept until it expires, so that its owner
can fetch the QR image (:meth:`QrPresentations.get`).

Nothing here leaves personal data or a usable secret in the store (short-lived
once-values only, each expiring with its presentation):

* the entries are sealed with AES-256-GCM under a key derived from the service's
  secret (:data:`KEY_LABEL`), the entry's store key as associated data, so a value
  cannot be moved to another key: the owner's citizen id, the QR text and the
  presentation are never in clear;
* entries are keyed by the SHA-256 of the token (and of the id), so a dump of the
  store does not hold a redeemable URL.

Store entries, in the once-spaces of :mod:`store.kinds.ephemeral` (``<h>`` is the hex
SHA-256 of the token, ``<i>`` that of the id)::

    qr-presentation:<i>   sealed {owner, qr, mode, expires_at,       until expires_at
                                  credential}
    online-qr:<h>         sealed {owner, scene, presentation, exp}   until expires_at
                          (replaced by b"" once redeemed)
    online-qr-issued:<h>  b""  until expires_at + EXPIRED_GRACE: tells "expired" from "unknown"
    online-qr-used:<h>    b""  the redemption claim: the first ``put`` wins

Redemption is single use across every worker: the claim is an atomic once-value ``put``
taken before the presentation is handed out. Flask-free: the store interface is all
this module knows about storage. Its refusals are :mod:`service.errors`' (the
``OnlineQr…`` family, :class:`~service.errors.PresentationNotFound`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from keys.aead import Envelope
from keys.b64 import b64url_encode
from keys.errors import FormatError, SealBroken
from keys.jsonstrict import loads_object
from service.errors import (
    OnlineQrExpired,
    OnlineQrOtherScene,
    OnlineQrRefused,
    OnlineQrUnavailable,
    OnlineQrUnknown,
    OnlineQrUsed,
    PresentationIdTaken,
    PresentationNotFound,
    ServiceError,
)
from store.interface import (
    ONLINE_QR,
    ONLINE_QR_ISSUED,
    ONLINE_QR_USED,
    QR_PRESENTATION,
    OnceSpace,
    Store,
)
from wallet.errors import QrTooLarge, QrUnencodable, WalletCorrupt
from wallet.qr import presentation_qr_text, qr_version
from wallet.vault import Presentation

__all__ = [
    "EXPIRED_GRACE",
    "KEY_LABEL",
    "MAX_ONLINE_VERSION",
    "ONLINE_PATH",
    "TOKEN_BYTES",
    "Mode",
    "OnlineQrRefused",
    "OnlineQrUnavailable",
    "PresentationNotFound",
    "QrPresentations",
    "Redeemed",
    "ShownPresentation",
]

Mode = Literal["offline", "online"]

#: The label of the sealing key (``keys.derive_key(secret, KEY_LABEL)``).
KEY_LABEL = "ecert/online-qr/v1"
#: Random bytes of an online token (128 bits).
TOKEN_BYTES = 16
#: The largest QR version (at level M) an online QR code may need.
MAX_ONLINE_VERSION = 6
#: Path of the short URL under the base URL: ``<base>/p/<token>``.
ONLINE_PATH = "/p/"
#: Seconds after its expiry during which a token still answers "expired", not "unknown".
EXPIRED_GRACE = 24 * 3600

#: The entries' format in the one envelope (:mod:`keys.aead`).
_SEAL_VERSION = b"Q1"
_AAD = b"ecert-qr-presentation:"
_ID_BYTES = 16
# A base64url token as we make them (22 characters for 16 bytes), with room to grow.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")


@dataclass(frozen=True, slots=True)
class ShownPresentation:
    """A presentation as the citizen's phone shows it."""

    id: str
    qr: str
    mode: Mode
    expires_at: int
    #: The wallet's id of the credential shown ("" for an entry made before it was kept).
    credential_id: str = ""


@dataclass(frozen=True, slots=True)
class Redeemed:
    """What an online token stood for, handed out once."""

    presentation: str
    scene: str
    owner: str
    expires_at: int


class QrPresentations:
    """Presentation ids and online QR tokens over a store.

    ``key`` is the 256-bit sealing key (derived with :data:`KEY_LABEL`); ``base_url``
    the service's public base URL. ``clock`` (epoch seconds) is a public attribute so
    that tests can move time.
    """

    def __init__(
        self,
        store: Store,
        key: bytes,
        base_url: str,
        *,
        clock: Callable[[], float] = time.time,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        if len(key) != 32:
            raise ServiceError("the online QR key must be 256 bits")
        self._store = store
        self._envelope = Envelope(key, _SEAL_VERSION)
        self._prefix = base_url.rstrip("/") + ONLINE_PATH
        self.clock = clock
        self._token_bytes = token_bytes

    # -- showing -------------------------------------------------------------------

    def show(self, owner: str, presentation: Presentation, mode: Mode) -> ShownPresentation:
        """Give ``presentation`` an id and its QR text for ``mode``, kept until it expires.

        A set presentation asked for ``offline`` is shown ``online`` when the compact
        transport cannot pack it into one QR code (the answer's ``mode`` says which).

        Raises :class:`OnlineQrUnavailable` when the online URL would need a QR code
        above version :data:`MAX_ONLINE_VERSION` (a base URL of ~80 characters or more),
        and :class:`~wallet.errors.QrUnencodable` for a presentation
        that is not well formed.
        """
        now = self.clock()
        expires_at = presentation.expires_at
        if mode == "offline" and presentation.text.startswith("["):
            mode = _set_mode(presentation.text)
        if mode == "online":
            token = b64url_encode(self._token_bytes(TOKEN_BYTES))
            qr = self._prefix + token
            if qr_version(qr, "M") > MAX_ONLINE_VERSION:
                raise OnlineQrUnavailable("the base URL is too long for a small online QR code")
            digest = _sha256(token)
            record = {
                "owner": owner,
                "scene": presentation.scene,
                "presentation": presentation.text,
                "expires_at": expires_at,
            }
            self._put(ONLINE_QR, digest, record, expires_at, now)
            self._store.once(ONLINE_QR_ISSUED).put(digest, b"", expires_at + EXPIRED_GRACE, now)
        else:
            qr = presentation_qr_text(presentation.text, compact=True)
        presentation_id = b64url_encode(self._token_bytes(_ID_BYTES))
        shown = {
            "owner": owner,
            "qr": qr,
            "mode": mode,
            "expires_at": expires_at,
            "credential": presentation.credential_id,
        }
        self._put(QR_PRESENTATION, _sha256(presentation_id), shown, expires_at, now)
        return ShownPresentation(presentation_id, qr, mode, expires_at, presentation.credential_id)

    def get(self, owner: str, presentation_id: str) -> ShownPresentation:
        """The presentation ``presentation_id`` of ``owner``, until it expires.

        Raises :class:`PresentationNotFound` alike for an unknown id, an expired one
        and another citizen's.
        """
        record = self._get(QR_PRESENTATION, _sha256(presentation_id), self.clock())
        if record is None or not hmac.compare_digest(
            str(record.get("owner", "")).encode("utf-8"), owner.encode("utf-8")
        ):
            raise PresentationNotFound("no presentation with this id")
        mode: Mode = "online" if record["mode"] == "online" else "offline"
        credential_id = record.get("credential")
        return ShownPresentation(
            presentation_id,
            record["qr"],
            mode,
            int(record["expires_at"]),
            credential_id if isinstance(credential_id, str) else "",
        )

    # -- redeeming -----------------------------------------------------------------

    def is_online(self, text: str) -> bool:
        """Whether ``text`` (a scanned QR) is a short URL of this service."""
        return text.rstrip("\r\n").startswith(self._prefix)

    def redeem(self, text: str, scene: str) -> Redeemed:
        """The presentation behind the online QR URL ``text``, shown for ``scene``: once.

        Raises an :class:`~service.errors.OnlineQrRefused`: :class:`OnlineQrUnknown`
        (``malformed``: not a URL of ours, or a token the store does not know),
        :class:`OnlineQrExpired` (``presentation_expired``), :class:`OnlineQrUsed`
        (``replayed``: already redeemed, by any worker) or :class:`OnlineQrOtherScene`
        (``key_binding_invalid``: made for another scene; it stays usable there).
        """
        text = text.rstrip("\r\n")
        token = text[len(self._prefix) :] if text.startswith(self._prefix) else ""
        if not _TOKEN.fullmatch(token):
            raise OnlineQrUnknown("this is not an online QR code of this service")
        digest = _sha256(token)
        now = self.clock()
        raw = self._store.once(ONLINE_QR).get(digest, now)
        if raw is None:
            if self._store.once(ONLINE_QR_ISSUED).get(digest, now) is not None:
                raise OnlineQrExpired("the QR code has expired: refresh it")
            raise OnlineQrUnknown("unknown online QR code")
        if raw == b"":
            raise OnlineQrUsed("this QR code was already used")
        record = self._open(ONLINE_QR.key(digest), raw)
        expires_at = int(record["expires_at"])
        if now >= expires_at:
            raise OnlineQrExpired("the QR code has expired: refresh it")
        if record["scene"] != scene:
            other = OnlineQrOtherScene("the QR code was made for another scene")
            other.made_for = str(record["scene"])
            raise other
        # The claim: whichever worker writes it first hands the presentation out.
        used = self._store.once(ONLINE_QR_USED)
        if not used.put(digest, b"", expires_at + EXPIRED_GRACE, now):
            raise OnlineQrUsed("this QR code was already used")
        # Used up: the sealed presentation need not wait in the store any longer.
        self._store.once(ONLINE_QR).put(digest, b"", expires_at, now, replace=True)
        return Redeemed(record["presentation"], record["scene"], record["owner"], expires_at)

    # -- sealing -------------------------------------------------------------------

    def _put(
        self, space: OnceSpace, name: str, record: dict[str, Any], expires_at: float, now: float
    ) -> None:
        plain = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        # The associated data is the entry's whole store key, as before the spaces.
        sealed = self._envelope.seal(plain, _AAD + space.key(name).encode())
        if not self._store.once(space).put(name, sealed, expires_at, now):
            raise PresentationIdTaken("a presentation id was drawn twice")

    def _get(self, space: OnceSpace, name: str, now: float) -> dict[str, Any] | None:
        raw = self._store.once(space).get(name, now)
        return None if raw is None else self._open(space.key(name), raw)

    def _open(self, key: str, blob: bytes) -> dict[str, Any]:
        try:
            plain = self._envelope.open(blob, _AAD + key.encode())
        except SealBroken as err:
            message = err.message.replace("a sealed blob", "a presentation entry")
            raise WalletCorrupt(message) from None
        try:
            return loads_object(plain)
        except FormatError:
            raise WalletCorrupt("a presentation entry is not a JSON object") from None


def _set_mode(text: str) -> Mode:
    """How a set presentation can be shown: ``offline`` when the compact transport packs
    it into one QR code, else ``online`` (a short URL: a set's plain text, two or more
    presentations, is beyond what a QR code holds; docs/formats.md, "Set presentations")."""
    try:
        qr_version(presentation_qr_text(text, compact=True), "M")
    except (QrUnencodable, QrTooLarge):
        return "online"
    return "offline"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
