"""Offline verification of SD-JWT VC presentations (DESIGN.md §7).

    from verifier import Verifier
    v = Verifier.from_bundle_file("bundle.json", anchor=anchor_jwk)
    result = v.verify(text, scene="hotel")          # or expected_aud=…, expected_nonce=…
    proof = v.verify_proof(token, audience=asking_department_iss)   # a proof+jwt
    live = Verifier(LiveTrustSource(trust_list, status_source))   # any TrustSource
    result.valid, result.errors, result.claims, result.to_dict()

No network, no store, no Flask.
"""

from __future__ import annotations

from sdjwt import LEEWAY
from verifier.bundle import Bundle, LoadedStatusList, load_bundle, read_bundle_file
from verifier.core import KB_FUTURE_SKEW, MAX_PRESENTATION, Verifier
from verifier.errors import (
    ERROR_CODES,
    BundleInvalid,
    StatusHistoryInvalid,
    UnknownScene,
    VerificationError,
    VerifierMisuse,
)
from verifier.history import (
    FileStatusHistory,
    MemoryStatusHistory,
    StatusHistory,
    StatusMark,
)
from verifier.proofs import ProofResult
from verifier.replay import MemoryNonceCache, NonceCache
from verifier.result import VerificationResult
from verifier.status import BundleStatusSource, StatusSource
from verifier.trust import BundleTrustSource, LiveTrustSource, TrustSource

__all__ = [
    "ERROR_CODES",
    "FileStatusHistory",
    "KB_FUTURE_SKEW",
    "LEEWAY",
    "MAX_PRESENTATION",
    "Bundle",
    "BundleInvalid",
    "BundleStatusSource",
    "BundleTrustSource",
    "LiveTrustSource",
    "LoadedStatusList",
    "MemoryNonceCache",
    "MemoryStatusHistory",
    "NonceCache",
    "ProofResult",
    "StatusHistory",
    "StatusHistoryInvalid",
    "StatusMark",
    "StatusSource",
    "TrustSource",
    "UnknownScene",
    "VerificationError",
    "VerificationResult",
    "Verifier",
    "VerifierMisuse",
    "load_bundle",
    "read_bundle_file",
]
