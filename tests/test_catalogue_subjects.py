"""Subject fields: which department is authoritative for which fact about a citizen, and
which claim of each credential type carries it (issuer/data/subjects.json and the
claims' ``subject`` members of issuer/data/catalogue.json)."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from issuer.catalogue import (
    Catalogue,
    CatalogueError,
    ClaimSpec,
    CredentialType,
    LocalisedText,
    SubjectField,
    load_catalogue,
    load_subject_fields,
    parse_catalogue,
    parse_subject_fields,
)

CATALOGUE = load_catalogue()
ROOT = Path(__file__).resolve().parent.parent

#: The facts and their authorities, as the programme assigns them (deliberately exact).
EXPECTED_AUTHORITIES = {
    "name": "police",
    "sex": "police",
    "ethnicity": "police",
    "birth_date": "police",
    "address": "police",
    "marital_status": "civil-affairs",
}


def raw(filename: str) -> list[dict[str, Any]]:
    text = resources.files("issuer").joinpath("data", filename).read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)
    return data


def raw_catalogue() -> list[dict[str, Any]]:
    return raw("catalogue.json")


def raw_subjects() -> list[dict[str, Any]]:
    return raw("subjects.json")


def entry(data: list[dict[str, Any]], vct: str) -> dict[str, Any]:
    return next(e for e in data if e["vct"] == vct)


def claim_entry(data: list[dict[str, Any]], vct: str, name: str) -> dict[str, Any]:
    return next(c for c in entry(data, vct)["claims"] if c["name"] == name)


def refused(data: object, subjects: object = None) -> str:
    """The message of the CatalogueError parsing ``data`` (with ``subjects``) raises."""
    fields = None if subjects is None else parse_subject_fields(subjects, source="subjects.json")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(data, source="catalogue.json", subjects=fields)
    assert caught.value.code == "catalogue_invalid"
    return caught.value.message


def subjects_refused(data: object) -> str:
    with pytest.raises(CatalogueError) as caught:
        parse_subject_fields(data, source="subjects.json")
    return caught.value.message


# -- the packaged data ------------------------------------------------------------------


def test_each_subject_field_has_its_authority_a_label_and_a_claim_type() -> None:
    fields = CATALOGUE.subject_fields()
    assert {f.name: f.authority for f in fields} == EXPECTED_AUTHORITIES
    for subject in fields:
        assert CATALOGUE.authority(subject.name) == subject.authority
        assert subject.label.zh.strip() and subject.label.en.strip()
        assert subject.type in ("string", "date", "enum")
        assert (subject.max_length is not None) == (subject.type == "string")
        assert bool(subject.values) == (subject.type == "enum")
    assert CATALOGUE.subject_field("name") == fields[0]
    assert CATALOGUE.subject_field("id_number") is None
    with pytest.raises(KeyError):
        CATALOGUE.authority("id_number")


def test_the_packaged_files_parse_to_what_the_loaders_give() -> None:
    assert parse_subject_fields(raw_subjects()) == load_subject_fields()
    assert [f.to_dict() for f in load_subject_fields()] == raw_subjects()
    assert CATALOGUE.subjects == load_subject_fields()
    # the catalogue stays a list of types, its claims now saying what they carry
    assert [t.to_dict() for t in CATALOGUE.types] == raw_catalogue()


def test_a_claim_named_like_a_field_carries_it_only_when_it_says_so() -> None:
    def carried(vct: str) -> dict[str, str]:
        return CATALOGUE.get(vct).subject_claims

    assert carried("urn:ecert:resident-id-card") == {
        "name": "name",
        "sex": "sex",
        "ethnicity": "ethnicity",
        "birth_date": "birth_date",
        "address": "address",
    }
    # the company's name, the newborn's name, a vehicle's (possibly corporate) owner and a
    # title's right holder are not the citizen's name
    for vct in (
        "urn:ecert:business-licence",
        "urn:ecert:birth-medical-certificate",
        "urn:ecert:vehicle-licence",
        "urn:ecert:real-estate-certificate",
    ):
        assert CATALOGUE.get(vct).has_claim("name")
        assert carried(vct) == {}, vct
        assert CATALOGUE.get(vct).claim_for("name") is None
    # the applicant of a kinship proof is the citizen, under another claim name
    assert carried("urn:ecert:kinship-proof") == {"name": "subject_name"}
    # the marriage certificate's holder is the citizen; the spouse is not
    assert carried("urn:ecert:marriage-certificate") == {
        "name": "name",
        "sex": "sex",
        "birth_date": "birth_date",
    }
    # the residence permit's registered household address is the household address;
    # where the citizen lives now is not the police's register
    assert CATALOGUE.get("urn:ecert:residence-permit").claim_for("address") == (
        "household_address"
    )
    assert CATALOGUE.get("urn:ecert:social-security-card").claim_for("name") == "name"


def test_civil_affairs_owns_the_marital_status_the_household_register_carries() -> None:
    register = CATALOGUE.get("urn:ecert:household-register")
    spec = register.claim("marital_status")
    assert spec.label == {"zh": "婚姻状况", "en": "Marital status"}
    assert not spec.required and spec.sd
    assert register.claim_for("marital_status") == "marital_status"
    assert CATALOGUE.authority("marital_status") == "civil-affairs"
    assert [t.vct for t in CATALOGUE.carrying("marital_status")] == [register.vct]


def test_every_carrying_claim_has_the_fields_type_and_room_for_any_valid_value() -> None:
    seen: set[str] = set()
    for ctype in CATALOGUE:
        for spec in ctype.claims:
            if spec.subject is None:
                continue
            subject = CATALOGUE.subject_field(spec.subject)
            assert subject is not None
            assert spec.type == subject.type, (ctype.vct, spec.name)
            if subject.max_length is not None:
                assert spec.max_length is not None
                assert spec.max_length >= subject.max_length, (ctype.vct, spec.name)
            seen.add(spec.subject)
    # no field is owned but carried by nothing
    assert seen == set(EXPECTED_AUTHORITIES)


def test_an_authority_is_a_department_that_issues_something() -> None:
    hints = {t.issuer_hint for t in CATALOGUE}
    for subject in CATALOGUE.subject_fields():
        assert subject.authority in hints


def test_the_field_spec_checks_values_like_a_claim() -> None:
    spec = CATALOGUE.subject_field("birth_date")
    assert spec is not None
    assert spec.spec == ClaimSpec(
        name="birth_date", label=spec.label, type="date", required=True, sd=True
    )


def test_formats_doc_lists_every_field_and_its_authority() -> None:
    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    assert "issuer/data/subjects.json" in text
    for subject in CATALOGUE.subject_fields():
        assert f"| `{subject.name}` | `{subject.authority}` |" in text, subject.name


# -- what a broken file is refused with ---------------------------------------------------


def test_a_claim_carrying_an_unknown_field_is_refused_with_its_path() -> None:
    data = raw_catalogue()
    claim_entry(data, "urn:ecert:social-security-card", "name")["subject"] = "surname"
    message = refused(data)
    assert message == (
        "catalogue.json[7] (urn:ecert:social-security-card).claims[0] (name).subject: "
        "unknown subject field 'surname'"
    )


def test_a_claim_of_another_type_than_its_field_is_refused() -> None:
    data = raw_catalogue()
    claim_entry(data, "urn:ecert:resident-id-card", "valid_from")["subject"] = "name"
    del claim_entry(data, "urn:ecert:resident-id-card", "name")["subject"]
    message = refused(data)
    assert message.startswith("catalogue.json[0] (urn:ecert:resident-id-card).claims[7]")
    assert "(valid_from).subject: a date claim cannot carry 'name', a string field" in message


def test_a_claim_shorter_than_its_field_is_refused() -> None:
    data = raw_catalogue()
    claim_entry(data, "urn:ecert:driving-licence", "address")["max_length"] = 64
    message = refused(data)
    assert "(urn:ecert:driving-licence).claims[3] (address).subject" in message
    assert "max_length 64 is shorter than the field 'address' (128)" in message


def test_two_claims_of_one_type_carrying_one_field_are_refused() -> None:
    data = raw_catalogue()
    claim_entry(data, "urn:ecert:marriage-certificate", "spouse_name")["subject"] = "name"
    message = refused(data)
    assert "(urn:ecert:marriage-certificate).claims[5] (spouse_name).subject" in message
    assert "already carried by another claim of this type" in message


def test_a_subject_member_of_the_wrong_json_type_is_refused() -> None:
    data = raw_catalogue()
    claim_entry(data, "urn:ecert:resident-id-card", "name")["subject"] = ["name"]
    assert refused(data) == "catalogue.json[0].claims[0].subject: Input should be a valid string"


@pytest.mark.parametrize(
    ("authority", "why"),
    [
        ("Police", "is not a department slug (kebab-case)"),
        ("civil_affairs", "is not a department slug (kebab-case)"),
        ("civil--affairs", "is not a department slug (kebab-case)"),
        ("-police", "is not a department slug (kebab-case)"),
        ("p" * 65, "is not a department slug (kebab-case)"),
        (" ", "must be a non-empty string"),
    ],
)
def test_an_authority_that_is_not_a_department_slug_is_refused(authority: str, why: str) -> None:
    data = raw_subjects()
    data[5]["authority"] = authority
    message = subjects_refused(data)
    assert message.startswith("subjects.json[5] (marital_status).authority: ")
    assert message.endswith(why)


_BROKEN_SUBJECTS: list[tuple[Any, str]] = [
    (
        lambda d: d.append(copy.deepcopy(d[0])),
        "subjects.json[6].field: duplicate subject field 'name'",
    ),
    (
        lambda d: d[0].update(field="Name"),
        "subjects.json[0].field: 'Name' is not a snake_case field name",
    ),
    (
        lambda d: d[0].pop("max_length"),
        "subjects.json[0] (name).max_length: required for string fields",
    ),
    (
        lambda d: d[3].update(max_length=10),
        "subjects.json[3] (birth_date).max_length: only string fields have a max_length",
    ),
    (
        lambda d: d[0].update(type="image"),
        "subjects.json[0].type: Input should be 'string', 'date', 'integer', 'boolean' or 'enum'",
    ),
    (
        lambda d: d[0].update(owner="police"),
        "subjects.json[0].owner: Extra inputs are not permitted",
    ),
    (lambda d: d[0].pop("authority"), "subjects.json[0].authority: Field required"),
    (
        lambda d: d[0]["label"].update(en=""),
        "subjects.json[0] (name).label.en: must be a non-empty string",
    ),
    (lambda d: d.clear(), "subjects.json: must not be empty"),
]


@pytest.mark.parametrize(("change", "expected"), _BROKEN_SUBJECTS)
def test_a_broken_subjects_file_is_refused_with_the_path(
    change: Any, expected: str
) -> None:
    data = raw_subjects()
    change(data)
    assert subjects_refused(data) == expected


def test_the_catalogue_is_checked_against_the_subject_fields_it_is_given() -> None:
    fields = raw_subjects()
    fields.pop()  # no marital_status: the household register's claim names an unknown field
    message = refused(raw_catalogue(), fields)
    assert message == (
        "catalogue.json[3] (urn:ecert:household-register).claims[13] (marital_status)"
        ".subject: unknown subject field 'marital_status'"
    )


def test_a_catalogue_built_in_code_cannot_name_an_unknown_field() -> None:
    spec = ClaimSpec(
        name="holder",
        label=LocalisedText(zh="持有人", en="Holder"),
        type="string",
        required=True,
        sd=True,
        max_length=64,
        subject="name",
    )
    ctype = CredentialType(
        vct="urn:ecert:test",
        name=LocalisedText(zh="测试", en="Test"),
        kind="certificate",
        issuer_hint="police",
        validity_days=1,
        claims=(spec,),
    )
    with pytest.raises(CatalogueError, match="unknown subject field 'name'"):
        Catalogue((ctype,))
    name = SubjectField("name", LocalisedText(zh="姓名", en="Name"), "police", "string", 64)
    with pytest.raises(CatalogueError, match="duplicate subject field 'name'"):
        Catalogue((ctype,), (name, name))
    catalogue = Catalogue((ctype,), (name,))
    assert catalogue.carrying("name") == (ctype,)
    assert ctype.claim_for("name") == "holder"
