"""The proof JWT (``typ: proof+jwt``): a department's answer to another's proof query.

A compact JWS signed by the **answering** department's current signing key (the
``kid`` of :meth:`issuer.keyring.Keyring.signing_key`, published in the trust list),
so any verifier holding the trust list checks it offline
(:meth:`verifier.Verifier.verify_proof`). Header ``alg``, ``typ``, ``kid``; payload:

* ``iss``: the answering department's issuer id (as in its credentials);
* ``aud``: the asking department's issuer id: the only party that may rely on it;
* ``sub``: the citizen id the query named;
* ``proof_type``: the proof type id (``issuer/data/proofs.json``);
* ``claims``: the answer (``found`` first; flat: strings, integers, booleans);
* ``purpose``: the asking department's stated purpose;
* ``iat``, ``exp`` (= ``iat`` + the type's ``valid_for``), ``jti`` (a random id).

Domain code: no Flask, no store driver. See docs/formats.md ("proof+jwt").
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from keys.jws import sign_compact
from keys.proofjwt import TYP_PROOF, ProofPayload
from keys.signing import SigningKey

__all__ = ["TYP_PROOF", "ProofPayload", "sign_proof"]


def sign_proof(
    key: SigningKey,
    *,
    iss: str,
    aud: str,
    sub: str,
    proof_type: str,
    claims: Mapping[str, str | int | bool],
    purpose: str,
    iat: int,
    valid_for: int,
    jti: str | None = None,
) -> str:
    """Sign an answer as a ``proof+jwt`` with ``key`` (the answering department's
    current signing key; its ``kid`` goes in the header)."""
    payload: ProofPayload = {
        "iss": iss,
        "aud": aud,
        "sub": sub,
        "proof_type": proof_type,
        "claims": dict(claims),
        "purpose": purpose,
        "iat": iat,
        "exp": iat + valid_for,
        "jti": jti if jti is not None else secrets.token_urlsafe(16),
    }
    return sign_compact(payload, key, typ=TYP_PROOF)
