"""Issue 12: the catalogue at the city's scale, and typed claims.

Every catalogue type is issued with its factory example and verified (parametrized over
the catalogue, so a type added later is covered by itself); every type is issuable by its
authoritative department in the demo, over HTTP. Claim types: a citizen ID number with
its GB 11643 check character (refused raw: hand-made numbers, never built with the
project's own helper), an enumeration's list, and a document valid for the long term.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from cli.seed import DEPARTMENTS
from issuer.catalogue import (
    LONG_TERM,
    CatalogueError,
    check_value,
    default_scenes,
    load_catalogue,
    load_subject_fields,
    parse_catalogue,
    parse_subject_fields,
    validate_claims,
)
from issuer.errors import ClaimsInvalid
from issuer.proof_types import load_proof_types
from service.wallets import credential_claims, document_validity
from store.sqlite import SQLiteStore
from tests.api_helpers import AuthActions, api_app, auth, client, demo
from tests.factory import ID_CLAIMS, NOW, World, example_claims
from tests.hygiene import personal
from wallet import Wallet

# The fixtures of tests/api_helpers.py, used by name below.
__all__ = ["api_app", "auth", "client", "demo"]

CATALOGUE = load_catalogue()
ID_CARD = "urn:ecert:resident-id-card"
VCTS = list(CATALOGUE.vcts)

# -- an independent check character (ISO 7064 MOD 11-2 in its recursive form, not the
#    weight table the catalogue uses), to build test numbers without the project's code


def mod11_2(digits: str) -> str:
    p = 0
    for d in digits:
        p = ((p + int(d)) * 2) % 11
    check = (12 - p) % 11
    return "X" if check == 10 else str(check)


def test_the_independent_check_character_agrees_with_the_standards_example() -> None:
    # GB 11643-1999's own example, and the brief's valid examples
    assert mod11_2("11010519491231002") == "X"
    for good in ("110101199003070011", "110101201506010029", "440305198812120064"):
        assert mod11_2(good[:17]) == good[17]


# -- every type, issued and verified ---------------------------------------------------------


#: Types the demo issues from another department than the catalogue's ``issuer_hint``:
#: the kinship proof names the police (who keep the household registers) while the demo
#: and the proof-type catalogue have civil affairs issue and answer it (older than issue
#: 12; left as it is, and no new type may join it).
DEMO_ISSUER = {"urn:ecert:kinship-proof": "civil-affairs"}


def scene_id(vct: str) -> str:
    return "check_" + vct.removeprefix("urn:ecert:").replace("-", "_")


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    """A world whose registry issues every type, and a scene per type asking for every
    claim of its example."""
    store = SQLiteStore(str(tmp_path_factory.mktemp("catalogue-types") / "ecert.db"))
    try:
        world = World(store)
        registry = world.platform.register_issuer(
            "registry", name_zh="登记处", name_en="Registry", vcts=VCTS
        )
        scenes = default_scenes() + [
            {
                "id": scene_id(ctype.vct),
                "name": {"zh": ctype.name.zh, "en": ctype.name.en},
                "accept": [{"vct": ctype.vct, "claims": list(example_claims(ctype))}],
                "max_age": 120,
                "category": "government",
            }
            for ctype in CATALOGUE.types
        ]
        world.platform.set_scenes(scenes)
        yield world, registry.iss
    finally:
        store.close()


@pytest.mark.parametrize("vct", VCTS)
def test_every_type_issues_with_its_example_and_verifies(town: tuple[World, str], vct: str) -> None:
    world, iss = town
    ctype = CATALOGUE.get(vct)
    claims = example_claims(ctype)
    assert validate_claims(ctype, claims) == {
        n: claims[n] for n in ctype.claim_names if n in claims
    }
    wallet = Wallet(clock=world.clock)
    issued = world.issuer.issue(
        iss,
        vct,
        subject=personal("citizen-catalogue", "test_catalogue_types subject"),
        claims=claims,
        holder_jwk=wallet.holder_jwk,
    )
    held = wallet.add(issued.sd_jwt)
    verifier = world.verifier()
    scene = verifier.trust_list.scenes[scene_id(vct)]
    result = verifier.verify(wallet.present_for_scene(held, scene), scene.id)
    assert result.valid, result.codes
    assert result.claims == claims


def test_there_are_at_least_28_types_named_in_both_languages_from_a_known_department() -> None:
    assert len(CATALOGUE) >= 28
    demo = {slug: set(vcts) for slug, _, _, vcts in DEPARTMENTS}
    names = {slug: (zh, en) for slug, zh, en, _ in DEPARTMENTS}
    authorities = {subject.authority for subject in load_subject_fields()}
    assert authorities <= set(demo)
    for ctype in CATALOGUE.types:
        assert ctype.name.zh.strip() and ctype.name.en.strip(), ctype.vct
        assert ctype.name.zh != ctype.name.en, ctype.vct
        # the authoritative department exists in the demo, named in both languages,
        # and issues the type there (the one older exception: see DEMO_ISSUER)
        assert ctype.issuer_hint in demo, ctype.vct
        assert all(n.strip() for n in names[ctype.issuer_hint]), ctype.issuer_hint
        assert ctype.vct in demo[DEMO_ISSUER.get(ctype.vct, ctype.issuer_hint)], ctype.vct
        for spec in ctype.claims:
            assert spec.label.zh.strip() and spec.label.en.strip(), (ctype.vct, spec.name)


def test_every_type_naming_a_person_has_name_and_a_typed_disclosable_id_number() -> None:
    for ctype in CATALOGUE.types:
        if ctype.claim_for("name") is None:
            continue
        ids = [spec for spec in ctype.claims if spec.type == "id_number"]
        assert ids and ids[0].sd and ids[0].required, ctype.vct
        assert ctype.claim(ctype.claim_for("name") or "").sd, ctype.vct
    for vct in ("urn:ecert:passport", "urn:ecert:medical-insurance-card"):
        ctype = CATALOGUE.get(vct)
        assert ctype.claim("name").sd and ctype.claim("id_number").type == "id_number"


def test_claims_named_like_an_id_number_or_sex_are_typed() -> None:
    for ctype in CATALOGUE.types:
        for spec in ctype.claims:
            # (the real estate certificate's right holder may be a company)
            if (
                spec.name in ("id_number", "subject_id_number", "relative_id_number")
                and ctype.vct != "urn:ecert:real-estate-certificate"
            ):
                assert spec.type == "id_number", (ctype.vct, spec.name)
            if spec.name in ("sex", "spouse_sex"):
                assert spec.type == "enum" and spec.allowed == ("男", "女"), ctype.vct
            if spec.name == "marital_status":
                assert spec.type == "enum", ctype.vct


def test_every_type_is_issuable_by_its_department_in_the_demo(
    client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen_ids[0]
    for ctype in CATALOGUE.types:
        slug = DEMO_ISSUER.get(ctype.vct, ctype.issuer_hint)
        claims = example_claims(ctype)
        if ctype.vct == "urn:ecert:guardianship":
            # a guardianship names the citizen it is issued to as the guardian, and a minor
            claims["guardian_id_number"] = citizen
            claims["ward_id_number"] = "110101201506010029"
            claims["ward_birth_date"] = "2015-06-01"
            claims["relationship"] = "mother"
        response = client.post(
            f"/api/v1/issuers/{slug}/credentials",
            headers=auth.department(slug),
            json={"vct": ctype.vct, "citizen_id": citizen, "claims": claims},
        )
        if ctype.vct == "urn:ecert:care-authorisation":
            # the elder gives it from the wallet, never a department (tests/test_links_api.py)
            assert response.status_code == 403, response.get_json()
            assert response.get_json()["code"] == "care_authorisation_from_wallet"
            continue
        assert response.status_code == 201, (ctype.vct, response.get_json())


# -- ID numbers --------------------------------------------------------------------------------


def refused(claims: dict[str, Any], name: str, vct: str = ID_CARD) -> str:
    """Assert ``claims`` are refused naming ``name`` (never the value); the message."""
    with pytest.raises(ClaimsInvalid) as info:
        validate_claims(CATALOGUE.get(vct), claims)
    assert info.value.code == "claims_invalid"
    assert info.value.field == name
    value = claims[name]
    assert isinstance(value, str)
    assert value not in info.value.message and value not in str(info.value)
    return info.value.message


# Each hand-made: the right 17 digits with a wrong check character; the X written
# lowercase; a 31 February; a 30 February whose check character is right for it; a
# year before 1900; 17 and 19 characters; full-width digits; a letter inside.
BAD_ID_NUMBERS = [
    "110101199003070012",
    "11010519491231002x",
    "11010119900231001X",
    "110101199002300014",
    "11010118991231001X",
    "11010119900307001",
    "1101011990030700111",
    "１１０１０１１９９００３０７００１１",
    "1101011990O3070011",
    "11010519491231002Y",
]


@pytest.mark.parametrize("bad", BAD_ID_NUMBERS)
def test_a_bad_id_number_is_refused_naming_the_claim(bad: str) -> None:
    secret = personal(bad, "test_catalogue_types bad ID number")
    refused({**ID_CLAIMS, "id_number": secret}, "id_number")


def test_the_hand_made_bad_numbers_are_bad_for_the_reason_they_say() -> None:
    wrong, lower, feb31, feb30 = BAD_ID_NUMBERS[:4]
    assert mod11_2(wrong[:17]) != wrong[17]
    assert mod11_2(lower[:17]) == "X"  # only the case is wrong
    assert mod11_2(feb31[:17]) == feb31[17]  # only the date is wrong
    assert mod11_2(feb30[:17]) == feb30[17]


def test_the_messages_say_why() -> None:
    assert "check character" in refused({**ID_CLAIMS, "id_number": BAD_ID_NUMBERS[0]}, "id_number")
    assert "uppercase X" in refused({**ID_CLAIMS, "id_number": BAD_ID_NUMBERS[1]}, "id_number")
    assert "birth date" in refused({**ID_CLAIMS, "id_number": BAD_ID_NUMBERS[2]}, "id_number")


def test_an_uppercase_x_check_character_is_accepted() -> None:
    number = "11010519491231002X"
    claims = {**ID_CLAIMS, "id_number": number, "birth_date": "1949-12-31"}
    assert validate_claims(CATALOGUE.get(ID_CARD), claims)["id_number"] == number


def test_every_id_number_claim_checks_the_check_character() -> None:
    for ctype in CATALOGUE.types:
        for spec in ctype.claims:
            if spec.type == "id_number":
                claims = {**example_claims(ctype), spec.name: BAD_ID_NUMBERS[0]}
                refused(claims, spec.name, ctype.vct)


def test_an_id_number_must_be_a_string() -> None:
    with pytest.raises(ClaimsInvalid) as info:
        validate_claims(CATALOGUE.get(ID_CARD), {**ID_CLAIMS, "id_number": 110101199003070011})
    assert info.value.field == "id_number"


@given(
    area=st.integers(100000, 999999),
    born=st.dates(datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)),
    sequence=st.integers(0, 999),
    check=st.sampled_from("0123456789X"),
)
def test_exactly_one_check_character_is_accepted(
    area: int, born: datetime.date, sequence: int, check: str
) -> None:
    base = f"{area}{born:%Y%m%d}{sequence:03d}"
    claims = {**ID_CLAIMS, "id_number": base + check}
    ctype = CATALOGUE.get(ID_CARD)
    if check == mod11_2(base):
        assert validate_claims(ctype, claims)["id_number"] == base + check
    else:
        with pytest.raises(ClaimsInvalid):
            validate_claims(ctype, claims)


def test_the_issuer_refuses_a_bad_id_number_before_signing(world: World) -> None:
    with pytest.raises(ClaimsInvalid) as info:
        world.issue_id_card(claims={**ID_CLAIMS, "id_number": BAD_ID_NUMBERS[0]})
    assert info.value.field == "id_number"


def test_over_http_a_bad_id_number_is_claims_invalid_naming_the_claim(
    client: FlaskClient, auth: AuthActions
) -> None:
    bad = BAD_ID_NUMBERS[0]
    response = client.post(
        "/api/v1/issuers/police/credentials",
        headers=auth.department("police"),
        json={
            "vct": ID_CARD,
            "citizen_id": auth.citizen_ids[0],
            "claims": {**ID_CLAIMS, "id_number": bad},
        },
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "claims_invalid" and body["field"] == "id_number"
    assert bad not in response.get_data(as_text=True)


# -- enumerations ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["M", "F", "男性", " 男", "男 ", "", "Male"])
def test_a_sex_outside_its_list_is_refused(value: str) -> None:
    with pytest.raises(ClaimsInvalid) as info:
        validate_claims(CATALOGUE.get(ID_CARD), {**ID_CLAIMS, "sex": value})
    assert info.value.field == "sex"
    assert "values of its list" in info.value.message


def test_every_enum_accepts_each_of_its_values_and_nothing_else() -> None:
    for ctype in CATALOGUE.types:
        for spec in ctype.claims:
            if spec.type != "enum":
                continue
            assert spec.values and all(v.label.zh and v.label.en for v in spec.values)
            for allowed in spec.allowed:
                claims = {**example_claims(ctype), spec.name: allowed}
                assert validate_claims(ctype, claims)[spec.name] == allowed
            refused({**example_claims(ctype), spec.name: "不在列表中"}, spec.name, ctype.vct)


def test_an_enum_value_outside_the_new_types_lists_is_refused() -> None:
    degree = "urn:ecert:degree-certificate"
    refused(
        {**example_claims(CATALOGUE.get(degree)), "degree_level": "学士学位"},
        "degree_level",
        degree,
    )
    veteran = "urn:ecert:veteran-preferential-card"
    refused(
        {**example_claims(CATALOGUE.get(veteran)), "holder_category": "军人"},
        "holder_category",
        veteran,
    )


def test_a_subject_field_change_is_checked_against_the_enum() -> None:
    sex = CATALOGUE.subject_field("sex")
    assert sex is not None and sex.type == "enum"
    assert check_value(sex.spec, "女") == "女"
    with pytest.raises(ClaimsInvalid):
        check_value(sex.spec, "X")


# -- long-term ---------------------------------------------------------------------------------


def test_a_long_term_id_card_is_accepted_both_ways(world: World) -> None:
    ctype = CATALOGUE.get(ID_CARD)
    absent = {k: v for k, v in ID_CLAIMS.items() if k != "valid_until"}
    assert "valid_until" not in validate_claims(ctype, absent)
    written = {**ID_CLAIMS, "valid_until": LONG_TERM}
    assert validate_claims(ctype, written)["valid_until"] == "long-term"
    held, _ = world.issue_id_card(claims=written)
    # the credential lives its type's validity, not bounded by a date it does not have
    assert held.exp == NOW + ctype.validity_days * 86400
    assert credential_claims(held.sd_jwt)["valid_until"] == "long-term"
    assert document_validity(ID_CARD, {"valid_until": LONG_TERM}) == (None, True)
    assert document_validity(ID_CARD, {}) == (None, True)
    assert document_validity(ID_CARD, {"valid_until": "2035-06-01"}) == ("2035-06-01", False)


@pytest.mark.parametrize("value", ["长期", "Long-term", "long term", "LONG-TERM", "2035-02-30"])
def test_only_the_literal_long_term_or_a_date_is_accepted(value: str) -> None:
    refused({**ID_CLAIMS, "valid_until": value}, "valid_until")


def test_long_term_is_refused_where_the_document_always_ends() -> None:
    permit = "urn:ecert:residence-permit"
    claims = {**example_claims(CATALOGUE.get(permit)), "valid_until": LONG_TERM}
    refused(claims, "valid_until", permit)
    passport = "urn:ecert:passport"
    claims = {**example_claims(CATALOGUE.get(passport)), "valid_until": LONG_TERM}
    refused(claims, "valid_until", passport)


def test_a_proof_answer_leaves_a_long_term_end_out_as_before() -> None:
    identity = load_proof_types().get("identity")
    long_term = {**ID_CLAIMS, "valid_until": LONG_TERM}
    answer = identity.answer([long_term], {})
    assert answer["found"] is True and "valid_until" not in answer
    dated = identity.answer([ID_CLAIMS], {})
    assert dated["valid_until"] == ID_CLAIMS["valid_until"]


# -- the data files' rules for the new claim types ---------------------------------------------


def one_type(claim: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "vct": "urn:ecert:test",
            "name": {"zh": "测试", "en": "Test"},
            "kind": "certificate",
            "issuer_hint": "police",
            "validity_days": 30,
            "claims": [claim],
        }
    ]


SEX_VALUES = [
    {"value": "男", "label": {"zh": "男", "en": "Male"}},
    {"value": "女", "label": {"zh": "女", "en": "Female"}},
]


def claim(**extra: Any) -> dict[str, Any]:
    return {"name": "x", "label": {"zh": "甲", "en": "X"}, "required": True, "sd": True, **extra}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (claim(type="enum"), "an enum needs 1 to 64 values"),
        (claim(type="enum", values=[]), "an enum needs 1 to 64 values"),
        (claim(type="string", max_length=4, values=SEX_VALUES), "only enum claims have 'values'"),
        (claim(type="enum", values=SEX_VALUES + SEX_VALUES[:1]), "'男' is listed twice"),
        (
            claim(type="enum", values=[{"value": " ", "label": {"zh": "甲", "en": "A"}}]),
            "must be a non-empty string",
        ),
        (
            claim(type="enum", values=[{"value": "a\u202eb", "label": {"zh": "甲", "en": "A"}}]),
            "no control characters",
        ),
        (
            claim(type="enum", values=SEX_VALUES, max_length=2),
            "only string claims have a max_length",
        ),
        (claim(type="id_number", max_length=18), "only string claims have a max_length"),
        (claim(type="enum", values=[{"value": "a"}]), "label"),
        (claim(type="id_number", subject="name"), "a id_number claim cannot carry 'name'"),
        (
            claim(type="enum", values=SEX_VALUES[:1], subject="sex"),
            "the claim's values are not those of the field 'sex'",
        ),
    ],
)
def test_a_broken_typed_claim_is_refused_with_its_path(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(one_type(entry))
    assert message in info.value.message


def test_an_enum_claim_round_trips_and_can_carry_an_enum_field() -> None:
    catalogue = parse_catalogue(one_type(claim(type="enum", values=SEX_VALUES, subject="sex")))
    spec = catalogue.get("urn:ecert:test").claim("x")
    assert spec.allowed == ("男", "女") and spec.max_chars == 1
    assert spec.to_dict()["values"] == SEX_VALUES


def test_an_enum_subject_field_needs_its_values() -> None:
    fields = [f.to_dict() for f in load_subject_fields()]
    sex = next(f for f in fields if f["field"] == "sex")
    del sex["values"]
    with pytest.raises(CatalogueError) as info:
        parse_subject_fields(fields)
    assert "an enum needs 1 to 64 values" in info.value.message
