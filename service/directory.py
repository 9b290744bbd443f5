"""The citizen directory: the clear citizen id behind a pseudonym, sealed.

The store keys a citizen's records by pseudonym (:mod:`keys.pseudonym`) and opens a
wallet only with the clear id (it is bound into the wallet's seals). A session or a
department's request brings the id; a job the operator starts for citizens nobody names
(the re-issue after a key compromise, :mod:`service.compromise`) has only the registry's
pseudonyms. For it, the service keeps each citizen's id sealed with the one AEAD
envelope (:mod:`keys.aead`, format ``C1``) under a key derived from the instance secret
(:data:`DIRECTORY_KEY_LABEL`), bound to the pseudonym, as a permanent mark (scope
:data:`SCOPE`). It is written when a wallet is created or a citizen is created or logs
in (a wallet made before this directory is known from its citizen's next login).

Without the secret a dump of the store joins nobody, as with the pseudonyms themselves
(with the secret, an enumerable id space such as resident ID numbers gives the
pseudonyms away anyway).
"""

from __future__ import annotations

import threading

from keys.aead import Envelope
from keys.b64 import b64url_decode, b64url_encode
from keys.errors import FormatError, SealBroken
from keys.pseudonym import Pseudonyms
from store.interface import Store

__all__ = ["DIRECTORY_KEY_LABEL", "SCOPE", "CitizenDirectory"]

#: Label of the key that seals the directory's entries (``derive_key(secret, label)``).
DIRECTORY_KEY_LABEL = "ecert/citizen-directory/v1"
#: The marks' scope of the directory (pseudonym -> sealed id).
SCOPE = "citizen-ids"
_SEAL = b"C1"
#: Pseudonyms this process wrote or found (no second write); cleared when full.
_KNOWN_MAX = 100_000


class CitizenDirectory:
    """Pseudonym -> clear citizen id, sealed at rest (see the module doc)."""

    def __init__(self, store: Store, key: bytes, pseudonyms: Pseudonyms) -> None:
        self._store = store
        self._seal = Envelope(key, _SEAL)
        self._pseudonyms = pseudonyms
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, citizen_id: str) -> None:
        """Keep ``citizen_id`` under its pseudonym (written once; later calls are free)."""
        owner = self._pseudonyms.of(citizen_id)
        if owner in self._known:
            return
        sealed = self._seal.seal(citizen_id.encode("utf-8"), _aad(owner))
        self._store.put_mark(SCOPE, owner, "c1_" + b64url_encode(sealed))
        with self._lock:
            if len(self._known) >= _KNOWN_MAX:
                self._known.clear()
            self._known.add(owner)

    def lookup(self, pseudonym: str) -> str | None:
        """The citizen id kept under ``pseudonym``, or None. Raises :class:`SealBroken`
        for an entry that does not open or belongs to another pseudonym."""
        value = self._store.get_mark(SCOPE, pseudonym)
        if value is None:
            return None
        if not value.startswith("c1_"):
            raise SealBroken("a citizen directory entry is not in a known format")
        try:
            blob = b64url_decode(value[3:])
        except FormatError:
            raise SealBroken("a citizen directory entry is not in a known format") from None
        citizen_id = self._seal.open(blob, _aad(pseudonym)).decode("utf-8")
        if self._pseudonyms.of(citizen_id) != pseudonym:
            raise SealBroken("a citizen directory entry belongs to another citizen")
        return citizen_id


def _aad(pseudonym: str) -> bytes:
    return f"ecert-directory:{pseudonym}".encode()
