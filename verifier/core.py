"""The offline verifier of DESIGN.md §7.

The checks run in the order of STYLE.md §4: size and grammar, then unverified
parsing, then the key chosen from the trust list (never from the token), the
issuer's signature, claims against the injected clock, key binding, status and
finally replay. Failures before the issuer's signature is known good stop the
check; after it, independent failures (expired *and* revoked, say) are all reported.
"""

from __future__ import annotations

import hmac
import threading
import time
from binascii import b2a_base64
from collections.abc import Callable, Mapping, Sequence
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal, overload

from cryptography.hazmat.primitives.asymmetric import ec

from keys import (
    EcertError,
    FormatError,
    InvalidJWK,
    SignatureInvalid,
    TrustList,
    VerifyingKey,
    thumbprint,
)
from keys.b64 import b64url_decode_segment
from keys.errors import InvalidUnicode, UnsupportedAlgorithm
from keys.jsonstrict import loads_object
from keys.jwk import public_key_from_jwk
from keys.jws import checked_header, verify_compact
from keys.numericdate import MAX_NUMERIC_DATE, numeric_date
from keys.trustlist import PORTRAIT_CLAIM, Scene
from sdjwt import LEEWAY, TYP_KB_JWT, TYP_SD_JWT_VC, resolve
from sdjwt.qr_transport import MAX_COMPACT, decode_compact_ascii, is_compact
from verifier import sets
from verifier.bundle import Bundle, read_bundle_file
from verifier.errors import (
    ERROR_CODES,
    Expired,
    InvalidSignature,
    IssuerNotAuthorised,
    KeyBindingInvalid,
    KeyBindingMissing,
    Malformed,
    NotYetValid,
    OnlineCheckRequired,
    PresentationExpired,
    SceneUnmet,
    StatusStale,
    StatusUnavailable,
    TrustListStale,
    UnsupportedAlg,
    VerificationError,
    VerifierMisuse,
)
from verifier.history import MemoryStatusHistory, StatusHistory
from verifier.proofs import ProofResult, check_proof
from verifier.replay import MemoryNonceCache, NonceCache
from verifier.result import ErrorDict, StatusName, VerificationResult
from verifier.sets import MemberCheck, SetMatcher, set_limit, verify_set
from verifier.status import StatusSource, replayed, status_outcome
from verifier.trust import BundleTrustSource, HasTrustList, LiveTrustSource, TrustSource

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
_B64URL_ALPHABET = _ALPHABET[:64]
_P256 = ec.SECP256R1()
_TO_STD = bytes.maketrans(b"-_", b"+/")
_TO_URL = bytes.maketrans(b"+/", b"-_")
_PAD = (b"", b"", b"==", b"=")


class Verifier:
    """Verifies presentations against a trust source (:mod:`verifier.trust`).

    The first argument is a :class:`~verifier.trust.TrustSource` (e.g. a
    :class:`~verifier.trust.LiveTrustSource` over a trust list held in memory) or, as
    before, a signed bundle ``{"trust_list", "status_lists"}`` with the pinned
    ``anchor``, which becomes a :class:`~verifier.trust.BundleTrustSource`.

    ``verify`` never raises for a bad presentation: it reports it. It raises only
    for misuse (an unknown scene); building a verifier raises
    :class:`~verifier.errors.BundleInvalid` for a bundle whose trust list fails the
    anchor's signature.

    For a bundle, ``history`` (a :class:`~verifier.history.StatusHistory`, in memory
    by default) is the rollback guard: a status list older than one accepted before for the same
    ``(iss, uri)``, or as old with other content, is left out of the bundle (named
    in ``bundle.problems``; its credentials get ``status_unavailable`` saying why).
    A trust list older than the newest accepted for its anchor (or as old, with other
    content) refuses the whole bundle (:class:`~verifier.errors.BundleInvalid`).
    Building the verifier accepts the bundle and records its lists and its trust list
    in ``history``.

    ``live`` says that the status source is live (the service's own verifier over its
    store, :func:`service.verification.build_online_verifier`): only such a verifier
    verifies for a scene whose policy is ``online`` (money, property, marriage, notary,
    SIM cards…). Any other verifier -- a bundle, ``ecert verify`` -- answers
    ``online_check_required`` for such a scene without reading the presentation.
    """

    def __init__(
        self,
        bundle: Mapping[str, Any] | TrustSource,
        *,
        anchor: Mapping[str, Any] | VerifyingKey | None = None,
        clock: Callable[[], float] = time.time,
        replay: NonceCache | None = None,
        status: StatusSource | None = None,
        leeway: int = LEEWAY,
        max_length: int = MAX_PRESENTATION,
        verified_cache: int = VERIFIED_CACHE,
        history: StatusHistory | None = None,
        live: bool = False,
        set_matchers: Sequence[SetMatcher] | None = None,
    ) -> None:
        #: the status source is live: scenes that need an online check may be verified
        self.live = live
        #: what a set presentation may be for (:mod:`verifier.sets`): the first matcher
        #: that answers decides; by default :data:`verifier.sets.DEFAULT_MATCHERS`
        self._set_matchers = None if set_matchers is None else tuple(set_matchers)
        # The rollback guard: a list older than one accepted before is left out, and the
        # lists of the bundle are recorded once it is accepted (accepting is recording).
        self.history: StatusHistory = history if history is not None else MemoryStatusHistory()
        if isinstance(bundle, Mapping):
            if anchor is None:
                raise VerifierMisuse("a bundle is verified against a pinned anchor key")
            bundle = BundleTrustSource.load(bundle, anchor, history=self.history, now=clock())
        self.source: TrustSource = bundle
        self._clock = clock
        self._replay: NonceCache = replay if replay is not None else MemoryNonceCache()
        self._status: StatusSource = status or bundle
        self._leeway = leeway
        self._max_length = max_length
        # Issuer-signed JWTs whose signature verified, by their exact bytes (signature
        # included): a credential shown again skips only that signature check. The
        # cache lives and dies with this verifier, so with its trust source; the key's
        # place in the trust list (revoked_kids, jwks) is still checked every time.
        self._verified: dict[bytes, _Verified] = {}
        self._verified_lock = threading.Lock()
        self._verified_max = verified_cache
        #: the KB-JWT's expectations for a scene without expected aud/nonce, by scene
        self._bindings: dict[str, _Binding] = {}

    @classmethod
    def from_bundle(
        cls,
        bundle: Mapping[str, Any],
        *,
        anchor: Mapping[str, Any] | VerifyingKey,
        history: StatusHistory | None = None,
        **kwargs: Any,
    ) -> Verifier:
        """Build from a bundle ``{"trust_list": …, "status_lists": […]}`` (a parsed JSON
        object). Raises :class:`~verifier.errors.BundleInvalid`."""
        return cls(bundle, anchor=anchor, history=history, **kwargs)

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

    @classmethod
    def from_trust_list(
        cls, trust_list: TrustList, *, status: StatusSource, **kwargs: Any
    ) -> Verifier:
        """Build over a trust list held in memory (no signature checked: it must come
        from trusted data, e.g. the platform's own registry) and a status source."""
        return cls(LiveTrustSource(trust_list, status), **kwargs)

    @property
    def bundle(self) -> Bundle:
        """The verified bundle, for a verifier built from one (else VerifierMisuse)."""
        if not isinstance(self.source, BundleTrustSource):
            raise VerifierMisuse("this verifier was not built from a bundle")
        return self.source.bundle

    @property
    def trust_list(self) -> TrustList:
        """The trust list of the source (both shipped sources have one)."""
        if not isinstance(self.source, HasTrustList):
            raise VerifierMisuse("this verifier's trust source has no trust list")
        return self.source.trust_list

    def _recall(self, issuer_jwt: bytes) -> _Verified | None:
        if issuer_jwt not in self._verified:  # a new credential: no lock taken
            return None
        with self._verified_lock:
            entry = self._verified.pop(issuer_jwt, None)
            if entry is not None:
                self._verified[issuer_jwt] = entry  # most recently used last
            return entry

    def _remember(
        self, issuer_jwt: bytes, header: Mapping[str, Any], raw_payload: bytes
    ) -> _Verified:
        entry = _Verified(header, raw_payload)
        if self._verified_max > 0:
            with self._verified_lock:
                if len(self._verified) >= self._verified_max:
                    self._verified.pop(next(iter(self._verified)))  # least recently used
                self._verified[issuer_jwt] = entry
        return entry

    @property
    def set_matchers(self) -> tuple[SetMatcher, ...]:
        """The set matchers in use (read at each set: a module's default can grow)."""
        return sets.DEFAULT_MATCHERS if self._set_matchers is None else self._set_matchers

    @property
    def scenes(self) -> list[str]:
        """The scene ids of the trust source."""
        return list(self.source.scene_ids())

    def verify(
        self,
        text: str | bytes,
        scene: str,
        *,
        expected_aud: str | None = None,
        expected_nonce: str | None = None,
    ) -> VerificationResult:
        """Verify a scanned presentation for ``scene``.

        The key-binding JWT's ``aud`` must be ``expected_aud`` when it is given (one
        string, RFC 9901 §7.3: an array is refused), else the scene's id; with
        ``expected_nonce`` its ``nonce`` must equal it too (compared in constant time).
        Both mismatches are ``key_binding_invalid``.

        Raises :class:`~verifier.errors.UnknownScene` for a scene that the trust
        source does not define; every problem with ``text`` is reported in the result.
        """
        policy = self.source.scene(scene)
        now = self._clock()
        result = VerificationResult(scene=scene, checked_at=int(now))
        if policy.online and not self.live:
            # a bundle's status may be a day old: this scene needs today's (docs/scenes.md)
            result.errors.append(
                _err(OnlineCheckRequired("this scene needs an online check: verify it online"))
            )
            return result
        if expected_aud is None and expected_nonce is None:
            binding = self._bindings.get(scene)  # the common case, made once per scene
            if binding is None or binding.policy is not policy:
                binding = _Binding(policy.id, None, policy, scene=True)
                self._bindings[scene] = binding
        else:
            aud = policy.id if expected_aud is None else expected_aud
            binding = _Binding(aud, expected_nonce, policy, scene=expected_aud is None)
        try:
            self._verify(text, policy, binding, now, result)
        except VerificationError as err:
            result.errors.append({"code": err.code, "message": err.message})
        except EcertError as err:
            code = err.code if err.code in ERROR_CODES else "malformed"
            result.errors.append({"code": code, "message": err.message})
        return result

    def verify_proof(
        self, token: str | bytes, *, audience: str, now: float | None = None
    ) -> ProofResult:
        """Check a proof JWT (``proof+jwt``, :mod:`verifier.proofs`) made for ``audience``
        (the asking department's issuer id) against the same trust source: ``typ``,
        ``alg``, size, duplicate members, claim types, the answering department's key
        (``iss`` + ``kid``) and signature, its authority for the proof type, the audience
        and the clock (``now``, default the verifier's clock, with its leeway).

        Never raises for a bad proof: every problem is in the result, with a stable code.
        """
        at = self._clock() if now is None else now
        return check_proof(self.source, token, audience=audience, now=at, leeway=self._leeway)

    # -- the checks -----------------------------------------------------------------

    def _verify(
        self,
        text: str | bytes,
        policy: Scene,
        binding: _Binding,
        now: float,
        result: VerificationResult,
    ) -> None:
        errors = result.errors
        expires_at = self.source.expires_at
        if expires_at is not None and now > expires_at:
            errors.append(_err(TrustListStale("the trust list has expired: sync the bundle")))

        raw = self._raw_text(text)
        if raw[:1] == b"[":  # a set presentation: several credentials in one check
            verify_set(self, raw, binding, now, result)
            return
        checked = self._check_presentation(raw, binding, now, result)

        # scene policy: the required claims, and nothing else returned
        claims = checked.disclosed
        wanted = policy.accept.get(checked.vct)
        if wanted is None:
            if any(vct == checked.vct for vct, _ in policy.all_of):
                message = "the scene needs this credential with others, in one set presentation"
            else:
                message = "this credential type is not accepted for the scene"
            errors.append(_err(SceneUnmet(message)))
        else:
            missing = [c for c in wanted if c not in claims]
            if missing:
                errors.append(
                    _err(SceneUnmet(f"claims required by the scene are missing: {missing}"))
                )
            else:
                result.claims = {c: claims[c] for c in wanted}
                if policy.portrait and PORTRAIT_CLAIM in claims:
                    # asked for by the scene, never required (offline codes lack it)
                    result.claims[PORTRAIT_CLAIM] = claims[PORTRAIT_CLAIM]

        # replay, last: only a presentation that passed everything uses up its nonce
        # The nonce is kept past the last instant at which this KB-JWT is still fresh.
        if not errors and not self._replay.check_and_add(
            checked.nonce, checked.kb_iat + binding.max_age + 1, now
        ):
            errors.append(_err(replayed()))
        if errors:
            result.claims = {}

    def _raw_text(self, text: str | bytes) -> bytes:
        """The presentation as ASCII bytes after the size and alphabet checks: a compact
        QR text unpacked, a trailing CR/LF (scanner guns type an Enter) dropped. A set
        (text starting with "[") may be as large as :data:`MAX_SET` presentations."""
        if is_compact(text):  # the compact QR transport: unpack to the exact plain text
            text = _unpack_compact(text)
        limit = self._max_length
        if (isinstance(text, str) and text[:1] == "[") or (
            isinstance(text, bytes) and text[:1] == b"["
        ):
            limit = set_limit(self._max_length)
        # 1. size and grammar, before any parsing or crypto. The text is handled as
        # ASCII bytes from here on: one encode, then slices (the verify path is
        # measured against raw signatures).
        if isinstance(text, str):
            if len(text) > limit + 2:
                raise Malformed("the presentation is too large")
            try:
                raw = text.encode("ascii")
            except UnicodeEncodeError:
                raise Malformed("the presentation is not ASCII text") from None
        elif isinstance(text, bytes):
            if len(text) > limit + 2:
                raise Malformed("the presentation is too large")
            raw = text
        else:
            raise Malformed("the presentation must be text")
        raw = raw.rstrip(b"\r\n")  # scanner guns type a trailing Enter
        if len(raw) > limit:
            raise Malformed("the presentation is too large")
        return raw

    def check_member(
        self,
        text: str | bytes,
        scene: str,
        *,
        index: int = 0,
        expected_aud: str | None = None,
        expected_nonce: str | None = None,
    ) -> MemberCheck:
        """Check one presentation as a member of a set for ``scene``: size and grammar,
        the issuer's key and signature, its authority, the clock, the KB-JWT (``aud``
        the scene's id or ``expected_aud``, ``nonce`` ``expected_nonce`` when given,
        freshness) and the status. No scene policy and no replay: those are the set's.

        Never raises for a bad presentation: its problems are in ``errors`` (unprefixed;
        :func:`verifier.sets.verify_set` names the member). ``disclosed`` holds every
        claim it discloses: for the set's checks only, never to be returned as is.
        """
        policy = self.source.scene(scene)
        aud = policy.id if expected_aud is None else expected_aud
        binding = _Binding(aud, expected_nonce, policy, scene=expected_aud is None)
        return self._check_member(index, text, binding, self._clock())

    def _check_member(
        self, index: int, text: str | bytes | None, binding: _Binding, now: float
    ) -> MemberCheck:
        scratch = VerificationResult(scene=binding.policy.id, checked_at=int(now))
        member = MemberCheck(index)
        try:
            raw = text if isinstance(text, bytes) else self._raw_text(text or "")
            checked = self._check_presentation(raw, binding, now, scratch)
            member.disclosed = checked.disclosed
            member.nonce, member.kb_iat = checked.nonce, checked.kb_iat
            member.holder = checked.holder
        except VerificationError as err:
            scratch.errors.append({"code": err.code, "message": err.message})
        except EcertError as err:
            code = err.code if err.code in ERROR_CODES else "malformed"
            scratch.errors.append({"code": code, "message": err.message})
        member.vct, member.iss, member.status = scratch.vct, scratch.iss, scratch.status
        member.status_ref, member.made_for = scratch.status_ref, scratch.made_for
        member.errors = scratch.errors
        return member

    def _check_presentation(
        self, raw: bytes, binding: _Binding, now: float, result: VerificationResult
    ) -> _Checked:
        """Every check of one presentation but the scene's policy and replay; sets
        ``iss``/``vct``/``status``/``status_ref`` of ``result`` and adds its errors."""
        errors = result.errors
        parts = _split_presentation(raw)
        kb_jwt = parts[-1]
        if not kb_jwt:
            raise KeyBindingMissing("the presentation has no key-binding JWT")
        disclosures = parts[1:-1]

        # 2.-4. the issuer-signed JWT: parsed, its key chosen by the trust source from
        # iss + kid only, its signature checked (keys.jws.verify_compact) -- unless these
        # exact bytes verified before, when only the key's place is checked again.
        issuer_jwt = parts[0]
        seen = self._recall(issuer_jwt)
        if seen is None:
            try:
                verified = verify_compact(
                    issuer_jwt, TYP_SD_JWT_VC, self._issuer_key, max_length=self._max_length
                )
            except SignatureInvalid:
                raise InvalidSignature("the issuer's signature does not verify") from None
            except UnsupportedAlgorithm as err:  # the allow-list's message, or the key's
                raise UnsupportedAlg(err.message) from None
            except FormatError as err:
                raise Malformed(err.message) from None
            seen = self._remember(issuer_jwt, verified.header, verified.raw_payload)
            payload = verified.payload
        else:
            payload = loads_object(seen.raw_payload)
            if self._issuer_key(seen.header, payload).alg != seen.header["alg"]:
                raise UnsupportedAlg("the JWS 'alg' does not match the key")
        raw_payload = seen.raw_payload
        iss, vct = payload["iss"], payload["vct"]
        result.iss, result.vct = iss, vct
        if not self.source.may_issue(iss, vct):
            raise IssuerNotAuthorised("the issuer is not authorised for this credential type")

        # 5. claims against the clock
        exp = _date(payload, "exp", True, "the credential")
        nbf = _date(payload, "nbf", False, "the credential")
        iat = _date(payload, "iat", False, "the credential")
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
        presented = memoryview(raw)[: len(raw) - len(kb_jwt)]  # what sd_hash covers, uncopied
        nonce, kb_iat = self._check_key_binding(
            kb_jwt, holder_jwk, seen, presented, binding, now, result
        )

        # 7. status
        result.status = self._check_status(iss, payload.get("status"), now, result)
        return _Checked(vct, claims, nonce, kb_iat, holder_jwk)

    def _issuer_key(self, header: Mapping[str, Any], payload: Mapping[str, Any]) -> VerifyingKey:
        """The key resolver of the issuer-signed JWT: ``iss`` + ``kid`` to the trust source."""
        iss = payload.get("iss")
        if not isinstance(iss, str) or not isinstance(payload.get("vct"), str):
            raise Malformed("the credential needs string 'iss' and 'vct'")
        return self.source.issuer_key(iss, header.get("kid"))

    def _check_key_binding(
        self,
        kb_jwt: bytes,
        holder_jwk: Mapping[str, Any],
        seen: _Verified,
        presented: bytes | memoryview,
        binding: _Binding,
        now: float,
        result: VerificationResult,
    ) -> tuple[str, float]:
        errors = result.errors
        signing_input, _, s64 = kb_jwt.rpartition(b".")
        h64, _, p64 = signing_input.partition(b".")
        try:
            _, alg = checked_header(h64, TYP_KB_JWT)
            kb = loads_object(_b64(p64))
            holder = seen.holder
            if holder is None:
                # cnf.jwk is part of the verified issuer JWT: the key object is kept
                # with it, and OpenSSL reuses its set-up on the next presentation.
                holder = _holder_key(holder_jwk)
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
            iat = _date(kb, "iat", True, "the KB-JWT")
        except FormatError as err:
            raise KeyBindingInvalid(err.message) from None
        nonce = kb.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise KeyBindingInvalid("the KB-JWT needs a 'nonce'")
        if kb.get("sd_hash") != _sha256_b64url(presented):
            errors.append(_err(KeyBindingInvalid("the KB-JWT 'sd_hash' does not match")))
        aud = kb.get("aud")
        if not isinstance(aud, str):  # RFC 9901 §4.3: one string, never an array
            errors.append(_err(KeyBindingInvalid("the KB-JWT 'aud' must be one string")))
        elif not _same(aud, binding.aud):
            errors.append(_err(KeyBindingInvalid(binding.aud_mismatch)))
            if binding.scene and aud in self.source.scene_ids():
                result.made_for = aud  # a scene of the trust list: safe to name
        if binding.nonce is not None and not _same(nonce, binding.nonce):
            errors.append(_err(KeyBindingInvalid("the KB-JWT 'nonce' is not the expected one")))
        if now - iat > binding.max_age:
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
        name, error = status_outcome(value)
        if error is not None:
            errors.append(_err(error))
        return name


class _Checked:
    """What one presentation's checks found: its type, every claim it discloses (the
    scene's policy picks from them), its KB-JWT's nonce and ``iat``, its holder key."""

    __slots__ = ("disclosed", "holder_jwk", "kb_iat", "nonce", "vct")

    def __init__(
        self,
        vct: str,
        disclosed: dict[str, Any],
        nonce: str,
        kb_iat: float,
        holder_jwk: Mapping[str, Any],
    ) -> None:
        self.vct = vct
        self.disclosed = disclosed
        self.nonce = nonce
        self.kb_iat = kb_iat
        self.holder_jwk = holder_jwk

    @property
    def holder(self) -> str | None:
        """The RFC 7638 thumbprint of the holder key (None if it has none: refused)."""
        try:
            return thumbprint(self.holder_jwk)
        except EcertError:
            return None


class _Binding:
    """What the KB-JWT must say: its audience, its nonce (if expected), its freshness."""

    __slots__ = ("aud", "aud_mismatch", "max_age", "nonce", "policy", "scene")

    def __init__(self, aud: str, nonce: str | None, policy: Scene, *, scene: bool) -> None:
        self.aud = aud
        self.nonce = nonce
        self.policy = policy
        self.scene = scene
        self.max_age = policy.max_age
        self.aud_mismatch = (
            "the presentation was made for another scene"
            if scene
            else "the KB-JWT 'aud' is not the expected audience"
        )


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings (of the given one's length, not content)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


class _Verified:
    """An issuer-signed JWT whose signature verified: its header, payload bytes and,
    once a KB-JWT has been checked, the holder key object from its ``cnf``."""

    __slots__ = ("header", "holder", "raw_payload")

    def __init__(self, header: Mapping[str, Any], raw_payload: bytes) -> None:
        self.header = header
        self.raw_payload = raw_payload
        self.holder: VerifyingKey | None = None


def _holder_key(jwk: Mapping[str, Any]) -> VerifyingKey:
    """The holder key of ``cnf.jwk``. A P-256 JWK of exactly ``kty``, ``crv``, ``x`` and
    ``y`` (what every wallet sends) is read straight into its encoded point; anything
    else, or anything wrong with it, goes through :func:`keys.jwk.public_key_from_jwk`,
    which makes the same checks and gives the exact refusal (``InvalidJWK``)."""
    if len(jwk) == 4 and jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        x, y = jwk.get("x"), jwk.get("y")
        if isinstance(x, str) and isinstance(y, str) and len(x) == len(y) == 43:
            xy = (x + y).encode("ascii", "replace")  # "?" is outside the alphabet
            if not xy.translate(None, _B64URL_ALPHABET):
                try:
                    point = (
                        b"\x04" + b64url_decode_segment(xy[:43]) + b64url_decode_segment(xy[43:])
                    )
                    return VerifyingKey(
                        ec.EllipticCurvePublicKey.from_encoded_point(_P256, point), "ES256", ""
                    )
                except (FormatError, ValueError):
                    pass  # not canonical, or not on the curve: refused below, with the reason
    return VerifyingKey(*public_key_from_jwk(jwk), kid="")


def _unpack_compact(text: str | bytes) -> bytes:
    """The plain presentation in a compact QR text (trailing CR/LF ignored), as ASCII bytes;
    Malformed if bad."""
    if len(text) > MAX_COMPACT + 2:
        raise Malformed("the compact QR text is too large")
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise Malformed("the compact QR text is not ASCII") from None
    try:
        return decode_compact_ascii(text.rstrip("\r\n"))
    except FormatError as err:
        raise Malformed(f"the compact QR text is unusable: {err.message}") from None


@overload
def _date(claims: Mapping[str, Any], name: str, required: Literal[True], where: str) -> float: ...
@overload
def _date(
    claims: Mapping[str, Any], name: str, required: Literal[False], where: str
) -> float | None: ...
def _date(claims: Mapping[str, Any], name: str, required: bool, where: str) -> float | None:
    """:func:`keys.numericdate.numeric_date` with its common answer first: a plain integer
    within its range is returned as it is; anything else (absent, a float, out of range, not
    a number) goes to ``numeric_date``, which answers or refuses it as always."""
    value = claims.get(name)
    if type(value) is int and -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:
        return value
    return numeric_date(claims, name, required=required, where=where)


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
    # the disclosures, between the JWT's "~" and the last "~": none empty ("~~"), no "."
    disclosures = raw[len(parts[0]) : len(raw) - len(parts[-1])]
    if b"~~" in disclosures or b"." in disclosures:
        raise Malformed("a disclosure is empty or not one base64url segment")
    if parts[-1] and not _is_jwt(parts[-1]):
        raise Malformed("the key-binding JWT is not a compact JWS")
    return parts


def _is_jwt(segment: bytes) -> bool:
    """Three non-empty segments joined by "." (the alphabet is checked already)."""
    return (
        segment.count(b".") == 2
        and b".." not in segment
        and segment[:1] != b"."
        and segment[-1:] != b"."
    )


def _b64(segment: bytes) -> bytes:
    """Decode a base64url segment whose alphabet the grammar has checked."""
    try:
        return b64url_decode_segment(segment)
    except FormatError:
        raise Malformed("a segment is not valid (canonical) base64url") from None


def _sha256_b64url(data: bytes | memoryview) -> str:
    # 32 bytes are 43 base64 characters and one "="
    return b2a_base64(sha256(data).digest())[:43].translate(_TO_URL).decode("ascii")


def _err(err: VerificationError) -> ErrorDict:
    return {"code": err.code, "message": err.message}
