"""The scenes as data: issuer/data/scenes.json and its categories.

The issue asks for at least 52 kinds of scene, each with names in both languages, the
certificates and claims it accepts (the least it needs), its freshness window, and
whether it needs the portrait or an online check, grouped by the programme's categories
(issuer/data/scene_categories.json).
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from issuer.catalogue import (
    CatalogueError,
    default_scenes,
    load_catalogue,
    load_scene_categories,
    parse_scene_categories,
    parse_scenes,
)
from keys.trustlist import PORTRAIT_CLAIM, Scene

CATALOGUE = load_catalogue()
SCENES = default_scenes()
CATEGORIES = {c.id: c for c in load_scene_categories()}
ID_CARD = "urn:ecert:resident-id-card"

#: The kinds of scene the issue names, by their ids here (the minimum).
NAMED_BY_THE_ISSUE = [
    "hotel", "hostel", "hospital", "bank", "internet_cafe", "pharmacy", "school", "sim_card",
    "train", "air_travel", "express_delivery", "pawnshop", "second_hand_phone", "car_rental",
    "tenancy_registration", "notary", "social_security_office", "provident_fund_office",
    "marriage_registration", "job_application", "museum_discount", "scenic_spot_discount",
    "elderly_transit",
]  # fmt: skip

#: Link credentials: presented beside a ward's or principal's credential when a scene
#: allows guardians or carers, never on their own for a scene.
LINK_TYPES = {"urn:ecert:guardianship", "urn:ecert:care-authorisation"}


def _raw(name: str) -> Any:
    text = resources.files("issuer").joinpath("data", name).read_text("utf-8")
    return json.loads(text)


def _entries(scene: dict[str, Any]) -> list[dict[str, Any]]:
    return list(scene["accept"]) + list(scene.get("all_of", []))


def _scene(**changes: Any) -> dict[str, Any]:
    scene: dict[str, Any] = {
        "id": "reading_room",
        "name": {"zh": "阅览室", "en": "Reading room"},
        "accept": [{"vct": ID_CARD, "claims": ["name"]}],
        "max_age": 120,
        "category": "culture_tourism",
    }
    scene.update(changes)
    return scene


# -- the data ---------------------------------------------------------------------------


def test_at_least_52_kinds_of_scene_with_unique_ids() -> None:
    ids = [s["id"] for s in SCENES]
    assert len(ids) >= 52
    assert len(set(ids)) == len(ids)
    assert _raw("scenes.json") == SCENES  # the file is already in its clean form


@pytest.mark.parametrize("scene_id", NAMED_BY_THE_ISSUE)
def test_the_issue_s_scenes_are_there(scene_id: str) -> None:
    assert scene_id in {s["id"] for s in SCENES}


@pytest.mark.parametrize("scene", SCENES, ids=[s["id"] for s in SCENES])
def test_every_scene_has_a_known_category_names_and_a_freshness_window(
    scene: dict[str, Any],
) -> None:
    assert scene["category"] in CATEGORIES
    assert any("\u4e00" <= ch <= "\u9fff" for ch in scene["name"]["zh"])
    assert scene["name"]["en"].strip()
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in scene["name"]["en"])
    assert 0 < scene["max_age"] <= 3600


@pytest.mark.parametrize("scene", SCENES, ids=[s["id"] for s in SCENES])
def test_every_scene_names_catalogued_types_and_required_claims(scene: dict[str, Any]) -> None:
    entries = _entries(scene)
    assert entries
    for entry in entries:
        ctype = CATALOGUE.get(entry["vct"])
        assert entry["vct"] not in LINK_TYPES  # links come with a scene's guardian/carer
        assert entry["claims"]
        for claim in entry["claims"]:
            # required: every valid credential of the type satisfies the scene
            assert ctype.claim(claim).required, (entry["vct"], claim)
            assert claim != PORTRAIT_CLAIM  # asked for with "portrait", never required
    if scene.get("portrait"):
        assert any(CATALOGUE.get(e["vct"]).has_claim(PORTRAIT_CLAIM) for e in entries)


def test_every_category_has_scenes_and_both_names() -> None:
    used = {s["category"] for s in SCENES}
    assert used == set(CATEGORIES)
    for category in CATEGORIES.values():
        assert category.name.zh.strip() and category.name.en.strip()


def test_every_type_of_the_catalogue_is_accepted_by_a_scene() -> None:
    accepted = {e["vct"] for s in SCENES for e in _entries(s)}
    assert set(CATALOGUE.vcts) - LINK_TYPES - accepted == set()


def test_school_needs_both_the_household_register_and_the_birth_certificate() -> None:
    school = next(s for s in SCENES if s["id"] == "school")
    assert school["accept"] == []
    assert [e["vct"] for e in school["all_of"]] == [
        "urn:ecert:household-register",
        "urn:ecert:birth-medical-certificate",
    ]
    assert school["guardian"] is True


def test_flags_are_where_the_issue_puts_them() -> None:
    by_id = {s["id"]: s for s in SCENES}
    for online in ("sim_card", "notary", "marriage_registration", "provident_fund_office"):
        assert by_id[online].get("online") is True, online
    for guardian in ("hospital", "school", "vaccination"):
        assert by_id[guardian].get("guardian") is True, guardian
    for carer in ("bank", "social_security_office", "pharmacy", "provident_fund_office"):
        assert by_id[carer].get("carer") is True, carer
    assert by_id["hotel"].get("portrait") is True


def test_guardian_and_carer_scenes_are_few_and_deliberate() -> None:
    # a carer never opens an account or registers a SIM card in the elder's name
    by_id = {s["id"]: s for s in SCENES}
    for scene_id in ("sim_card", "marriage_registration", "notary", "hotel", "internet_cafe"):
        assert not by_id[scene_id].get("carer"), scene_id
        assert not by_id[scene_id].get("guardian"), scene_id


# -- the category check of the catalogue ------------------------------------------------


def test_a_scene_without_a_category_is_refused_by_the_catalogue() -> None:
    scene = _scene()
    del scene["category"]
    with pytest.raises(CatalogueError, match=r"reading_room\)\.category: every scene"):
        parse_scenes([scene], CATALOGUE)
    # the trust list's own model still reads it: older trust lists have no category
    assert Scene.model_validate(scene).category is None


def test_an_unknown_category_is_refused_and_echoed_only_when_it_is_an_id() -> None:
    with pytest.raises(CatalogueError, match="unknown category of scene 'moon_base'"):
        parse_scenes([_scene(category="moon_base")], CATALOGUE)
    with pytest.raises(CatalogueError) as info:
        parse_scenes([_scene(category="李四 110101199003070011")], CATALOGUE)
    assert "110101199003070011" not in str(info.value)
    assert "李四" not in str(info.value)
    with pytest.raises(CatalogueError):
        parse_scenes([_scene(category=7)], CATALOGUE)


def test_a_known_category_is_accepted_and_kept() -> None:
    (parsed,) = parse_scenes([_scene()], CATALOGUE)
    assert parsed["category"] == "culture_tourism"


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"id": "medical"},
        [{"id": "medical", "name": {"zh": "医疗"}}],
        [{"id": "Medical", "name": {"zh": "医疗", "en": "Medical"}}],
        [{"id": "medical", "name": {"zh": " ", "en": "Medical"}}],
        [{"id": "medical", "name": {"zh": "医疗", "en": "Medical"}, "extra": 1}],
        [{"id": "medical", "name": {"zh": "医疗", "en": "Medical"}}] * 2,
        [{"id": "m" * 65, "name": {"zh": "医疗", "en": "Medical"}}],
    ],
    ids=["empty", "object", "no-en", "bad-id", "blank", "extra", "twice", "long-id"],
)
def test_a_broken_categories_file_is_refused(data: object) -> None:
    with pytest.raises(CatalogueError):
        parse_scene_categories(copy.deepcopy(data))


def test_the_categories_file_parses_in_its_order() -> None:
    raw = _raw("scene_categories.json")
    assert [c.to_dict() for c in load_scene_categories()] == raw
