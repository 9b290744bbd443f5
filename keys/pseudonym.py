"""Citizens' pseudonyms: what the store keeps in place of a citizen id.

A resident ID number is enumerable (a region, a birth date, a sequence and a check
digit), so a plain hash of it is no pseudonym. The store keys every record of a
citizen (account, wallet, items, activity, the registry's ``subject``) by

    "ps_" + base64url(HMAC-SHA-256(K, citizen id))        (46 characters)

where ``K`` is derived from the instance secret (:data:`PSEUDONYM_LABEL`): without
the secret a dump of the store cannot be joined back to anyone. The same id always
gives the same pseudonym, so the service finds a citizen's records from the id that
arrives with the login or the department's request; the clear id is never stored in
clear.

Two places must give a clear id back from the store. One is a citizen's session (the
wallet's calls decrypt with it): the session keeps it *sealed* with the one AEAD
envelope (:mod:`keys.aead`, format ``S1``) under a second derived key, bound to the
session's token hash, as ``"sc_" + base64url(blob)``. The other is a job the operator
starts for citizens nobody names (the re-issue after a key compromise): the citizen
directory (:mod:`service.directory`, format ``C1``) keeps each id sealed the same way,
bound to its pseudonym.

:meth:`Pseudonyms.none` is the identity (ids stored as given, sessions unsealed):
for tests and tools that build domain objects over a private store by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from keys.aead import Envelope
from keys.b64 import b64url_decode, b64url_encode
from keys.errors import FormatError, SealBroken

__all__ = [
    "PSEUDONYM_LABEL",
    "SESSION_SEAL_LABEL",
    "Pseudonyms",
    "is_pseudonym",
    "is_sealed_id",
]

#: Label of the HMAC key (``derive_key(secret, PSEUDONYM_LABEL)``).
PSEUDONYM_LABEL = "ecert/citizen-pseudonyms/v1"
#: Label of the key that seals a session's citizen id.
SESSION_SEAL_LABEL = "ecert/session-citizen/v1"

_PSEUDONYM = re.compile(r"ps_[A-Za-z0-9_-]{43}")
_SEALED = re.compile(r"sc_[A-Za-z0-9_-]{40,400}")
_SEAL_PREFIX = b"S1"
_SEAL_AAD = b"ecert-session:"


def is_pseudonym(text: str) -> bool:
    """Whether ``text`` has the shape of a pseudonym (it cannot tell whose)."""
    return _PSEUDONYM.fullmatch(text) is not None


def is_sealed_id(text: str) -> bool:
    """Whether ``text`` has the shape of a sealed session citizen id."""
    return _SEALED.fullmatch(text) is not None


class Pseudonyms:
    """Maps citizen ids to pseudonyms, and seals the id a session must give back."""

    __slots__ = ("_envelope", "_key")

    def __init__(self, mac_key: bytes | None, seal_key: bytes | None) -> None:
        """Both keys 256 bits, or both None for the identity (:meth:`none`)."""
        if (mac_key is None) != (seal_key is None):
            raise SealBroken("pseudonyms need both keys or neither")
        if mac_key is not None and len(mac_key) != 32:
            raise SealBroken("the pseudonym key must be 256 bits")
        self._key = mac_key
        self._envelope = None if seal_key is None else Envelope(seal_key, _SEAL_PREFIX)

    @classmethod
    def from_secret(cls, derive: Callable[[str], bytes]) -> Pseudonyms:
        """From a key derivation (``Instance.derive_key`` or ``partial(derive_key, secret)``)."""
        return cls(derive(PSEUDONYM_LABEL), derive(SESSION_SEAL_LABEL))

    @classmethod
    def none(cls) -> Pseudonyms:
        """The identity: ids are stored as given (tests, hand-built objects)."""
        return cls(None, None)

    @property
    def enabled(self) -> bool:
        """False for :meth:`none`."""
        return self._key is not None

    def __repr__(self) -> str:
        return f"Pseudonyms(<keys hidden>, enabled={self.enabled})"

    def of(self, citizen_id: str) -> str:
        """The pseudonym of ``citizen_id`` (exactly as given: no case folding)."""
        if self._key is None:
            return citizen_id
        mac = hmac.new(self._key, citizen_id.encode("utf-8"), hashlib.sha256).digest()
        return "ps_" + b64url_encode(mac)

    def seal(self, citizen_id: str, context: str) -> str:
        """``citizen_id`` sealed for the store, bound to ``context`` (a token hash)."""
        if self._envelope is None:
            return citizen_id
        aad = _SEAL_AAD + context.encode("utf-8")
        return "sc_" + b64url_encode(self._envelope.seal(citizen_id.encode("utf-8"), aad))

    def open(self, sealed: str, context: str) -> str:
        """The citizen id :meth:`seal` sealed under ``context``. Raises :class:`SealBroken`."""
        if self._envelope is None:
            return sealed
        if not is_sealed_id(sealed):
            raise SealBroken("a sealed citizen id is not in a known format")
        try:
            blob = b64url_decode(sealed[3:])
        except FormatError:
            raise SealBroken("a sealed citizen id is not in a known format") from None
        plain = self._envelope.open(blob, _SEAL_AAD + context.encode("utf-8"))
        return plain.decode("utf-8")
