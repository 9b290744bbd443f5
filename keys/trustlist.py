"""The signed trust list (DESIGN.md §3): which issuers, keys, types and scenes to trust.

A trust list is a compact JWS, ``typ: trustlist+jwt``, signed by the platform's trust
anchor. Verifiers pin the anchor's public JWK; everything else (issuer keys, the
credential types each issuer may issue, the scene policies) arrives through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from keys.errors import EcertError, FormatError, SignatureInvalid, TrustListError
from keys.jws import sign_compact, verify_compact
from keys.numericdate import numeric_date
from keys.signing import SigningKey, VerifyingKey

TYP = "trustlist+jwt"
#: Defaults: a trust list is valid for a week and should be re-fetched hourly.
DEFAULT_LIFETIME = 7 * 24 * 3600
DEFAULT_TTL = 3600
#: Largest trust-list token accepted, in characters.
MAX_TRUST_LIST = 8 * 1024 * 1024


class LocalizedName(TypedDict):
    """A name in Chinese and English."""

    zh: str
    en: str


class JWKSDict(TypedDict):
    """A JWK Set (RFC 7517 §5)."""

    keys: list[dict[str, Any]]


class IssuerEntryDict(TypedDict):
    """One issuer in the trust list payload."""

    iss: str
    name: LocalizedName
    jwks: JWKSDict
    revoked_kids: list[str]
    vcts: list[str]


class AcceptDict(TypedDict):
    """A credential type a scene accepts, and the claims it needs disclosed."""

    vct: str
    claims: list[str]


class SceneDict(TypedDict):
    """A scene policy in the trust list payload."""

    id: str
    name: LocalizedName
    accept: list[AcceptDict]
    max_age: int


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


@dataclass(frozen=True, slots=True)
class Scene:
    """A scene policy: accepted ``vct`` → the claims that must be disclosed."""

    id: str
    name: LocalizedName
    accept: Mapping[str, tuple[str, ...]]
    max_age: int


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


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise FormatError(f"trust list: {what}")


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(value: object, what: str) -> LocalizedName:
    _need(
        isinstance(value, dict)
        and isinstance(value.get("zh"), str)
        and isinstance(value.get("en"), str),
        f"{what} needs 'zh' and 'en' names",
    )
    assert isinstance(value, dict)
    return {"zh": value["zh"], "en": value["en"]}


def _strings(value: object, what: str) -> tuple[str, ...]:
    _need(
        isinstance(value, list) and all(isinstance(v, str) for v in value),
        f"{what} must be an array of strings",
    )
    assert isinstance(value, list)
    return tuple(value)


def _parse_payload(payload: Mapping[str, Any], token: str) -> TrustList:
    for member in ("iat", "exp"):  # integers within ±2^53; a present null is refused
        numeric_date(payload, member, integer=True, where="the trust list")
    _need(_int(payload.get("ttl")), "'ttl' must be an integer")
    _need(isinstance(payload.get("iss"), str), "'iss' must be a string")
    raw_issuers = payload.get("issuers")
    raw_scenes = payload.get("scenes")
    _need(isinstance(raw_issuers, list), "'issuers' must be an array")
    _need(isinstance(raw_scenes, list), "'scenes' must be an array")
    assert isinstance(raw_issuers, list) and isinstance(raw_scenes, list)

    issuers: dict[str, TrustedIssuer] = {}
    for entry in raw_issuers:
        _need(isinstance(entry, dict), "an issuer entry must be an object")
        iss = entry.get("iss")
        _need(isinstance(iss, str) and iss not in issuers, "issuer 'iss' missing or repeated")
        jwks = entry.get("jwks")
        _need(isinstance(jwks, dict) and isinstance(jwks.get("keys"), list), "'jwks' malformed")
        keys: dict[str, VerifyingKey] = {}
        for jwk in jwks["keys"]:
            _need(isinstance(jwk, dict) and isinstance(jwk.get("kid"), str), "a key needs 'kid'")
            key = VerifyingKey.from_jwk(jwk)
            _need(key.kid not in keys, "a kid is repeated")
            keys[key.kid] = key
        issuers[iss] = TrustedIssuer(
            iss=iss,
            name=_name(entry.get("name"), "an issuer"),
            keys=keys,
            revoked_kids=frozenset(_strings(entry.get("revoked_kids", []), "'revoked_kids'")),
            vcts=frozenset(_strings(entry.get("vcts"), "'vcts'")),
        )

    scenes: dict[str, Scene] = {}
    for entry in raw_scenes:
        _need(isinstance(entry, dict), "a scene must be an object")
        sid = entry.get("id")
        _need(isinstance(sid, str) and sid not in scenes, "scene 'id' missing or repeated")
        _need(_int(entry.get("max_age")) and entry["max_age"] > 0, "scene 'max_age' invalid")
        accept = entry.get("accept")
        _need(isinstance(accept, list) and len(accept) > 0, "scene 'accept' must be non-empty")
        rules: dict[str, tuple[str, ...]] = {}
        for rule in accept:
            _need(isinstance(rule, dict) and isinstance(rule.get("vct"), str), "bad accept rule")
            _need(rule["vct"] not in rules, "a scene lists the same 'vct' twice")
            rules[rule["vct"]] = _strings(rule.get("claims"), "accept 'claims'")
        scenes[sid] = Scene(sid, _name(entry.get("name"), "a scene"), rules, entry["max_age"])

    return TrustList(
        iss=payload["iss"],
        iat=payload["iat"],
        exp=payload["exp"],
        ttl=payload["ttl"],
        issuers=issuers,
        scenes=scenes,
        token=token,
    )
