"""Proof queries (电子证明共享核查): a department looks a proof about a citizen up itself,
with the citizen's consent, and gets a short-lived answer signed by the department that
holds the record.

:meth:`Proofs.query` takes the asking department, a proof type of the catalogue
(:mod:`issuer.proof_types`), the citizen id, the purpose and the type's inputs:

1. the proof type, the purpose, the citizen id and the inputs are checked (a malformed
   request is refused before anything is written);
2. without a matching, unexpired consent of the citizen for exactly that department,
   proof type and purpose (the consent service's ``match``) the query is refused with
   :class:`~service.errors.ConsentRequired`: the same code and message for a citizen the
   service has never heard of, and the same store write (the refusal is recorded under
   the citizen's pseudonym either way, so nothing about the citizen leaks);
3. with one, the answer is computed from the citizen's **valid** credentials of the
   type's source types held in the service's wallets and issued by the answering
   department (``found: false`` when there is none: "no record" is an answer), signed
   by that department's current key as a ``proof+jwt`` (:mod:`issuer.proofs`).

Every query that gets past step 1, answered or refused, is recorded in the citizen's
proof queries (:class:`~store.kinds.queries.ProofQueryRecord`: claim names, codes, the
purpose sealed) and published as a :class:`~service.uses.Use` (``kind="proof_query"``)
to the listeners of :class:`~service.uses.Uses` (the audit chain, the counters).
:meth:`Proofs.uses_of` reads a citizen's queries back as uses (the receipts).
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Final

from issuer.errors import NoSigningKey, ProofInputsInvalid
from issuer.keyring import Keyring
from issuer.platform import Platform
from issuer.proof_types import ProofCatalogue, ProofType, load_proof_types
from issuer.proofs import sign_proof
from keys.aead import Envelope
from keys.errors import SealBroken
from keys.pseudonym import Pseudonyms
from service.errors import ConsentRequired, JobCorrupt, ProofQueryInvalid
from service.uses import MAX_PURPOSE, Use, Uses
from service.wallets import credential_claims
from store.interface import PROOF_QUERY_CAP, ProofQueryRecord, Store
from store.kinds.activity import new_event_id
from wallet import WalletVault

__all__ = ["PROOFS_KEY_LABEL", "ConsentMatch", "Proofs", "normalise_purpose"]

#: Label of the key that seals the purposes of proof queries (``derive_key(secret, label)``).
PROOFS_KEY_LABEL: Final = "ecert/proof-queries/v1"
_SEAL: Final = b"Q1"
#: The longest citizen id a query may name (characters), as elsewhere in the API.
MAX_CITIZEN_ID: Final = 64
#: The one message of a refusal for want of consent (known and unknown citizens alike).
CONSENT_MESSAGE: Final = (
    "The citizen has not consented to this department querying this proof type for "
    "this purpose."
)

#: ``match(department, citizen_id, proof_type, purpose)``: a matching, unexpired consent
#: (any object) or None. The consent service's ``match`` (:mod:`service.consents`).
ConsentMatch = Callable[[str, str, str, str], object | None]


def normalise_purpose(purpose: object) -> str:
    """The purpose as compared and kept: Unicode NFC, outer whitespace trimmed; 1 to
    :data:`~service.uses.MAX_PURPOSE` characters, no control characters. Raises
    :class:`ProofQueryInvalid` (the message never repeats the text)."""
    if not isinstance(purpose, str):
        raise ProofQueryInvalid("'purpose' must be a string")
    text = unicodedata.normalize("NFC", purpose).strip()
    if not 1 <= len(text) <= MAX_PURPOSE:
        raise ProofQueryInvalid(f"'purpose' must be 1 to {MAX_PURPOSE} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in text):
        raise ProofQueryInvalid("'purpose' contains a control character")
    return text


class Proofs:
    """The proof-query use case (see the module doc); the container's ``ecert.proofs``."""

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        platform: Platform,
        vault: WalletVault,
        pseudonyms: Pseudonyms,
        uses: Uses,
        *,
        key: bytes,
        consent: ConsentMatch,
        catalogue: ProofCatalogue | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._platform = platform
        self._vault = vault
        self._pseudonyms = pseudonyms
        self._uses = uses
        self._seal = Envelope(key, _SEAL)
        self.consent = consent
        self.catalogue = catalogue if catalogue is not None else load_proof_types()
        self.clock = clock
        #: ``held_copies(citizen_id)``: the ids of the cards the citizen holds for another
        #: (:mod:`service.links`), shown only with their link; set by the container
        self.held_copies: Callable[[str], frozenset[str]] = lambda citizen_id: frozenset()

    def known_proof_type(self, proof_type: str) -> bool:
        """Whether ``proof_type`` is in the catalogue (the consent service's check)."""
        return proof_type in self.catalogue

    def query(
        self,
        asking_department: str,
        proof_type: str,
        citizen_id: str,
        purpose: str,
        inputs: Mapping[str, Any] | None = None,
    ) -> str:
        """Answer a proof query as a ``proof+jwt`` (see the module doc).

        ``asking_department`` is the asking department's issuer slug. Raises
        :class:`~issuer.errors.UnknownProofType`, :class:`ProofQueryInvalid` (purpose,
        citizen id), :class:`~issuer.errors.ProofInputsInvalid`,
        :class:`~service.errors.ConsentRequired`, and
        :class:`~issuer.errors.NoSigningKey` when the answering department is not
        registered or has no key (a deployment fault).
        """
        proof = self.catalogue.get(proof_type)
        text = normalise_purpose(purpose)
        if not isinstance(citizen_id, str) or not 1 <= len(citizen_id) <= MAX_CITIZEN_ID:
            raise ProofQueryInvalid(f"'citizen_id' must be 1 to {MAX_CITIZEN_ID} characters")
        now = int(self.clock())
        pseudonym = self._pseudonyms.of(citizen_id)
        event_id = new_event_id()

        def refuse(code: str) -> None:
            self._note(pseudonym, event_id, now, asking_department, proof, text, (), (code,))

        try:
            checked = proof.check_inputs(inputs)
        except ProofInputsInvalid as err:
            refuse(err.code)
            raise
        if self.consent(asking_department, citizen_id, proof.id, text) is None:
            refuse(ConsentRequired.code)
            raise ConsentRequired(CONSENT_MESSAGE)
        answering = self._platform.issuer_url(proof.answered_by)
        try:
            if self._store.get_issuer(answering) is None:
                raise NoSigningKey("the answering department is not registered")
            key = self._keyring.signing_key(answering)
        except NoSigningKey as err:
            refuse(err.code)
            raise
        answer = proof.answer(self._candidates(citizen_id, proof, answering, now), checked)
        token = sign_proof(
            key,
            iss=answering,
            aud=self._platform.issuer_url(asking_department),
            sub=citizen_id,
            proof_type=proof.id,
            claims=answer,  # type: ignore[arg-type]
            purpose=text,
            iat=now,
            valid_for=proof.valid_for,
        )
        self._note(pseudonym, event_id, now, asking_department, proof, text, tuple(answer), ())
        return token

    def type_name(self, proof_type: str) -> dict[str, str] | None:
        """The proof type's names ``{"zh", "en"}``; None if the catalogue has no such type."""
        if proof_type not in self.catalogue:
            return None
        name = self.catalogue.get(proof_type).name
        return {"zh": name.zh, "en": name.en}

    def uses_of(self, citizen_id: str, limit: int = 100) -> list[Use]:
        """The citizen's newest ``limit`` proof queries (at most :data:`PROOF_QUERY_CAP`),
        newest first, as uses (for the receipts)."""
        pseudonym = self._pseudonyms.of(citizen_id)
        out = []
        for record in self._store.list_proof_queries(pseudonym, min(limit, PROOF_QUERY_CAP)):
            try:
                purpose = self._seal.open(record.blob, _aad(pseudonym, record.event_id))
            except SealBroken:
                raise JobCorrupt("a proof query does not open (wrong secret or damage)") from None
            out.append(_use(record, purpose.decode("utf-8")))
        return out

    # -- the steps ---------------------------------------------------------------------

    def _candidates(
        self, citizen_id: str, proof: ProofType, answering: str, now: int
    ) -> list[dict[str, Any]]:
        """The claims of the citizen's own valid credentials of the proof's source types
        (never one held for another: a ward's card speaks of the ward), issued by the
        answering department, newest first."""
        others = self.held_copies(citizen_id)
        items = [
            item
            for item in self._vault.items(citizen_id)
            if item.vct in proof.sources
            and item.issuer == answering
            and now <= item.expires_at
            and item.credential_id not in others
        ]
        items.sort(key=lambda i: (i.added_at, i.credential_id), reverse=True)
        out = []
        for item in items:
            if self._vault.live_state(item.credential_id) != "valid":
                continue
            held = self._vault.credential(citizen_id, item.credential_id)
            out.append(credential_claims(held.sd_jwt))
        return out

    def _note(
        self,
        pseudonym: str,
        event_id: str,
        now: int,
        department: str,
        proof: ProofType,
        purpose: str,
        claims: tuple[str, ...],
        codes: tuple[str, ...],
    ) -> None:
        """Record the query for the citizen, then publish it as a use."""
        record = ProofQueryRecord(
            citizen=pseudonym,
            event_id=event_id,
            at=now,
            department=department,
            proof_type=proof.id,
            answered_by=proof.answered_by,
            claims=claims,
            answered=not codes,
            codes=codes,
            blob=self._seal.seal(purpose.encode("utf-8"), _aad(pseudonym, event_id)),
        )
        self._store.add_proof_query(record)
        self._uses.record(_use(record, purpose))


def _use(record: ProofQueryRecord, purpose: str) -> Use:
    return Use(
        event_id=record.event_id,
        kind="proof_query",
        at=record.at,
        subject=record.citizen,
        actor_kind="department",
        actor=record.department,
        topic=record.proof_type,
        fields=record.claims,
        purpose=purpose,
        answered_by=record.answered_by,
        accepted=record.answered,
        codes=record.codes,
    )


def _aad(pseudonym: str, event_id: str) -> bytes:
    return f"ecert-proof-query:{pseudonym}:{event_id}".encode()
