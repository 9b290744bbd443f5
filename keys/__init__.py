"""Keys: P-256 and Ed25519 signing keys, JWK/JWKS with RFC 7638 ``kid``s, keys at rest,
rotation states and the signed trust list."""

from __future__ import annotations

from keys.errors import (
    EcertError,
    FormatError,
    InvalidJWK,
    KeySecretMissing,
    KeyStateError,
    KeyStoreError,
    KeyUnwrapFailed,
    SignatureInvalid,
    TrustListError,
)
from keys.jwk import Alg, JWKDict, public_key_from_jwk, public_key_to_jwk, thumbprint
from keys.jws import UnverifiedJWS, parse_compact, sign_compact
from keys.keystore import KeyWrapper, derive_key, generate_secret
from keys.models import LocalizedName, StrictModel
from keys.numericdate import MAX_NUMERIC_DATE, numeric_date
from keys.signing import SUPPORTED_ALGS, SigningKey, VerifyingKey
from keys.states import KeyState, can_transition
from keys.trustlist import (
    IssuerEntryDict,
    Scene,
    SceneDict,
    TrustedIssuer,
    TrustList,
    build_trust_list,
    verify_trust_list,
)

__all__ = [
    # errors
    "EcertError",
    "FormatError",
    "InvalidJWK",
    "KeySecretMissing",
    "KeyStateError",
    "KeyStoreError",
    "KeyUnwrapFailed",
    "SignatureInvalid",
    "TrustListError",
    # keys and JWKs
    "SUPPORTED_ALGS",
    "Alg",
    "JWKDict",
    "KeyState",
    "KeyWrapper",
    "SigningKey",
    "VerifyingKey",
    "can_transition",
    "derive_key",
    "generate_secret",
    "public_key_from_jwk",
    "public_key_to_jwk",
    "thumbprint",
    # compact JWS
    "UnverifiedJWS",
    "parse_compact",
    "sign_compact",
    # claims
    "MAX_NUMERIC_DATE",
    "numeric_date",
    # shared models
    "LocalizedName",
    "StrictModel",
    # trust list
    "IssuerEntryDict",
    "Scene",
    "SceneDict",
    "TrustList",
    "TrustedIssuer",
    "build_trust_list",
    "verify_trust_list",
]
