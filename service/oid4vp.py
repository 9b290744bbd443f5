"""OpenID for Verifiable Presentations 1.0 for venues: a scene asked of a citizen's wallet.

A venue creates a request for one of its scenes (:meth:`VpRequests.create`); the
citizen's wallet (ours, or any OpenID4VP 1.0 wallet) scans its QR code or opens its
link, fetches the signed request object (:meth:`VpRequests.request_object`), and posts
its answer to the response URI (:meth:`VpRequests.respond`); the venue polls the
request (:meth:`VpRequests.status`) until the result is there. Section numbers are
those of OpenID4VP 1.0 (final); docs/openid4vc.md says what is implemented and why.

* The scene becomes a DCQL query (§6, :func:`scene_query`): one Credential Query per
  accepted type (``vct_values``, the scene's claims as claims paths; a scene asking for
  the portrait gets two ``claim_sets``, with and without it); a scene with more than
  one accepted type, or an ``all_of`` set, gets one ``credential_sets`` entry whose
  options are each type alone and the whole set.
* The request object (§5, RFC 9101) is a JWS ``typ: oauth-authz-req+jwt`` passed by
  reference (``request_uri``), signed with the service's verifier key whose
  self-signed certificate is in ``x5c``; the client identifier is
  ``x509_hash:<base64url SHA-256 of that certificate>`` (§5.9.3): a wallet checks it
  against the certificate it was given, with no public CA. The key and the
  certificate are derived from the instance's secret, the certificate signed with
  deterministic ECDSA (RFC 6979), so every worker serves the same client id.
* The response mode is ``direct_post.jwt`` (§8.3, the default: the answer is a JWE,
  ECDH-ES on P-256 to the request's own ephemeral key in ``client_metadata.jwks``,
  ``A128GCM`` or ``A256GCM``, decrypted with jwcrypto) or ``direct_post`` (§8.2).
* Each presentation is checked by the service's online verifier
  (:meth:`service.verification.OnlineVerifier.verify`) with the KB-JWT's expected
  ``aud`` = the client id and ``nonce`` = the request's (Appendix B.3.6): the same
  trust list, live status, replay cache, scene policy, activity and uses as a scanned
  QR. Before that, the ``vp_token`` (§8.1: query id → array of presentations) is
  evaluated against the query on what it discloses (:func:`verifier.dcql.evaluate`):
  a response that discloses a claim the query did not ask for, or that does not
  satisfy it, is refused without being verified.
* A request lives :data:`REQUEST_TTL` seconds and takes one response (the first one
  that decrypts and carries the request's ``state``, whatever its outcome: a venue
  then makes a new request); its result is kept :data:`RESULT_KEPT` seconds more for
  the venue to read.

Store entries (once-spaces of :mod:`store.kinds.ephemeral`; ``<h>`` is the hex SHA-256
of the request id), sealed with AES-256-GCM under a key derived from the instance's
secret, the entry's store key as associated data::

    vp-request:<h>        sealed {venue, scene, nonce, state, mode, exp, query,
                                  enc_jwk (the ephemeral private key), result}
    vp-response-used:<h>  b""   the one response's claim: the first ``put`` wins

Flask-free; its refusals are :mod:`service.errors`' ``Vp…`` family.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from jwcrypto import jwe as jw_jwe
from jwcrypto import jwk as jw_jwk
from jwcrypto.common import JWException
from jwt.api_jws import PyJWS

from keys.aead import Envelope
from keys.b64 import b64url_decode, b64url_encode
from keys.errors import FormatError, SealBroken
from keys.jsonstrict import dumps_compact, loads, loads_object
from keys.trustlist import Scene
from sdjwt import decode_disclosure, split
from service.errors import (
    VpDeclined,
    VpPresentationRefused,
    VpRequestAnswered,
    VpRequestExpired,
    VpRequestNotFound,
    VpResponseMalformed,
)
from service.verification import Verification
from store.interface import VP_REQUEST, VP_RESPONSE_USED, Store, VenueRecord
from store.kinds.activity import new_event_id
from verifier import VerificationResult
from verifier.dcql import FORMAT, Candidate, DcqlQuery, evaluate, parse_query
from verifier.errors import DcqlInvalid
from wallet.errors import ClaimsUnavailable
from wallet.vault import WalletVault

__all__ = [
    "CLIENT_ID_PREFIX",
    "ENC_VALUES",
    "KEY_LABEL",
    "MIN_TTL",
    "REQUEST_TTL",
    "REQUEST_TYP",
    "RESPONSE_MODES",
    "RESULT_KEPT",
    "SIGNING_LABEL",
    "CreatedRequest",
    "RequestState",
    "ResponseMode",
    "VerifierIdentity",
    "VpRequests",
    "scene_query",
]

ResponseMode = Literal["direct_post.jwt", "direct_post"]
RequestState = Literal["pending", "answered", "expired"]

#: The response modes served (§8.2, §8.3); the first is the default.
RESPONSE_MODES: tuple[ResponseMode, ...] = ("direct_post.jwt", "direct_post")
#: The JWS ``typ`` of a request object (RFC 9101 §10.8, OpenID4VP §5).
REQUEST_TYP = "oauth-authz-req+jwt"
#: The client identifier prefix (§5.9.3).
CLIENT_ID_PREFIX = "x509_hash:"
#: Content encryption accepted for direct_post.jwt (HAIP: A128GCM and A256GCM).
ENC_VALUES = ("A128GCM", "A256GCM")
#: The one key agreement accepted (HAIP: ECDH-ES on P-256).
_JWE_ALG = "ECDH-ES"
#: Seconds a request can be answered (a venue may ask for less, not under MIN_TTL).
REQUEST_TTL = 300
MIN_TTL = 5
#: Seconds a request's entry (its result) is kept after it expired.
RESULT_KEPT = 600
#: The labels of the sealing key and of the seed of the verifier's signing key.
KEY_LABEL = "ecert/oid4vp/v1"
SIGNING_LABEL = "ecert/oid4vp/request-signing/v1"
#: §5.8: the static ``aud`` of a request object for a wallet without discovery.
_SELF_ISSUED = "https://self-issued.me/v2"
#: The key-binding algorithms our verifier checks (Appendix B.3.4 metadata).
_ALGS = ["ES256", "EdDSA"]
#: Bounds of a response: presentations per query, per response; a JWE's size.
_MAX_PER_QUERY = 4
_MAX_PRESENTATIONS = 8
_MAX_JWE = 60 * 1024
_MAX_FIELD = 60 * 1024
_MAX_ERROR_DESCRIPTION = 256
_ID_BYTES = 16
_SEAL = b"V1"
_AAD = b"ecert-oid4vp:"
#: Members of an SD-JWT VC payload that are never a claim a query names.
_RESERVED = frozenset(
    {"iss", "iat", "exp", "nbf", "vct", "cnf", "status", "_sd", "_sd_alg", "sub", "jti"}
)
_PORTRAIT = "portrait"
_JWS = PyJWS(algorithms=["ES256"])


# -- the DCQL query of a scene ---------------------------------------------------------


def _query_id(vct: str, taken: set[str]) -> str:
    """A Credential Query id for ``vct`` (its last ``:`` part, letters kept)."""
    base = (vct.rsplit(":", 1)[-1] or "credential")[:48]
    base = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in base)
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _credential_query(
    query_id: str, vct: str, claims: Sequence[str], portrait: bool
) -> dict[str, Any]:
    query: dict[str, Any] = {"id": query_id, "format": FORMAT, "meta": {"vct_values": [vct]}}
    if not claims and not portrait:
        return query
    if portrait:
        names = [*claims, _PORTRAIT]
        query["claims"] = [{"id": f"c{i}", "path": [n]} for i, n in enumerate(names)]
        ids = [f"c{i}" for i in range(len(names))]
        # §6.4.1: the wallet takes the first claim set it can satisfy: the portrait
        # when the credential has one, else the claims alone
        query["claim_sets"] = [ids, ids[:-1]] if claims else [ids]
    else:
        query["claims"] = [{"path": [n]} for n in claims]
    return query


def scene_query(scene: Scene) -> dict[str, Any]:
    """The DCQL query (§6) of a scene policy; :func:`verifier.dcql.parse_query` reads it.

    One Credential Query per accepted type; ``credential_sets`` when there is a choice
    (several types) or a set (``all_of``, one option listing every member).
    """
    taken: set[str] = set()
    credentials: list[dict[str, Any]] = []
    options: list[list[str]] = []
    for vct, claims in scene.accept.items():
        query_id = _query_id(vct, taken)
        credentials.append(_credential_query(query_id, vct, claims, scene.portrait))
        options.append([query_id])
    if scene.all_of:
        members = []
        for vct, claims in scene.all_of:
            query_id = _query_id(vct, taken)
            credentials.append(_credential_query(query_id, vct, claims, False))
            members.append(query_id)
        options.append(members)
    query: dict[str, Any] = {"credentials": credentials}
    if len(options) > 1:
        query["credential_sets"] = [{"options": options, "required": True}]
    return query


# -- the verifier's identity: key, certificate, client id -------------------------------


class VerifierIdentity:
    """The service's verifier key (P-256, derived from ``seed``) and its self-signed
    certificate (deterministic: the same bytes in every worker), for ``base_url``."""

    def __init__(self, seed: bytes, base_url: str) -> None:
        order = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
        scalar = int.from_bytes(hashlib.sha512(seed).digest(), "big") % (order - 1) + 1
        self.key = ec.derive_private_key(scalar, ec.SECP256R1())
        host = urllib.parse.urlsplit(base_url).hostname or "localhost"
        self.certificate = _certificate(self.key, host)
        self.der = self.certificate.public_bytes(Encoding.DER)
        #: ``x509_hash:<base64url SHA-256 of the DER certificate>`` (§5.9.3)
        self.client_id = CLIENT_ID_PREFIX + b64url_encode(hashlib.sha256(self.der).digest())

    def sign(self, payload: Mapping[str, Any]) -> str:
        """The compact JWS of a request object, with the certificate in ``x5c``."""
        body = dumps_compact(dict(payload)).encode("utf-8")
        header = {"typ": REQUEST_TYP, "x5c": [_std_b64(self.der)]}
        return _JWS.encode(body, self.key, algorithm="ES256", headers=header)


def _std_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _certificate(key: ec.EllipticCurvePrivateKey, host: str) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "ecert verifier"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, host[:64] or "ecert"),
        ]
    )
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    spki = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    serial = int.from_bytes(hashlib.sha256(spki).digest()[:16], "big") >> 1 or 1
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2045, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)


# -- requests --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedRequest:
    """A new request: its id, the request URI, and the authorization request to hand
    to a wallet (``qr``: ``openid4vp://?client_id=…&request_uri=…``; ``link``: the
    same parameters on our web wallet's page)."""

    id: str
    request_uri: str
    qr: str
    link: str
    expires_at: int


class VpRequests:
    """A venue's OpenID4VP requests (see the module)."""

    def __init__(
        self,
        store: Store,
        verification: Verification,
        vault: WalletVault,
        *,
        key: bytes,
        signing_seed: bytes,
        base_url: str,
        clock: Callable[[], float] = time.time,
        ttl: int = REQUEST_TTL,
    ) -> None:
        self._store = store
        self._verification = verification
        self._vault = vault
        self._envelope = Envelope(key, _SEAL)
        self._seed = signing_seed
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.ttl = ttl
        self._identity: VerifierIdentity | None = None
        self._lock = threading.Lock()
        #: ``held_copies(citizen_id)``: the ids of the cards the citizen holds for another
        #: (:mod:`service.links`), shown only with their link; set by the container
        self.held_copies: Callable[[str], frozenset[str]] = lambda citizen_id: frozenset()

    @property
    def identity(self) -> VerifierIdentity:
        """The verifier's key, certificate and client id (made on first use)."""
        if self._identity is None:
            with self._lock:
                if self._identity is None:
                    self._identity = VerifierIdentity(self._seed, self.base_url)
        return self._identity

    def request_uri(self, request_id: str) -> str:
        """Where a wallet fetches the request object."""
        return f"{self.base_url}/api/v1/openid4vp/requests/{request_id}"

    def response_uri(self, request_id: str) -> str:
        """Where a wallet posts its response."""
        return f"{self.base_url}/api/v1/openid4vp/responses/{request_id}"

    # -- the venue's side ----------------------------------------------------------------

    def create(
        self,
        venue: VenueRecord,
        scene_id: str,
        mode: ResponseMode = "direct_post.jwt",
        *,
        ttl: int | None = None,
    ) -> CreatedRequest:
        """A fresh request for ``scene_id`` at ``venue`` (the caller checked that the
        venue may verify for it), answerable ``ttl`` seconds (:data:`MIN_TTL` to the
        instance's ``ttl``, by default the latter). Raises :class:`verifier.UnknownScene`."""
        life = self.ttl if ttl is None else max(MIN_TTL, min(ttl, self.ttl))
        scene = self._verification.online.verifier().source.scene(scene_id)
        query = scene_query(scene)
        parse_query(query)  # what we ask must be a query we read back
        now = self.clock()
        request_id = b64url_encode(secrets.token_bytes(_ID_BYTES))
        exp = int(now) + life
        record: dict[str, Any] = {
            "venue": venue.venue_id,
            "venue_name": {"zh": venue.name_zh, "en": venue.name_en},
            "scene": scene.id,
            "nonce": b64url_encode(secrets.token_bytes(_ID_BYTES)),
            "state": b64url_encode(secrets.token_bytes(_ID_BYTES)),
            "mode": mode,
            "iat": int(now),
            "exp": exp,
            "query": query,
            "enc_jwk": None,
            "result": None,
        }
        if mode == "direct_post.jwt":
            key = jw_jwk.JWK.generate(kty="EC", crv="P-256")
            record["enc_jwk"] = json.loads(key.export_private())
        self._put(request_id, record, now)
        request_uri = self.request_uri(request_id)
        params = urllib.parse.urlencode(
            {"client_id": self.identity.client_id, "request_uri": request_uri}
        )
        return CreatedRequest(
            id=request_id,
            request_uri=request_uri,
            qr=f"openid4vp://?{params}",
            link=f"{self.base_url}/wallet?{params}",
            expires_at=exp,
        )

    def status(self, venue: VenueRecord, request_id: str) -> tuple[RequestState, dict[str, Any]]:
        """The request's state and, once answered, its result (the JSON of
        ``POST /api/v1/verify``). Raises :class:`VpRequestNotFound` for an unknown
        request or another venue's."""
        now = self.clock()
        record = self._get(request_id, now)
        if record is None or record["venue"] != venue.venue_id:
            raise VpRequestNotFound("No request with this id.")
        if record["result"] is not None:
            return "answered", record["result"]
        if now > record["exp"]:
            return "expired", {}
        return "pending", {}

    # -- the wallet's side -----------------------------------------------------------------

    def request_object(self, request_id: str) -> str:
        """The signed request object (§5) of a pending request. Raises
        :class:`VpRequestNotFound`, :class:`VpRequestExpired` or
        :class:`VpRequestAnswered`."""
        now = self.clock()
        record = self._pending(request_id, now)
        identity = self.identity
        payload: dict[str, Any] = {
            "iss": identity.client_id,
            "aud": _SELF_ISSUED,
            "iat": record["iat"],
            "exp": record["exp"],
            "client_id": identity.client_id,
            "response_type": "vp_token",
            "response_mode": record["mode"],
            "response_uri": self.response_uri(request_id),
            "nonce": record["nonce"],
            "state": record["state"],
            "dcql_query": record["query"],
            "client_metadata": self._client_metadata(record),
        }
        return identity.sign(payload)

    def describe(self, request_id: str) -> dict[str, Any]:
        """Who asks, for which scene and which fields: what our web wallet shows before
        consent (all of it is in the signed request object too, but for the venue's
        name in both languages). Raises like :meth:`request_object`."""
        record = self._pending(request_id, self.clock())
        return {
            "venue": record["venue_name"],
            "scene": record["scene"],
            "dcql_query": record["query"],
            "expires_at": record["exp"],
        }

    def _client_metadata(self, record: Mapping[str, Any]) -> dict[str, Any]:
        # §11 / §5.1: vp_formats_supported (Appendix B.3.4) and, for direct_post.jwt,
        # the ephemeral encryption key and the content encryptions accepted (§8.3).
        metadata: dict[str, Any] = {
            "client_name": record["venue_name"]["en"] or record["venue_name"]["zh"],
            "vp_formats_supported": {
                FORMAT: {"sd-jwt_alg_values": _ALGS, "kb-jwt_alg_values": _ALGS}
            },
        }
        if record["mode"] == "direct_post.jwt":
            private = record["enc_jwk"]
            public = {k: private[k] for k in ("kty", "crv", "x", "y")}
            public.update(kid=_kid(private), use="enc", alg=_JWE_ALG)
            metadata["jwks"] = {"keys": [public]}
            metadata["encrypted_response_enc_values_supported"] = list(ENC_VALUES)
        return metadata

    def respond(self, request_id: str, form: Mapping[str, str]) -> dict[str, Any]:
        """Take a wallet's response (the form fields of ``POST response_uri``) and
        return the body of the 200 answer (``{}``: no redirect, the flow is cross-device).

        Raises :class:`VpRequestNotFound`, :class:`VpRequestExpired`,
        :class:`VpRequestAnswered`, :class:`VpResponseMalformed` (nothing is used up),
        or :class:`VpPresentationRefused` (the request is used up; the venue's result
        says why).
        """
        now = self.clock()
        record = self._pending(request_id, now)
        return self._take(request_id, record, self._params(record, form), now)

    def answer(self, citizen_id: str, credential_id: str, request_id: str) -> dict[str, Any]:
        """Our web wallet's answer with the service-held key (the assisted mode): the
        citizen consented to present ``credential_id``; the presentation is made for
        the request's client id and nonce and taken like any wallet's response.
        Returns the venue's result (the citizen sees what was shown).

        Raises like :meth:`respond`, and the wallet's errors
        (:class:`~wallet.errors.CredentialNotInWallet`, a revoked or expired
        credential, ``ClaimsUnavailable`` for a type the scene does not accept or a card
        held for another).
        """
        now = self.clock()
        record = self._pending(request_id, now)
        scene = self._verification.online.verifier().source.scene(record["scene"])
        query = parse_query(record["query"])
        held = self._vault.credential(citizen_id, credential_id)
        if credential_id in self.held_copies(citizen_id):
            # a ward's or a principal's card: only ever one set with its link, never alone
            raise ClaimsUnavailable("a card held for another is shown only with its link")
        query_id = next((q.id for q in query.credentials if held.vct in (q.vct_values or ())), None)
        if query_id is None:
            raise ClaimsUnavailable("the request does not ask for this credential type")
        optional = (_PORTRAIT,) if scene.portrait else ()
        shown = self._vault.present(
            citizen_id,
            credential_id,
            scene,
            optional=optional,
            aud=self.identity.client_id,
            nonce=record["nonce"],
        )
        params = {"vp_token": {query_id: [shown.text]}, "state": record["state"]}
        self._take(request_id, record, params, now)
        done = self._get(request_id, self.clock())
        return {} if done is None else dict(done["result"] or {})

    def decline(self, request_id: str) -> dict[str, Any]:
        """Our web wallet's refusal, after the citizen said no: taken as the wallet's error
        response (§8.5, ``access_denied``) whatever the request's response mode (the
        service is the wallet here: it encrypts nothing to itself). Returns the venue's
        result (``vp_declined``). Raises like :meth:`answer`."""
        now = self.clock()
        record = self._pending(request_id, now)
        self._take(request_id, record, {"error": "access_denied", "state": record["state"]}, now)
        done = self._get(request_id, self.clock())
        return {} if done is None else dict(done["result"] or {})

    def _take(
        self, request_id: str, record: dict[str, Any], params: Mapping[str, Any], now: float
    ) -> dict[str, Any]:
        """The checks of a response's parameters, and its result kept (see the module)."""
        if params.get("state") != record["state"]:
            raise VpResponseMalformed("The response's 'state' is not the request's.")
        # From here the response is the request's: the first one wins, whatever it holds.
        if not self._store.once(VP_RESPONSE_USED).put(
            _digest(request_id), b"", record["exp"] + RESULT_KEPT, now
        ):
            raise VpRequestAnswered("This request was answered already.")
        if "error" in params:  # §8.5: the wallet's error response
            result = self._verification.refused(record["scene"], VpDeclined.code, _declined(params))
            self._finish(request_id, record, result, now)
            return {}
        try:
            presentations = self._presentations(record, params.get("vp_token"))
        except (VpResponseMalformed, VpPresentationRefused) as err:
            code = "scene_unmet" if isinstance(err, VpPresentationRefused) else "malformed"
            result = self._verification.refused(record["scene"], code, err.message)
            self._verification.online.publish(new_event_id(), result, record["venue"], None)
            self._finish(request_id, record, result, now)
            raise
        result = self._verify(record, presentations)
        self._finish(request_id, record, result, now)
        if not result.valid:
            codes = ", ".join(dict.fromkeys(result.codes))
            raise VpPresentationRefused(f"The presentation was refused: {codes}.")
        return {}

    # -- the checks ---------------------------------------------------------------------

    def _params(self, record: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
        """The response's parameters: the form's, or those inside its JWE (§8.3)."""
        for name, value in form.items():
            if not isinstance(value, str) or len(value) > _MAX_FIELD:
                raise VpResponseMalformed(f"The form field {name[:32]!r} is too long.")
        if record["mode"] == "direct_post":
            if "response" in form:
                raise VpResponseMalformed("This request asks for 'direct_post', not a JWE.")
            return dict(form)
        if set(form) - {"response"} or "response" not in form:
            raise VpResponseMalformed(
                "This request asks for 'direct_post.jwt': post only 'response', a JWE."
            )
        return self._decrypt(record, form["response"])

    def _decrypt(self, record: Mapping[str, Any], token: str) -> dict[str, Any]:
        if len(token) > _MAX_JWE or token.count(".") != 4:
            raise VpResponseMalformed("'response' is not a compact JWE.")
        try:
            header = loads_object(b64url_decode(token.split(".", 1)[0]))
        except FormatError:
            raise VpResponseMalformed("The JWE's header is not a JSON object.") from None
        if header.get("alg") != _JWE_ALG or header.get("enc") not in ENC_VALUES:
            raise VpResponseMalformed(
                f"The JWE must use alg {_JWE_ALG} and enc one of {', '.join(ENC_VALUES)}."
            )
        if "zip" in header or "crit" in header:
            raise VpResponseMalformed("The JWE must not use 'zip' or 'crit'.")
        private = record["enc_jwk"]
        if "kid" in header and header["kid"] != _kid(private):
            raise VpResponseMalformed("The JWE's 'kid' is not the request's key.")
        try:
            jwe = jw_jwe.JWE(algs=[_JWE_ALG, *ENC_VALUES])
            jwe.deserialize(token, key=jw_jwk.JWK(**private))
            plaintext = jwe.payload
        except (JWException, ValueError, TypeError):
            raise VpResponseMalformed("The JWE does not decrypt with the request's key.") from None
        try:
            return loads_object(plaintext)
        except FormatError:
            raise VpResponseMalformed("The JWE's payload is not a JSON object.") from None

    def _presentations(self, record: Mapping[str, Any], vp_token: object) -> list[str]:
        """The presentations of a ``vp_token`` (§8.1) that answers the query: checked on
        what they disclose (unverified yet: the verifier checks every byte after)."""
        if isinstance(vp_token, str):
            try:
                vp_token = loads(vp_token)
            except FormatError:
                raise VpResponseMalformed("'vp_token' is not JSON.") from None
        if not isinstance(vp_token, dict) or not vp_token:
            raise VpResponseMalformed("'vp_token' must be a JSON object: query id -> array.")
        try:
            query = parse_query(record["query"])
        except DcqlInvalid:  # our own query: never
            raise VpResponseMalformed("The request's query cannot be read.") from None
        ids = {q.id for q in query.credentials}
        presentations: list[str] = []
        candidates: list[Candidate] = []
        owners: list[str] = []
        for query_id, entries in vp_token.items():
            if query_id not in ids:
                raise VpResponseMalformed("'vp_token' names a query the request does not have.")
            if (
                not isinstance(entries, list)
                or not 1 <= len(entries) <= _MAX_PER_QUERY
                or not all(isinstance(e, str) and e for e in entries)
            ):
                raise VpResponseMalformed("Each 'vp_token' entry is an array of presentations.")
            if len(entries) > 1 and not query.credential(query_id).multiple:
                raise VpResponseMalformed("One presentation per query: 'multiple' is false.")
            for text in entries:
                candidate, disclosed = _candidate(text)
                extra = sorted(disclosed - _allowed_names(query, query_id))
                if extra:
                    raise VpPresentationRefused(
                        f"Claims disclosed beyond the request: {', '.join(extra)[:200]}."
                    )
                presentations.append(text)
                candidates.append(candidate)
                owners.append(query_id)
        if len(presentations) > _MAX_PRESENTATIONS:
            raise VpResponseMalformed("Too many presentations in 'vp_token'.")
        selection = evaluate(query, candidates)
        if not selection.satisfied:
            raise VpPresentationRefused("The presentations do not satisfy the request's query.")
        for index, query_id in enumerate(owners):
            if query_id not in selection.chosen or not any(
                m.index == index for m in selection.matches[query_id]
            ):
                raise VpPresentationRefused("A presentation does not match the query it answers.")
        return presentations

    def _verify(
        self, record: Mapping[str, Any], presentations: Sequence[str]
    ) -> VerificationResult:
        """The presentations verified like a scanned QR, but for the request's client id
        and nonce: one alone, or several (a scene's ``all_of``) together as one set
        presentation (docs/formats.md: one holder, every member named in the result)."""
        if len(presentations) == 1:
            text = presentations[0]
        else:
            text = json.dumps(list(presentations), separators=(",", ":"))
        return self._verification.online.verify(
            text,
            record["scene"],
            venue_id=record["venue"],
            expected_aud=self.identity.client_id,
            expected_nonce=record["nonce"],
        )

    # -- the store ------------------------------------------------------------------------

    def _pending(self, request_id: str, now: float) -> dict[str, Any]:
        record = self._get(request_id, now)
        if record is None:
            raise VpRequestNotFound("No request with this id.")
        if record["result"] is not None:
            raise VpRequestAnswered("This request was answered already.")
        if now > record["exp"]:
            raise VpRequestExpired("This request has expired: ask the venue for a new one.")
        return record

    def _finish(
        self,
        request_id: str,
        record: dict[str, Any],
        result: VerificationResult,
        now: float,
    ) -> None:
        done = {**record, "enc_jwk": None, "result": dict(result.to_dict())}
        self._put(request_id, done, now, replace=True)

    def _put(
        self, request_id: str, record: Mapping[str, Any], now: float, *, replace: bool = False
    ) -> None:
        key = VP_REQUEST.key(_digest(request_id))
        blob = self._envelope.seal(dumps_compact(dict(record)).encode("utf-8"), _AAD + key.encode())
        self._store.once(VP_REQUEST).put(
            _digest(request_id), blob, record["exp"] + RESULT_KEPT, now, replace=replace
        )

    def _get(self, request_id: str, now: float) -> dict[str, Any] | None:
        if not isinstance(request_id, str) or not 1 <= len(request_id) <= 64:
            return None
        name = _digest(request_id)
        blob = self._store.once(VP_REQUEST).get(name, now)
        if blob is None:
            return None
        try:
            return loads_object(self._envelope.open(blob, _AAD + VP_REQUEST.key(name).encode()))
        except (SealBroken, FormatError):
            return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _kid(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 thumbprint of an EC key (its ``kid`` in ``jwks``)."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def _declined(params: Mapping[str, Any]) -> str:
    error = params.get("error")
    text = error if isinstance(error, str) else "error"
    printable = "".join(c for c in text if c.isascii() and (c.isalnum() or c in "_-"))[:64]
    return f"The wallet declined the request ({printable or 'error'})."


def _payload(text: str) -> tuple[dict[str, Any], list[Any]]:
    """The unverified issuer payload and the disclosures of an SD-JWT+KB."""
    if len(text) > _MAX_FIELD:
        raise VpResponseMalformed("A presentation is too long.")
    try:
        issuer_jwt, disclosures, kb = split(text)
        if not kb:
            raise VpResponseMalformed("A presentation has no key-binding JWT.")
        parts = issuer_jwt.split(".")
        if len(parts) != 3:
            raise VpResponseMalformed("A presentation's issuer JWT is not a compact JWS.")
        payload = loads_object(b64url_decode(parts[1]))
        return payload, [decode_disclosure(d) for d in disclosures]
    except FormatError:
        raise VpResponseMalformed("A presentation is not an SD-JWT with key binding.") from None


def _candidate(text: str) -> tuple[Candidate, set[str]]:
    """What a presentation shows (its claims in the clear and those it discloses, for
    DCQL) and the names of the claims it chose to disclose."""
    payload, disclosures = _payload(text)
    vct = payload.get("vct")
    if not isinstance(vct, str):
        raise VpResponseMalformed("A presentation's credential has no 'vct'.")
    claims = {k: v for k, v in payload.items() if k not in _RESERVED}
    disclosed = {d.name: d.value for d in disclosures if d.name is not None}
    claims.update(disclosed)
    return Candidate(vct=vct, claims=claims), set(disclosed)


def _allowed_names(query: DcqlQuery, query_id: str) -> set[str]:
    """The top-level claim names a Credential Query asks for (any claim set's)."""
    names: set[str] = set()
    for claim in query.credential(query_id).claims or ():
        if claim.path and isinstance(claim.path[0], str):
            names.add(claim.path[0])
    return names
