"""The one AEAD envelope: AES-256-GCM with a format prefix and a random 96-bit nonce.

Every secret ecert keeps at rest is sealed the same way::

    prefix || nonce (12 bytes) || AES-256-GCM(key, nonce, plaintext, aad)   (tag: 16 bytes)

The *prefix* names the format of one use, and is what each use wrote before this
module existed, so every stored blob of an existing instance still opens:

=========  ==============================  ==========================================
prefix     use                             associated data
=========  ==============================  ==========================================
``EK1``    private keys (keys.keystore)    ``ecert-key:`` + kid
``W1``     wallets (wallet.vault)          ``ecert-wallet:<kind>:`` + citizen id …
``Q1``     presentation entries            ``ecert-qr-presentation:`` + store key
           (service.presentations)
``S1``     a session's citizen id          ``ecert-session:`` + token hash
           (service.accounts)
``D1``     device copies                   ``ecert-device-copy:`` + pseudonym, device
           (service.devices)               and copy ids (NUL-separated)
``C1``     the citizen directory           ``ecert-directory:`` + pseudonym
           (service.directory)
``J1``     job specs and steps             ``ecert-job:`` + job id (+ ``:`` + step)
           (service.jobs)
``N1``     citizens' notices               ``ecert-notice:`` + pseudonym + ``:`` +
           (service.notices)               notice id
``A1``     purposes in audit entries       ``ecert-audit:`` + event id
           (service.audit)
=========  ==============================  ==========================================

The associated data binds a blob to its place (a kid, a citizen, a store key): a blob
moved elsewhere does not open. :func:`open_sealed` raises :class:`SealBroken` (code
``seal_broken``) alike for a blob of another format, a truncated one, a wrong key and
any tampering; callers turn it into their own error (``key_unwrap_failed``,
``wallet_corrupt``) where they have one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.errors import SealBroken

__all__ = ["KEY_BYTES", "NONCE_BYTES", "TAG_BYTES", "Envelope", "SealBroken", "open_sealed", "seal"]

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
#: Longest prefix: short ASCII format names.
MAX_PREFIX = 8


class Envelope:
    """AES-256-GCM sealing under one key, for one format ``prefix``.

    Keeps the cipher object, so that a hot path (a wallet opened per request) does not
    rebuild it. ``token_bytes`` draws the nonces (tests may fix it; never reuse one).
    """

    __slots__ = ("_aead", "_prefix", "_token_bytes")

    def __init__(
        self,
        key: bytes,
        prefix: bytes,
        *,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        """Raises :class:`SealBroken` for a key that is not 256 bits or a bad prefix."""
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise SealBroken("a sealing key must be 256 bits")
        if not 1 <= len(prefix) <= MAX_PREFIX or not prefix.isascii():
            raise SealBroken("a sealing format prefix is 1 to 8 ASCII bytes")
        self._aead = AESGCM(key)
        self._prefix = prefix
        self._token_bytes = token_bytes

    def __repr__(self) -> str:
        return f"Envelope(<key hidden>, {self._prefix!r})"

    @property
    def prefix(self) -> bytes:
        """The format prefix of the blobs this envelope writes and reads."""
        return self._prefix

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """``prefix || nonce || ciphertext+tag`` of ``plaintext``, bound to ``aad``."""
        nonce = self._token_bytes(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise SealBroken("a nonce must be 96 bits")
        return self._prefix + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """The plaintext of a blob this envelope's format wrote under the same ``aad``.

        Raises :class:`SealBroken` for another prefix, a blob too short to hold a nonce
        and a tag, a wrong key, other associated data or any changed byte.
        """
        head = len(self._prefix) + NONCE_BYTES
        if not isinstance(blob, bytes | bytearray) or len(blob) < head + TAG_BYTES:
            raise SealBroken("a sealed blob is not in a known format")
        if not bytes(blob[: len(self._prefix)]) == self._prefix:
            raise SealBroken("a sealed blob is not in a known format")
        nonce, body = bytes(blob[len(self._prefix) : head]), bytes(blob[head:])
        try:
            return self._aead.decrypt(nonce, body, aad)
        except InvalidTag:
            raise SealBroken("a sealed blob does not open with its key") from None


def seal(key: bytes, plaintext: bytes, aad: bytes, *, prefix: bytes) -> bytes:
    """One-off :meth:`Envelope.seal` (builds the cipher each call)."""
    return Envelope(key, prefix).seal(plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes, *, prefix: bytes) -> bytes:
    """One-off :meth:`Envelope.open`. Raises :class:`SealBroken`."""
    return Envelope(key, prefix).open(blob, aad)
