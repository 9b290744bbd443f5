"""SD-JWT disclosures and their processing (RFC 9901 §4.2, §7.1)."""

from __future__ import annotations

import hashlib
import secrets
from binascii import b2a_base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from keys.b64 import b64url_decode, b64url_decode_segment, b64url_encode
from keys.errors import InvalidUnicode
from keys.jsonstrict import dumps_compact, loads
from sdjwt.errors import DisclosureInvalid, FormatError

_TO_URL = bytes.maketrans(b"+/", b"-_")
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_sha256 = hashlib.sha256
#: Spec constants (RFC 9901 §4.2.4, §4.2.4.2).
SD = "_sd"
SD_ALG = "_sd_alg"
ARRAY_ELEMENT = "..."
SHA_256 = "sha-256"
#: Salt size in bytes: 128 bits, as RFC 9901 §4.2.1 recommends.
SALT_BYTES = 16
#: Claim names that are never selectively disclosable (SD-JWT VC §3.2.2.2, RFC 9901).
NEVER_DISCLOSABLE = frozenset(
    {"iss", "exp", "nbf", "cnf", "vct", "vct#integrity", "status", SD, SD_ALG, "..."}
)


def digest(encoded: str | bytes) -> str:
    """The base64url SHA-256 digest of a disclosure as it appears (RFC 9901 §4.2.3), given
    as text or as its ASCII bytes."""
    if isinstance(encoded, str):
        encoded = encoded.encode("ascii")
    # 32 bytes are 43 base64 characters and one "=": binascii directly, then the URL alphabet
    return b2a_base64(_sha256(encoded).digest())[:43].translate(_TO_URL).decode("ascii")


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One disclosure: ``[salt, name, value]``, or ``[salt, value]`` for an array element."""

    encoded: str
    salt: str
    name: str | None
    value: Any

    @property
    def digest(self) -> str:
        """The digest that the issuer-signed JWT references."""
        return digest(self.encoded)


def make_disclosure(
    name: str | None, value: Any, *, token_bytes: Callable[[int], bytes] = secrets.token_bytes
) -> Disclosure:
    """Create a disclosure with a fresh 128-bit salt from ``token_bytes`` (CSPRNG by default)."""
    if name is not None and name in NEVER_DISCLOSABLE:
        raise FormatError(f"claim {name!r} may not be selectively disclosable")
    salt = b64url_encode(token_bytes(SALT_BYTES))
    array = [salt, value] if name is None else [salt, name, value]
    encoded = b64url_encode(dumps_compact(array).encode("utf-8"))
    return Disclosure(encoded, salt, name, value)


def decode_disclosure(encoded: str) -> Disclosure:
    """Decode a disclosure strictly.

    Raises :class:`DisclosureInvalid`, or :class:`~keys.errors.InvalidUnicode`
    (``malformed``) for text that is not Unicode (invalid UTF-8, a lone surrogate).
    """
    salt, name, value = _decoded(encoded)
    return Disclosure(encoded, salt, name, value)


def _decoded(encoded: str | bytes) -> tuple[str, str | None, Any]:
    """:func:`decode_disclosure`'s checks: ``(salt, name or None, value)``; the disclosure
    as text or as its ASCII bytes (the verifier's segments)."""
    try:
        if isinstance(encoded, str):
            array = loads(b64url_decode(encoded))
        elif encoded.translate(None, _B64URL_ALPHABET):  # a2b_base64 would skip such bytes
            raise FormatError("invalid base64url text")
        else:
            array = loads(b64url_decode_segment(encoded))
    except InvalidUnicode:
        raise  # text that is not Unicode is ``malformed`` wherever it appears
    except FormatError as err:
        raise DisclosureInvalid("disclosure is not base64url-encoded JSON") from err
    if not isinstance(array, list) or len(array) not in (2, 3):
        raise DisclosureInvalid("disclosure must be a JSON array of 2 or 3 elements")
    salt = array[0]
    if not isinstance(salt, str):
        raise DisclosureInvalid("disclosure salt must be a string")
    if len(array) == 2:
        return salt, None, array[1]
    name = array[1]
    if not isinstance(name, str):
        raise DisclosureInvalid("disclosure claim name must be a string")
    if name in (SD, ARRAY_ELEMENT):
        raise DisclosureInvalid(f"disclosure may not carry the claim name {name!r}")
    return salt, name, array[2]


def decoy_digest(*, token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A decoy digest (RFC 9901 §4.2.5): the hash of random bytes, referencing nothing."""
    return b64url_encode(hashlib.sha256(token_bytes(SALT_BYTES)).digest())


def resolve(
    payload: Mapping[str, Any],
    disclosures: Iterable[str] | Iterable[bytes],
    *,
    raw_payload: bytes | None = None,
) -> dict[str, Any]:
    """Replace digests in ``payload`` by the disclosed claims (RFC 9901 §7.1 steps 3–5).

    ``disclosures`` as they appear in the presentation, as text or as ASCII bytes (the
    verifier's segments; the same checks either way).
    Returns the processed payload without ``_sd`` and ``_sd_alg``. ``raw_payload``, the
    payload's JSON bytes, lets a payload whose only ``_sd`` is the top-level one skip
    the recursive walk (the verify path is measured). Raises
    :class:`DisclosureInvalid` when a disclosure is malformed, referenced twice or not
    at all, a digest repeats, or a disclosed name clashes with a plain claim.
    """
    alg = payload.get(SD_ALG, SHA_256)
    if alg != SHA_256:
        raise DisclosureInvalid("only the 'sha-256' _sd_alg is supported")
    by_digest: dict[str, str | bytes] = {}
    for encoded in disclosures:
        d = digest(encoded)
        if d in by_digest:
            raise DisclosureInvalid("the same disclosure is presented twice")
        by_digest[d] = encoded
    if raw_payload is not None and _only_top_level_sd(payload, raw_payload):
        flat = _resolve_flat(payload, by_digest)
        if flat is not None:
            return flat
    state = _Resolution(by_digest)
    out = state.object(payload, top=True)
    out.pop(SD_ALG, None)
    if state.used != len(by_digest):
        raise DisclosureInvalid("a disclosure is not referenced by the credential")
    return out


def _only_top_level_sd(payload: Mapping[str, Any], raw: bytes) -> bool:
    # Without escapes the member name "_sd" can only appear as those five bytes; if
    # they appear once and the top level has "_sd", no nested object has one, and
    # without the bytes "..." there are no array-element digests (RFC 9901 §4.2.4.2).
    return (
        b"\\" not in raw
        and b'"..."' not in raw
        and raw.count(b'"_sd"') == (1 if SD in payload else 0)
    )


def _resolve_flat(
    payload: Mapping[str, Any], by_digest: Mapping[str, str | bytes]
) -> dict[str, Any] | None:
    """Resolve a payload whose only digests are in its top-level ``_sd``.

    Returns None when a disclosed value is itself an object or array (it may hold
    digests of its own): the caller then takes the general path.
    """
    digests = payload.get(SD, [])
    if not isinstance(digests, list):
        raise DisclosureInvalid("'_sd' must be an array")
    out = dict(payload)
    out.pop(SD, None)
    out.pop(SD_ALG, None)
    if not _distinct_strings(digests):
        return None  # the walk reports a non-string or repeated digest in its order
    hits = [by_digest[dig] for dig in digests if dig in by_digest]
    for encoded in hits:
        _, name, value = _decoded(encoded)
        if name is None:
            raise DisclosureInvalid("an array-element disclosure is referenced from '_sd'")
        if name in NEVER_DISCLOSABLE:
            raise DisclosureInvalid(_never_disclosable(name))
        if name in out:
            raise DisclosureInvalid("a disclosed claim name is already in the object")
        if isinstance(value, dict | list):
            return None
        out[name] = value
    if len(hits) != len(by_digest):
        raise DisclosureInvalid("a disclosure is not referenced by the credential")
    return out


def _distinct_strings(digests: list[Any]) -> bool:
    """Whether every digest is a string and none repeats (both checked in C)."""
    try:
        "".join(digests)  # TypeError for anything but strings
    except TypeError:
        return False
    return len(set(digests)) == len(digests)


def _never_disclosable(name: str) -> str:
    # SD-JWT VC §3.2.2.2: these claims are never selectively disclosable; a hidden
    # 'nbf' or 'status' would otherwise escape the checks that read the plain payload.
    return f"the claim {name!r} may not be selectively disclosed"


class _Resolution:
    __slots__ = ("by_digest", "seen", "used")

    def __init__(self, by_digest: dict[str, str | bytes]) -> None:
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.used = 0

    def _take(self, dig: object) -> tuple[str, str | None, Any] | None:
        """The referenced disclosure's ``(salt, name or None, value)``, or None."""
        if not isinstance(dig, str):
            raise DisclosureInvalid("a digest must be a string")
        if dig in self.seen:
            raise DisclosureInvalid("a digest appears more than once")
        self.seen.add(dig)
        encoded = self.by_digest.get(dig)
        if encoded is None:
            return None
        self.used += 1
        return _decoded(encoded)

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self.object(value)
        if isinstance(value, list):
            return self.array(value)
        return value

    def object(self, obj: Mapping[str, Any], *, top: bool = False) -> dict[str, Any]:
        out = {k: self.value(v) for k, v in obj.items() if k != SD}
        digests = obj.get(SD)
        if digests is None:
            return out
        if not isinstance(digests, list):
            raise DisclosureInvalid("'_sd' must be an array")
        for dig in digests:
            disclosure = self._take(dig)
            if disclosure is None:
                continue
            _, name, value = disclosure
            if name is None:
                raise DisclosureInvalid("an array-element disclosure is referenced from '_sd'")
            if top and name in NEVER_DISCLOSABLE:
                raise DisclosureInvalid(_never_disclosable(name))
            if name in out:
                raise DisclosureInvalid("a disclosed claim name is already in the object")
            out[name] = self.value(value)
        return out

    def array(self, items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, dict) and ARRAY_ELEMENT in item:
                if len(item) != 1:
                    raise DisclosureInvalid("an array-element digest object has extra members")
                disclosure = self._take(item[ARRAY_ELEMENT])
                if disclosure is None:
                    continue
                _, name, value = disclosure
                if name is not None:
                    raise DisclosureInvalid("an object-property disclosure is used in an array")
                out.append(self.value(value))
            else:
                out.append(self.value(item))
        return out
