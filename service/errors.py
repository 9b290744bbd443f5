"""The service layer's exceptions: what a use case refuses, whichever face called it.

:class:`ServiceError` owns ``invalid_request``; the HTTP layer's own errors
(:class:`api.errors.ApiError`) build on it, and ``api.errors`` maps each class to its
HTTP status.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from keys.errors import (
    Conflict,
    EcertError,
    FormatError,
    KeyBindingInvalid,
    NotFound,
    PresentationExpired,
    Replayed,
)

__all__ = [
    "AccountInvalid",
    "AuditChainBroken",
    "BatchEmpty",
    "BatchLineMalformed",
    "BatchLineTooLong",
    "BatchRowDuplicate",
    "BatchRowInvalid",
    "BatchTooLarge",
    "AuthError",
    "CareAuthorisationFromWallet",
    "CarerInvalid",
    "CarerLimitReached",
    "CarerNotFound",
    "CarerPrincipalUnnamed",
    "ChangeBusy",
    "ChangeInvalid",
    "ConsentInvalid",
    "ConsentLimitReached",
    "ConsentNotFound",
    "ConsentStateConflict",
    "DeviceCopyRequired",
    "DeviceKeyRegistered",
    "DeviceLabelInvalid",
    "DeviceLimitReached",
    "DeviceNotFound",
    "FieldNotOwned",
    "FieldUnknown",
    "Forbidden",
    "GuardianshipInvalid",
    "GuardianshipWardAdult",
    "IdempotencyKeyReused",
    "JobCorrupt",
    "JobKindUnknown",
    "JobNotFound",
    "IdempotencyPending",
    "LoginFailed",
    "OnlineQrExpired",
    "OnlineQrOtherScene",
    "OnlineQrRefused",
    "OnlineQrUnavailable",
    "OnlineQrUnknown",
    "OnlineQrUsed",
    "PresentationIdTaken",
    "PresentationNotFound",
    "PresentationRefused",
    "PresentationTooLarge",
    "RateLimited",
    "RatingInvalid",
    "RatingLocked",
    "ReceiptNotFound",
    "ReportExists",
    "ReportInvalid",
    "ServiceError",
    "SettingsInvalid",
    "StatsRangeInvalid",
    "UnknownCitizen",
    "VpDeclined",
    "VpPresentationRefused",
    "VpRequestAnswered",
    "VpRequestExpired",
    "VpRequestNotFound",
    "VpResponseMalformed",
    "VpResponseRefused",
]


class ServiceError(EcertError):
    """A request a use case refuses (``invalid_request``). Its message is shown to the
    client."""

    code = "invalid_request"


class AccountInvalid(ServiceError):
    """A citizen id or password that the policy refuses (``invalid_request``)."""


class AuthError(ServiceError):
    """Missing, unknown, expired or revoked credentials (HTTP 401)."""

    code = "unauthorized"


class LoginFailed(AuthError):
    """Wrong citizen id or password; deliberately does not say which."""

    code = "login_failed"


class Forbidden(ServiceError):
    """Authenticated, but not allowed to do this (HTTP 403)."""

    code = "forbidden"


class RateLimited(ServiceError):
    """Too many attempts; ``retry_after`` (seconds, a timedelta or the instant) until a
    retry can pass (HTTP 429, ``Retry-After``)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | dt.timedelta | dt.datetime) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownCitizen(ServiceError):
    """No citizen with this id (HTTP 404)."""

    code = "unknown_citizen"


class SettingsInvalid(EcertError, ValueError):
    """A configuration value that cannot be used (``ECERT_*``, ``create_app``'s mapping or
    a CLI flag); the message names the setting, never a secret's value (HTTP 500: the
    operator's to fix; the CLI exits 2)."""

    code = "settings_invalid"


class IdempotencyKeyReused(ServiceError):
    """An ``Idempotency-Key`` sent again with another request body (HTTP 422)."""

    code = "idempotency_key_reused"


class IdempotencyPending(Conflict, ServiceError):
    """A request with this ``Idempotency-Key`` is in progress or just failed (``conflict``)."""


# -- presentations shown as QR codes (service.presentations) ---------------------------


class PresentationNotFound(NotFound, ServiceError):
    """No presentation with this id for this citizen (unknown, expired or another's;
    ``not_found``)."""


class PresentationIdTaken(Conflict, ServiceError):
    """A presentation id was drawn twice (``conflict``)."""


class OnlineQrUnavailable(ServiceError):
    """The online QR URL would not fit a small QR code (the base URL is too long)."""

    code = "online_qr_unavailable"


class OnlineQrRefused(ServiceError):
    """An online QR URL that cannot be redeemed (never raised itself).

    Its subclasses carry the verification error code that a scan answers:
    ``malformed``, ``presentation_expired``, ``replayed`` or ``key_binding_invalid``.
    """


class OnlineQrUnknown(FormatError, OnlineQrRefused):
    """Not an online QR URL of ours, or a token the store does not know (``malformed``)."""


class OnlineQrExpired(PresentationExpired, OnlineQrRefused):
    """The online QR code has expired (``presentation_expired``)."""


class OnlineQrUsed(Replayed, OnlineQrRefused):
    """The online QR code was already redeemed, by any worker (``replayed``)."""


class OnlineQrOtherScene(KeyBindingInvalid, OnlineQrRefused):
    """The online QR code was made for another scene; it stays usable for its own
    (``key_binding_invalid``)."""

    #: The scene the code was made for (staff can ask for a code for theirs).
    made_for: str | None = None


# -- OpenID4VP requests and responses (service.oid4vp) ---------------------------------


class VpRequestNotFound(NotFound, ServiceError):
    """No OpenID4VP request with this id (unknown, long expired, or another venue's)."""

    code = "vp_request_not_found"


class VpResponseRefused(ServiceError):
    """A wallet's response to an OpenID4VP request is not taken (answered to the wallet
    as an OAuth ``invalid_request`` with this code)."""

    code = "vp_response_refused"


class VpResponseMalformed(FormatError, VpResponseRefused):
    """The response cannot be read: form, JWE, ``state`` or ``vp_token`` structure."""

    code = "vp_response_malformed"


class VpRequestExpired(PresentationExpired, VpResponseRefused):
    """The request's lifetime is over: the venue must make a new one."""

    code = "vp_request_expired"


class VpRequestAnswered(Replayed, VpResponseRefused):
    """The request was answered already (a request takes one response)."""

    code = "vp_request_answered"


class VpPresentationRefused(VpResponseRefused):
    """The presentations were read and checked, and failed (the verifier's codes are in
    the message and in the venue's result)."""

    code = "vp_presentation_refused"


class VpDeclined(ServiceError):
    """The wallet answered with an OAuth error (the citizen declined, or it holds no
    matching credential): the code of the venue's result."""

    code = "vp_declined"


# -- devices (service.devices) ---------------------------------------------------------


class DeviceNotFound(NotFound, ServiceError):
    """No active device with this id for this citizen (unknown, removed or another
    citizen's; ``not_found``)."""


class DeviceKeyRegistered(Conflict, ServiceError):
    """This citizen already registered a device with this key, removed or not (HTTP 409)."""

    code = "device_key_registered"


class DeviceLimitReached(ServiceError):
    """The citizen already has the most active devices allowed (HTTP 409)."""

    code = "device_limit_reached"


class DeviceCopyRequired(Forbidden):
    """A presentation handed to the service to hold is not of a copy bound to one of this
    citizen's active devices (another citizen's, a service-held credential, an unknown
    one; HTTP 403)."""

    code = "device_copy_required"


class PresentationRefused(ServiceError):
    """A presentation handed to the service to hold does not verify for its scene
    (``reason``: the verifier's first error code, e.g. ``key_binding_invalid``)."""

    code = "presentation_refused"
    public: ClassVar[tuple[str, ...]] = ("reason",)

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        #: The verifier's code: a fixed name, never a submitted value.
        self.reason = reason


class PresentationTooLarge(ServiceError):
    """A presentation handed to the service to hold is longer than a verifier reads
    (``verifier.MAX_PRESENTATION`` characters)."""

    code = "presentation_too_large"


class DeviceLabelInvalid(ServiceError):
    """A device label that is empty after trimming, too long or holds control characters
    (``invalid_request``)."""


# -- proactive issuance: batches of rows (service.batches) ------------------------------


class BatchTooLarge(ServiceError):
    """A batch body over :data:`service.batches.MAX_BODY` bytes or with more than
    :data:`service.batches.MAX_ROWS` rows (HTTP 413)."""

    code = "batch_too_large"


class BatchEmpty(ServiceError):
    """A batch body without a single row (only blank lines, or nothing)."""

    code = "batch_empty"


class BatchLineTooLong(ServiceError):
    """A line of a batch over :data:`service.batches.MAX_LINE` bytes (reported for the
    line; the batch goes on)."""

    code = "batch_line_too_long"


class BatchLineMalformed(ServiceError):
    """A line of a batch that is not one strict JSON object (invalid UTF-8 or JSON,
    a duplicate member, not an object; reported for the line)."""

    code = "batch_line_malformed"


class BatchRowInvalid(ServiceError):
    """A row of a batch with a member missing, unknown, of the wrong type or out of its
    bounds; the message names the member, never its value (reported for the line)."""

    code = "batch_row_invalid"


class BatchRowDuplicate(ServiceError):
    """A row whose ``row_id`` an earlier line of the same batch already used (reported
    for the later line)."""

    code = "batch_row_duplicate"


# -- jobs (service.jobs) ---------------------------------------------------------------


class JobNotFound(NotFound, ServiceError):
    """No job with this id that the caller may see (``job_not_found``): another
    department's job answers the same."""

    code = "job_not_found"


class JobKindUnknown(ServiceError):
    """A job of a kind no handler of this process runs (``job_kind_unknown``): a
    programming or deployment error, never the caller's."""

    code = "job_kind_unknown"


class JobCorrupt(ServiceError):
    """A job's sealed spec or step does not open or is not what its kind expects
    (``job_corrupt``): the instance secret changed, or the store was damaged."""

    code = "job_corrupt"


# -- changes of a citizen's subject fields (service.changes) ---------------------------


class ChangeInvalid(ServiceError):
    """A change request whose value, date or reason cannot be used (HTTP 422).

    ``field`` names the request member at fault (``value``, ``effective``, ``reason``),
    never its content: the value is personal data."""

    code = "change_invalid"
    public: ClassVar[tuple[str, ...]] = ("field",)

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class FieldUnknown(ChangeInvalid):
    """A change of a subject field the catalogue does not know (HTTP 422)."""

    code = "field_unknown"


class FieldNotOwned(Forbidden):
    """A change of a subject field by a department that is not its authority (HTTP 403)."""

    code = "field_not_owned"


class ChangeBusy(Conflict, ServiceError):
    """A credential a change would re-issue is being re-issued by another change that
    did not finish in time (``change_busy``, HTTP 409; that step fails, post again)."""

    code = "change_busy"


# -- the audit chain (service.audit) -----------------------------------------------------


class AuditChainBroken(ServiceError):
    """An audit entry does not match its hash, its keyed tag or its neighbour, or will
    not open (``audit_chain_broken``): the export stops there; ``ecert audit verify``
    names the first bad entry."""

    code = "audit_chain_broken"


# -- consents (service.consents) -------------------------------------------------------


class ConsentNotFound(NotFound, ServiceError):
    """No consent of this id that the caller may see (HTTP 404): another citizen's, or
    another department's request, answers the same as an unknown id."""

    code = "consent_not_found"


class ConsentInvalid(ServiceError):
    """A consent whose department, proof type, purpose or ``until`` cannot be used (HTTP
    422). ``field`` names the request member at fault, never its content."""

    code = "consent_invalid"
    public: ClassVar[tuple[str, ...]] = ("field",)

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConsentStateConflict(Conflict, ServiceError):
    """A consent that is not in a state this change starts from (HTTP 409): approving a
    withdrawn or declined one, declining a granted one, withdrawing one twice, or
    approving a request whose ``until`` has passed."""

    code = "consent_state"


class ConsentLimitReached(ServiceError):
    """The citizen already holds :data:`store.kinds.consents.CONSENT_CAP` consents
    that all still count (HTTP 409): withdraw one first."""

    code = "consent_limit"


# -- proof queries (service.proofs) ---------------------------------------------------


class ConsentRequired(Forbidden):
    """A proof query without a matching, unexpired consent of the citizen for that
    department, proof type and purpose (an unknown citizen answers the same)."""

    code = "consent_required"


class ProofQueryInvalid(ServiceError):
    """A proof query's purpose or citizen id is malformed (the message names the member,
    never its value)."""

    code = "proof_query_invalid"


# -- receipts, ratings and misuse reports (service.receipts) ----------------------------


class ReceiptNotFound(NotFound, ServiceError):
    """No use of this citizen's data with this event id (``receipt_not_found``): another
    citizen's event answers the same as an unknown one."""

    code = "receipt_not_found"


class RatingInvalid(ServiceError):
    """Stars other than an integer from 1 to 5, or a comment too long or holding control
    characters (``rating_invalid``)."""

    code = "rating_invalid"


class RatingLocked(Conflict, ServiceError):
    """The rating was first made more than a day ago: it can no longer be changed
    (HTTP 409)."""

    code = "rating_locked"


class ReportInvalid(ServiceError):
    """A misuse report whose text is empty, too long or holds control characters
    (``report_invalid``)."""

    code = "report_invalid"


class ReportExists(Conflict, ServiceError):
    """This use was already reported (one report per use; HTTP 409)."""

    code = "report_exists"


# -- the operator's dashboard -----------------------------------------------------------


class StatsRangeInvalid(ServiceError):
    """The days asked of the statistics are not two dates ``YYYY-MM-DD``, ``from`` no
    later than ``to``, at most 92 days (``stats_range_invalid``)."""

    code = "stats_range_invalid"


# -- guardians and carers (service.links) -----------------------------------------------


class GuardianshipInvalid(ServiceError):
    """A guardianship credential that does not hold together: the guardian is not the
    citizen it is issued to, the ward is the guardian, the ward's birth date is not the
    one in the ward's ID number, or the relationship is not one the link knows (HTTP
    422)."""

    code = "guardianship_invalid"


class GuardianshipWardAdult(ServiceError):
    """The ward is 18 or older: a guardianship of a minor ends at majority (HTTP 422)."""

    code = "guardianship_ward_adult"


class CareAuthorisationFromWallet(Forbidden):
    """A department tried to issue a care authorisation: the elder gives it from the
    wallet (``POST /api/v1/wallet/carers``; HTTP 403)."""

    code = "care_authorisation_from_wallet"


class CarerInvalid(ServiceError):
    """A care authorisation the wallet refuses: a scene that does not accept carers or
    is unknown, no scene or too many, an end date past or beyond a year, or the citizen
    naming themself (HTTP 422)."""

    code = "carer_invalid"


class CarerLimitReached(ServiceError):
    """The citizen already authorised the most carers allowed at once (HTTP 409)."""

    code = "carer_limit_reached"


class CarerNotFound(NotFound, ServiceError):
    """No active care authorisation of this id given by this citizen (``not_found``)."""


class CarerPrincipalUnnamed(ServiceError):
    """The citizen's wallet holds no resident ID card to name them in a care
    authorisation (HTTP 422)."""

    code = "carer_principal_unnamed"
# -- OpenID4VCI 1.0 issuance (service/oid4vci.py) ---------------------------------------
#
# The token, nonce and credential endpoints answer in the protocol's own error format
# (RFC 6749 §5.2, RFC 6750 §3, OpenID4VCI 1.0 §6.3 and §8.3.1), not as problems: each
# class names its wire ``error`` in ``oauth_error`` beside its own stable ``code``.


class Oid4vciError(ServiceError):
    """A refused OpenID4VCI request; ``oauth_error`` is the protocol's error code and
    ``cause`` the code of the check behind it (a key proof's, say), if any."""

    code = "oid4vci_error"
    oauth_error: ClassVar[str] = "invalid_request"

    def __init__(self, message: str, *, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class Oid4vciRequestInvalid(Oid4vciError):
    """A token request that is malformed or lacks a parameter (``invalid_request``)."""

    code = "oid4vci_request_invalid"


class Oid4vciTxCodeMissing(Oid4vciRequestInvalid):
    """The offer asked for a transaction code and the token request has none
    (``invalid_request``, §6.3)."""

    code = "oid4vci_tx_code_missing"


class Oid4vciGrantUnsupported(Oid4vciError):
    """A grant type other than the pre-authorized code (``unsupported_grant_type``)."""

    code = "oid4vci_grant_unsupported"
    oauth_error = "unsupported_grant_type"


class Oid4vciGrantInvalid(Oid4vciError):
    """An unknown pre-authorized code (``invalid_grant``, §6.3)."""

    code = "oid4vci_grant_invalid"
    oauth_error = "invalid_grant"


class Oid4vciOfferExpired(Oid4vciGrantInvalid):
    """The offer's pre-authorized code has expired (``invalid_grant``)."""

    code = "oid4vci_offer_expired"


class Oid4vciOfferUsed(Oid4vciGrantInvalid):
    """The pre-authorized code was already redeemed: single use (``invalid_grant``)."""

    code = "oid4vci_offer_used"


class Oid4vciTxCodeWrong(Oid4vciGrantInvalid):
    """The transaction code is wrong (``invalid_grant``, §6.3)."""

    code = "oid4vci_tx_code_wrong"


class Oid4vciOfferBurnt(Oid4vciGrantInvalid):
    """Too many wrong transaction codes: the offer is spent (``invalid_grant``)."""

    code = "oid4vci_offer_burnt"


class Oid4vciTokenInvalid(Oid4vciError):
    """No access token, or one unknown, expired or spent (``invalid_token``, RFC 6750
    §3.1; HTTP 401)."""

    code = "oid4vci_token_invalid"
    oauth_error = "invalid_token"


class Oid4vciCredentialRequestInvalid(Oid4vciError):
    """A malformed credential request (``invalid_credential_request``, §8.3.1.2)."""

    code = "oid4vci_credential_request_invalid"
    oauth_error = "invalid_credential_request"


class Oid4vciConfigurationUnknown(Oid4vciError):
    """A credential configuration unknown, or not offered with this access token
    (``unknown_credential_configuration``, §8.3.1.2)."""

    code = "oid4vci_configuration_unknown"
    oauth_error = "unknown_credential_configuration"


class Oid4vciProofInvalid(Oid4vciError):
    """The key proof is missing or does not verify (``invalid_proof``, §8.3.1.2); the
    ``cause`` names the failed check (``device_proof_audience``…)."""

    code = "oid4vci_proof_invalid"
    oauth_error = "invalid_proof"


class Oid4vciNonceInvalid(Oid4vciError):
    """The key proof's ``nonce`` is not a fresh ``c_nonce`` of ours (``invalid_nonce``)."""

    code = "oid4vci_nonce_invalid"
    oauth_error = "invalid_nonce"


class Oid4vciCredentialDenied(Oid4vciError):
    """This access token already obtained its credential, or the credential can no
    longer be issued (``credential_request_denied``, §8.3.1.2)."""

    code = "oid4vci_credential_denied"
    oauth_error = "credential_request_denied"


class OfferNotFound(NotFound, ServiceError):
    """No offer of this department has this id (HTTP 404, as for another's)."""

    code = "offer_not_found"


class OfferNotYours(Forbidden):
    """The web wallet accepting an offer made for another citizen (HTTP 403)."""

    code = "offer_not_yours"


__all__ += [
    "Oid4vciError",
    "Oid4vciRequestInvalid",
    "Oid4vciTxCodeMissing",
    "Oid4vciGrantUnsupported",
    "Oid4vciGrantInvalid",
    "Oid4vciOfferExpired",
    "Oid4vciOfferUsed",
    "Oid4vciTxCodeWrong",
    "Oid4vciOfferBurnt",
    "Oid4vciTokenInvalid",
    "Oid4vciCredentialRequestInvalid",
    "Oid4vciConfigurationUnknown",
    "Oid4vciProofInvalid",
    "Oid4vciNonceInvalid",
    "Oid4vciCredentialDenied",
    "OfferNotFound",
    "OfferNotYours",
]
