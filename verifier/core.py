"""The offline verifier of DESIGN.md §7.

The checks run in the order of STYLE.md §4: size and grammar, then unverified
parsing, then the key chosen from the trust list (never from the token), the
issuer's signature, claims against the injected clock, key binding, status and
finally replay. Failures before the issuer's signature is known good stop the
check; after it, independent failures (expired *and* revoked, say) are all reported.
"""

from __future__ import annotations

import threading
import time
from binascii import b2a_base64
from collections.abc import Callable, Mapping
from hashlib import sha256
from pathlib import Path
from typing import Any

from keys import EcertError, FormatError, InvalidJWK, SignatureInvalid, VerifyingKey
from keys.b64 import b64url_decode_segment
from keys.errors import InvalidUnicode
from keys.jsonstrict import loads_object
from keys.jwk import public_key_from_jwk
from keys.jws import check_header
from keys.numericdate import numeric_date
from sdjwt import LEEWAY, TYP_KB_JWT, TYP_SD_JWT_VC, resolve
from sdjwt.qr_transport import MAX_COMPACT, decode_compact, is_compact
from verifier.bundle import Bundle, load_bundle, read_bundle_file, record_bundle
from verifier.errors import (
    ERROR_CODES,
    Expired,
    InvalidSignature,
    IssuerNotAuthorised,
    KeyBindingInvalid,
    KeyBindingMissing,
    KeyCompromised,
    Malformed,
    NotYetValid,
    PresentationExpired,
    Replayed,
    Revoked,
    SceneUnmet,
    StatusStale,
    StatusUnavailable,
    Suspended,
    TrustListStale,
    UnknownIssuer,
    UnknownKey,
    UnknownScene,
    UnsupportedAlg,
    VerificationError,
)
from verifier.history import MemoryStatusHistory, StatusHistory
from verifier.replay import MemoryNonceCache, NonceCache
from verifier.result import ErrorDict, StatusName, VerificationResult
from verifier.status import BundleStatusSource, StatusSource

#: Largest presentation accepted, in characters (a version-40 QR code holds 2,953 bytes).
MAX_PRESENTATION = 16 * 1024
#: How far in the future a KB-JWT ``iat`` may be, in seconds.
KB_FUTURE_SKEW = 30
#: How many verified issuer-signed JWTs a verifier remembers (0 turns it off).
VERIFIED_CACHE = 4096
#: Default freshness window when a scene names none.
DEFAULT_MAX_AGE = 120

#: The characters of an SD-JWT+KB: the base64url alphabet, "." and "~".
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_TO_STD = bytes.maketrans(b"-_", b"+/")
_TO_URL = bytes.maketrans(b"+/", b"-_")
#: Distinct JWS headers remembered per verifier (they repeat: one per key).
_MAX_HEADERS = 1024
_PAD = (b"", b"", b"==", b"=")
_STATUS_NAMES: dict[int, StatusName] = {0: "valid", 1: "revoked", 2: "suspended"}


class Verifier:
    """Verifies presentations offline against a signed bundle.

    ``verify`` never raises for a bad presentation: it reports it. It raises only
    for misuse (an unknown scene); building a verifier raises
    :class:`~verifier.errors.BundleInvalid` for a bundle whose trust list fails the
    anchor's signature.

    ``history`` (a :class:`~verifier.history.StatusHistory`, in memory by default)
    is the rollback guard: a status list older than one accepted before for the same
    ``(iss, uri)``, or as old with other content, is left out of the bundle (named
    in ``bundle.problems``; its credentials get ``status_unavailable`` saying why).
    A trust list older than the newest accepted for its anchor (or as old, with other
    content) refuses the whole bundle (:class:`~verifier.errors.BundleInvalid`).
    Building the verifier accepts the bundle and records its lists and its trust list
    in ``history``.
    """

    def __init__(
        self,
        bundle: Mapping[str, Any],
        *,
        anchor: Mapping[str, Any] | VerifyingKey,
        clock: Callable[[], float] = time.time,
        replay: NonceCache | None = None,
        status: StatusSource | None = None,
        leeway: int = LEEWAY,
        max_length: int = MAX_PRESENTATION,
        verified_cache: int = VERIFIED_CACHE,
        history: StatusHistory | None = None,
    ) -> None:
        # The rollback guard: a list older than one accepted before is left out, and the
        # lists of the bundle are recorded once it is accepted (accepting is recording).
        self.history: StatusHistory = history if history is not None else MemoryStatusHistory()
        now = clock()
        self.bundle: Bundle = load_bundle(bundle, anchor, history=self.history, now=now)
        record_bundle(self.history, self.bundle, now)
        self.trust_list = self.bundle.trust_list
        self._clock = clock
        self._replay: NonceCache = replay if replay is not None else MemoryNonceCache()
        self._status: StatusSource = status or BundleStatusSource(
            self.bundle.status_lists, self.bundle.dropped
        )
        self._leeway = leeway
        self._max_length = max_length
        # Issuer-signed JWTs whose signature verified, by their exact bytes (signature
        # included): a credential shown again skips only that signature check. The
        # cache lives and dies with this verifier, so with its trust list; the key's
        # place in the trust list (revoked_kids, jwks) is still checked every time.
        self._verified: dict[bytes, _Verified] = {}
        self._verified_lock = threading.Lock()
        self._verified_max = verified_cache
        self._headers: dict[tuple[bytes, str], tuple[dict[str, Any], str]] = {}

    @classmethod
    def from_bundle_file(
        cls,
        path: str | Path,
        *,
        anchor: Mapping[str, Any] | VerifyingKey,
        history: StatusHistory | None = None,
        **kwargs: Any,
    ) -> Verifier:
        """Build from a bundle JSON file. Raises :class:`~verifier.errors.BundleInvalid`
        (and :class:`~verifier.errors.StatusHistoryInvalid` for a ``history`` that cannot
        record the bundle's lists)."""
        return cls(read_bundle_file(path), anchor=anchor, history=history, **kwargs)

    def _header(self, h64: bytes, typ: str) -> tuple[dict[str, Any], str]:
        """Parse and check a JWS header, remembering the result for these exact bytes.

        Headers repeat (one per issuer key, one per holder algorithm), so a parsed and
        checked header is kept by its base64url text; a failing one is never kept.
        The dict is shared: callers only read it.
        """
        key = (h64, typ)
        known = self._headers.get(key)
        if known is None:
            header = loads_object(_b64(h64))
            known = (header, check_header(header, typ=typ))
            if len(self._headers) < _MAX_HEADERS:
                self._headers[key] = known
        return known

    def _recall(self, issuer_jwt: bytes) -> _Verified | None:
        if not self._verified:
            return None
        with self._verified_lock:
            entry = self._verified.pop(issuer_jwt, None)
            if entry is not None:
                self._verified[issuer_jwt] = entry  # most recently used last
            return entry

    def _remember(self, issuer_jwt: bytes, header: dict[str, Any], raw_payload: bytes) -> _Verified:
        entry = _Verified(header, raw_payload)
        if self._verified_max > 0:
            with self._verified_lock:
                if len(self._verified) >= self._verified_max:
                    self._verified.pop(next(iter(self._verified)))  # least recently used
                self._verified[issuer_jwt] = entry
        return entry

    @property
    def scenes(self) -> list[str]:
        """The scene ids of the trust list."""
        return list(self.trust_list.scenes)

    def verify(self, text: str | bytes, scene: str) -> VerificationResult:
        """Verify a scanned presentation for ``scene``.

        Raises :class:`~verifier.errors.UnknownScene` for a scene that the trust
        list does not define; every problem with ``text`` is reported in the result.
        """
        policy = self.trust_list.scenes.get(scene)
        if policy is None:
            raise UnknownScene(f"unknown scene {scene!r}")
        now = self._clock()
        result = VerificationResult(scene=scene, checked_at=int(now))
        try:
            self._verify(text, policy.id, policy.accept, policy.max_age, now, result)
        except VerificationError as err:
            result.errors.append({"code": err.code, "message": err.message})
        except EcertError as err:
            code = err.code if err.code in ERROR_CODES else "malformed"
            result.errors.append({"code": code, "message": err.message})
        return result

    # -- the checks -----------------------------------------------------------------

    def _verify(
        self,
        text: str | bytes,
        scene_id: str,
        accept: Mapping[str, tuple[str, ...]],
        max_age: int,
        now: float,
        result: VerificationResult,
    ) -> None:
        errors = result.errors
        if now > self.trust_list.exp:
            errors.append(_err(TrustListStale("the trust list has expired: sync the bundle")))

        if is_compact(text):  # the compact QR transport: unpack to the exact plain text
            text = _unpack_compact(text)

        # 1. size and grammar, before any parsing or crypto. The text is handled as
        # ASCII bytes from here on: one encode, one translation to the standard base64
        # alphabet, then slices (the verify path is measured against raw signatures).
        if isinstance(text, str):
            if len(text) > self._max_length + 2:
                raise Malformed("the presentation is too large")
            try:
                raw = text.encode("ascii")
            except UnicodeEncodeError:
                raise Malformed("the presentation is not ASCII text") from None
        elif isinstance(text, bytes):
            if len(text) > self._max_length + 2:
                raise Malformed("the presentation is too large")
            raw = text
        else:
            raise Malformed("the presentation must be text")
        raw = raw.rstrip(b"\r\n")  # scanner guns type a trailing Enter
        if len(raw) > self._max_length:
            raise Malformed("the presentation is too large")
        parts = _split_presentation(raw)
        kb_jwt = parts[-1]
        if not kb_jwt:
            raise KeyBindingMissing("the presentation has no key-binding JWT")
        disclosures = [d.decode("ascii") for d in parts[1:-1]]

        # 2. unverified parse of the issuer-signed JWT (or the same bytes, seen verified)
        issuer_jwt = parts[0]
        seen = self._recall(issuer_jwt)
        if seen is None:
            signing_input, _, s64 = issuer_jwt.rpartition(b".")
            h64, _, p64 = signing_input.partition(b".")
            unverified_header, alg = self._header(h64, TYP_SD_JWT_VC)
            raw_payload = _b64(p64)
        else:
            unverified_header, raw_payload = seen.header, seen.raw_payload
            alg = unverified_header["alg"]
        unverified = loads_object(raw_payload)
        iss = unverified.get("iss")
        vct = unverified.get("vct")
        if not isinstance(iss, str) or not isinstance(vct, str):
            raise Malformed("the credential needs string 'iss' and 'vct'")

        # 3. the key, from the trust list by iss + kid only
        issuer = self.trust_list.issuers.get(iss)
        if issuer is None:
            raise UnknownIssuer("the issuer is not in the trust list")
        kid = unverified_header.get("kid")
        if kid is None:
            raise UnknownKey("the credential names no key ('kid')")
        if kid in issuer.revoked_kids:
            raise KeyCompromised("the issuer's signing key was reported compromised")
        key = issuer.keys.get(kid)
        if key is None:
            raise UnknownKey("the signing key is not among the issuer's published keys")
        if key.alg != alg:
            raise UnsupportedAlg("the JWS 'alg' does not match the issuer's key")

        # 4. the issuer's signature, unless these exact bytes verified under this trust list
        if seen is None:
            try:
                key.verify(signing_input, _b64(s64))
            except SignatureInvalid:
                raise InvalidSignature("the issuer's signature does not verify") from None
            seen = self._remember(issuer_jwt, unverified_header, raw_payload)
        payload = unverified
        result.iss, result.vct = iss, vct
        if vct not in issuer.vcts:
            raise IssuerNotAuthorised("the issuer is not authorised for this credential type")

        # 5. claims against the clock
        exp = numeric_date(payload, "exp", where="the credential")
        nbf = numeric_date(payload, "nbf", required=False, where="the credential")
        iat = numeric_date(payload, "iat", required=False, where="the credential")
        if now > exp + self._leeway:
            errors.append(_err(Expired("the credential has expired")))
        if nbf is not None and now + self._leeway < nbf:
            errors.append(_err(NotYetValid("the credential is not valid yet")))
        if iat is not None and iat > now + self._leeway:
            errors.append(_err(Malformed("the credential's 'iat' is in the future")))
        claims = resolve(payload, disclosures, raw_payload=raw_payload)

        # 6. key binding
        cnf = payload.get("cnf")
        holder_jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        if not isinstance(holder_jwk, dict):
            raise Malformed("the credential has no holder key ('cnf.jwk')")
        nonce, kb_iat = self._check_key_binding(
            kb_jwt, holder_jwk, seen, raw[: len(raw) - len(kb_jwt)], scene_id, max_age, now, errors
        )

        # 7. status
        result.status = self._check_status(iss, payload.get("status"), now, result)

        # scene policy: the required claims, and nothing else returned
        wanted = accept.get(vct)
        if wanted is None:
            errors.append(_err(SceneUnmet("this credential type is not accepted for the scene")))
        else:
            missing = [c for c in wanted if c not in claims]
            if missing:
                errors.append(
                    _err(SceneUnmet(f"claims required by the scene are missing: {missing}"))
                )
            else:
                result.claims = {c: claims[c] for c in wanted}

        # replay, last: only a presentation that passed everything uses up its nonce
        # The nonce is kept past the last instant at which this KB-JWT is still fresh.
        if not errors and not self._replay.check_and_add(nonce, kb_iat + max_age + 1, now):
            errors.append(_err(Replayed("this presentation was already used")))
        if errors:
            result.claims = {}

    def _check_key_binding(
        self,
        kb_jwt: bytes,
        holder_jwk: Mapping[str, Any],
        seen: _Verified,
        presented: bytes,
        scene_id: str,
        max_age: int,
        now: float,
        errors: list[ErrorDict],
    ) -> tuple[str, float]:
        signing_input, _, s64 = kb_jwt.rpartition(b".")
        h64, _, p64 = signing_input.partition(b".")
        try:
            _, alg = self._header(h64, TYP_KB_JWT)
            kb = loads_object(_b64(p64))
            holder = seen.holder
            if holder is None:
                # cnf.jwk is part of the verified issuer JWT: the key object is kept
                # with it, and OpenSSL reuses its set-up on the next presentation.
                holder = VerifyingKey(*public_key_from_jwk(holder_jwk), kid="")
                seen.holder = holder
        except (InvalidUnicode, VerificationError):
            # text that is not Unicode is malformed wherever it is; a check of ours
            # (a Malformed segment is also a FormatError) keeps its own code
            raise
        except (FormatError, InvalidJWK) as err:
            raise KeyBindingInvalid(f"the key-binding JWT is unusable: {err.message}") from err
        if holder.alg != alg:
            raise KeyBindingInvalid("the KB-JWT 'alg' does not match the holder key")
        try:
            holder.verify(signing_input, _b64(s64))
        except SignatureInvalid:
            raise KeyBindingInvalid("the KB-JWT is not signed by the holder key") from None
        try:
            iat = numeric_date(kb, "iat", where="the KB-JWT")
        except FormatError as err:
            raise KeyBindingInvalid(err.message) from None
        nonce = kb.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise KeyBindingInvalid("the KB-JWT needs a 'nonce'")
        if kb.get("sd_hash") != _sha256_b64url(presented):
            errors.append(_err(KeyBindingInvalid("the KB-JWT 'sd_hash' does not match")))
        if kb.get("aud") != scene_id:
            errors.append(_err(KeyBindingInvalid("the presentation was made for another scene")))
        if now - iat > max_age:
            errors.append(_err(PresentationExpired("the QR code is too old: refresh it")))
        elif iat - now > KB_FUTURE_SKEW:
            errors.append(_err(KeyBindingInvalid("the KB-JWT is dated in the future")))
        return nonce, iat

    def _check_status(
        self, iss: str, status: object, now: float, result: VerificationResult
    ) -> StatusName | None:
        errors = result.errors
        ref = status.get("status_list") if isinstance(status, dict) else None
        idx = ref.get("idx") if isinstance(ref, dict) else None
        uri = ref.get("uri") if isinstance(ref, dict) else None
        if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0 or not isinstance(uri, str):
            errors.append(_err(StatusUnavailable("the credential has no usable status reference")))
            return "unavailable"
        result.status_ref = (uri, idx)
        try:
            value = self._status.lookup(iss, uri, idx, now)
        except StatusStale as err:
            errors.append(_err(err))
            return "stale"
        except StatusUnavailable as err:
            errors.append(_err(err))
            return "unavailable"
        name = _STATUS_NAMES.get(value)
        if name is None:
            errors.append(_err(StatusUnavailable("the status value is not one we understand")))
            return "unavailable"
        if name == "revoked":
            errors.append(_err(Revoked("the credential has been revoked by its issuer")))
        elif name == "suspended":
            errors.append(_err(Suspended("the credential is suspended by its issuer")))
        return name


class _Verified:
    """An issuer-signed JWT whose signature verified: its header, payload bytes and,
    once a KB-JWT has been checked, the holder key object from its ``cnf``."""

    __slots__ = ("header", "holder", "raw_payload")

    def __init__(self, header: dict[str, Any], raw_payload: bytes) -> None:
        self.header = header
        self.raw_payload = raw_payload
        self.holder: VerifyingKey | None = None


def _unpack_compact(text: str | bytes) -> str:
    """The plain presentation in a compact QR text (trailing CR/LF ignored); Malformed if bad."""
    if len(text) > MAX_COMPACT + 2:
        raise Malformed("the compact QR text is too large")
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise Malformed("the compact QR text is not ASCII") from None
    try:
        return decode_compact(text.rstrip("\r\n"))
    except FormatError as err:
        raise Malformed(f"the compact QR text is unusable: {err.message}") from None


def _split_presentation(raw: bytes) -> list[bytes]:
    """Check the SD-JWT+KB grammar (RFC 9901 §4) and split at "~".

    ``JWT~(disclosure~)*[KB-JWT]`` where a JWT is three non-empty base64url segments
    joined by "." and a disclosure one non-empty segment. Deleting the alphabet with
    ``bytes.translate`` checks every character in one C pass, cheaper than a regex.
    """
    if raw.translate(None, _ALPHABET):
        raise Malformed("the presentation has characters outside base64url, '.' and '~'")
    parts = raw.split(b"~")
    if len(parts) < 2 or not _is_jwt(parts[0]):
        raise Malformed("not an SD-JWT presentation (compact serialization)")
    for disclosure in parts[1:-1]:
        if not disclosure or b"." in disclosure:
            raise Malformed("a disclosure is empty or not one base64url segment")
    if parts[-1] and not _is_jwt(parts[-1]):
        raise Malformed("the key-binding JWT is not a compact JWS")
    return parts


def _is_jwt(segment: bytes) -> bool:
    pieces = segment.split(b".")
    return len(pieces) == 3 and all(pieces)


def _b64(segment: bytes) -> bytes:
    """Decode a base64url segment whose alphabet the grammar has checked."""
    try:
        return b64url_decode_segment(segment)
    except FormatError:
        raise Malformed("a segment is not valid (canonical) base64url") from None


def _sha256_b64url(data: bytes) -> str:
    digest = b2a_base64(sha256(data).digest(), newline=False)
    return digest.rstrip(b"=").translate(_TO_URL).decode("ascii")


def _err(err: VerificationError) -> ErrorDict:
    return {"code": err.code, "message": err.message}
