"""Verification errors: one class per stable error code of DESIGN.md §4.

A code that another package raises too is owned by the class there (``malformed``
and ``unsupported_alg`` by :mod:`keys.errors`' format errors, ``invalid_signature``
by :class:`keys.errors.SignatureInvalid`, ``disclosure_invalid`` by
:class:`sdjwt.errors.DisclosureInvalid`, and the codes that the issuer or the wallet
share with the verifier by :mod:`keys.errors`): the verifier's class derives from
that owner first, then from :class:`VerificationError`, and keeps its code.

``Verifier.verify`` never raises these for a bad presentation: it reports them in
the result. They are raised inside the checks (so a check can never be skipped by
ignoring a return value) and caught in one place. ``VerifierMisuse`` is raised to
the caller for programming errors (an unknown scene, a bundle that fails the
anchor's signature).
"""

from __future__ import annotations

from keys import errors as _shared
from keys.errors import EcertError, FormatError, SignatureInvalid, UnsupportedAlgorithm
from sdjwt.errors import DisclosureInvalid as _DisclosureInvalid


class VerificationError(EcertError):
    """A presentation failed a check (never raised itself); each subclass's ``code``
    is one of :data:`ERROR_CODES`."""

    code = "verification_error"


class Malformed(FormatError, VerificationError):
    """Input is not a well-formed presentation (``malformed``)."""


class UnsupportedAlg(UnsupportedAlgorithm, VerificationError):
    """The JWS algorithm is not allowed (``unsupported_alg``)."""


class InvalidSignature(SignatureInvalid, VerificationError):
    """A signature does not verify (``invalid_signature``)."""


class UnknownIssuer(_shared.UnknownIssuer, VerificationError):
    """The issuer is not in the trust list (``unknown_issuer``)."""


class IssuerNotAuthorised(_shared.IssuerNotAuthorised, VerificationError):
    """The issuer may not issue this type (``issuer_not_authorised``)."""


class UnknownKey(VerificationError):
    """The signing key is not among the issuer's keys."""

    code = "unknown_key"


class KeyCompromised(VerificationError):
    """The signing key is listed as compromised."""

    code = "key_compromised"


class Expired(VerificationError):
    """The credential has expired."""

    code = "expired"


class NotYetValid(VerificationError):
    """The credential is not valid yet."""

    code = "not_yet_valid"


class Revoked(VerificationError):
    """The credential has been revoked."""

    code = "revoked"


class Suspended(VerificationError):
    """The credential is suspended."""

    code = "suspended"


class StatusUnavailable(VerificationError):
    """The credential's status cannot be checked."""

    code = "status_unavailable"


class StatusStale(VerificationError):
    """The status list is past its expiry."""

    code = "status_stale"


class KeyBindingMissing(VerificationError):
    """The presentation has no KB-JWT."""

    code = "key_binding_missing"


class KeyBindingInvalid(_shared.KeyBindingInvalid, VerificationError):
    """The KB-JWT is invalid (``key_binding_invalid``)."""


class PresentationExpired(_shared.PresentationExpired, VerificationError):
    """The presentation is too old (``presentation_expired``)."""


class Replayed(_shared.Replayed, VerificationError):
    """The presentation was already accepted once (``replayed``)."""


class DisclosureInvalid(_DisclosureInvalid, VerificationError):
    """A disclosure is invalid (``disclosure_invalid``)."""


class SceneUnmet(_shared.SceneUnmet, VerificationError):
    """The presentation does not meet the scene's policy (``scene_unmet``)."""


class TrustListStale(VerificationError):
    """The trust list is past its expiry."""

    code = "trust_list_stale"


class OnlineCheckRequired(VerificationError):
    """The scene needs a live status check (its ``online`` flag) and this verifier has
    none: an offline verifier (a bundle, ``ecert verify``) refuses the presentation before
    reading it; the venue verifies it online (``POST /api/v1/verify``, an online code)."""

    code = "online_check_required"


class WrongAudience(VerificationError):
    """A proof (``proof+jwt``) was made for another department (its ``aud``)."""

    code = "wrong_audience"


class SetMalformed(Malformed):
    """A set presentation (a JSON array of presentations) is not well formed: not strict
    JSON, not the compact form, not 2 to 4 distinct strings, or a member too large."""

    code = "set_malformed"


class SetMemberMissing(SceneUnmet):
    """A set presentation lacks a credential type the scene's ``all_of`` requires."""

    code = "set_member_missing"


class SetHolderMismatch(VerificationError):
    """The members of a set presentation are bound to different holder keys."""

    code = "set_holder_mismatch"


class LinkMismatch(VerificationError):
    """A guardian's or carer's set whose credential is not of the person the link names
    (the ward's or principal's name or ID number differ, or the credential names nobody)."""

    code = "link_mismatch"


#: Every stable error code, for documentation and tests.
ERROR_CODES: tuple[str, ...] = (
    "malformed",
    "unsupported_alg",
    "invalid_signature",
    "unknown_issuer",
    "issuer_not_authorised",
    "unknown_key",
    "key_compromised",
    "expired",
    "not_yet_valid",
    "revoked",
    "suspended",
    "status_unavailable",
    "status_stale",
    "key_binding_missing",
    "key_binding_invalid",
    "presentation_expired",
    "replayed",
    "disclosure_invalid",
    "scene_unmet",
    "trust_list_stale",
    "wrong_audience",
    "online_check_required",
    "set_malformed",
    "set_member_missing",
    "set_holder_mismatch",
    "link_mismatch",
)


class VerifierMisuse(EcertError):
    """The verifier was used wrongly: unknown scene, bad bundle or anchor."""

    code = "verifier_misuse"


class UnknownScene(VerifierMisuse):
    """The scene id is not in the trust list."""

    code = "unknown_scene"


class BundleInvalid(VerifierMisuse):
    """The bundle is unreadable or its trust list fails the anchor's signature."""

    code = "bundle_invalid"


class StatusHistoryInvalid(VerifierMisuse):
    """The status history (rollback guard) cannot be read or written: refused, never
    silently forgotten."""

    code = "status_history_invalid"


class DcqlInvalid(FormatError):
    """A DCQL query (OpenID4VP 1.0 §6) breaks a rule of the specification or a bound."""

    code = "dcql_invalid"
