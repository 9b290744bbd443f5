"""Compact JWS: signing through PyJWT, strict parsing and verification of our own.

Signing goes through PyJWT (a well-kept JOSE library). Verification does not use
``jwt.decode``: PyJWT checks neither ``typ`` nor duplicate member names nor claim
types nor input size, and on the verify path its overhead costs more than the
signature itself. So parsing here is strict and cheap, and the key is always chosen
by the caller from trusted configuration — never by the token (RFC 8725 §3.1).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from jwt.api_jws import PyJWS

from keys.b64 import b64url_decode_segment
from keys.b64 import b64url_decode_unchecked as b64url_decode
from keys.errors import FormatError
from keys.errors import UnsupportedAlgorithm as UnsupportedAlgorithm  # re-export
from keys.errors import WrongType as WrongType  # re-export
from keys.jsonstrict import dumps_compact, loads_object
from keys.signing import SUPPORTED_ALGS, SigningKey, VerifyingKey

#: Header parameters that would let a token pick its own key or URL, and ``crit``
#: (we understand no extensions, so RFC 7515 §4.1.11 says reject).
FORBIDDEN_HEADER_PARAMS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_JWS = PyJWS(algorithms=sorted(SUPPORTED_ALGS))
#: The characters of a compact JWS: the base64url alphabet and ".".
_JWS_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
#: Checked headers remembered by their exact base64url bytes and ``typ`` (they repeat:
#: one per signing key); a header that fails a check, or a long one, is never kept.
_MAX_HEADERS = 1024
_MAX_HEADER_BYTES = 512
_HEADERS: dict[tuple[bytes, str], tuple[Mapping[str, Any], str]] = {}
_HEADERS_LOCK = threading.Lock()

#: Chooses the verification key of a parsed, not yet verified JWS from its header and
#: payload (``iss`` + ``kid``), in the spirit of joserfc's ``KeyFlexible`` callable. It
#: raises the caller's own error for an unknown issuer or key; it never takes a key
#: from the token itself.
KeyResolver = Callable[[Mapping[str, Any], Mapping[str, Any]], VerifyingKey]


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


class VerifiedJWS(NamedTuple):
    """A compact JWS whose signature verified with the key its resolver chose (a named
    tuple: it is made on the verify path, which is measured)."""

    #: read-only: shared with every token of the same header bytes
    header: Mapping[str, Any]
    payload: dict[str, Any]
    #: the payload's exact JSON bytes (what the signature covers, decoded)
    raw_payload: bytes
    #: the key that verified the signature
    key: VerifyingKey


def checked_header(h64: bytes, typ: str) -> tuple[Mapping[str, Any], str]:
    """Decode and check a JWS header segment (see :func:`check_header`): header and ``alg``.

    The result is remembered for these exact bytes (at most 1,024 headers of 512 bytes),
    so the header is shared by every caller: it is a read-only mapping. Raises
    :class:`FormatError` subclasses.
    """
    cache_key = (h64, typ)
    known = _HEADERS.get(cache_key)
    if known is None:
        header = loads_object(b64url_decode_segment(h64))
        known = (MappingProxyType(header), check_header(header, typ=typ))
        if len(_HEADERS) < _MAX_HEADERS and len(h64) <= _MAX_HEADER_BYTES:
            with _HEADERS_LOCK:
                _HEADERS[cache_key] = known
    return known


def verify_compact(
    token: str | bytes, typ: str, resolve_key: KeyResolver, *, max_length: int = 65536
) -> VerifiedJWS:
    """Verify a compact JWS: the one path for credentials, status lists and trust lists.

    In order: size (``max_length`` characters), grammar (three non-empty base64url
    segments, canonical), the header (exact ``typ``, ``alg`` on the allow-list, no
    ``jku``/``x5u``/``jwk``/``x5c``/``crit``, a string ``kid`` if present), the payload
    parsed strictly (one JSON object, no duplicate names, :mod:`keys.jsonstrict`),
    then the key from ``resolve_key(header, payload)``, ``alg`` equal to the key's,
    and the signature.

    Raises :class:`FormatError` (``malformed``; :class:`WrongType`,
    :class:`UnsupportedAlgorithm` for a bad header or an ``alg`` other than the key's),
    :class:`~keys.errors.SignatureInvalid`, or whatever ``resolve_key`` raises.
    """
    if len(token) > max_length:
        raise FormatError("token is too large")
    if isinstance(token, str):
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError:
            raise FormatError("not a compact JWS") from None
    else:
        raw = token
    if raw.translate(None, _JWS_ALPHABET):
        raise FormatError("not a compact JWS")
    signing_input, _, s64 = raw.rpartition(b".")
    h64, _, p64 = signing_input.partition(b".")
    if not h64 or not p64 or not s64 or b"." in p64:
        raise FormatError("not a compact JWS")
    header, alg = checked_header(h64, typ)
    raw_payload = b64url_decode_segment(p64)
    payload = loads_object(raw_payload, max_bytes=max_length)
    key = resolve_key(header, payload)
    if key.alg != alg:
        raise UnsupportedAlgorithm("the JWS 'alg' does not match the key")
    key.verify(signing_input, b64url_decode_segment(s64))
    return VerifiedJWS(header, payload, raw_payload, key)
