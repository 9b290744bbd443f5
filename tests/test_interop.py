"""Interoperability with the SD-JWT reference implementation (PyPI ``sd-jwt`` 0.10).

Both directions, with the reference's own classes (``SDJWTIssuer``, ``SDJWTHolder``,
``SDJWTVerifier``) and keys moved between us and ``jwcrypto`` through JWK JSON:

* what we issue and present, the reference verifier accepts, with the same claims;
* what the reference issues and presents, our offline verifier accepts for the hotel
  scene through a trust list and a status list that we sign, and rejects once revoked;
* nested (recursive) and array-element disclosures issued by the reference resolve
  through :func:`sdjwt.resolve` exactly as the reference verifier resolves them.

Known differences, each pinned by a test below:

* The reference's default SD-JWT ``typ`` is ``example+sd-jwt`` (``SDJWTCommon.SD_JWT_HEADER``,
  settable by the ``SD_JWT_HEADER`` environment variable); SD-JWT VC requires
  ``dc+sd-jwt`` (earlier drafts: ``vc+sd-jwt``). An issuer using the reference must pass
  ``extra_header_parameters={"typ": "dc+sd-jwt", "kid": …}``; with that, it interoperates.
  The reference's KB-JWT ``typ`` is ``kb+jwt``, as RFC 9901 §4.3 and our verifier require.
* RFC 9901 §7.1 step 5: a disclosure that the issuer-signed JWT does not reference
  (directly or inside another disclosure) makes the SD-JWT invalid. Our resolver
  rejects it (``disclosure_invalid``); the reference verifier 0.10 silently drops it.
* With ``add_decoy_claims=True`` the reference adds decoy digests to *every* object,
  including ``cnf``, ``cnf.jwk``, ``status`` and ``status.status_list``. We accept that:
  our verifier reads ``cnf.jwk`` and ``status.status_list`` members by name and the
  JWK parser ignores the extra ``_sd`` member.
* The reference verifier checks neither ``exp``/``nbf`` nor the KB-JWT ``iat`` ("TODO" in
  its source), and verifies a KB-JWT only with ES256 (``DEFAULT_SIGNING_ALG``). Our
  wallets hold P-256 keys, so that does not limit the tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from jwcrypto.jws import InvalidJWSSignature
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

import sdjwt
from cli.demo import DEMO_CLAIMS
from issuer import CredentialIssuer, Keyring, Platform, StatusRegistry
from keys import KeyWrapper, SigningKey, generate_secret, sign_compact
from keys.jwk import Alg
from service.publication import Publication
from store.sqlite import SQLiteStore
from tests.interop_helpers import (
    HOTEL_CLAIMS,
    VCT,
    ForeignIssuer,
    private_jwcrypto,
    public_jwcrypto,
    raw_payload,
    split_presentation,
    unverified_header,
    unverified_payload,
)
from verifier import Verifier
from wallet import Wallet, present

CLAIMS = DEMO_CLAIMS
ALGS = [pytest.param("ES256", id="ES256"), pytest.param("EdDSA", id="EdDSA")]
#: Plain claims of every credential, that no presentation hides.
PLAIN = ("iss", "iat", "exp", "vct", "cnf", "status")


# -- our side: a platform with one ES256 and one EdDSA issuer ------------------------


@dataclass
class Ecert:
    platform: Platform
    status: StatusRegistry
    credentials: CredentialIssuer
    keyring: Keyring
    publication: Publication

    def issuer_url(self, alg: Alg) -> str:
        return self.platform.issuer_url("police" if alg == "ES256" else "police-ed")

    def issuer_jwk(self, alg: Alg) -> dict[str, Any]:
        return dict(self.keyring.signing_key(self.issuer_url(alg)).public_jwk())

    def issue(self, alg: Alg, wallet: Wallet, *, decoys: int = 0) -> str:
        issued = self.credentials.issue(
            self.issuer_url(alg),
            VCT,
            subject="c1",
            claims=CLAIMS,
            holder_jwk=wallet.holder_jwk,
            decoys=decoys,
        )
        return issued.sd_jwt

    def verifier(self) -> Verifier:
        bundle = self.publication.bundle(max_age=0)
        return Verifier(bundle, anchor=self.platform.anchor_jwk())


@pytest.fixture(scope="module")
def ecert(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ecert]:
    store = SQLiteStore(str(Path(tmp_path_factory.mktemp("interop")) / "ecert.db"))
    keyring = Keyring(store, KeyWrapper(generate_secret()))
    platform = Platform(store, keyring, base_url="https://ecert.example")
    platform.ensure_anchor()
    algs: tuple[tuple[str, Alg], ...] = (("police", "ES256"), ("police-ed", "EdDSA"))
    for slug, alg in algs:
        platform.register_issuer(slug, name_zh="公安局", name_en="Police", vcts=[VCT], alg=alg)
    status = StatusRegistry(store, list_size=4096)
    try:
        credentials = CredentialIssuer(store, keyring, status)
        publication = Publication(store, keyring, platform, status)
        yield Ecert(platform, status, credentials, keyring, publication)
    finally:
        store.close()


class KeyCallback:
    """``cb_get_issuer_key`` for the reference verifier: our issuer's key, and a record
    of what the reference asked for."""

    def __init__(self, jwk: Mapping[str, Any]) -> None:
        self.key = public_jwcrypto(jwk)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, issuer: str, header: dict[str, Any]) -> JWK:
        self.calls.append((issuer, dict(header)))
        return self.key


def kb_nonce(presentation: str) -> str:
    """The nonce our wallet chose, read from the (unverified) KB-JWT."""
    nonce = unverified_payload(split_presentation(presentation)[2])["nonce"]
    assert isinstance(nonce, str)
    return nonce


def disclosed_names(disclosures: list[str]) -> set[str]:
    return {sdjwt.decode_disclosure(d).name or "" for d in disclosures}


# -- a. the reference verifier accepts what we issue and present ---------------------


@pytest.mark.parametrize("decoys", [0, 3], ids=["no-decoys", "decoys"])
@pytest.mark.parametrize("alg", ALGS)
def test_reference_verifier_accepts_our_presentation(ecert: Ecert, alg: Alg, decoys: int) -> None:
    wallet = Wallet()
    held = wallet.add(ecert.issue(alg, wallet, decoys=decoys))
    ours = ecert.verifier()
    presentation = wallet.present_for_scene(held, ours.trust_list.scenes["hotel"])
    jwt, disclosures, kb = split_presentation(presentation)
    assert kb, "our wallet always binds the presentation"

    callback = KeyCallback(ecert.issuer_jwk(alg))
    reference = SDJWTVerifier(
        presentation,
        callback,
        expected_aud="hotel",
        expected_nonce=kb_nonce(presentation),
        serialization_format="compact",
    )
    theirs = reference.get_verified_payload()

    # The reference looked the key up by our iss and saw our header.
    [(asked_iss, header)] = callback.calls
    assert asked_iss == ecert.issuer_url(alg)
    assert header == {"alg": alg, "typ": "dc+sd-jwt", "kid": callback.key.thumbprint()}
    # It resolves exactly what we resolve, on both of our paths ...
    assert theirs == sdjwt.resolve(unverified_payload(jwt), disclosures)
    assert theirs == sdjwt.resolve(
        unverified_payload(jwt), disclosures, raw_payload=raw_payload(jwt)
    )
    # ... and sees exactly the scene's claims, plus the always-visible ones.
    assert set(theirs) == set(PLAIN) | set(HOTEL_CLAIMS)
    assert disclosed_names(disclosures) == set(HOTEL_CLAIMS)

    result = ours.verify(presentation, "hotel")
    assert result.valid, result.errors
    assert result.claims == {name: theirs[name] for name in HOTEL_CLAIMS}
    assert result.claims == {name: CLAIMS[name] for name in HOTEL_CLAIMS}


@pytest.mark.parametrize("alg", ALGS)
def test_reference_verifier_accepts_our_credential_without_key_binding(
    ecert: Ecert, alg: Alg
) -> None:
    """RFC 9901 §4: an SD-JWT without KB-JWT (``jwt~d1~…~``); the reference accepts it when
    no audience and nonce are expected. Ours always demands key binding (DESIGN.md §3)."""
    wallet = Wallet()
    sd_jwt = ecert.issue(alg, wallet)
    reference = SDJWTVerifier(
        sd_jwt, KeyCallback(ecert.issuer_jwk(alg)), serialization_format="compact"
    )
    theirs = reference.get_verified_payload()
    jwt, disclosures, kb = split_presentation(sd_jwt)
    assert kb == ""
    assert theirs == sdjwt.resolve(unverified_payload(jwt), disclosures)
    assert {k: v for k, v in theirs.items() if k not in PLAIN} == CLAIMS
    assert theirs["cnf"] == {"jwk": {k: wallet.holder_jwk[k] for k in ("kty", "crv", "x", "y")}}

    # The same issuance cut down to the hotel claims, still without KB-JWT.
    held = wallet.add(sd_jwt)
    subset = "~".join([jwt, *(d for n in HOTEL_CLAIMS for d in held.disclosures[n])]) + "~"
    theirs = SDJWTVerifier(
        subset, KeyCallback(ecert.issuer_jwk(alg)), serialization_format="compact"
    ).get_verified_payload()
    assert {k: v for k, v in theirs.items() if k not in PLAIN} == {
        n: CLAIMS[n] for n in HOTEL_CLAIMS
    }

    assert ecert.verifier().verify(subset, "hotel").codes == ["key_binding_missing"]


@pytest.mark.parametrize(
    ("case", "error"),
    [
        pytest.param("aud", ValueError, id="wrong-aud"),
        pytest.param("nonce", ValueError, id="wrong-nonce"),
        pytest.param("issuer-key", InvalidJWSSignature, id="other-issuer-key"),
        pytest.param("holder-key", InvalidJWSSignature, id="kb-signed-by-other-holder"),
    ],
)
def test_reference_verifier_really_checks_our_presentation(
    ecert: Ecert, case: str, error: type[Exception]
) -> None:
    """The acceptance above means something: the reference refuses what it should."""
    wallet = Wallet()
    held = wallet.add(ecert.issue("ES256", wallet))
    issuer_jwk = ecert.issuer_jwk("ES256")
    aud, nonce = "hotel", "n-0123456789abcdef"
    presentation = present(held, HOTEL_CLAIMS, holder_key=wallet.holder_key, aud=aud, nonce=nonce)
    if case == "holder-key":
        jwt, disclosures, _ = split_presentation(presentation)
        presentation = bind(jwt, disclosures, SigningKey.generate("ES256"), aud=aud, nonce=nonce)
    if case == "aud":
        aud = "bank"
    elif case == "nonce":
        nonce = "n-other"
    elif case == "issuer-key":
        issuer_jwk = dict(SigningKey.generate("ES256").public_jwk())
    with pytest.raises(error):
        SDJWTVerifier(
            presentation,
            KeyCallback(issuer_jwk),
            expected_aud=aud,
            expected_nonce=nonce,
            serialization_format="compact",
        )


def test_reference_holder_presents_our_credential(ecert: Ecert) -> None:
    """Our issuer → the reference holder (its own KB-JWT) → our verifier."""
    wallet = Wallet()
    sd_jwt = ecert.issue("ES256", wallet)
    holder = SDJWTHolder(sd_jwt, serialization_format="compact")
    holder.create_presentation(
        {name: True for name in HOTEL_CLAIMS},
        nonce="n-ref-holder-1",
        aud="hotel",
        holder_key=private_jwcrypto(wallet.holder_key),
        sign_alg="ES256",
    )
    result = ecert.verifier().verify(holder.sd_jwt_presentation, "hotel")
    assert result.valid, result.errors
    assert result.claims == {name: CLAIMS[name] for name in HOTEL_CLAIMS}


# -- b. we verify what the reference issues ----------------------------------------


@pytest.fixture(params=ALGS)
def foreign(request: pytest.FixtureRequest) -> ForeignIssuer:
    """An issuer outside our platform, signing with the reference implementation."""
    return ForeignIssuer(
        iss="https://other-province.example/issuers/police",
        key=SigningKey.generate(request.param),
        anchor=SigningKey.generate("ES256"),
    )


STATUS_IDX = 517


def reference_issue(
    foreign: ForeignIssuer,
    holder: SigningKey,
    now: int,
    *,
    claims: Mapping[Any, Any] | None = None,
    header: Mapping[str, Any] | None = None,
    cnf_in_claims: bool = True,
    decoys: bool = False,
) -> str:
    """An SD-JWT VC issued by ``SDJWTIssuer`` in our profile: ``iss``, ``iat``, ``exp``,
    ``vct``, ``cnf.jwk``, ``status.status_list`` plain, personal claims as ``SDObj``."""
    user_claims: dict[Any, Any] = {
        "iss": foreign.iss,
        "iat": now,
        "exp": now + 365 * 86400,
        "vct": VCT,
        "status": {"status_list": {"idx": STATUS_IDX, "uri": foreign.status_uri}},
    }
    if cnf_in_claims:
        user_claims["cnf"] = {"jwk": dict(holder.public_jwk())}
    if claims is None:
        claims = {SDObj(name): value for name, value in CLAIMS.items()}
    user_claims.update(claims)
    issuer = SDJWTIssuer(
        user_claims,
        private_jwcrypto(foreign.key),
        holder_key=None if cnf_in_claims else private_jwcrypto(holder),
        sign_alg=foreign.key.alg,
        add_decoy_claims=decoys,
        serialization_format="compact",
        extra_header_parameters=(
            {"typ": "dc+sd-jwt", "kid": foreign.key.kid} if header is None else dict(header)
        ),
    )
    issuance = issuer.sd_jwt_issuance
    assert isinstance(issuance, str)
    return issuance


def reference_present(
    sd_jwt: str,
    disclose: Mapping[str, Any],
    holder: SigningKey,
    *,
    aud: str = "hotel",
    nonce: str = "n-4a1e0c2b9d",
) -> str:
    """A presentation made by ``SDJWTHolder``, with its KB-JWT signed by ``holder``."""
    ref_holder = SDJWTHolder(sd_jwt, serialization_format="compact")
    ref_holder.create_presentation(
        dict(disclose), nonce=nonce, aud=aud, holder_key=private_jwcrypto(holder), sign_alg="ES256"
    )
    presentation = ref_holder.sd_jwt_presentation
    assert isinstance(presentation, str)
    return presentation


def hotel_disclosure() -> dict[str, bool]:
    return {name: True for name in HOTEL_CLAIMS}


@pytest.mark.parametrize("cnf_in_claims", [True, False], ids=["cnf-claim", "holder_key-arg"])
def test_we_verify_reference_issued_presentation(
    foreign: ForeignIssuer, cnf_in_claims: bool
) -> None:
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now, cnf_in_claims=cnf_in_claims)
    presentation = reference_present(sd_jwt, hotel_disclosure(), holder)

    jwt, _, kb = split_presentation(presentation)
    assert unverified_header(jwt) == {
        "alg": foreign.key.alg,
        "typ": "dc+sd-jwt",
        "kid": foreign.key.kid,
    }
    # The reference's KB-JWT header is exactly what RFC 9901 §4.3 and our verifier demand.
    assert unverified_header(kb) == {"alg": "ES256", "typ": "kb+jwt"}
    assert set(unverified_payload(kb)) == {"iat", "aud", "nonce", "sd_hash"}

    verifier = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk())
    result = verifier.verify(presentation, "hotel")
    assert result.valid, result.errors
    assert result.to_dict() | {"checked_at": 0} == {
        "valid": True,
        "vct": VCT,
        "iss": foreign.iss,
        "scene": "hotel",
        "status": "valid",
        "claims": {name: CLAIMS[name] for name in HOTEL_CLAIMS},
        "errors": [],
        "checked_at": 0,
    }
    # And the presentation is single use for us, like our own.
    assert verifier.verify(presentation, "hotel").codes == ["replayed"]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param(sdjwt.INVALID, "revoked", id="revoked"),
        pytest.param(sdjwt.SUSPENDED, "suspended", id="suspended"),
    ],
)
def test_we_reject_reference_issued_credential_after_status_change(
    foreign: ForeignIssuer, value: int, code: str
) -> None:
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now)
    bundle = foreign.bundle(now, statuses={STATUS_IDX: value})
    verifier = Verifier(bundle, anchor=foreign.anchor.public_jwk())
    result = verifier.verify(reference_present(sd_jwt, hotel_disclosure(), holder), "hotel")
    assert not result.valid
    assert result.codes == [code]
    assert result.status == code
    assert result.claims == {}
    # A neighbouring index stays valid: the bit order of the list agrees.
    other = Verifier(
        foreign.bundle(now, statuses={STATUS_IDX - 1: value, STATUS_IDX + 1: value}),
        anchor=foreign.anchor.public_jwk(),
    )
    result = other.verify(reference_present(sd_jwt, hotel_disclosure(), holder), "hotel")
    assert result.valid, result.errors


@pytest.mark.parametrize(
    ("header", "code"),
    [
        # The reference's default typ (SDJWTCommon.SD_JWT_HEADER) is not SD-JWT VC's.
        pytest.param({}, "malformed", id="reference-default-typ-example+sd-jwt"),
        # SD-JWT VC drafts before -06 used vc+sd-jwt; DESIGN.md §3 accepts dc+sd-jwt only.
        pytest.param({"typ": "vc+sd-jwt"}, "malformed", id="old-draft-typ-vc+sd-jwt"),
        # Without a kid we cannot pick a key from the trust list (STYLE.md §4.3).
        pytest.param({"typ": "dc+sd-jwt"}, "unknown_key", id="no-kid"),
    ],
)
def test_reference_issuance_without_our_header_is_refused(
    foreign: ForeignIssuer, header: dict[str, str], code: str
) -> None:
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now, header=header)
    presentation = reference_present(sd_jwt, hotel_disclosure(), holder)
    if not header:
        assert unverified_header(presentation)["typ"] == "example+sd-jwt"
    verifier = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk())
    assert verifier.verify(presentation, "hotel").codes == [code]


def test_reference_presentation_without_key_binding_is_refused(foreign: ForeignIssuer) -> None:
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now)
    ref_holder = SDJWTHolder(sd_jwt, serialization_format="compact")
    ref_holder.create_presentation(hotel_disclosure())  # no nonce, aud, key: no KB-JWT
    assert ref_holder.sd_jwt_presentation.endswith("~")
    verifier = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk())
    assert verifier.verify(ref_holder.sd_jwt_presentation, "hotel").codes == ["key_binding_missing"]


def test_reference_presentation_for_another_audience_is_refused(foreign: ForeignIssuer) -> None:
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now)
    presentation = reference_present(sd_jwt, hotel_disclosure(), holder, aud="bank")
    verifier = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk())
    assert verifier.verify(presentation, "hotel").codes == ["key_binding_invalid"]


def test_our_wallet_holds_and_presents_a_reference_credential(foreign: ForeignIssuer) -> None:
    """Reference issuer → our wallet → both verifiers."""
    wallet = Wallet()
    now = int(time.time())
    held = wallet.add(reference_issue(foreign, wallet.holder_key, now, decoys=True))
    verifier = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk())
    presentation = wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"])

    theirs = SDJWTVerifier(
        presentation,
        KeyCallback(foreign.key.public_jwk()),
        expected_aud="hotel",
        expected_nonce=kb_nonce(presentation),
        serialization_format="compact",
    ).get_verified_payload()
    result = verifier.verify(presentation, "hotel")
    assert result.valid, result.errors
    assert result.claims == {name: theirs[name] for name in HOTEL_CLAIMS}
    assert result.claims == {name: CLAIMS[name] for name in HOTEL_CLAIMS}


def test_our_wallet_presents_the_top_level_claim_of_a_nested_credential(
    foreign: ForeignIssuer,
) -> None:
    """A nested ``name`` (inside an SD ``guardian`` object) must not stand in for the
    top-level ``name``: it would be an unreferenced disclosure (``disclosure_invalid``).
    Failed before 45337ed, when the wallet mapped every disclosure by its claim name."""
    wallet = Wallet()
    now = int(time.time())
    claims: dict[Any, Any] = {SDObj(name): value for name, value in CLAIMS.items()}
    claims[SDObj("guardian")] = {SDObj("name"): "李四", "relation": "father"}
    held = wallet.add(reference_issue(foreign, wallet.holder_key, now, claims=claims))
    verifier = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk())
    presentation = wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"])
    result = verifier.verify(presentation, "hotel")
    assert result.valid, result.errors
    assert result.claims == {name: CLAIMS[name] for name in HOTEL_CLAIMS}


# -- c. nested and array-element disclosures ---------------------------------------

#: Recursive disclosures (RFC 9901 §4.2.6, §A.2 style): an SD object with SD members,
#: SD array elements, an SD array element that is an object with SD members (whose
#: ``name`` collides with the top-level ``name``), SD members inside a plain object.
NESTED_CLAIMS: dict[Any, Any] = {
    SDObj("name"): "张三",
    SDObj("id_number"): "110101199001021232",
    SDObj("address"): {
        SDObj("street_address"): "东城区某路1号",
        SDObj("locality"): "北京市",
        "country": "CN",
    },
    "nationalities": [SDObj("CN"), "HK", SDObj("MO")],
    SDObj("family"): [
        SDObj({SDObj("name"): "李四", "relation": "spouse"}),
        {"relation": "child", SDObj("name"): "张小三"},
    ],
    "education": {"bachelor": {SDObj("school"): "北京大学", "year": 2012}},
}

#: ``claims_to_disclose`` for the reference holder, and how many disclosures it sends.
SELECTIONS: dict[str, tuple[dict[str, Any], int]] = {
    "everything": (
        {
            "name": True,
            "id_number": True,
            "address": {"street_address": True, "locality": True},
            "nationalities": [True, None, True],
            "family": [{"name": True}, {"name": True}],
            "education": {"bachelor": {"school": True}},
        },
        12,
    ),
    "nothing": ({}, 0),
    "hotel": (hotel_disclosure(), 2),
    "object-without-its-members": ({"address": True}, 1),
    "object-with-one-member": ({"address": {"locality": True}}, 2),
    "array-some-elements": ({"nationalities": [False, None, True]}, 1),
    "array-element-object-without-members": ({"family": [True, {}]}, 2),
    "array-element-object-with-member": ({"family": [{"name": True}, {}]}, 3),
    "member-in-plain-object": ({"education": {"bachelor": {"school": True}}}, 1),
}


@pytest.mark.parametrize("decoys", [False, True], ids=["no-decoys", "decoys"])
@pytest.mark.parametrize("selection", list(SELECTIONS))
def test_nested_and_array_disclosures_resolve_like_the_reference(
    foreign: ForeignIssuer, selection: str, decoys: bool
) -> None:
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now, claims=NESTED_CLAIMS, decoys=decoys)
    disclose, count = SELECTIONS[selection]
    presentation = reference_present(sd_jwt, disclose, holder)
    jwt, disclosures, _ = split_presentation(presentation)
    assert len(disclosures) == count

    theirs = SDJWTVerifier(
        presentation,
        KeyCallback(foreign.key.public_jwk()),
        expected_aud="hotel",
        expected_nonce="n-4a1e0c2b9d",
        serialization_format="compact",
    ).get_verified_payload()
    payload = unverified_payload(jwt)
    assert sdjwt.resolve(payload, disclosures) == theirs
    assert sdjwt.resolve(payload, disclosures, raw_payload=raw_payload(jwt)) == theirs


#: Flat claims in ASCII: the reference's ``json.dumps`` then writes no escapes, so the
#: payload qualifies for the verifier's flat fast path of ``sdjwt.resolve`` (one
#: top-level ``_sd``, no ``...``, no backslash); ``address`` is an SD object without
#: SD members, which that path hands back to the general one.
FLAT_ASCII_CLAIMS: dict[Any, Any] = {
    SDObj("name"): "Zhang San",
    SDObj("id_number"): "110101199001021232",
    SDObj("sex"): "M",
    SDObj("birth_date"): "1990-01-02",
    SDObj("address"): {"locality": "Beijing", "country": "CN"},
    "note": "plain, always visible",
}


@pytest.mark.parametrize("decoys", [False, True], ids=["no-decoys", "decoys"])
@pytest.mark.parametrize(
    "disclose",
    [
        pytest.param({}, id="nothing"),
        pytest.param(hotel_disclosure(), id="hotel"),
        pytest.param({"address": True, "name": True}, id="object-value"),
        pytest.param(
            {n: True for n in ("name", "id_number", "sex", "birth_date", "address")},
            id="everything",
        ),
    ],
)
def test_flat_disclosures_resolve_like_the_reference(
    foreign: ForeignIssuer, disclose: dict[str, bool], decoys: bool
) -> None:
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now, claims=FLAT_ASCII_CLAIMS, decoys=decoys)
    presentation = reference_present(sd_jwt, disclose, holder)
    jwt, disclosures, _ = split_presentation(presentation)
    raw = raw_payload(jwt)
    # Without decoys the payload qualifies for the fast path; the reference puts decoys
    # in every object (cnf, cnf.jwk, status …), which sends it down the general path.
    fast_path = b"\\" not in raw and raw.count(b'"_sd"') == 1 and b'"..."' not in raw
    assert fast_path is not decoys

    theirs = SDJWTVerifier(
        presentation,
        KeyCallback(foreign.key.public_jwk()),
        expected_aud="hotel",
        expected_nonce="n-4a1e0c2b9d",
        serialization_format="compact",
    ).get_verified_payload()
    payload = unverified_payload(jwt)
    assert sdjwt.resolve(payload, disclosures) == theirs
    assert sdjwt.resolve(payload, disclosures, raw_payload=raw) == theirs

    verifier = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk())
    result = verifier.verify(presentation, "hotel")
    if set(HOTEL_CLAIMS) <= set(disclose):
        assert result.valid, result.errors
        assert result.claims == {name: theirs[name] for name in HOTEL_CLAIMS}
    else:
        assert result.codes == ["scene_unmet"]


def structured_scene(claims: list[str]) -> dict[str, Any]:
    """A scene (trust list entry) that asks for structured claims of an ID card."""
    return {
        "id": "structured",
        "name": {"zh": "结构化声明", "en": "Structured claims"},
        "accept": [{"vct": VCT, "claims": claims}],
        "max_age": 120,
    }


def test_nested_and_array_disclosures_through_our_verifier(foreign: ForeignIssuer) -> None:
    """The whole offline verifier, for a scene that asks for structured claims."""
    scene = structured_scene(["name", "address", "nationalities", "family"])
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now, claims=NESTED_CLAIMS, decoys=True)
    disclose = {
        "name": True,
        "address": {"locality": True},
        "nationalities": [False, None, True],
        "family": [{"name": True}, {}],
    }
    presentation = reference_present(sd_jwt, disclose, holder, aud="structured")
    verifier = Verifier(foreign.bundle(now, scenes=[scene]), anchor=foreign.anchor.public_jwk())
    result = verifier.verify(presentation, "structured")
    assert result.valid, result.errors
    assert result.claims == {
        "name": "张三",
        "address": {"locality": "北京市", "country": "CN"},
        "nationalities": ["HK", "MO"],
        "family": [{"relation": "spouse", "name": "李四"}, {"relation": "child"}],
    }


def test_our_wallet_presents_nested_claims_of_a_reference_credential(
    foreign: ForeignIssuer,
) -> None:
    """Reference issuer (nested and array disclosures) → our wallet → both verifiers agree."""
    wanted = ["name", "address", "family", "education"]
    scene = structured_scene(wanted)
    wallet = Wallet()
    now = int(time.time())
    sd_jwt = reference_issue(foreign, wallet.holder_key, now, claims=NESTED_CLAIMS, decoys=True)
    held = wallet.add(sd_jwt)
    verifier = Verifier(foreign.bundle(now, scenes=[scene]), anchor=foreign.anchor.public_jwk())
    presentation = wallet.present_for_scene(held, verifier.trust_list.scenes["structured"])

    theirs = SDJWTVerifier(
        presentation,
        KeyCallback(foreign.key.public_jwk()),
        expected_aud="structured",
        expected_nonce=kb_nonce(presentation),
        serialization_format="compact",
    ).get_verified_payload()
    result = verifier.verify(presentation, "structured")
    assert result.valid, result.errors
    assert result.claims == {name: theirs[name] for name in wanted}
    assert result.claims == {
        "name": "张三",
        "address": {"street_address": "东城区某路1号", "locality": "北京市", "country": "CN"},
        "family": [{"relation": "spouse", "name": "李四"}, {"relation": "child", "name": "张小三"}],
        "education": {"bachelor": {"school": "北京大学", "year": 2012}},
    }
    # Only what the scene asked for left the wallet.
    assert set(theirs) == set(PLAIN) | {"name", "address", "family", "education", "nationalities"}
    assert theirs["nationalities"] == ["HK"]


def test_unreferenced_disclosure_is_rejected(foreign: ForeignIssuer) -> None:
    """RFC 9901 §7.1 step 5. A member's disclosure sent without its parent's is referenced
    by nothing the verifier can see. We reject; the reference 0.10 silently drops it."""
    holder = SigningKey.generate("ES256")
    now = int(time.time())
    sd_jwt = reference_issue(foreign, holder, now, claims=NESTED_CLAIMS)
    jwt, all_disclosures, _ = split_presentation(sd_jwt)
    by_name = {sdjwt.decode_disclosure(d).name: d for d in all_disclosures}
    orphan = by_name["locality"]
    chosen = [by_name["name"], by_name["id_number"], orphan]
    with pytest.raises(sdjwt.DisclosureInvalid):
        sdjwt.resolve(unverified_payload(jwt), chosen)

    # Through the whole verifier, with a KB-JWT over exactly these disclosures.
    presentation = bind(jwt, chosen, holder, aud="hotel", nonce="n-orphan")
    verifier = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk())
    assert verifier.verify(presentation, "hotel").codes == ["disclosure_invalid"]

    theirs = SDJWTVerifier(
        presentation,
        KeyCallback(foreign.key.public_jwk()),
        expected_aud="hotel",
        expected_nonce="n-orphan",
        serialization_format="compact",
    ).get_verified_payload()
    assert "locality" not in str(theirs)  # dropped, not rejected: the reference is lax here


def bind(jwt: str, disclosures: list[str], holder: SigningKey, *, aud: str, nonce: str) -> str:
    """``jwt~d…~`` plus a KB-JWT over exactly those disclosures, without any wallet checks."""
    presented = "~".join([jwt, *disclosures]) + "~"
    kb_payload = {
        "iat": int(time.time()),
        "aud": aud,
        "nonce": nonce,
        "sd_hash": sdjwt.sd_hash(presented),
    }
    return presented + sign_compact(kb_payload, holder, typ=sdjwt.TYP_KB_JWT)
