"""Issuing SD-JWT VCs (RFC 9901 with the SD-JWT VC profile) and changing their status.

The registry keeps a credential's ``subject`` as the citizen's pseudonym
(:mod:`keys.pseudonym`): :meth:`CredentialIssuer.issue` takes the clear citizen id and
maps it, and :meth:`CredentialIssuer.credentials_of` finds a citizen's credentials
from the clear id the same way.
"""

from __future__ import annotations

import datetime
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from issuer.catalogue import LONG_TERM, Catalogue, load_catalogue, validate_claims
from issuer.errors import (
    ClaimsInvalid,
    InvalidTransition,
    NotAuthorised,
    UnknownCredential,
    UnknownCredentialType,
    UnknownIssuer,
)
from issuer.keyring import Keyring
from issuer.status import StatusRegistry
from keys import EcertError, FormatError, InvalidJWK, SigningKey, public_key_from_jwk, sign_compact
from keys.errors import Conflict
from keys.jwk import public_key_to_jwk
from keys.pseudonym import Pseudonyms
from sdjwt import (
    INVALID,
    SD,
    SD_ALG,
    SHA_256,
    SUSPENDED,
    TYP_SD_JWT_VC,
    VALID,
    decoy_digest,
    make_disclosure,
)
from store.interface import CredentialRecord, CredentialState, Store

#: A chosen credential id: URL-safe base64 characters, like the random ones (22).
_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_CHINA = datetime.timezone(datetime.timedelta(hours=8))
_ONE_DAY = datetime.timedelta(days=1)
_STATUS_VALUE: dict[CredentialState, int] = {
    "valid": VALID,
    "revoked": INVALID,
    "suspended": SUSPENDED,
}
#: Allowed status changes: revocation is final; suspension can be lifted.
_TRANSITIONS: dict[tuple[CredentialState, CredentialState], bool] = {
    ("valid", "revoked"): True,
    ("valid", "suspended"): True,
    ("suspended", "valid"): True,
    ("suspended", "revoked"): True,
}


@dataclass(frozen=True, slots=True)
class IssueRequest:
    """One credential to issue with :meth:`CredentialIssuer.issue_many` (the arguments
    of :meth:`CredentialIssuer.issue`): ``credential_id`` None draws a random id; a
    caller that must find the credential again after a crash gives its own (16 to 64
    URL-safe characters)."""

    vct: str
    subject: str
    claims: Mapping[str, object]
    holder_jwk: Mapping[str, Any]
    credential_id: str | None = None
    not_after: int | None = None


@dataclass(frozen=True, slots=True)
class _Draft:
    """A request checked against the catalogue: what is signed, before a status index."""

    vct: str
    sd_claims: tuple[str, ...]
    claims: dict[str, object]
    cnf_jwk: dict[str, Any]
    subject: str
    exp: int


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A freshly issued credential: the SD-JWT (``jwt~d1~…~``) and its registry record."""

    id: str
    sd_jwt: str
    record: CredentialRecord


class CredentialIssuer:
    """Issues credentials for the registered issuers of a store and manages their status."""

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        status: StatusRegistry,
        *,
        catalogue: Catalogue | None = None,
        clock: Callable[[], float] = time.time,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
        decoys: int = 0,
        pseudonyms: Pseudonyms | None = None,
    ) -> None:
        """``pseudonyms``: the instance's; None keeps subjects as given (tests, tools)."""
        self._store = store
        self._keyring = keyring
        self._status = status
        self._catalogue = catalogue or load_catalogue()
        self._clock = clock
        self._token_bytes = token_bytes
        self._decoys = decoys
        self._pseudonyms = pseudonyms or Pseudonyms.none()

    def issue(
        self,
        iss: str,
        vct: str,
        *,
        subject: str,
        claims: Mapping[str, object],
        holder_jwk: Mapping[str, Any],
        decoys: int | None = None,
        not_after: int | None = None,
        credential_id: str | None = None,
    ) -> IssuedCredential:
        """Issue a credential of type ``vct`` to ``subject``, bound to ``holder_jwk``.

        Every catalogue claim marked ``sd`` becomes a disclosure with a 128-bit salt;
        ``iss``, ``iat``, ``exp``, ``vct``, ``cnf`` and ``status`` are always plain.
        ``decoys`` adds that many decoy digests (off by default: QR size matters).
        ``not_after`` caps ``exp`` (a copy of a credential for a device ends when the
        original does). ``credential_id`` gives the registry id (a job that must find
        out after a crash whether it issued already); by default a random one. An id
        already in the registry raises :class:`~store.interface.Conflict`.

        Raises :class:`UnknownIssuer`, :class:`NotAuthorised`,
        :class:`~issuer.errors.UnknownCredentialType`, :class:`ClaimsInvalid` (also
        for a holder key that is not a public P-256 or Ed25519 JWK) and
        :class:`~issuer.errors.NoSigningKey`.
        """
        record = self._store.get_issuer(iss)
        if record is None:
            raise UnknownIssuer("no issuer is registered with this identifier")
        now = int(self._clock())
        request = IssueRequest(
            vct, subject, claims, holder_jwk, credential_id=credential_id, not_after=not_after
        )
        draft = self._draft(record.vcts, request, now)
        key = self._keyring.signing_key(iss)
        uri, idx = self._status.allocate(iss)
        issued = self._sign(
            iss, key, draft, uri, idx, now, decoys, credential_id or secrets.token_urlsafe(16)
        )
        self._store.put_credential(issued.record)
        return issued

    def issue_many(
        self, iss: str, requests: Sequence[IssueRequest]
    ) -> list[IssuedCredential | EcertError]:
        """Issue many credentials at once, each as :meth:`issue` would: for each request,
        in order, the credential or what refused it (:class:`NotAuthorised`,
        :class:`~issuer.errors.UnknownCredentialType`, :class:`ClaimsInvalid`, or
        :class:`~keys.errors.Conflict` for a ``credential_id`` already in the registry).

        The issuer's record and key are read once, the status indices claimed and the
        registry records written in one store call each (:meth:`StatusRegistry.
        allocate_many`, ``put_credentials``). Raises :class:`UnknownIssuer` and
        :class:`~issuer.errors.NoSigningKey` for the whole call.
        """
        record = self._store.get_issuer(iss)
        if record is None:
            raise UnknownIssuer("no issuer is registered with this identifier")
        now = int(self._clock())
        out: list[IssuedCredential | EcertError | None] = []
        drafts: list[tuple[int, _Draft, str]] = []
        for n, request in enumerate(requests):
            try:
                draft = self._draft(record.vcts, request, now)
            except (NotAuthorised, UnknownCredentialType, ClaimsInvalid) as err:
                out.append(err)
                continue
            out.append(None)
            drafts.append((n, draft, request.credential_id or secrets.token_urlsafe(16)))
        if drafts:
            key = self._keyring.signing_key(iss)
            positions = self._status.allocate_many(iss, len(drafts))
            issued = [
                self._sign(iss, key, draft, uri, idx, now, None, credential_id)
                for (_, draft, credential_id), (uri, idx) in zip(drafts, positions, strict=True)
            ]
            written = self._store.put_credentials([i.record for i in issued])
            for (n, _, _), one, new in zip(drafts, issued, written, strict=True):
                out[n] = one if new else Conflict("a credential with this id already exists")
        return [one for one in out if one is not None]

    def _draft(self, vcts: tuple[str, ...], request: IssueRequest, now: int) -> _Draft:
        """The checked claims of one request and its ``exp``, before anything is drawn."""
        vct = request.vct
        if vct not in vcts:
            raise NotAuthorised(f"this issuer may not issue {vct}")
        credential_id = request.credential_id
        if credential_id is not None and not _ID_RE.fullmatch(credential_id):
            raise ClaimsInvalid("a credential id is 16 to 64 URL-safe characters", field="id")
        ctype = self._catalogue.get(vct)
        clean = validate_claims(ctype, request.claims)
        cnf_jwk = _holder_jwk(request.holder_jwk)
        exp = now + ctype.validity_days * 86400
        valid_until = clean.get("valid_until")
        if isinstance(valid_until, str) and valid_until != LONG_TERM:
            # The credential never outlives the document: end of its last valid day (UTC+8).
            last_day = datetime.date.fromisoformat(valid_until)
            end = datetime.datetime.combine(last_day, datetime.time(), _CHINA) + _ONE_DAY
            exp = min(exp, int(end.timestamp()))
            if exp <= now:
                raise ClaimsInvalid("the document has already expired", field="valid_until")
        if request.not_after is not None:
            exp = min(exp, request.not_after)
            if exp <= now:
                raise ClaimsInvalid("the credential has already expired", field="not_after")
        return _Draft(vct, ctype.sd_claims, clean, cnf_jwk, request.subject, exp)

    def _sign(
        self,
        iss: str,
        key: SigningKey,
        draft: _Draft,
        uri: str,
        idx: int,
        now: int,
        decoys: int | None,
        credential_id: str,
    ) -> IssuedCredential:
        """Sign one checked draft with its status position; nothing is written."""
        disclosures = []
        digests = []
        plain: dict[str, object] = {}
        sd_names = set(draft.sd_claims)
        for name, value in draft.claims.items():
            if name in sd_names:
                d = make_disclosure(name, value, token_bytes=self._token_bytes)
                disclosures.append(d.encoded)
                digests.append(d.digest)
            else:
                plain[name] = value
        n_decoys = self._decoys if decoys is None else decoys
        digests.extend(decoy_digest(token_bytes=self._token_bytes) for _ in range(n_decoys))
        payload: dict[str, object] = {
            "iss": iss,
            "iat": now,
            "exp": draft.exp,
            "vct": draft.vct,
            **plain,
            SD: sorted(digests),  # sorted, so the order reveals nothing (RFC 9901 §4.2.4.1)
            SD_ALG: SHA_256,
            "cnf": {"jwk": draft.cnf_jwk},
            "status": {"status_list": {"idx": idx, "uri": uri}},
        }
        jwt = sign_compact(payload, key, typ=TYP_SD_JWT_VC)
        registry = CredentialRecord(
            id=credential_id,
            vct=draft.vct,
            issuer=iss,
            subject=self._pseudonyms.of(draft.subject),
            kid=key.kid,
            status_uri=uri,
            status_idx=idx,
            issued_at=now,
            expires_at=draft.exp,
        )
        sd_jwt = "~".join([jwt, *disclosures]) + "~"
        return IssuedCredential(credential_id, sd_jwt, registry)

    def credentials_of(self, subject: str, *, iss: str | None = None) -> list[CredentialRecord]:
        """The registry's records of the citizen ``subject`` (clear id), of one issuer or
        all, oldest first."""
        records = self._store.list_credentials(subject=self._pseudonyms.of(subject))
        return [r for r in records if iss is None or r.issuer == iss]

    def revoke(self, iss: str, credential_id: str) -> CredentialRecord:
        """Revoke for good (status 1).

        Raises :class:`UnknownCredential` or :class:`InvalidTransition`.
        """
        return self._change(iss, credential_id, "revoked")

    def suspend(self, iss: str, credential_id: str) -> CredentialRecord:
        """Suspend (status 2). Raises :class:`UnknownCredential`, :class:`InvalidTransition`."""
        return self._change(iss, credential_id, "suspended")

    def reinstate(self, iss: str, credential_id: str) -> CredentialRecord:
        """Lift a suspension. Raises :class:`UnknownCredential`, :class:`InvalidTransition`."""
        return self._change(iss, credential_id, "valid")

    def _change(self, iss: str, credential_id: str, state: CredentialState) -> CredentialRecord:
        record = self._store.get_credential(credential_id)
        if record is None or record.issuer != iss:
            # Another issuer's credential answers exactly like a missing one.
            raise UnknownCredential("no credential with this id was issued by this issuer")
        if record.state == state:
            return record
        if not _TRANSITIONS.get((record.state, state), False):
            raise InvalidTransition(f"a {record.state} credential cannot become {state}")
        # Status list first: if the registry update fails, a retry converges.
        self._status.set(record.status_uri, record.status_idx, _STATUS_VALUE[state])
        self._store.set_credential_state(credential_id, state)
        return self._store.get_credential(credential_id) or record


def _holder_jwk(jwk: Mapping[str, Any]) -> dict[str, Any]:
    try:
        key, _ = public_key_from_jwk(jwk)
    except (InvalidJWK, FormatError) as err:
        raise ClaimsInvalid(f"holder key: {err.message}", field="holder_jwk") from err
    return dict(public_key_to_jwk(key))
