"""Compact JWS: signing through PyJWT, strict parsing and verification of our own.

Signing goes through PyJWT (a well-kept JOSE library). Verification does not use
``jwt.decode``: PyJWT checks neither ``typ`` nor duplicate member names nor claim
types nor input size, and on the verify path its overhead costs more than the
signature itself. So parsing here is strict and cheap, and the key is always chosen
by the caller from trusted configuration — never by the token (RFC 8725 §3.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jwt.api_jws import PyJWS

from keys.b64 import b64url_decode_unchecked as b64url_decode
from keys.errors import FormatError
from keys.errors import UnsupportedAlgorithm as UnsupportedAlgorithm  # re-export
from keys.errors import WrongType as WrongType  # re-export
from keys.jsonstrict import dumps_compact, loads_object
from keys.signing import SUPPORTED_ALGS, SigningKey

#: Header parameters that would let a token pick its own key or URL, and ``crit``
#: (we understand no extensions, so RFC 7515 §4.1.11 says reject).
FORBIDDEN_HEADER_PARAMS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_JWS = PyJWS(algorithms=sorted(SUPPORTED_ALGS))


def sign_compact(
    payload: Mapping[str, Any], key: SigningKey, *, typ: str, with_kid: bool = True
) -> str:
    """Sign a JSON payload as a compact JWS with header ``alg``, ``typ`` and ``kid``.

    ``with_kid=False`` leaves ``kid`` out, for a KB-JWT whose key is named by the
    credential's ``cnf`` (every byte counts in a QR code).
    """
    body = dumps_compact(dict(payload)).encode("utf-8")
    headers = {"typ": typ, "kid": key.kid} if with_kid else {"typ": typ}
    return _JWS.encode(body, key.key, algorithm=key.alg, headers=headers)


@dataclass(frozen=True, slots=True)
class UnverifiedJWS:
    """A parsed compact JWS whose signature has NOT been checked yet."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(token: str, *, typ: str, max_length: int = 65536) -> UnverifiedJWS:
    """Parse a compact JWS strictly and check its ``typ`` and ``alg`` (not its signature).

    Checks, in order: size, grammar, header JSON (no duplicates), exact ``typ``, ``alg``
    on the allow-list, no key-selecting or ``crit`` headers, a string ``kid``
    if present, payload JSON object.

    Raises :class:`FormatError` (code ``malformed``) or :class:`UnsupportedAlgorithm`.
    """
    if len(token) > max_length:
        raise FormatError("token is too large")
    if _COMPACT.fullmatch(token) is None:
        raise FormatError("not a compact JWS")
    h64, p64, s64 = token.split(".")
    header = loads_object(b64url_decode(h64))
    check_header(header, typ=typ)
    payload = loads_object(b64url_decode(p64), max_bytes=max_length)
    return UnverifiedJWS(header, payload, f"{h64}.{p64}".encode("ascii"), b64url_decode(s64))


def check_header(header: Mapping[str, Any], *, typ: str) -> str:
    """Check ``typ``, ``alg`` and the forbidden parameters of a JWS header; return ``alg``.

    Raises :class:`FormatError` or :class:`UnsupportedAlgorithm`.
    """
    if header.get("typ") != typ:
        raise WrongType(f"JWS 'typ' must be {typ!r}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGS:
        raise UnsupportedAlgorithm("JWS 'alg' is not allowed (allowed: ES256, EdDSA)")
    bad = FORBIDDEN_HEADER_PARAMS.intersection(header)
    if bad:
        raise FormatError(f"JWS header parameter {sorted(bad)[0]!r} is not accepted")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise FormatError("JWS 'kid' must be a string")
    return alg
