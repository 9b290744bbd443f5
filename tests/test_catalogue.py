"""The credential type catalogue, the default scenes and claim validation."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.catalogue import (
    RESERVED_CLAIM_NAMES,
    Catalogue,
    CatalogueError,
    ClaimSpec,
    CredentialType,
    default_scenes,
    load_catalogue,
    parse_catalogue,
    parse_scenes,
    validate_claims,
)
from issuer.errors import ClaimsInvalid, IssuerError, UnknownCredentialType
from tests.factory import example_value, full_example
from tests.hygiene import personal

# The ids go into credentials, trust lists and QR codes: renaming one breaks every
# credential already issued, so this list is deliberately exact.
EXPECTED_VCTS = {
    "urn:ecert:resident-id-card",
    "urn:ecert:driving-licence",
    "urn:ecert:vehicle-licence",
    "urn:ecert:household-register",
    "urn:ecert:residence-permit",
    "urn:ecert:marriage-certificate",
    "urn:ecert:birth-medical-certificate",
    "urn:ecert:social-security-card",
    "urn:ecert:disability-certificate",
    "urn:ecert:real-estate-certificate",
    "urn:ecert:business-licence",
    "urn:ecert:kinship-proof",
    # issue 12: derived attestations (a yes/no instead of a birth date or an address)
    "urn:ecert:age-attestation",
    "urn:ecert:residence-attestation",
    "urn:ecert:no-criminal-record-proof",
    # issue 11: the sources of proof types no certificate above answers
    "urn:ecert:death-medical-certificate",
    # issue 12: the link credentials of guardians and carers
    "urn:ecert:guardianship",
    "urn:ecert:care-authorisation",
    "urn:ecert:tax-payment-certificate",
    "urn:ecert:provident-fund-certificate",
    "urn:ecert:education-certificate",
    "urn:ecert:social-insurance-record",
    # issue 12: what a city's residents use most beyond the above
    "urn:ecert:passport",
    "urn:ecert:hk-macao-travel-permit",
    "urn:ecert:taiwan-travel-permit",
    "urn:ecert:divorce-certificate",
    "urn:ecert:vaccination-record",
    "urn:ecert:elderly-preferential-card",
    "urn:ecert:veteran-preferential-card",
    "urn:ecert:degree-certificate",
    "urn:ecert:professional-qualification",
    "urn:ecert:student-card",
    "urn:ecert:tenancy-registration",
    "urn:ecert:vehicle-inspection",
    "urn:ecert:security-guard-licence",
    "urn:ecert:medical-insurance-card",
}
EXPECTED_SCENES = {"hotel", "hospital", "bank", "internet_cafe", "pharmacy", "school"}
ID_CARD = "urn:ecert:resident-id-card"

CATALOGUE = load_catalogue()
ALL_VCTS = sorted(EXPECTED_VCTS)

# A value that must never appear in an error message (nor in a log).
SECRET = personal("SEKRIT-张三", "test_catalogue SECRET")


def minimal_example(ctype: CredentialType) -> dict[str, object]:
    return {spec.name: example_value(spec) for spec in ctype.claims if spec.required}


def first_claim(ctype: CredentialType, claim_type: str) -> ClaimSpec:
    return next(spec for spec in ctype.claims if spec.type == claim_type)


def first_claim_anywhere(claim_type: str) -> tuple[CredentialType, ClaimSpec]:
    for ctype in CATALOGUE.types:
        for spec in ctype.claims:
            if spec.type == claim_type:
                return ctype, spec
    raise AssertionError(f"no {claim_type} claim in the catalogue")


def raw_catalogue() -> list[dict[str, Any]]:
    text = resources.files("issuer").joinpath("data", "catalogue.json").read_text("utf-8")
    catalogue: list[dict[str, Any]] = json.loads(text)
    return catalogue


def raw_scenes() -> list[dict[str, Any]]:
    text = resources.files("issuer").joinpath("data", "scenes.json").read_text("utf-8")
    scenes: list[dict[str, Any]] = json.loads(text)
    return scenes


# ------------------------------------------------------------------ the catalogue


def test_at_least_twelve_types() -> None:
    assert len(CATALOGUE) >= 12
    assert len(CATALOGUE.types) == len(CATALOGUE)


def test_vct_ids_are_exactly_the_stable_set() -> None:
    vcts = [t.vct for t in CATALOGUE.types]
    assert len(vcts) == len(set(vcts)), "duplicate vct"
    assert set(vcts) == EXPECTED_VCTS
    assert CATALOGUE.vcts == tuple(vcts)


def test_vct_ids_are_short_kebab_urns() -> None:
    for ctype in CATALOGUE.types:
        assert re.fullmatch(r"urn:ecert:[a-z0-9]+(-[a-z0-9]+)*", ctype.vct)
        assert len(ctype.vct) <= 40  # they go into QR codes


def test_catalogue_order_is_the_file_order() -> None:
    assert [t.vct for t in CATALOGUE.types] == [e["vct"] for e in raw_catalogue()]
    assert CATALOGUE.types[0].vct == ID_CARD
    assert list(CATALOGUE) == list(CATALOGUE.types)


def test_load_catalogue_is_cached() -> None:
    assert load_catalogue() is load_catalogue()


def test_names_and_labels_in_both_languages() -> None:
    for ctype in CATALOGUE.types:
        assert ctype.name.zh.strip() and ctype.name.en.strip(), ctype.vct
        assert re.search(r"[\u4e00-\u9fff]", ctype.name.zh), ctype.vct
        for spec in ctype.claims:
            assert spec.label.zh.strip() and spec.label.en.strip(), (ctype.vct, spec.name)
            assert re.search(r"[\u4e00-\u9fff]", spec.label.zh), (ctype.vct, spec.name)


def test_chinese_names_of_the_types() -> None:
    zh = {t.vct: t.name.zh for t in CATALOGUE.types}
    assert zh[ID_CARD] == "居民身份证"
    assert zh["urn:ecert:driving-licence"] == "机动车驾驶证"
    assert zh["urn:ecert:vehicle-licence"] == "机动车行驶证"
    assert zh["urn:ecert:household-register"] == "居民户口簿"
    assert zh["urn:ecert:no-criminal-record-proof"] == "无犯罪记录证明"


def test_no_reserved_claim_names() -> None:
    assert {"iss", "iat", "exp", "nbf", "sub", "vct", "cnf", "status", "_sd", "_sd_alg"} <= (
        RESERVED_CLAIM_NAMES
    )
    for ctype in CATALOGUE.types:
        for spec in ctype.claims:
            assert spec.name not in RESERVED_CLAIM_NAMES, (ctype.vct, spec.name)
            assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", spec.name), spec.name


def test_claim_names_unique_per_type() -> None:
    for ctype in CATALOGUE.types:
        assert len(ctype.claim_names) == len(set(ctype.claim_names)), ctype.vct


#: issue 12: the attestations derived from the ID card and the household register say a
#: yes/no about their holder and, on purpose, name nobody.
DERIVED_VCTS = {"urn:ecert:age-attestation", "urn:ecert:residence-attestation"}


def test_derived_attestations_carry_no_personal_field() -> None:
    for vct in DERIVED_VCTS:
        ctype = CATALOGUE.get(vct)
        assert ctype.issuer_hint == "police", vct
        assert not [n for n in ctype.claim_names if PERSONAL.search(n)], vct
    age = CATALOGUE.get("urn:ecert:age-attestation")
    assert age.claim_names == tuple(f"age_over_{n}" for n in (14, 16, 18, 60, 65))
    assert all(c.type == "boolean" and c.sd and c.required for c in age.claims)
    residence = CATALOGUE.get("urn:ecert:residence-attestation")
    assert residence.claim("resident_of_city").type == "boolean"
    assert residence.claim("resident_of_city").sd
    assert residence.claim("city").type == "string"


def test_every_type_has_a_name_claim() -> None:
    for ctype in CATALOGUE.types:
        if ctype.vct == "urn:ecert:vehicle-inspection":
            # The inspection mark names the vehicle, not a person.
            assert ctype.claim("plate_number").required and not ctype.has_claim("name")
            continue
        if ctype.vct in DERIVED_VCTS:
            continue
        assert any(n == "name" or n.endswith("_name") for n in ctype.claim_names), ctype.vct
        # a link credential (issue 12) names its holder: the guardian, the carer
        holder_names = ("name", "subject_name", "guardian_name", "carer_name")
        name_claims = [c for c in ctype.claims if c.name in holder_names]
        assert name_claims and name_claims[0].required, ctype.vct


def test_kinds_hints_and_validity() -> None:
    for ctype in CATALOGUE.types:
        assert ctype.kind in ("certificate", "proof")
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", ctype.issuer_hint)
        # a guardianship lasts until the ward's 18th birthday (issue 12): at most 18 years
        longest = 18 * 365 + 5 if ctype.vct == "urn:ecert:guardianship" else 3650
        assert 1 <= ctype.validity_days <= longest, ctype.vct
        if ctype.kind == "proof":
            assert ctype.validity_days <= 180, ctype.vct
    assert CATALOGUE.get(ID_CARD).validity_days == 3650
    assert CATALOGUE.get(ID_CARD).issuer_hint == "police"
    assert CATALOGUE.get("urn:ecert:kinship-proof").kind == "proof"
    assert CATALOGUE.get("urn:ecert:no-criminal-record-proof").kind == "proof"


def test_string_claims_and_only_they_have_a_max_length() -> None:
    for ctype in CATALOGUE.types:
        for spec in ctype.claims:
            if spec.type == "string":
                assert spec.max_length is not None and spec.max_length >= 1
            else:
                assert spec.max_length is None


def test_id_card_fields() -> None:
    card = CATALOGUE.get(ID_CARD)
    assert set(card.claim_names) >= {
        "name",
        "sex",
        "ethnicity",
        "birth_date",
        "address",
        "id_number",
        "issuing_authority",
        "valid_from",
        "valid_until",
        "photo_digest",
    }
    assert card.claim("id_number").type == "id_number"
    assert card.claim("id_number").max_chars == 18
    assert card.claim("birth_date").type == "date"
    assert card.claim("sex").type == "enum" and card.claim("sex").allowed == ("男", "女")
    assert card.claim("valid_until").type == "date_or_long_term"
    assert not card.claim("valid_until").required  # absent: long-term, as before


def test_kinship_proof_fields() -> None:
    proof = CATALOGUE.get("urn:ecert:kinship-proof")
    assert set(proof.claim_names) >= {
        "subject_name",
        "subject_id_number",
        "relative_name",
        "relative_id_number",
        "relationship",
    }


PERSONAL = re.compile(
    r"(^|_)(name|id_number|birth_date|birth_time|birth_place|address|photo_digest|sex|"
    r"ethnicity|nationality)$"
)


def test_personal_fields_are_selectively_disclosable() -> None:
    for ctype in CATALOGUE.types:
        for spec in ctype.claims:
            if PERSONAL.search(spec.name):
                assert spec.sd, (ctype.vct, spec.name)
        # only a few administrative fields are ever plain
        assert len(ctype.plain_claims) <= 2, ctype.vct


def test_sd_and_plain_claims_partition_the_claims() -> None:
    for ctype in CATALOGUE.types:
        assert set(ctype.sd_claims).isdisjoint(ctype.plain_claims)
        assert set(ctype.sd_claims) | set(ctype.plain_claims) == set(ctype.claim_names)
        assert ctype.sd_claims == tuple(c.name for c in ctype.claims if c.sd)
    driving = CATALOGUE.get("urn:ecert:driving-licence")
    assert driving.plain_claims == ("issuing_authority",)
    assert "id_number" in driving.sd_claims


def test_types_round_trip_to_the_file() -> None:
    assert [t.to_dict() for t in CATALOGUE.types] == raw_catalogue()


def test_get_unknown_type() -> None:
    with pytest.raises(UnknownCredentialType) as info:
        CATALOGUE.get("urn:ecert:library-card")
    assert info.value.code == "unknown_vct"
    assert "urn:ecert:library-card" not in CATALOGUE
    assert ID_CARD in CATALOGUE


def test_claim_lookup() -> None:
    card = CATALOGUE.get(ID_CARD)
    assert card.claim("name").type == "string"
    assert card.has_claim("name") and not card.has_claim("iss")
    with pytest.raises(KeyError):
        card.claim("nope")


def test_catalogue_objects_are_frozen() -> None:
    card = CATALOGUE.get(ID_CARD)
    with pytest.raises(AttributeError):
        card.vct = "urn:ecert:other"  # type: ignore[misc]  # writing a frozen field is the test
    with pytest.raises(AttributeError):
        card.claims[0].sd = False  # type: ignore[misc]  # writing a frozen field is the test


# -------------------------------------------------------------------------- scenes


def test_default_scene_ids() -> None:
    ids = [s["id"] for s in default_scenes()]
    assert len(ids) == len(set(ids))
    assert set(ids) >= EXPECTED_SCENES


def test_scenes_have_exactly_the_trust_list_shape() -> None:
    flags = {"portrait", "online", "guardian", "carer"}
    for scene in default_scenes():
        assert set(scene) - flags - {"all_of"} == {"id", "name", "accept", "max_age", "category"}
        for flag in flags:
            assert scene.get(flag, True) is True  # written only when true
        assert set(scene["name"]) == {"zh", "en"}
        assert scene["name"]["zh"].strip() and scene["name"]["en"].strip()
        assert scene["max_age"] == 120
        assert scene["accept"] or scene["all_of"]
        for item in scene["accept"] + scene.get("all_of", []):
            assert set(item) == {"vct", "claims"}
            assert item["claims"] and all(isinstance(c, str) for c in item["claims"])
    assert default_scenes() == raw_scenes()
    json.dumps(default_scenes())  # plain JSON data, ready for the trust list


def test_every_scene_claim_exists_and_is_required() -> None:
    for scene in default_scenes():
        for item in scene["accept"] + scene.get("all_of", []):
            ctype = CATALOGUE.get(item["vct"])
            for claim in item["claims"]:
                assert ctype.has_claim(claim), (scene["id"], item["vct"], claim)
                # a default scene must be satisfiable by every valid credential
                assert ctype.claim(claim).required, (scene["id"], item["vct"], claim)


def _accept(scene_id: str) -> dict[str, list[str]]:
    scene = next(s for s in default_scenes() if s["id"] == scene_id)
    return {item["vct"]: item["claims"] for item in scene["accept"]}


def test_scene_contents() -> None:
    assert _accept("hotel") == {  # an identity document of any kind: name and number
        ID_CARD: ["name", "id_number"],
        "urn:ecert:residence-permit": ["name", "id_number"],
        "urn:ecert:passport": ["name", "id_number"],
        "urn:ecert:hk-macao-travel-permit": ["name", "id_number"],
        "urn:ecert:taiwan-travel-permit": ["name", "id_number"],
    }
    assert _accept("internet_cafe") == {"urn:ecert:age-attestation": ["age_over_18"]}
    assert _accept("pharmacy") == {ID_CARD: ["name", "id_number"]}
    hospital = _accept("hospital")
    assert set(hospital[ID_CARD]) == {"name", "id_number", "sex", "birth_date"}
    assert set(hospital["urn:ecert:social-security-card"]) == {"name", "card_number"}
    bank = _accept("bank")
    assert set(bank) == {ID_CARD}
    assert "photo_digest" not in bank[ID_CARD]
    assert set(bank[ID_CARD]) == set(CATALOGUE.get(ID_CARD).required_claims)
    school = next(s for s in default_scenes() if s["id"] == "school")
    assert school["accept"] == []  # both together: the household register and the birth
    assert {item["vct"] for item in school["all_of"]} == {  # medical certificate
        "urn:ecert:household-register",
        "urn:ecert:birth-medical-certificate",
    }


def test_default_scenes_are_fresh_copies() -> None:
    scenes = default_scenes()
    pristine = copy.deepcopy(scenes)
    scenes[0]["accept"][0]["claims"].append("photo_digest")
    scenes[0]["name"]["en"] = "changed"
    scenes.pop()
    assert default_scenes() == pristine


# ------------------------------------------------------------- data file checking


def test_parse_catalogue_accepts_the_packaged_data() -> None:
    parsed = parse_catalogue(raw_catalogue())
    assert isinstance(parsed, Catalogue)
    assert parsed == CATALOGUE
    assert parse_scenes(raw_scenes(), parsed) == default_scenes()


def _broken_catalogue(mutate: Any) -> list[dict[str, Any]]:
    data = raw_catalogue()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "hint"),
    [
        (lambda d: d[0]["claims"][0].update(name="iss"), "reserved"),
        (lambda d: d[0]["claims"][1].update(name="_sd"), "_sd"),
        (lambda d: d[0]["claims"].append(dict(d[0]["claims"][0])), "duplicate claim"),
        (lambda d: d.append(copy.deepcopy(d[0])), "duplicate credential type"),
        (lambda d: d[0].update(vct="urn:other:id-card"), "urn:ecert"),
        (lambda d: d[0].update(vct="urn:ecert:Resident_ID"), "urn:ecert"),
        (lambda d: d[0].update(kind="licence"), "kind"),
        (lambda d: d[0].update(validity_days=True), "validity_days"),
        (lambda d: d[0].update(validity_days=0), "validity_days"),
        (lambda d: d[0]["name"].update(en=""), "name.en"),
        (lambda d: d[0]["name"].pop("zh"), "zh"),
        (lambda d: d[0]["claims"][0].pop("max_length"), "max_length"),
        (lambda d: d[0]["claims"][3].update(max_length=10), "max_length"),
        (lambda d: d[0]["claims"][0].update(type="text"), "type"),
        (lambda d: d[0]["claims"][0].update(sd="yes"), "sd"),
        (lambda d: d[0]["claims"][0].update(requried=True), "requried"),
        (lambda d: d[0]["claims"][0].update(name="FullName"), "snake_case"),
        (lambda d: d[0].update(claims=[]), "empty"),
        (lambda d: d.clear(), "empty"),
    ],
)
def test_broken_catalogue_is_rejected(mutate: Any, hint: str) -> None:
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(_broken_catalogue(mutate), source="catalogue.json")
    assert hint in str(info.value)
    assert "catalogue.json" in str(info.value)
    assert isinstance(info.value, IssuerError)


@pytest.mark.parametrize("data", [{}, "[]", None, [1], [[]]])
def test_catalogue_of_the_wrong_shape(data: object) -> None:
    with pytest.raises(CatalogueError):
        parse_catalogue(data)


@pytest.mark.parametrize(
    ("mutate", "hint"),
    [
        (lambda d: d[0]["accept"][0].update(vct="urn:ecert:library-card"), "unknown"),
        (lambda d: d[0]["accept"][0]["claims"].append("shoe_size"), "shoe_size"),
        (lambda d: d[0]["accept"][0]["claims"].append("name"), "twice"),
        (lambda d: d[0]["accept"].append(copy.deepcopy(d[0]["accept"][0])), "twice"),
        (lambda d: d.append(copy.deepcopy(d[0])), "duplicate scene"),
        (lambda d: d[0].update(max_age="120"), "max_age"),
        (lambda d: d[0].update(id="Hotel Check-in"), "scene id"),
        (lambda d: d[0].update(accept=[]), "empty"),
        (lambda d: d[0].update(extra=1), "extra"),
        (lambda d: d[0]["name"].update(zh=" "), "name.zh"),
    ],
)
def test_broken_scenes_are_rejected(mutate: Any, hint: str) -> None:
    data = raw_scenes()
    mutate(data)
    with pytest.raises(CatalogueError) as info:
        parse_scenes(data, CATALOGUE, source="scenes.json")
    assert hint in str(info.value)
    assert "scenes.json" in str(info.value)


def test_unreadable_data_file_is_a_clear_error() -> None:
    from issuer import catalogue as module

    with pytest.raises(CatalogueError, match=r"no-such-file\.json"):
        module._read_json("no-such-file.json")


# -------------------------------------------------------------- claim validation


@pytest.mark.parametrize("vct", ALL_VCTS)
def test_full_example_is_valid_for_every_type(vct: str) -> None:
    ctype = CATALOGUE.get(vct)
    claims = full_example(ctype)
    clean = validate_claims(ctype, claims)
    assert clean == claims
    assert clean is not claims
    assert list(clean) == list(ctype.claim_names)


@pytest.mark.parametrize("vct", ALL_VCTS)
def test_minimal_example_is_valid_for_every_type(vct: str) -> None:
    ctype = CATALOGUE.get(vct)
    claims = minimal_example(ctype)
    assert validate_claims(ctype, claims) == claims


def test_clean_copy_is_in_catalogue_order_and_detached() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    claims = dict(reversed(list(full_example(ctype).items())))
    clean = validate_claims(ctype, claims)
    assert list(clean) == list(ctype.claim_names)
    clean["name"] = "other"
    assert claims["name"] != "other"


def test_realistic_id_card() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    claims = {
        "name": "阿依古丽·买买提",
        "sex": "女",
        "ethnicity": "维吾尔",
        "birth_date": "1990-03-07",
        "address": "新疆维吾尔自治区乌鲁木齐市天山区解放南路100号",
        "id_number": "650102199003070021",
        "issuing_authority": "乌鲁木齐市公安局天山分局",
        "valid_from": "2015-06-01",
        "valid_until": "2035-06-01",
    }
    assert validate_claims(ctype, claims) == claims


def test_realistic_no_criminal_record_proof() -> None:
    ctype = CATALOGUE.get("urn:ecert:no-criminal-record-proof")
    claims = {
        "name": "李四",
        "sex": "男",
        "id_number": "110101198001010010",
        "no_criminal_record": True,
        "proof_number": "京公(海)证字[2026]第00123号",
        "issue_date": "2026-11-20",
        "issuing_authority": "北京市公安局海淀分局中关村派出所",
    }
    assert validate_claims(ctype, claims) == claims


def _rejected(ctype: CredentialType, claims: dict[str, object], field: str | None) -> str:
    with pytest.raises(ClaimsInvalid) as info:
        validate_claims(ctype, claims)
    assert info.value.field == field
    assert info.value.code == "claims_invalid"
    message = str(info.value)
    if field is not None:
        assert field in message
    return message


@pytest.mark.parametrize("vct", ALL_VCTS)
def test_missing_required_claim(vct: str) -> None:
    ctype = CATALOGUE.get(vct)
    for name in ctype.required_claims:
        claims = full_example(ctype)
        del claims[name]
        message = _rejected(ctype, claims, name)
        assert "missing" in message


def test_unknown_claim() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    claims = full_example(ctype) | {"shoe_size": SECRET}
    message = _rejected(ctype, claims, "shoe_size")
    assert "unknown" in message and SECRET not in message


@pytest.mark.parametrize("reserved", sorted(RESERVED_CLAIM_NAMES))
def test_reserved_name_as_claim(reserved: str) -> None:
    ctype = CATALOGUE.get(ID_CARD)
    claims = full_example(ctype) | {reserved: SECRET}
    message = _rejected(ctype, claims, reserved)
    assert SECRET not in message


def test_malformed_claim_name_is_not_echoed() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    claims = full_example(ctype) | {SECRET: "x"}
    message = _rejected(ctype, claims, None)
    assert SECRET not in message


def test_non_string_claim_name() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    claims: dict[Any, object] = full_example(ctype)
    claims[7] = "x"
    _rejected(ctype, claims, None)


def test_claims_not_a_mapping() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    with pytest.raises(ClaimsInvalid):
        validate_claims(ctype, [("name", "x")])  # type: ignore[arg-type]  # deliberately not the declared type: the runtime check is under test


WRONG_TYPES: dict[str, list[object]] = {
    "string": [7, 7.5, True, ["SEKRIT"], {"v": "SEKRIT"}, None],
    "date": [20200229, True, None, ["2020-02-29"]],
    "integer": [True, False, 3.0, "3", "SEKRIT", None, [3]],
    "boolean": [1, 0, "true", "SEKRIT", None],
}


@pytest.mark.parametrize(
    ("claim_type", "value"),
    [(t, v) for t, values in WRONG_TYPES.items() for v in values],
)
def test_wrong_json_type(claim_type: str, value: object) -> None:
    ctype, spec = first_claim_anywhere(claim_type)
    claims = full_example(ctype) | {spec.name: value}
    message = _rejected(ctype, claims, spec.name)
    assert "SEKRIT" not in message


def test_bool_is_not_an_integer() -> None:
    ctype = CATALOGUE.get("urn:ecert:disability-certificate")
    claims = full_example(ctype) | {"disability_level": True}
    _rejected(ctype, claims, "disability_level")
    assert validate_claims(ctype, full_example(ctype) | {"disability_level": 2})


def test_huge_integer() -> None:
    ctype, spec = first_claim_anywhere("integer")
    _rejected(ctype, full_example(ctype) | {spec.name: 2**60}, spec.name)


@pytest.mark.parametrize(
    "value",
    [
        "2020-02-30",
        "2019-02-29",
        "2020-13-01",
        "2020-00-10",
        "0000-01-01",
        "2020/02/29",
        "20200229",
        "2020-2-9",
        "2020-02-29T00:00:00",
        "2020-02-29 ",
        "２０２０-０２-２９",  # full-width digits
        "2020-W09-6",
        "",
        "SEKRIT",
    ],
)
def test_bad_dates(value: str) -> None:
    ctype = CATALOGUE.get(ID_CARD)
    claims = full_example(ctype) | {"birth_date": value}
    message = _rejected(ctype, claims, "birth_date")
    assert "YYYY-MM-DD" in message
    if value:
        assert value not in message


@pytest.mark.parametrize("value", ["", " ", "\u3000\t "])
def test_empty_string(value: str) -> None:
    ctype = CATALOGUE.get(ID_CARD)
    _rejected(ctype, full_example(ctype) | {"name": value}, "name")


@pytest.mark.parametrize("vct", ALL_VCTS)
def test_string_length_limits(vct: str) -> None:
    ctype = CATALOGUE.get(vct)
    for spec in ctype.claims:
        if spec.type != "string":
            continue
        assert spec.max_length is not None
        at_limit = full_example(ctype) | {spec.name: "字" * spec.max_length}
        assert validate_claims(ctype, at_limit)[spec.name] == "字" * spec.max_length
        too_long = SECRET + "字" * spec.max_length
        message = _rejected(ctype, full_example(ctype) | {spec.name: too_long}, spec.name)
        assert SECRET not in message
        assert str(spec.max_length) in message


def test_id_number_longer_than_18() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    _rejected(ctype, full_example(ctype) | {"id_number": "1101011990010112345"}, "id_number")


@pytest.mark.parametrize(
    "bad",
    ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u2066"],
)
def test_control_characters(bad: str) -> None:
    ctype = CATALOGUE.get(ID_CARD)
    value = f"{SECRET}{bad}张三"
    message = _rejected(ctype, full_example(ctype) | {"name": value}, "name")
    assert "control" in message
    assert SECRET not in message


def test_lone_surrogate_is_rejected() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    _rejected(ctype, full_example(ctype) | {"address": "SEKRIT\ud800"}, "address")


def test_names_from_every_script_are_accepted() -> None:
    ctype = CATALOGUE.get(ID_CARD)
    for name in ["王𠮷", "买买提·艾力", "O'Brien-Zhang", "\ue000林", "Ñúñez"]:
        assert validate_claims(ctype, full_example(ctype) | {"name": name})["name"] == name


@given(text=st.text(max_size=40))
def test_error_messages_never_contain_the_value(text: str) -> None:
    ctype = CATALOGUE.get(ID_CARD)
    for field in ("name", "birth_date", "id_number"):
        value = "SEKRIT" + text
        try:
            validate_claims(ctype, full_example(ctype) | {field: value})
        except ClaimsInvalid as exc:
            assert exc.field == field
            assert "SEKRIT" not in str(exc)
