"""Set presentations: several credentials in one check (issue 12, docs/formats.md).

A citizen holds a household register and a birth medical certificate; a scene with
``all_of`` asks for both in one presentation. Attacks are built from raw JSON and from
presentations made one by one (``present``), not with ``present_set``, where the set
helper would hide the bug.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.catalogue import default_scenes, load_catalogue
from keys.b64 import b64url_encode
from keys.trustlist import MAX_SET, Scene
from store.sqlite import SQLiteStore
from tests.factory import ID_CARD, ID_CLAIMS, RESIDENCE_PERMIT, World, full_example
from tests.hygiene import personal, personal_claims
from verifier import ERROR_CODES, VerificationResult, Verifier
from verifier.errors import SceneUnmet
from verifier.sets import (
    DEFAULT_MATCHERS,
    MemberCheck,
    SetMatch,
    SetProblem,
    match_all_of,
    set_limit,
)
from wallet import ClaimsUnavailable, HeldCredential, Wallet, present, present_set

HOUSEHOLD = "urn:ecert:household-register"
BIRTH = "urn:ecert:birth-medical-certificate"
SET_SCENE = "school_set"
TRIO_SCENE = "school_trio"
HOUSEHOLD_CLAIMS = ("name", "id_number", "address", "head_of_household_name")
BIRTH_CLAIMS = ("name", "birth_date", "mother_name")
CHILD_NAME = "李小明"
CHILD_ID = "110101201506010029"


def _scene(scene_id: str, entries: Sequence[tuple[str, Sequence[str]]]) -> dict[str, Any]:
    return {
        "id": scene_id,
        "name": {"zh": "入学报名（测试）", "en": "School enrolment (test)"},
        "accept": [],
        "all_of": [{"vct": v, "claims": list(c)} for v, c in entries],
        "max_age": 120,
        "category": "education",
    }


@dataclass
class Family:
    """A parent's wallet holding a child's household register and birth certificate."""

    world: World
    wallet: Wallet
    household: HeldCredential
    birth: HeldCredential
    household_id: str
    birth_id: str

    def scene(self, scene_id: str = SET_SCENE) -> Scene:
        return self.verifier().trust_list.scenes[scene_id]

    def verifier(self, **kwargs: Any) -> Verifier:
        return self.world.verifier(**kwargs)

    def member(
        self,
        held: HeldCredential,
        *,
        aud: str = SET_SCENE,
        nonce: str = "set-nonce-1",
        key: Any = None,
    ) -> str:
        claims: tuple[str, ...] = HOUSEHOLD_CLAIMS if held.vct == HOUSEHOLD else BIRTH_CLAIMS
        if held.vct == ID_CARD:
            claims = ("name", "id_number")
        return present(
            held,
            claims,
            holder_key=key or self.wallet.holder_key,
            aud=aud,
            now=self.world.clock(),
            nonce=nonce,
        )


def raw_set(members: Sequence[object]) -> str:
    """The set text exactly as the format fixes it (no spaces)."""
    return json.dumps(list(members), separators=(",", ":"))


def _issue(world: World, iss: str, vct: str, claims: dict[str, Any], wallet: Wallet) -> str:
    issued = world.issuer.issue(
        iss,
        vct,
        subject=personal("citizen-sets-1", "sets citizen id"),
        claims=personal_claims(claims, "sets claims"),
        holder_jwk=wallet.holder_jwk,
    )
    wallet.add(issued.sd_jwt)
    return issued.id


@pytest.fixture
def family(world: World) -> Family:
    return make_family(world)


def make_family(world: World) -> Family:
    """The police issue household registers, the health commission birth certificates;
    the two test scenes with ``all_of``; a wallet holding one card of each."""
    world.platform.register_issuer(
        "police",
        name_zh="市公安局",
        name_en="City Police",
        vcts=[ID_CARD, RESIDENCE_PERMIT, HOUSEHOLD],
    )
    health = world.platform.register_issuer(
        "health", name_zh="市卫生健康委", name_en="Health Commission", vcts=[BIRTH]
    )
    world.platform.set_scenes(
        [
            *default_scenes(),
            _scene(SET_SCENE, [(HOUSEHOLD, HOUSEHOLD_CLAIMS), (BIRTH, BIRTH_CLAIMS)]),
            _scene(
                TRIO_SCENE,
                [(ID_CARD, ("name",)), (HOUSEHOLD, HOUSEHOLD_CLAIMS), (BIRTH, BIRTH_CLAIMS)],
            ),
        ]
    )
    catalogue = load_catalogue()
    wallet = world.wallet()
    household = full_example(catalogue.get(HOUSEHOLD)) | {"name": CHILD_NAME, "id_number": CHILD_ID}
    birth = full_example(catalogue.get(BIRTH)) | {
        "name": CHILD_NAME,
        "mother_name": "王芳",
        "mother_id_number": "440305198812120064",
        "father_id_number": "110101199003070011",
    }
    household_id = _issue(world, world.police.iss, HOUSEHOLD, household, wallet)
    birth_id = _issue(world, health.iss, BIRTH, birth, wallet)
    return Family(world, wallet, wallet.find(HOUSEHOLD), wallet.find(BIRTH), household_id, birth_id)


def refused(result: VerificationResult, code: str, member: int | None, vct: str) -> None:
    """Refused with ``code`` naming ``member`` (0-based, None for a missing type) and
    ``vct``; no claim of any member in the result or its JSON."""
    assert result.valid is False
    matching = [e for e in result.errors if e["code"] == code and e.get("vct") == vct]
    assert matching, result.errors
    error = matching[0]
    assert error.get("member") == member
    name = f"member {member + 1} ({vct}): " if member is not None else f"missing ({vct}): "
    assert error["message"].startswith(name)
    assert result.claims == {}
    out = result.to_dict()
    assert out["claims"] == {}
    assert CHILD_NAME not in json.dumps(out, ensure_ascii=False)


# -- accepted -----------------------------------------------------------------------------


def test_a_set_is_verified_with_the_claims_of_each_member(family: Family) -> None:
    text = family.wallet.present_set_for_scene(family.scene())
    assert text.startswith('["') and " " not in text

    result = family.verifier().verify(text, SET_SCENE)

    assert result.valid, result.errors
    out = result.to_dict()
    assert out["vct"] is None and out["iss"] is None and out["status"] == "valid"
    assert out["members"] == [
        {"vct": HOUSEHOLD, "iss": family.world.police.iss, "status": "valid", "role": "member"},
        {"vct": BIRTH, "iss": family.birth.iss, "status": "valid", "role": "member"},
    ]
    assert set(out["claims"]) == {HOUSEHOLD, BIRTH}
    assert tuple(out["claims"][HOUSEHOLD]) == HOUSEHOLD_CLAIMS  # exactly the scene's claims
    assert tuple(out["claims"][BIRTH]) == BIRTH_CLAIMS
    assert out["claims"][BIRTH]["name"] == CHILD_NAME


def test_a_set_in_any_order_with_a_trailing_enter_is_verified(family: Family) -> None:
    text = raw_set([family.member(family.birth), family.member(family.household)])

    result = family.verifier().verify(text.encode("ascii") + b"\r\n", SET_SCENE)

    assert result.valid, result.errors
    assert [m["vct"] for m in result.to_dict()["members"]] == [BIRTH, HOUSEHOLD]


def test_a_set_for_a_venue_with_its_own_audience_and_nonce(family: Family) -> None:
    nonce = b64url_encode(secrets.token_bytes(16))
    text = present_set(
        [family.household, family.birth],
        dict(family.scene().all_of),
        holder_key=family.wallet.holder_key,
        aud="https://venue.example",
        nonce=nonce,
        now=family.world.clock(),
    )
    v = family.verifier()

    assert v.verify(text, SET_SCENE, expected_aud="https://venue.example", expected_nonce=nonce)
    ok = v.verify(text, SET_SCENE, expected_aud="https://venue.example", expected_nonce=nonce)
    assert ok.codes == ["replayed"]  # the set's one nonce is used once


def test_a_verified_set_is_not_accepted_twice(family: Family) -> None:
    text = family.wallet.present_set_for_scene(family.scene())
    v = family.verifier()
    assert v.verify(text, SET_SCENE).valid

    assert v.verify(text, SET_SCENE).codes == ["replayed"]


def test_a_refused_set_does_not_use_up_its_nonce(family: Family) -> None:
    v = family.verifier()
    bad = raw_set([family.member(family.household), family.member(family.birth, aud="hotel")])
    assert not v.verify(bad, SET_SCENE).valid

    good = raw_set([family.member(family.household), family.member(family.birth)])
    assert v.verify(good, SET_SCENE).valid


# -- refused, the member named --------------------------------------------------------------


def test_set_member_missing(family: Family) -> None:
    text = raw_set(
        [
            family.member(family.household, aud=TRIO_SCENE),
            family.member(family.birth, aud=TRIO_SCENE),
        ]
    )

    result = family.verifier().verify(text, TRIO_SCENE)

    assert result.codes == ["set_member_missing"]
    refused(result, "set_member_missing", None, ID_CARD)


def test_the_wallet_names_the_type_it_lacks(family: Family) -> None:
    with pytest.raises(ClaimsUnavailable, match=ID_CARD):
        family.wallet.present_set_for_scene(family.scene(TRIO_SCENE))


def test_an_extra_member_is_refused_naming_it(family: Family) -> None:
    card, _ = family.world.issue_id_card(family.wallet, ID_CLAIMS)
    text = raw_set(
        [family.member(family.household), family.member(family.birth), family.member(card)]
    )

    result = family.verifier().verify(text, SET_SCENE)

    assert result.codes == ["scene_unmet"]
    refused(result, "scene_unmet", 2, ID_CARD)


def test_a_type_twice_is_refused_naming_the_second(family: Family) -> None:
    again = family.member(family.household)
    other = present(
        family.household,
        ("name", "id_number", "address", "head_of_household_name", "sex"),
        holder_key=family.wallet.holder_key,
        aud=SET_SCENE,
        now=family.world.clock(),
        nonce="set-nonce-1",
    )
    result = family.verifier().verify(
        raw_set([again, family.member(family.birth), other]), SET_SCENE
    )

    refused(result, "scene_unmet", 2, HOUSEHOLD)


def test_a_revoked_member_is_refused_naming_it(family: Family) -> None:
    family.world.issuer.revoke(family.birth.iss, family.birth_id)

    result = family.verifier().verify(
        family.wallet.present_set_for_scene(family.scene()), SET_SCENE
    )

    assert result.codes == ["revoked"]
    refused(result, "revoked", 1, BIRTH)
    assert result.status == "revoked"  # the worst of the members'
    assert [m["status"] for m in result.to_dict()["members"]] == ["valid", "revoked"]


def test_set_holder_mismatch(family: Family) -> None:
    other = family.world.wallet()
    catalogue = load_catalogue()
    birth = full_example(catalogue.get(BIRTH)) | {
        "name": CHILD_NAME,
        "mother_id_number": "440305198812120064",
        "father_id_number": "110101199003070011",
    }
    _issue(family.world, family.birth.iss, BIRTH, birth, other)
    text = raw_set(
        [family.member(family.household), family.member(other.find(BIRTH), key=other.holder_key)]
    )

    result = family.verifier().verify(text, SET_SCENE)

    assert result.codes == ["set_holder_mismatch"]
    refused(result, "set_holder_mismatch", 1, BIRTH)


def test_members_with_different_nonces_are_refused(family: Family) -> None:
    text = raw_set(
        [family.member(family.household), family.member(family.birth, nonce="set-nonce-2")]
    )

    result = family.verifier().verify(text, SET_SCENE)

    assert result.codes == ["key_binding_invalid"]
    refused(result, "key_binding_invalid", 1, BIRTH)
    assert "nonce" in result.errors[0]["message"]


def test_members_with_different_audiences_are_refused(family: Family) -> None:
    text = raw_set(
        [family.member(family.household), family.member(family.birth, aud="https://elsewhere")]
    )

    result = family.verifier().verify(text, SET_SCENE)

    assert result.codes == ["key_binding_invalid"]
    refused(result, "key_binding_invalid", 1, BIRTH)


def test_a_member_made_for_another_scene_is_refused_and_the_scene_named(family: Family) -> None:
    text = raw_set([family.member(family.household, aud="hospital"), family.member(family.birth)])

    result = family.verifier().verify(text, SET_SCENE)

    refused(result, "key_binding_invalid", 0, HOUSEHOLD)
    assert result.to_dict()["made_for"] == "hospital"


def test_a_whole_set_made_for_another_set_scene_is_refused(family: Family) -> None:
    text = raw_set(
        [
            family.member(family.household, aud=TRIO_SCENE),
            family.member(family.birth, aud=TRIO_SCENE),
        ]
    )

    result = family.verifier().verify(text, SET_SCENE)

    refused(result, "key_binding_invalid", 0, HOUSEHOLD)
    refused(result, "key_binding_invalid", 1, BIRTH)


def test_a_member_with_a_forged_signature_is_refused_naming_its_place(family: Family) -> None:
    good = family.member(family.birth)
    jwt, rest = good.split("~", 1)
    head, body, sig = jwt.split(".")
    forged = f"{head}.{body}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}~{rest}"

    result = family.verifier().verify(raw_set([family.member(family.household), forged]), SET_SCENE)

    assert result.codes == ["invalid_signature"]  # no "missing" noise for an unread member
    assert result.errors[0]["member"] == 1
    assert result.errors[0]["message"].startswith("member 2: ")
    assert result.claims == {} and result.to_dict()["claims"] == {}


def test_a_member_lacking_a_claim_of_the_scene_is_refused(family: Family) -> None:
    short = present(
        family.birth,
        ("name", "birth_date"),
        holder_key=family.wallet.holder_key,
        aud=SET_SCENE,
        now=family.world.clock(),
        nonce="set-nonce-1",
    )
    result = family.verifier().verify(raw_set([family.member(family.household), short]), SET_SCENE)

    refused(result, "scene_unmet", 1, BIRTH)


def test_a_set_for_a_scene_that_takes_none_is_refused(family: Family) -> None:
    card, _ = family.world.issue_id_card(family.wallet, ID_CLAIMS)
    text = raw_set([family.member(card, aud="hotel"), family.member(family.household, aud="hotel")])

    result = family.verifier().verify(text, "hotel")

    assert result.codes == ["scene_unmet"] and result.claims == {}
    assert result.to_dict()["claims"] == {}


def test_one_member_alone_is_not_the_set(family: Family) -> None:
    result = family.verifier().verify(family.member(family.household), SET_SCENE)

    assert result.codes == ["scene_unmet"]
    assert "set" in result.errors[0]["message"]
    assert result.to_dict()["claims"] == {}


# -- malformed arrays, from raw JSON ---------------------------------------------------------


def _malformed_sets(family: Family) -> dict[str, str]:
    a, b = family.member(family.household), family.member(family.birth)
    return {
        "empty": "[]",
        "one": raw_set([a]),
        "five": raw_set([a, b, a + "x", b + "x", a + "y"]),
        "a number": f'[1,"{a}"]',
        "a number alone": "[5]",
        "nested": raw_set([[a], b]),
        "an object": raw_set([{"p": a}, b]),
        "null": raw_set([None, b]),
        "an empty string": raw_set(["", b]),
        "duplicate": raw_set([a, a]),
        "spaces": json.dumps([a, b]),
        "an escape": raw_set([a, b]).replace(a[:1], "\\u00" + format(ord(a[0]), "02x"), 1),
        "unterminated": raw_set([a, b])[:-1],
        "trailing comma": raw_set([a, b])[:-1] + ",]",
        "two arrays": raw_set([a, b]) + raw_set([a, b]),
        "a member too large": raw_set(["A" * 16_385, b]),
        # compact JSON escapes it as \u00e9: found by the property test below
        "a non-ASCII member": raw_set([a + "é", b]),
    }


MALFORMED = [
    "empty",
    "one",
    "five",
    "a number",
    "a number alone",
    "nested",
    "an object",
    "null",
    "an empty string",
    "duplicate",
    "spaces",
    "an escape",
    "unterminated",
    "trailing comma",
    "two arrays",
    "a member too large",
    "a non-ASCII member",
]


@pytest.mark.parametrize("case", MALFORMED)
def test_set_malformed(family: Family, case: str) -> None:
    text = _malformed_sets(family)[case]

    result = family.verifier().verify(text, SET_SCENE)

    assert result.codes == ["set_malformed"], result.errors
    assert result.claims == {} and result.to_dict()["claims"] == {}
    assert "members" not in result.to_dict()  # refused before any member was read


def test_a_set_beyond_the_size_limit_is_refused_before_parsing(family: Family) -> None:
    result = family.verifier().verify("[" + "A" * set_limit(16 * 1024), SET_SCENE)

    assert result.codes == ["malformed"]


def test_a_malformed_member_is_named(family: Family) -> None:
    result = family.verifier().verify(
        raw_set([family.member(family.household), "not~a~presentation"]), SET_SCENE
    )

    assert result.codes == ["malformed"]
    assert result.errors[0]["member"] == 1
    assert result.errors[0]["message"].startswith("member 2: ")


# -- the guardians' extension point -------------------------------------------------------


def test_a_matcher_before_all_of_answers_for_the_sets_it_knows(family: Family) -> None:
    seen: list[list[str | None]] = []

    def pair(scene: Scene, members: Sequence[MemberCheck]) -> SetMatch | None:
        seen.append([m.vct for m in members])
        if scene.id != "hospital":
            return None
        ward, link = members  # [an accepted credential, the link]; the test's own rule
        if ward.disclosed.get("name") != link.disclosed.get("name"):
            problem = SetProblem(link.index, SceneUnmet("the link names another person"), link.vct)
            return SetMatch(("ward", "guardianship"), (("name",), ("name",)), (problem,))
        return SetMatch(("ward", "guardianship"), (("name",), ("mother_name",)))

    v = family.verifier(set_matchers=(pair, *DEFAULT_MATCHERS))
    hospital = raw_set(
        [
            family.member(family.household, aud="hospital"),
            family.member(family.birth, aud="hospital"),
        ]
    )
    result = v.verify(hospital, "hospital")

    assert result.valid, result.errors
    assert [m["role"] for m in result.to_dict()["members"]] == ["ward", "guardianship"]
    assert result.claims == {HOUSEHOLD: {"name": CHILD_NAME}, BIRTH: {"mother_name": "王芳"}}
    # other scenes fall through to all_of
    assert v.verify(family.wallet.present_set_for_scene(family.scene()), SET_SCENE).valid
    assert seen == [[HOUSEHOLD, BIRTH], [HOUSEHOLD, BIRTH]]
    assert match_all_of(family.scene("hotel"), []) is None


def test_check_member_gives_every_disclosed_claim_for_the_matchers(family: Family) -> None:
    checked = family.verifier().check_member(family.member(family.birth), SET_SCENE, index=1)

    assert checked.valid and checked.index == 1 and checked.vct == BIRTH
    assert set(checked.disclosed) >= set(BIRTH_CLAIMS)
    assert checked.holder == family.wallet.holder_key.kid
    assert checked.nonce == "set-nonce-1"


def test_the_library_refuses_to_make_a_bad_set(family: Family) -> None:
    wanted = dict(family.scene().all_of)
    key = family.wallet.holder_key
    with pytest.raises(ClaimsUnavailable):
        present_set([family.household], wanted, holder_key=key, aud=SET_SCENE)
    with pytest.raises(ClaimsUnavailable):
        present_set([family.household, family.household], wanted, holder_key=key, aud=SET_SCENE)
    with pytest.raises(ClaimsUnavailable):
        family.wallet.present_set_for_scene(family.scene("hotel"))


# -- hostile sets (property tests) --------------------------------------------------------


class _NeverSeen:
    """A replay cache that remembers nothing: the original stays valid for every example."""

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        return True


@dataclass(frozen=True)
class SetTarget:
    verifier: Verifier
    members: tuple[str, str]

    @property
    def original(self) -> str:
        return raw_set(self.members)


@pytest.fixture(scope="module")
def set_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SetTarget]:
    store = SQLiteStore(str(tmp_path_factory.mktemp("sets-fuzz") / "ecert.db"))
    try:
        fam = make_family(World(store))
        v = fam.verifier(replay=_NeverSeen())
        members = (fam.member(fam.household), fam.member(fam.birth))
        assert v.verify(raw_set(members), SET_SCENE).valid
        yield SetTarget(v, members)
    finally:
        store.close()


def _contract(target: SetTarget, text: str | bytes) -> None:
    result = target.verifier.verify(text, SET_SCENE)
    assert set(result.codes) <= set(ERROR_CODES)
    if result.valid:  # only the wallet's two presentations, in either order
        plain = text.decode("ascii") if isinstance(text, bytes) else text
        assert sorted(json.loads(plain)) == sorted(target.members)
    else:
        assert result.claims == {} and result.to_dict()["claims"] == {}
    for error in result.errors:
        member = error.get("member")
        assert member is None or 0 <= member < MAX_SET
    json.dumps(result.to_dict())


HOSTILE = settings(max_examples=150, deadline=None)


@HOSTILE
@given(data=st.data())
def test_byte_flips_in_a_set_never_crash(set_target: SetTarget, data: st.DataObject) -> None:
    raw = bytearray(set_target.original.encode("ascii"))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    _contract(set_target, bytes(raw))


@HOSTILE
@given(data=st.data())
def test_truncated_sets_never_crash(set_target: SetTarget, data: st.DataObject) -> None:
    text = set_target.original
    _contract(set_target, text[: data.draw(st.integers(0, len(text) - 1))])


@HOSTILE
@given(
    items=st.lists(
        st.one_of(
            st.sampled_from(["household", "birth"]),
            st.text(max_size=40),
            st.integers(),
            st.none(),
            st.lists(st.text(max_size=5), max_size=2),
        ),
        max_size=6,
    )
)
def test_arrays_of_members_and_junk_never_crash(set_target: SetTarget, items: list[Any]) -> None:
    named = {"household": set_target.members[0], "birth": set_target.members[1]}
    _contract(set_target, raw_set([named.get(i, i) if isinstance(i, str) else i for i in items]))
