"""Proof queries: each department's look-up of a proof about a citizen (issue 11), kept
per citizen so that the citizen sees every use of their data, answered or refused.

Kept under the citizen's pseudonym; the claim *names* of the answer (never values), the
codes of a refusal and, sealed by the service (``blob``), the purpose the asking
department gave. The newest :data:`PROOF_QUERY_CAP` per citizen stay, as the activity
log's :data:`~store.kinds.activity.ACTIVITY_CAP`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["PROOF_QUERY_CAP", "ProofQueryRecord", "ProofQueryStore"]

#: Proof queries kept per citizen (the oldest beyond this are dropped), in every backend.
PROOF_QUERY_CAP = 1000


@dataclass(frozen=True, slots=True)
class ProofQueryRecord:
    """One proof query about a citizen.

    ``citizen`` is the pseudonym; ``event_id`` a :func:`~store.kinds.activity.new_event_id`
    (it sorts by time); ``department`` the asking department's issuer slug,
    ``answered_by`` the answering one's; ``claims`` the answer's claim names (empty when
    refused); ``answered`` whether a proof was signed; ``codes`` a refusal's stable
    codes; ``blob`` the sealed purpose.
    """

    citizen: str
    event_id: str
    at: int
    department: str
    proof_type: str
    answered_by: str
    claims: tuple[str, ...]
    answered: bool
    codes: tuple[str, ...]
    blob: bytes


@runtime_checkable
class ProofQueryStore(Protocol):
    """Each citizen's newest :data:`PROOF_QUERY_CAP` proof queries."""

    def add_proof_query(self, record: ProofQueryRecord) -> None:
        """Record one query (replacing one with the same citizen and event id); only the
        citizen's newest :data:`PROOF_QUERY_CAP` stay."""

    def list_proof_queries(self, citizen: str, limit: int = 100) -> list[ProofQueryRecord]:
        """The citizen's newest ``limit`` queries, newest first (``at``, then event id,
        descending)."""
