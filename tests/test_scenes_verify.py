"""Every scene verified with a presentation of every type it accepts.

For each (scene, accepted type) of issuer/data/scenes.json: the type's example claims
(tests/factory.py) are issued by the real issuer, the wallet presents them for the scene,
and the verifier answers with exactly the scene's claims -- offline over a bundle for a
scene that may be checked offline, and live (the service's own verifier) for every
scene; an offline verifier refuses a scene that needs an online check
(``online_check_required``) without reading the presentation.

A scene that needs a set (``all_of``: school enrolment) refuses any one of its members
shown alone; the set itself is the set presentation's tests' (tests/test_sets*.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer.catalogue import default_scenes, load_catalogue
from service.verification import build_online_verifier
from store.sqlite import SQLiteStore
from tests.factory import World, full_example
from tests.hygiene import personal
from verifier import Verifier
from wallet import HeldCredential, Wallet
from wallet.presentation import present

CATALOGUE = load_catalogue()
SCENES = {s["id"]: s for s in default_scenes()}
#: (scene, vct) for every type a scene accepts on its own ("one of").
ACCEPTED = sorted((s["id"], a["vct"]) for s in SCENES.values() for a in s["accept"])
#: (scene, vct) for every member of a scene's set ("all of").
SET_MEMBERS = sorted(
    (s["id"], a["vct"]) for s in SCENES.values() for a in s.get("all_of", [])
)


class Held:
    """One credential of every catalogue type, in one wallet, and the verifiers."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.wallet = Wallet(clock=world.clock)
        registry = world.platform.register_issuer(
            "registry", name_zh="登记处", name_en="Registry", vcts=list(CATALOGUE.vcts)
        )
        self.cards: dict[str, HeldCredential] = {}
        for ctype in CATALOGUE.types:
            issued = world.issuer.issue(
                registry.iss,
                ctype.vct,
                subject=personal("citizen-scenes-1", "scene test subject"),
                claims=full_example(ctype),
                holder_jwk=dict(self.wallet.holder_jwk),
            )
            self.cards[ctype.vct] = self.wallet.add(issued.sd_jwt)
        # built once every credential is issued: the bundle holds their status lists
        self.offline: Verifier = world.verifier()
        self.live: Verifier = build_online_verifier(world.store, world.platform, world.clock)

    def present(self, scene: str, vct: str) -> str:
        return self.wallet.present_for_scene(
            self.cards[vct], self.offline.trust_list.scenes[scene]
        )

    def claims_of(self, vct: str, names: list[str]) -> dict[str, Any]:
        claims = full_example(CATALOGUE.get(vct))  # what was issued
        return {name: claims[name] for name in names}


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Held]:
    store = SQLiteStore(str(Path(tmp_path_factory.mktemp("scenes")) / "ecert.db"))
    try:
        yield Held(World(store))
    finally:
        store.close()


def _wanted(scene: str, vct: str) -> list[str]:
    (claims,) = [a["claims"] for a in SCENES[scene]["accept"] if a["vct"] == vct]
    return list(claims)


@pytest.mark.parametrize(("scene", "vct"), ACCEPTED, ids=[f"{s}-{v[10:]}" for s, v in ACCEPTED])
def test_each_scene_verifies_each_type_it_accepts(held: Held, scene: str, vct: str) -> None:
    wanted = _wanted(scene, vct)
    expected = held.claims_of(vct, wanted)

    live = held.live.verify(held.present(scene, vct), scene)
    assert live.valid, live.errors
    assert (live.vct, live.status) == (vct, "valid")
    assert live.claims == expected  # exactly the scene's claims: nothing more

    offline = held.offline.verify(held.present(scene, vct), scene)
    if SCENES[scene].get("online"):
        assert offline.valid is False
        assert offline.codes == ["online_check_required"]
        assert offline.claims == {} and offline.vct is None  # not even read
    else:
        assert offline.valid, offline.errors
        assert offline.claims == expected


@pytest.mark.parametrize(
    ("scene", "vct"), SET_MEMBERS, ids=[f"{s}-{v[10:]}" for s, v in SET_MEMBERS]
)
def test_a_set_scene_refuses_one_member_alone(held: Held, scene: str, vct: str) -> None:
    # a presentation of one member, disclosing that member's claims, made for the scene
    (claims,) = [a["claims"] for a in SCENES[scene]["all_of"] if a["vct"] == vct]
    text = present(
        held.cards[vct],
        list(claims),
        holder_key=held.wallet.holder_key,
        aud=scene,
        now=held.world.clock(),
    )
    for verifier in (held.live, held.offline):
        result = verifier.verify(text, scene)
        assert result.valid is False and result.claims == {}
        assert "scene_unmet" in result.codes


def test_every_type_is_verified_in_some_scene() -> None:
    # the parametrization above covers the whole catalogue but the link credentials,
    # which are presented beside a ward's or principal's credential
    covered = {vct for _, vct in ACCEPTED} | {vct for _, vct in SET_MEMBERS}
    links = {"urn:ecert:guardianship", "urn:ecert:care-authorisation"}
    assert set(CATALOGUE.vcts) - links <= covered
