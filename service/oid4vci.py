"""OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow (no Flask).

Section numbers are those of the final 1.0 text (openid-4-verifiable-credential-
issuance-1_0). The service is one Credential Issuer whose identifier (§12.2.1) is the
service's base URL, and its own Authorization Server (§12.2.4: no
``authorization_servers``); the departments stay the credentials' signers (each
credential's ``iss`` is its department), as for every other issuance.

* :meth:`Oid4vci.create_offer`: a department makes a Credential Offer (§4.1) for one
  citizen and one catalogue type, with claims checked by the catalogue as any issuance.
  The offer carries a ``pre-authorized_code`` grant (§4.1.1) with a ``tx_code`` object;
  the transaction code itself (six digits) goes back to the department only, to hand
  to the citizen out of band. The offer lives :data:`OFFER_TTL` seconds and gives one
  credential. At rest: the entry is named by the SHA-256 of the code, its content
  (citizen, claims, an HMAC of the transaction code) is sealed (AES-GCM).
* :meth:`Oid4vci.token`: the Token Endpoint (§6): ``grant_type``
  ``urn:ietf:params:oauth:grant-type:pre-authorized_code``, ``pre-authorized_code``,
  ``tx_code``. Errors as §6.3 says (RFC 6749 §5.2). Each try of a transaction code
  claims one of :data:`MAX_TX_TRIES` slots first (so concurrent guesses are bounded
  too); when none is left the offer is burnt. The code is single use (§4.1.1). The
  access token is opaque, lives :data:`TOKEN_TTL` seconds and is bound to the offer.
* :meth:`Oid4vci.nonce`: the Nonce Endpoint (§7): a fresh, unpredictable ``c_nonce``,
  spent by the first key proof that uses it.
* :meth:`Oid4vci.credential`: the Credential Endpoint (§8): Bearer access token,
  ``credential_configuration_id`` (§8.2), ``proofs`` with one ``jwt`` key proof
  (Appendix F.1: :func:`wallet.device_proof.verify_device_proof`, ``aud`` the Credential
  Issuer Identifier), then the credential signed by the offer's department and bound
  (``cnf.jwk``) to the proven key, registered with its status entry like any other (so
  the department can revoke it). Errors as §8.3.1.2 says.
* :meth:`Oid4vci.accept`: the web wallet redeems an offer for the logged-in citizen
  (who must be the offer's), the credential going into their wallet as any issuance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from issuer import CredentialIssuer, NotAuthorised
from issuer.catalogue import Catalogue, load_catalogue, validate_claims
from keys import EcertError
from keys.aead import Envelope
from keys.b64 import b64url_encode
from service.accounts import Accounts
from service.errors import (
    OfferNotFound,
    OfferNotYours,
    Oid4vciConfigurationUnknown,
    Oid4vciCredentialDenied,
    Oid4vciCredentialRequestInvalid,
    Oid4vciGrantInvalid,
    Oid4vciGrantUnsupported,
    Oid4vciNonceInvalid,
    Oid4vciOfferBurnt,
    Oid4vciOfferExpired,
    Oid4vciOfferUsed,
    Oid4vciProofInvalid,
    Oid4vciRequestInvalid,
    Oid4vciTokenInvalid,
    Oid4vciTxCodeMissing,
    Oid4vciTxCodeWrong,
)
from service.issuance import Issuance
from service.stats import Counters
from store.interface import CredentialRecord, IssuerRecord, Store
from store.kinds.ephemeral import (
    OID4VCI_ISSUED,
    OID4VCI_NONCE,
    OID4VCI_NONCE_USED,
    OID4VCI_OFFER,
    OID4VCI_OFFER_ID,
    OID4VCI_REDEEMED,
    OID4VCI_TOKEN,
    OID4VCI_TRY,
)
from wallet.device_proof import PROOF_TYP, verify_device_proof
from wallet.errors import DeviceProofInvalid

__all__ = [
    "ACCESS_TOKEN_BYTES",
    "CREDENTIAL_PATH",
    "FORMAT",
    "MAC_KEY_LABEL",
    "MAX_TX_TRIES",
    "NONCE_PATH",
    "NONCE_TTL",
    "OFFER_SCHEME",
    "OFFER_TTL",
    "PRE_AUTHORIZED_GRANT",
    "SEAL_KEY_LABEL",
    "TOKEN_PATH",
    "TOKEN_TTL",
    "TX_CODE_LENGTH",
    "CreatedOffer",
    "Oid4vci",
    "config_id",
    "parse_offer_uri",
]

#: The grant type of the Pre-Authorized Code Flow (§3.5, §4.1.1).
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: The Credential Format Identifier of SD-JWT VC (Appendix A.3.1).
FORMAT = "dc+sd-jwt"
#: The Wallet's Credential Offer Endpoint when none is known (§12.1.1).
OFFER_SCHEME = "openid-credential-offer://"
#: Endpoint paths under the base URL (the metadata names them in full).
TOKEN_PATH = "/api/v1/oid4vci/token"  # noqa: S105 (a path, no secret)
NONCE_PATH = "/api/v1/oid4vci/nonce"
CREDENTIAL_PATH = "/api/v1/oid4vci/credential"
#: Life of an offer's pre-authorized code (seconds; "short lived", §4.1.1).
OFFER_TTL = 600
#: How long an expired offer is still told apart from an unknown one (seconds).
EXPIRED_KEPT = 24 * 3600
#: Life of an access token (seconds).
TOKEN_TTL = 300
#: Life of a ``c_nonce`` (seconds).
NONCE_TTL = 300
#: Digits of a transaction code, and how many tries an offer takes before it is burnt.
TX_CODE_LENGTH = 6
MAX_TX_TRIES = 5
#: Bytes of entropy of a pre-authorized code, an access token and a nonce.
ACCESS_TOKEN_BYTES = 32
#: Labels of the keys that seal offers and key the transaction-code HMAC.
SEAL_KEY_LABEL = "ecert/oid4vci-offers/v1"
MAC_KEY_LABEL = "ecert/oid4vci-tx-codes/v1"
#: Longest pre-authorized code, access token, nonce and transaction code accepted.
MAX_CODE = 128
MAX_TX_CODE = 32
#: The catalogue's type prefix, dropped from credential configuration ids.
_VCT_PREFIX = "urn:ecert:"
_TX_DESCRIPTION = (
    "请输入发证部门告知您的6位数字码 / Enter the 6-digit code the issuing department gave you"
)
_VERSION = b"V1"
_LOCALES = (("zh", "zh-CN"), ("en", "en"))


@dataclass(frozen=True, slots=True)
class CreatedOffer:
    """A new offer: its id (for the department), the offer object and its URI, the
    transaction code (for the department to hand over; never in the offer) and when
    it expires (epoch seconds)."""

    id: str
    offer: dict[str, Any]
    offer_uri: str
    tx_code: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class _Pending:
    """An offer as kept (sealed): who issues what to whom."""

    offer_id: str
    iss: str
    slug: str
    vct: str
    citizen_id: str
    claims: dict[str, Any]
    tx_mac: str
    expires_at: int


def config_id(vct: str) -> str:
    """The credential configuration id of a catalogue type (``resident-id-card``)."""
    return vct.removeprefix(_VCT_PREFIX)


def parse_offer_uri(text: str) -> dict[str, Any]:
    """The Credential Offer object of an ``openid-credential-offer://?credential_offer=``
    link (by value, §4.1.2), or of its JSON. Raises :class:`Oid4vciRequestInvalid`."""
    if not isinstance(text, str) or not 1 <= len(text) <= 8192:
        raise Oid4vciRequestInvalid("an offer is a link of at most 8192 characters")
    raw = text.strip()
    if not raw.startswith("{"):
        try:
            values = urllib.parse.parse_qs(urllib.parse.urlsplit(raw).query, max_num_fields=4)
        except ValueError:
            raise Oid4vciRequestInvalid("the offer link is not a credential offer") from None
        offers = values.get("credential_offer", [])
        if len(offers) != 1:
            raise Oid4vciRequestInvalid(
                "the link holds no credential_offer (offers by reference are not ours)"
            )
        raw = offers[0]
    try:
        offer = json.loads(raw)
    except ValueError:
        raise Oid4vciRequestInvalid("the credential offer is not JSON") from None
    if not isinstance(offer, dict):
        raise Oid4vciRequestInvalid("the credential offer is not a JSON object")
    return offer


class Oid4vci:
    """The OpenID4VCI Credential Issuer and its Authorization Server, over the store."""

    def __init__(
        self,
        store: Store,
        issuer: CredentialIssuer,
        accounts: Accounts,
        issuance: Issuance,
        *,
        base_url: str,
        seal_key: bytes,
        mac_key: bytes,
        catalogue: Catalogue | None = None,
        counters: Counters | None = None,
        clock: Callable[[], float] = time.time,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        """``seal_key`` and ``mac_key`` (256 bits each, derived from the instance secret
        under :data:`SEAL_KEY_LABEL` and :data:`MAC_KEY_LABEL`) seal offers at rest and
        key the hashes of transaction codes."""
        if len(mac_key) != 32:
            raise ValueError("the transaction-code key must be 256 bits")
        self._store = store
        self._issuer = issuer
        self._accounts = accounts
        self._issuance = issuance
        self.base_url = base_url.rstrip("/")
        self._aead = Envelope(seal_key, _VERSION)
        self._mac_key = mac_key
        self.catalogue = catalogue or load_catalogue()
        self._counters = counters
        self.clock = clock
        self._token_bytes = token_bytes

    # -- metadata (§12.2, §12.3) -------------------------------------------------------

    @property
    def credential_issuer(self) -> str:
        """The Credential Issuer Identifier (§12.2.1): the service's base URL."""
        return self.base_url

    def issuer_metadata(self) -> dict[str, Any]:
        """The Credential Issuer Metadata (§12.2.4), unsigned (``application/json``)."""
        configurations = {}
        for ctype in self.catalogue:
            configurations[config_id(ctype.vct)] = {
                "format": FORMAT,
                "vct": ctype.vct,  # Appendix A.3.2
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": ["ES256"],
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}},
                "credential_metadata": {
                    "display": _display(ctype.name.zh, ctype.name.en),
                    # Appendix B.2: one claims description per catalogue claim, in order
                    "claims": [
                        {
                            "path": [claim.name],
                            "mandatory": claim.required,
                            "display": _display(claim.label.zh, claim.label.en),
                        }
                        for claim in ctype.claims
                    ],
                },
            }
        return {
            "credential_issuer": self.credential_issuer,
            "credential_endpoint": self.base_url + CREDENTIAL_PATH,
            "nonce_endpoint": self.base_url + NONCE_PATH,
            "display": _display("电子证照", "ecert electronic certificates"),
            "credential_configurations_supported": configurations,
        }

    def authorization_server_metadata(self) -> dict[str, Any]:
        """RFC 8414 Authorization Server Metadata, with §12.3's parameter. Only the
        pre-authorized code grant: no authorization endpoint, and so (as §12.2.4 allows)
        no ``response_types_supported``."""
        return {
            "issuer": self.credential_issuer,
            "token_endpoint": self.base_url + TOKEN_PATH,
            "grant_types_supported": [PRE_AUTHORIZED_GRANT],
            "token_endpoint_auth_methods_supported": ["none"],
            "pre-authorized_grant_anonymous_access_supported": True,
        }

    # -- offers (§4.1) -----------------------------------------------------------------

    def create_offer(
        self, department: IssuerRecord, citizen_id: str, vct: str, claims: Mapping[str, Any]
    ) -> CreatedOffer:
        """An offer of one credential of ``vct`` for the citizen, checked as an issuance
        is. Raises :class:`~issuer.errors.NotAuthorised`,
        :class:`~service.errors.UnknownCitizen`, :class:`~issuer.errors.ClaimsInvalid`
        (naming the claim, never its value) and
        :class:`~issuer.errors.UnknownCredentialType`."""
        if vct not in department.vcts:
            raise NotAuthorised("this department may not issue this credential type")
        ctype = self.catalogue.get(vct)
        checked = validate_claims(ctype, claims)
        self._accounts.require_citizen(citizen_id)
        now = self.clock()
        expires_at = int(now) + OFFER_TTL
        code = b64url_encode(self._token_bytes(ACCESS_TOKEN_BYTES))
        offer_id = b64url_encode(self._token_bytes(16))
        tx_code = "".join(secrets.choice("0123456789") for _ in range(TX_CODE_LENGTH))
        name = _sha256(code)
        pending = {
            "id": offer_id,
            "iss": department.iss,
            "slug": department.slug,
            "vct": vct,
            "citizen": citizen_id,
            "claims": checked,
            "tx": self._tx_mac(name, tx_code),
            "exp": expires_at,
        }
        blob = self._aead.seal(_dumps(pending), b"ecert-oid4vci-offer:" + name.encode())
        self._store.once(OID4VCI_OFFER).put(name, blob, expires_at + EXPIRED_KEPT, now)
        state = {"slug": department.slug, "code": name, "exp": expires_at}
        self._store.once(OID4VCI_OFFER_ID).put(
            offer_id,
            self._aead.seal(_dumps(state), b"ecert-oid4vci-offer-id:" + offer_id.encode()),
            expires_at + EXPIRED_KEPT,
            now,
        )
        offer = {
            "credential_issuer": self.credential_issuer,
            "credential_configuration_ids": [config_id(vct)],
            "grants": {
                PRE_AUTHORIZED_GRANT: {
                    "pre-authorized_code": code,
                    "tx_code": {
                        "input_mode": "numeric",
                        "length": TX_CODE_LENGTH,
                        "description": _TX_DESCRIPTION,
                    },
                }
            },
        }
        uri = (
            OFFER_SCHEME
            + "?credential_offer="
            + urllib.parse.quote(
                json.dumps(offer, separators=(",", ":"), ensure_ascii=False), safe=""
            )
        )
        return CreatedOffer(offer_id, offer, uri, tx_code, expires_at)

    def offer_state(self, department: IssuerRecord, offer_id: str) -> dict[str, Any]:
        """Where one of the department's offers stands: ``offered``, ``redeemed`` (a
        token was given), ``issued`` (with the credential's id, to revoke it),
        ``expired`` or ``burnt``. Raises :class:`~service.errors.OfferNotFound` for an
        offer unknown to this department (another's answers the same)."""
        now = self.clock()
        blob = self._store.once(OID4VCI_OFFER_ID).get(offer_id, now)
        state: dict[str, Any] | None = None
        if blob is not None:
            with suppress(EcertError, ValueError):
                state = json.loads(
                    self._aead.open(blob, b"ecert-oid4vci-offer-id:" + offer_id.encode())
                )
        if state is None or state.get("slug") != department.slug:
            raise OfferNotFound("No offer of this department has this id.")
        name = str(state["code"])
        answer: dict[str, Any] = {"id": offer_id, "expires_at": int(state["exp"])}
        issued = self._store.once(OID4VCI_ISSUED).get(name, now)
        if issued:
            answer.update(state="issued", credential_id=issued.decode("ascii"))
        elif self._store.once(OID4VCI_REDEEMED).get(name, now) is not None:
            answer["state"] = "redeemed"
        elif self._store.once(OID4VCI_TRY).get(f"{name}:{MAX_TX_TRIES - 1}", now) is not None:
            answer["state"] = "burnt"
        elif now >= int(state["exp"]):
            answer["state"] = "expired"
        else:
            answer["state"] = "offered"
        return answer

    # -- token endpoint (§6) -----------------------------------------------------------

    def token(self, params: Mapping[str, str]) -> dict[str, Any]:
        """A Token Response (§6.2) for a Token Request's form parameters (§6.1).

        Raises :class:`Oid4vciGrantUnsupported`, :class:`Oid4vciRequestInvalid`,
        :class:`Oid4vciTxCodeMissing` and the :class:`Oid4vciGrantInvalid` family (an
        unknown, expired, used or burnt code, a wrong transaction code)."""
        grant = params.get("grant_type")
        if not grant:
            raise Oid4vciRequestInvalid("the token request has no grant_type")
        if grant != PRE_AUTHORIZED_GRANT:
            raise Oid4vciGrantUnsupported(
                f"only the grant type {PRE_AUTHORIZED_GRANT} is supported"
            )
        code = params.get("pre-authorized_code")
        if not code or len(code) > MAX_CODE:
            raise Oid4vciRequestInvalid("the token request has no pre-authorized_code")
        now = self.clock()
        name, _ = self._redeem(code, params.get("tx_code"), now)
        access_token = b64url_encode(self._token_bytes(ACCESS_TOKEN_BYTES))
        self._store.once(OID4VCI_TOKEN).put(
            _sha256(access_token), name.encode("ascii"), now + TOKEN_TTL, now
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL,
        }

    def _redeem(self, code: str, tx_code: str | None, now: float) -> tuple[str, _Pending]:
        """Check the code and the transaction code, and spend the code (single use)."""
        name, pending = self._pending(code, now)
        self._check_tx_code(name, pending, tx_code, now)
        if not self._store.once(OID4VCI_REDEEMED).put(
            name, b"1", pending.expires_at + EXPIRED_KEPT, now
        ):
            raise Oid4vciOfferUsed("this pre-authorized code was already used")
        return name, pending

    def _pending(self, code: str, now: float) -> tuple[str, _Pending]:
        """The offer of a pre-authorized code, still usable (not expired, burnt or used)."""
        name = _sha256(code)
        pending = self._open(name, self._store.once(OID4VCI_OFFER).get(name, now))
        if pending is None:
            raise Oid4vciGrantInvalid("the pre-authorized code is unknown")
        if self._store.once(OID4VCI_REDEEMED).get(name, now) is not None:
            raise Oid4vciOfferUsed("this pre-authorized code was already used")
        if now >= pending.expires_at:
            raise Oid4vciOfferExpired("the credential offer has expired; ask for a new one")
        if self._store.once(OID4VCI_TRY).get(f"{name}:{MAX_TX_TRIES - 1}", now) is not None:
            raise Oid4vciOfferBurnt(
                "too many wrong transaction codes: this offer is spent; ask for a new one"
            )
        return name, pending

    def _check_tx_code(self, name: str, pending: _Pending, tx_code: str | None, now: float) -> None:
        """§6.3: a missing code is ``invalid_request``, a wrong one ``invalid_grant``.
        Every try first claims one of :data:`MAX_TX_TRIES` slots, the right code too."""
        if not tx_code:
            raise Oid4vciTxCodeMissing("this offer needs its transaction code (tx_code)")
        tries = self._store.once(OID4VCI_TRY)
        expires = pending.expires_at + EXPIRED_KEPT
        slot = next(
            (n for n in range(MAX_TX_TRIES) if tries.put(f"{name}:{n}", b"1", expires, now)),
            None,
        )
        if slot is None:
            raise Oid4vciOfferBurnt(
                "too many wrong transaction codes: this offer is spent; ask for a new one"
            )
        candidate = tx_code if len(tx_code) <= MAX_TX_CODE else ""
        if not hmac.compare_digest(self._tx_mac(name, candidate), pending.tx_mac):
            left = MAX_TX_TRIES - 1 - slot
            if left == 0:
                raise Oid4vciOfferBurnt(
                    "wrong transaction code, and that was the last try: this offer is spent"
                )
            raise Oid4vciTxCodeWrong(f"wrong transaction code ({left} tries left)")

    # -- nonce endpoint (§7) -----------------------------------------------------------

    def nonce(self) -> dict[str, Any]:
        """A Nonce Response (§7.2): a fresh ``c_nonce``, usable once."""
        value = b64url_encode(self._token_bytes(ACCESS_TOKEN_BYTES))
        now = self.clock()
        self._store.once(OID4VCI_NONCE).put(_sha256(value), b"1", now + NONCE_TTL, now)
        return {"c_nonce": value}

    # -- credential endpoint (§8) ------------------------------------------------------

    def credential(self, access_token: str | None, request: object) -> dict[str, Any]:
        """A Credential Response (§8.3) for a Credential Request (§8.2).

        Raises :class:`Oid4vciTokenInvalid` (RFC 6750), then
        :class:`Oid4vciCredentialRequestInvalid`, :class:`Oid4vciConfigurationUnknown`,
        :class:`Oid4vciProofInvalid` (its ``cause`` the failed check),
        :class:`Oid4vciNonceInvalid` and :class:`Oid4vciCredentialDenied`."""
        now = self.clock()
        name = self._token_offer(access_token, now)
        pending = self._open(name, self._store.once(OID4VCI_OFFER).get(name, now))
        if pending is None:
            raise Oid4vciTokenInvalid("the access token's offer is gone")
        proof = self._request_proof(request, pending)
        try:
            checked = verify_device_proof(proof, aud=self.credential_issuer, now=now)
        except DeviceProofInvalid as err:
            raise Oid4vciProofInvalid(
                f"the key proof is refused: {err.message}", cause=err.code
            ) from None
        self._spend_nonce(checked.nonce, now)
        issued = self._claim_issue(name, pending, now)
        try:
            made = self._issuer.issue(
                pending.iss,
                pending.vct,
                subject=pending.citizen_id,
                claims=pending.claims,
                holder_jwk=checked.jwk,
            )
        except NotAuthorised:
            self._release(issued, name, now)
            raise Oid4vciCredentialDenied(
                "the department may no longer issue this credential type"
            ) from None
        except BaseException:
            self._release(issued, name, now)
            raise
        issued.put(
            name, made.id.encode("ascii"), pending.expires_at + EXPIRED_KEPT, now, replace=True
        )
        if self._counters is not None:
            self._counters.issued(pending.slug, pending.vct, at=now)
        return {"credentials": [{"credential": made.sd_jwt}]}

    def _token_offer(self, access_token: str | None, now: float) -> str:
        if not access_token or len(access_token) > MAX_CODE:
            raise Oid4vciTokenInvalid("the credential request needs a Bearer access token")
        bound = self._store.once(OID4VCI_TOKEN).get(_sha256(access_token), now)
        if not bound:
            raise Oid4vciTokenInvalid("the access token is unknown or expired")
        return bound.decode("ascii")

    def _request_proof(self, request: object, pending: _Pending) -> str:
        """The one ``jwt`` key proof of a Credential Request (§8.2), its configuration
        checked against the offer the token was granted for."""
        if not isinstance(request, dict):
            raise Oid4vciCredentialRequestInvalid("the credential request is not a JSON object")
        if "credential_identifier" in request:
            raise Oid4vciCredentialRequestInvalid(
                "credential_identifier is not used here: no authorization_details were "
                "returned, send credential_configuration_id (OpenID4VCI 1.0 section 8.2)"
            )
        wanted = request.get("credential_configuration_id")
        if not isinstance(wanted, str) or not wanted:
            raise Oid4vciCredentialRequestInvalid(
                "the credential request needs a credential_configuration_id"
            )
        if wanted != config_id(pending.vct):
            raise Oid4vciConfigurationUnknown(
                "this credential configuration was not offered with this access token"
            )
        if "proof" in request:
            raise Oid4vciCredentialRequestInvalid(
                "'proof' is a pre-1.0 draft parameter: OpenID4VCI 1.0 sends 'proofs' (section 8.2)"
            )
        proofs = request.get("proofs")
        if proofs is None:
            raise Oid4vciProofInvalid("the credential request has no proofs")
        if not isinstance(proofs, dict) or len(proofs) != 1:
            raise Oid4vciCredentialRequestInvalid(
                "proofs must hold exactly one proof type (section 8.2)"
            )
        ((kind, values),) = proofs.items()
        if kind != "jwt":
            raise Oid4vciProofInvalid(f"only the jwt proof type is supported, not {kind[:40]!r}")
        if not isinstance(values, list) or not values:
            raise Oid4vciCredentialRequestInvalid("proofs.jwt must be a non-empty array")
        if len(values) > 1:
            raise Oid4vciCredentialRequestInvalid(
                "one key proof per request: batch issuance is not supported"
            )
        (proof,) = values
        if not isinstance(proof, str):
            raise Oid4vciProofInvalid(f"a jwt key proof is a compact JWS ({PROOF_TYP})")
        return proof

    def _spend_nonce(self, nonce: str, now: float) -> None:
        name = _sha256(nonce)
        if self._store.once(OID4VCI_NONCE).get(name, now) is None:
            raise Oid4vciNonceInvalid(
                "the key proof's nonce is not a fresh c_nonce of this issuer; get a new one"
            )
        if not self._store.once(OID4VCI_NONCE_USED).put(name, b"1", now + NONCE_TTL, now):
            raise Oid4vciNonceInvalid("the key proof's nonce was already used; get a new one")

    def _claim_issue(self, name: str, pending: _Pending, now: float) -> Any:
        issued = self._store.once(OID4VCI_ISSUED)
        if not issued.put(name, b"", pending.expires_at + EXPIRED_KEPT, now):
            raise Oid4vciCredentialDenied("this offer's credential was already issued")
        return issued

    @staticmethod
    def _release(issued: Any, name: str, now: float) -> None:
        with suppress(Exception):
            issued.put(name, b"", now, now, replace=True)

    # -- the web wallet (part 2) -------------------------------------------------------

    def accept(self, citizen_id: str, offer_text: str, tx_code: str | None) -> CredentialRecord:
        """Redeem an offer (its link) for the logged-in citizen's own wallet, as an
        issuance by the offer's department. Raises :class:`Oid4vciRequestInvalid` (not
        one of our offers), :class:`OfferNotYours` (before any try is spent), the
        :class:`Oid4vciGrantInvalid` family and :class:`Oid4vciTxCodeMissing`."""
        offer = parse_offer_uri(offer_text)
        if offer.get("credential_issuer") != self.credential_issuer:
            raise Oid4vciRequestInvalid("this offer is from another credential issuer")
        grants = offer.get("grants")
        grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, dict) else None
        code = grant.get("pre-authorized_code") if isinstance(grant, dict) else None
        if not isinstance(code, str) or not 1 <= len(code) <= MAX_CODE:
            raise Oid4vciRequestInvalid("the offer holds no pre-authorized code")
        now = self.clock()
        name, pending = self._pending(code, now)
        if not hmac.compare_digest(pending.citizen_id.encode(), citizen_id.encode()):
            raise OfferNotYours("This offer was made for another citizen.")
        name, pending = self._redeem(code, tx_code, now)
        issued = self._claim_issue(name, pending, now)
        department = self._store.get_issuer(pending.iss)
        try:
            if department is None:
                raise Oid4vciCredentialDenied("the offer's department is gone")
            record = self._issuance.issue(
                department, pending.vct, pending.citizen_id, pending.claims
            )
        except BaseException:
            self._release(issued, name, now)
            raise
        issued.put(
            name, record.id.encode("ascii"), pending.expires_at + EXPIRED_KEPT, now, replace=True
        )
        return record

    # -- helpers -----------------------------------------------------------------------

    def _tx_mac(self, name: str, tx_code: str) -> str:
        message = name.encode("ascii") + b"\x00" + tx_code.encode("utf-8")
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()

    def _open(self, name: str, blob: bytes | None) -> _Pending | None:
        if blob is None:
            return None
        try:
            data = json.loads(self._aead.open(blob, b"ecert-oid4vci-offer:" + name.encode()))
        except (EcertError, ValueError):
            return None
        return _Pending(
            offer_id=str(data["id"]),
            iss=str(data["iss"]),
            slug=str(data["slug"]),
            vct=str(data["vct"]),
            citizen_id=str(data["citizen"]),
            claims=dict(data["claims"]),
            tx_mac=str(data["tx"]),
            expires_at=int(data["exp"]),
        )


def _display(zh: str, en: str) -> list[dict[str, str]]:
    names = {"zh": zh, "en": en}
    return [{"name": names[lang], "locale": tag} for lang, tag in _LOCALES]


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
