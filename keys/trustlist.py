"""The signed trust list (DESIGN.md §3): which issuers, keys, types and scenes to trust.

A trust list is a compact JWS, ``typ: trustlist+jwt``, signed by the platform's trust
anchor. Verifiers pin the anchor's public JWK; everything else (issuer keys, the
credential types each issuer may issue, the scene policies) arrives through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, TypedDict

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from keys.errors import EcertError, FormatError, SignatureInvalid, TrustListError
from keys.jws import sign_compact, verify_compact
from keys.models import LocalizedName, StrictModel, refusal
from keys.signing import SigningKey, VerifyingKey

TYP = "trustlist+jwt"
#: Defaults: a trust list is valid for a week and should be re-fetched hourly.
DEFAULT_LIFETIME = 7 * 24 * 3600
DEFAULT_TTL = 3600
#: Largest trust-list token accepted, in characters.
MAX_TRUST_LIST = 8 * 1024 * 1024
#: The claim a scene with ``portrait: true`` receives besides its ``accept`` claims, from
#: online presentations only (an offline QR code is too small for an image).
PORTRAIT_CLAIM = "portrait"
#: Most credential types a scene's ``all_of`` set may require.
MAX_SET = 4


#: NumericDate and other integers: exactly representable in JSON (I-JSON, ±2^53).
Int53 = Annotated[int, Field(ge=-(2**53), le=2**53)]


class LocalizedNameDict(TypedDict):
    """The JSON form of a :class:`~keys.models.LocalizedName`."""

    zh: str
    en: str


class JWKSDict(TypedDict):
    """A JWK Set (RFC 7517 §5)."""

    keys: list[dict[str, Any]]


class IssuerEntryDict(TypedDict):
    """One issuer in the trust list payload."""

    iss: str
    name: LocalizedNameDict
    jwks: JWKSDict
    revoked_kids: list[str]
    vcts: list[str]
    #: the proof types (``issuer/data/proofs.json`` ids) the issuer may answer; absent
    #: in trust lists made before proofs (none)
    proof_types: NotRequired[list[str]]


class AcceptDict(TypedDict):
    """A credential type a scene accepts, and the claims it needs disclosed."""

    vct: str
    claims: list[str]


class SceneDict(TypedDict):
    """The JSON form of a :class:`Scene` (the trust list, the catalogue's scenes.json)."""

    id: str
    name: LocalizedNameDict
    accept: list[AcceptDict]
    max_age: int
    portrait: NotRequired[bool]
    #: a set of credentials that must all be presented together ("all of"); absent when none
    all_of: NotRequired[list[AcceptDict]]
    #: the scene needs a live status check (an online QR code); absent when false
    online: NotRequired[bool]
    #: the programme's category of scene (``issuer/data/scene_categories.json`` ids)
    category: NotRequired[str]
    #: a guardian may present a ward's credential with the guardianship credential
    guardian: NotRequired[bool]
    #: an authorised carer may present for the principal who authorised them
    carer: NotRequired[bool]


class TrustListPayload(TypedDict):
    """The payload of a ``trustlist+jwt``."""

    iss: str
    iat: int
    exp: int
    ttl: int
    issuers: list[IssuerEntryDict]
    scenes: list[SceneDict]


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer as a verifier sees it: its keys by ``kid``, revoked kids, allowed types."""

    iss: str
    name: LocalizedName
    keys: Mapping[str, VerifyingKey]
    revoked_kids: frozenset[str]
    vcts: frozenset[str]
    #: the proof types the issuer may answer (sign ``proof+jwt`` answers for)
    proof_types: frozenset[str] = frozenset()


class AcceptRule(StrictModel):
    """One entry of a scene's ``accept`` in JSON: a ``vct`` and the claims to disclose."""

    vct: str
    claims: list[str]


class Scene(StrictModel):
    """A scene policy: accepted ``vct`` → the claims that must be disclosed.

    The one form of a scene. ``Scene.model_validate(json)`` reads the JSON form
    (:class:`SceneDict`: ``accept`` a non-empty array of ``{"vct", "claims"}``, no
    ``vct`` twice); :meth:`to_json` writes it back.

    ``portrait``: the venue staff must match the person against a portrait
    (:data:`PORTRAIT_CLAIM`). An online presentation for the scene discloses it when
    the credential has one, and the verifier returns it; it is never required (an
    offline QR code never carries it: staff then check an ID document). Written in
    the JSON form only when true.

    ``all_of``: a set of credential types that must all be presented together, each
    with its claims (2 to :data:`MAX_SET` entries, no ``vct`` twice), beside ``accept``
    (one of). A scene has ``accept`` or ``all_of`` or both; ``accept`` is then written
    as ``[]`` when empty. ``online``: the scene needs a live status check (an online
    code). ``category``: the programme's category of the scene. ``guardian``: a
    guardian may present a ward's credential together with the guardianship
    credential. ``carer``: an authorised carer may present for the principal. The
    optional members are written in the JSON form only when set.
    """

    id: str
    name: LocalizedName
    # all_of before accept: pydantic checks fields in this order, and an empty accept
    # is refused only when there is no all_of
    all_of: tuple[tuple[str, tuple[str, ...]], ...] = ()
    accept: Mapping[str, tuple[str, ...]]
    max_age: Annotated[int, Field(gt=0, le=2**53)]
    portrait: bool = False
    online: bool = False
    category: str | None = None
    guardian: bool = False
    carer: bool = False

    @field_validator("accept", mode="before")
    @classmethod
    def _accept_rules(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, Mapping) and not all(isinstance(c, tuple) for c in value.values()):
            raise ValueError("must be an array of {'vct', 'claims'} objects")
        if not isinstance(value, list):
            return value  # a mapping given in code: checked as the field's type
        if not value and not info.data.get("all_of"):
            raise ValueError("must not be empty when there is no 'all_of'")
        return dict(_accept_entries(value))

    @field_validator("all_of", mode="before")
    @classmethod
    def _all_of_rules(cls, value: object) -> object:
        if not isinstance(value, list):
            return value  # a tuple given in code: checked as the field's type
        if not 2 <= len(value) <= MAX_SET:
            raise ValueError(f"must list from 2 to {MAX_SET} credential types")
        return tuple(_accept_entries(value))

    def to_json(self) -> SceneDict:
        """The JSON form."""
        scene: SceneDict = {
            "id": self.id,
            "name": {"zh": self.name.zh, "en": self.name.en},
            "accept": [{"vct": v, "claims": list(c)} for v, c in self.accept.items()],
            "max_age": self.max_age,
        }
        if self.portrait:
            scene["portrait"] = True
        if self.all_of:
            scene["all_of"] = [{"vct": v, "claims": list(c)} for v, c in self.all_of]
        if self.online:
            scene["online"] = True
        if self.category is not None:
            scene["category"] = self.category
        if self.guardian:
            scene["guardian"] = True
        if self.carer:
            scene["carer"] = True
        return scene


def _accept_entries(value: list[object]) -> list[tuple[str, tuple[str, ...]]]:
    """``[{"vct", "claims"}, ...]`` as ``(vct, claims)`` pairs, no ``vct`` twice."""
    rules: list[tuple[str, tuple[str, ...]]] = []
    for raw in value:
        rule = AcceptRule.model_validate(raw)
        if any(rule.vct == vct for vct, _ in rules):
            raise ValueError("a scene lists the same 'vct' twice")
        rules.append((rule.vct, tuple(rule.claims)))
    return rules


@dataclass(frozen=True, slots=True)
class TrustList:
    """A trust list whose signature has been verified against the pinned anchor."""

    iss: str
    iat: int
    exp: int
    ttl: int
    issuers: Mapping[str, TrustedIssuer]
    scenes: Mapping[str, Scene]
    #: the signed compact JWS it came from; "" for one built in memory
    #: (:func:`trust_list_from_payload`)
    token: str


def build_trust_list(
    anchor: SigningKey,
    *,
    anchor_id: str,
    issuers: Sequence[IssuerEntryDict],
    scenes: Sequence[SceneDict],
    now: int,
    lifetime: int = DEFAULT_LIFETIME,
    ttl: int = DEFAULT_TTL,
) -> str:
    """Sign a trust list with the anchor key.

    The result is checked by :func:`verify_trust_list` before it is returned, so a
    list that no verifier would accept is never published. Raises :class:`TrustListError`.
    """
    payload: TrustListPayload = {
        "iss": anchor_id,
        "iat": now,
        "exp": now + lifetime,
        "ttl": ttl,
        "issuers": list(issuers),
        "scenes": list(scenes),
    }
    token = sign_compact(payload, anchor, typ=TYP)
    verify_trust_list(token, anchor.verifying_key())
    return token


def pinned_anchors(anchor: VerifyingKey | Mapping[str, Any]) -> dict[str, VerifyingKey]:
    """The pinned anchor keys by ``kid``: one public JWK, or a JWK Set ``{"keys": [...]}``.

    A set lets an operator rotate the anchor without a flag day: verifiers pin the old
    and the new key first, and the trust list switches signers later (docs/operations.md).
    Raises :class:`~keys.errors.InvalidJWK`.
    """
    if isinstance(anchor, VerifyingKey):
        return {anchor.kid: anchor}
    raw = anchor.get("keys")
    jwks = raw if isinstance(raw, list) else [anchor]
    keys = [VerifyingKey.from_jwk(jwk) for jwk in jwks]
    if not keys:
        raise TrustListError("no anchor key is pinned")
    return {key.kid: key for key in keys}


def verify_trust_list(token: str, anchor: VerifyingKey | Mapping[str, Any]) -> TrustList:
    """Verify a trust list against the pinned anchor key(s) and parse it strictly.

    ``anchor`` is one public JWK, a JWK Set of pinned anchors, or a
    :class:`VerifyingKey`. Expiry is *not* judged here: the verifier compares ``exp``
    with its own clock and reports ``trust_list_stale``. Raises :class:`TrustListError`
    (bad signature, wrong ``typ`` or anchor, malformed content).
    """
    try:
        anchors = pinned_anchors(anchor)

        def anchor_key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> VerifyingKey:
            key = anchors.get(header.get("kid", ""))
            if key is None or header["alg"] != key.alg:
                raise TrustListError("trust list is not signed by the pinned anchor key")
            return key

        jws = verify_compact(token, TYP, anchor_key, max_length=MAX_TRUST_LIST)
        return _parse_payload(jws.payload, token)
    except TrustListError:
        raise
    except SignatureInvalid as err:
        raise TrustListError("trust list signature does not verify with the anchor key") from err
    except EcertError as err:
        raise TrustListError(f"trust list rejected: {err.message}") from err


def trust_list_from_payload(payload: Mapping[str, Any]) -> TrustList:
    """Parse a trust-list payload held in memory (trusted data: nothing is signed).

    The same strict checks as :func:`verify_trust_list` apply to the content; the
    result's ``token`` is empty. For a verifier inside the process that owns the
    registry (the online service), which has no reason to sign a list only to parse it
    again. Raises :class:`TrustListError`.
    """
    try:
        return _parse_payload(payload, "")
    except TrustListError:
        raise
    except EcertError as err:
        raise TrustListError(f"trust list rejected: {err.message}") from err


class _JWKS(StrictModel):
    keys: list[dict[str, Any]]


class _IssuerEntry(StrictModel):
    iss: str
    name: LocalizedName
    jwks: _JWKS
    revoked_kids: list[str] = Field(default_factory=list)
    vcts: list[str]
    proof_types: list[str] = Field(default_factory=list)


class _Payload(StrictModel):
    """The payload of a ``trustlist+jwt`` (the model of :class:`TrustListPayload`)."""

    iss: str
    iat: Int53
    exp: Int53
    ttl: Int53
    issuers: list[_IssuerEntry]
    scenes: list[Scene]


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise FormatError(f"trust list: {what}")


def _parse_payload(payload: Mapping[str, Any], token: str) -> TrustList:
    try:
        model = _Payload.model_validate(payload)
    except ValidationError as err:
        raise FormatError(refusal(err, "trust list")) from None
    issuers: dict[str, TrustedIssuer] = {}
    for entry in model.issuers:
        _need(entry.iss not in issuers, "issuer 'iss' repeated")
        keys: dict[str, VerifyingKey] = {}
        for jwk in entry.jwks.keys:
            _need(isinstance(jwk.get("kid"), str), "a key needs 'kid'")
            key = VerifyingKey.from_jwk(jwk)
            _need(key.kid not in keys, "a kid is repeated")
            keys[key.kid] = key
        issuers[entry.iss] = TrustedIssuer(
            iss=entry.iss,
            name=entry.name,
            keys=keys,
            revoked_kids=frozenset(entry.revoked_kids),
            vcts=frozenset(entry.vcts),
            proof_types=frozenset(entry.proof_types),
        )
    scenes: dict[str, Scene] = {}
    for scene in model.scenes:
        _need(scene.id not in scenes, "scene 'id' repeated")
        scenes[scene.id] = scene
    return TrustList(
        iss=model.iss,
        iat=model.iat,
        exp=model.exp,
        ttl=model.ttl,
        issuers=issuers,
        scenes=scenes,
        token=token,
    )
