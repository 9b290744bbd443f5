"""The verifier's guardian and carer checks (issue 12, :mod:`verifier.links`): a set
``[credential, link]`` verified with both parties shown, and refused, naming the
member, when the link is revoked, past the ward's majority, for another person, for a
scene it does not cover, or out of order. Sets are built from raw JSON where the
project's own helpers would refuse to make them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from issuer.catalogue import load_catalogue
from service.links import eighteenth_birthday
from tests.factory import (
    CARE_AUTHORISATION,
    CARE_CLAIMS,
    GUARDIANSHIP,
    GUARDIANSHIP_CLAIMS,
    ID_CARD,
    World,
    full_example,
)
from tests.hygiene import personal, personal_claims
from verifier import VerificationResult, Verifier
from verifier.links import CARE_CLAIMS as CARE_SHOWN
from verifier.links import GUARDIANSHIP_CLAIMS as GUARDIANSHIP_SHOWN
from wallet import HeldCredential, Wallet, present, present_set

CHILD = personal("李小明", "a ward's name")
CHILD_ID = "110101201506010029"
OTHER_CHILD = personal("李小红", "another ward's name")
OTHER_CHILD_ID = "110101201009010052"
ELDER = "张三"
ELDER_ID = "110101194501010035"
HOSPITAL_CLAIMS = ("name", "id_number", "sex", "birth_date")
BANK_CLAIMS = ("name", "id_number")


#: Every scene names a category of issuer/data/scene_categories.json.
_CATEGORIES = {
    "hotel": "accommodation",
    "hospital": "medical",
    "bank": "finance",
    "pharmacy": "medical",
    "library": "culture_tourism",
}


def _scene(scene_id: str, claims: tuple[str, ...], **flags: bool) -> dict[str, Any]:
    return {
        "id": scene_id,
        "name": {"zh": scene_id, "en": scene_id},
        "accept": [{"vct": ID_CARD, "claims": list(claims)}],
        "max_age": 120,
        "category": _CATEGORIES[scene_id],
        **flags,
    }


@dataclass
class Links:
    world: World
    wallet: Wallet  # the guardian's, also the carer's (one holder key)

    def card(self, name: str, id_number: str, wallet: Wallet | None = None) -> HeldCredential:
        claims = full_example(load_catalogue().get(ID_CARD)) | {
            "name": name,
            "id_number": id_number,
        }
        wallet = wallet or self.wallet
        issued = self.world.issuer.issue(
            self.world.police.iss,
            ID_CARD,
            subject=personal("ward-1", "a ward's citizen id"),
            claims=personal_claims(claims, "a ward's card"),
            holder_jwk=wallet.holder_jwk,
        )
        return wallet.add(issued.sd_jwt)

    def link(self, vct: str, claims: dict[str, Any], not_after: int | None = None) -> str:
        iss = self.world.police.iss if vct == GUARDIANSHIP else self.world.civil.iss
        issued = self.world.issuer.issue(
            iss,
            vct,
            subject=personal("guardian-1", "a guardian's citizen id"),
            claims=personal_claims(claims, "a link's claims"),
            holder_jwk=self.wallet.holder_jwk,
            not_after=not_after,
        )
        self.wallet.add(issued.sd_jwt)
        self.last_link_id = issued.id
        return issued.id

    def held(self, credential_id_vct: str) -> HeldCredential:
        return self.wallet.find(credential_id_vct)

    def verifier(self) -> Verifier:
        return self.world.verifier()


@pytest.fixture
def links(world: World) -> Links:
    world.police = world.platform.register_issuer(
        "police", name_zh="市公安局", name_en="City Police", vcts=[ID_CARD, GUARDIANSHIP]
    )
    world.civil = world.platform.register_issuer(
        "civil-affairs", name_zh="市民政局", name_en="Civil Affairs", vcts=[CARE_AUTHORISATION]
    )
    world.platform.set_scenes(
        [
            _scene("hospital", HOSPITAL_CLAIMS, guardian=True),
            _scene("bank", BANK_CLAIMS, carer=True),
            _scene("pharmacy", BANK_CLAIMS, carer=True),
            _scene("library", BANK_CLAIMS, carer=True),
            _scene("hotel", BANK_CLAIMS),
        ]
    )
    return Links(world, world.wallet())


def _pair(
    links: Links, card: HeldCredential, link_vct: str, scene: str, claims: tuple[str, ...]
) -> str:
    link = links.held(link_vct)
    shown = GUARDIANSHIP_SHOWN if link_vct == GUARDIANSHIP else CARE_SHOWN
    return present_set(
        [card, link],
        {ID_CARD: claims, link_vct: shown},
        holder_key=links.wallet.holder_key,
        aud=scene,
        now=links.world.clock(),
    )


def _refused(result: VerificationResult, code: str, member: int) -> None:
    assert not result.valid
    assert any(e["code"] == code and e.get("member") == member for e in result.errors), (
        result.errors
    )
    assert result.claims == {}
    assert CHILD not in json.dumps(result.to_dict(), ensure_ascii=False)


def _guardian(links: Links) -> HeldCredential:
    card = links.card(CHILD, CHILD_ID)
    links.link(GUARDIANSHIP, dict(GUARDIANSHIP_CLAIMS), eighteenth_birthday("2015-06-01"))
    return card


def test_a_guardians_set_is_verified_with_both_parties(links: Links) -> None:
    card = _guardian(links)
    result = links.verifier().verify(
        _pair(links, card, GUARDIANSHIP, "hospital", HOSPITAL_CLAIMS), "hospital"
    )
    assert result.valid, result.errors
    out = result.to_dict()
    assert [m["role"] for m in out["members"]] == ["ward", "guardianship"]
    assert out["claims"][GUARDIANSHIP] == {
        "guardian_name": "王芳",
        "ward_name": CHILD,
        "relationship": "mother",
    }
    assert out["claims"][ID_CARD]["name"] == CHILD
    assert set(out["claims"][ID_CARD]) == set(HOSPITAL_CLAIMS)


def test_a_guardians_set_is_refused_once_the_link_is_revoked(links: Links) -> None:
    card = _guardian(links)
    links.world.issuer.revoke(links.world.police.iss, links.last_link_id)
    result = links.verifier().verify(
        _pair(links, card, GUARDIANSHIP, "hospital", HOSPITAL_CLAIMS), "hospital"
    )
    _refused(result, "revoked", 1)


def test_a_guardians_set_is_refused_after_the_wards_18th_birthday(links: Links) -> None:
    card = _guardian(links)
    majority = eighteenth_birthday("2015-06-01")
    assert majority == 2_001_168_000  # 2033-06-01 00:00 China time (UTC+8)
    links.world.clock.now = majority - 60
    assert (
        links.verifier()
        .verify(_pair(links, card, GUARDIANSHIP, "hospital", HOSPITAL_CLAIMS), "hospital")
        .valid
    )
    links.world.clock.now = majority + 60  # past the verifier's leeway
    result = links.verifier().verify(
        _pair(links, card, GUARDIANSHIP, "hospital", HOSPITAL_CLAIMS), "hospital"
    )
    _refused(result, "expired", 1)


def test_link_mismatch(links: Links) -> None:
    """A card of one child with the link of another is refused (``link_mismatch``)."""
    card = links.card(OTHER_CHILD, OTHER_CHILD_ID)  # held for the other child
    links.link(GUARDIANSHIP, dict(GUARDIANSHIP_CLAIMS))  # the link names 李小明
    result = links.verifier().verify(
        _pair(links, card, GUARDIANSHIP, "hospital", HOSPITAL_CLAIMS), "hospital"
    )
    _refused(result, "link_mismatch", 0)
    # the same name but another ID number, where both are disclosed
    links.wallet = Wallet(clock=links.world.clock)
    card = links.card(CHILD, OTHER_CHILD_ID)
    links.link(GUARDIANSHIP, dict(GUARDIANSHIP_CLAIMS))
    shown = (*GUARDIANSHIP_SHOWN, "ward_id_number")
    text = present_set(
        [card, links.held(GUARDIANSHIP)],
        {ID_CARD: HOSPITAL_CLAIMS, GUARDIANSHIP: shown},
        holder_key=links.wallet.holder_key,
        aud="hospital",
        now=links.world.clock(),
    )
    _refused(links.verifier().verify(text, "hospital"), "link_mismatch", 0)


def test_a_guardians_set_is_refused_where_the_scene_takes_no_guardian(links: Links) -> None:
    card = _guardian(links)
    result = links.verifier().verify(
        _pair(links, card, GUARDIANSHIP, "hotel", BANK_CLAIMS), "hotel"
    )
    _refused(result, "scene_unmet", 1)


def test_a_link_first_or_a_third_member_is_refused(links: Links) -> None:
    card = _guardian(links)
    link = links.held(GUARDIANSHIP)
    key = links.wallet.holder_key
    first = present(
        link,
        GUARDIANSHIP_SHOWN,
        holder_key=key,
        aud="hospital",
        nonce="n-1",
        now=links.world.clock(),
    )
    second = present(
        card, HOSPITAL_CLAIMS, holder_key=key, aud="hospital", nonce="n-1", now=links.world.clock()
    )
    raw = json.dumps([first, second], separators=(",", ":"))
    _refused(links.verifier().verify(raw, "hospital"), "scene_unmet", 0)
    links.link(CARE_AUTHORISATION, dict(CARE_CLAIMS))
    care = present(
        links.held(CARE_AUTHORISATION),
        CARE_SHOWN,
        holder_key=key,
        aud="hospital",
        nonce="n-1",
        now=links.world.clock(),
    )
    raw = json.dumps([second, first, care], separators=(",", ":"))
    result = links.verifier().verify(raw, "hospital")
    assert not result.valid and result.claims == {}
    assert any(e["code"] == "scene_unmet" for e in result.errors), result.errors


def test_a_credential_that_names_nobody_is_refused(links: Links) -> None:
    card = _guardian(links)
    links.world.platform.set_scenes([_scene("hospital", ("sex",), guardian=True)])
    result = links.verifier().verify(
        _pair(links, card, GUARDIANSHIP, "hospital", ("sex",)), "hospital"
    )
    _refused(result, "link_mismatch", 0)


def _carer(links: Links) -> HeldCredential:
    card = links.card(ELDER, ELDER_ID)
    links.link(CARE_AUTHORISATION, dict(CARE_CLAIMS))  # bank and pharmacy
    return card


def test_a_carers_set_is_verified_at_the_bank_with_both_parties(links: Links) -> None:
    card = _carer(links)
    result = links.verifier().verify(
        _pair(links, card, CARE_AUTHORISATION, "bank", BANK_CLAIMS), "bank"
    )
    assert result.valid, result.errors
    out = result.to_dict()
    assert [m["role"] for m in out["members"]] == ["principal", "care_authorisation"]
    assert out["claims"][CARE_AUTHORISATION] == {
        "principal_name": ELDER,
        "carer_name": "李四",
        "scenes": "bank pharmacy",
    }


def test_a_carers_set_is_refused_for_a_scene_not_authorised(links: Links) -> None:
    card = _carer(links)
    result = links.verifier().verify(
        _pair(links, card, CARE_AUTHORISATION, "library", BANK_CLAIMS), "library"
    )
    _refused(result, "scene_unmet", 1)
    assert "does not name this scene" in result.errors[0]["message"]
    # a scene that takes no carer at all
    result = links.verifier().verify(
        _pair(links, card, CARE_AUTHORISATION, "hospital", HOSPITAL_CLAIMS), "hospital"
    )
    _refused(result, "scene_unmet", 1)


def test_a_carers_set_is_refused_after_until(links: Links) -> None:
    card = links.card(ELDER, ELDER_ID)
    end = 1_800_000_000 + 3600
    links.link(CARE_AUTHORISATION, dict(CARE_CLAIMS), end)
    assert (
        links.verifier()
        .verify(_pair(links, card, CARE_AUTHORISATION, "bank", BANK_CLAIMS), "bank")
        .valid
    )
    links.world.clock.now = end + 60
    result = links.verifier().verify(
        _pair(links, card, CARE_AUTHORISATION, "bank", BANK_CLAIMS), "bank"
    )
    _refused(result, "expired", 1)


def test_a_carers_set_is_refused_once_the_authorisation_is_revoked(links: Links) -> None:
    card = _carer(links)
    links.world.issuer.revoke(links.world.civil.iss, links.last_link_id)
    result = links.verifier().verify(
        _pair(links, card, CARE_AUTHORISATION, "bank", BANK_CLAIMS), "bank"
    )
    _refused(result, "revoked", 1)


def test_a_copy_bound_to_another_holder_is_refused(links: Links) -> None:
    other = Wallet(clock=links.world.clock)
    card = links.card(CHILD, CHILD_ID, other)
    links.link(GUARDIANSHIP, dict(GUARDIANSHIP_CLAIMS))
    key = links.wallet.holder_key
    one = present(
        card,
        HOSPITAL_CLAIMS,
        holder_key=other.holder_key,
        aud="hospital",
        nonce="n",
        now=links.world.clock(),
    )
    two = present(
        links.held(GUARDIANSHIP),
        GUARDIANSHIP_SHOWN,
        holder_key=key,
        aud="hospital",
        nonce="n",
        now=links.world.clock(),
    )
    result = links.verifier().verify(json.dumps([one, two], separators=(",", ":")), "hospital")
    _refused(result, "set_holder_mismatch", 1)
