"""The verifier remembers issuer-signed JWTs it has verified, and nothing more."""

from __future__ import annotations

import pytest

import keys.signing
from keys import KeyState
from tests.factory import World


def _count_signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = keys.signing.VerifyingKey.verify

    def counting(self: keys.signing.VerifyingKey, data: bytes, signature: bytes) -> None:
        calls[0] += 1
        original(self, data, signature)

    monkeypatch.setattr(keys.signing.VerifyingKey, "verify", counting)
    return calls


def test_a_credential_shown_again_skips_only_the_issuer_signature(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    held, wallet = world.issue_id_card()
    v = world.verifier()
    scene = v.trust_list.scenes["hotel"]
    calls = _count_signature_checks(monkeypatch)
    assert v.verify(wallet.present_for_scene(held, scene), "hotel").valid
    assert calls[0] == 2  # issuer + key binding
    world.clock.advance(1)
    assert v.verify(wallet.present_for_scene(held, scene), "hotel").valid
    assert calls[0] == 3  # key binding only: the issuer JWT's bytes were verified before


def test_a_forged_signature_on_known_content_is_not_taken_from_the_cache(world: World) -> None:
    held, wallet = world.issue_id_card()
    v = world.verifier()
    scene = v.trust_list.scenes["hotel"]
    good = wallet.present_for_scene(held, scene)
    assert v.verify(good, "hotel").valid
    jwt = good.split("~", 1)[0]
    head, body, sig = jwt.split(".")
    forged_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    wallet2_pres = wallet.present_for_scene(held, scene)
    forged = ".".join([head, body, forged_sig]) + "~" + wallet2_pres.split("~", 1)[1]
    result = v.verify(forged, "hotel")
    assert result.codes == ["invalid_signature"]


def test_a_compromised_key_is_refused_even_for_a_remembered_credential(world: World) -> None:
    held, wallet = world.issue_id_card()
    kid = world.keyring.signing_key(world.police.iss).kid
    v = world.verifier()
    scene = v.trust_list.scenes["hotel"]
    assert v.verify(wallet.present_for_scene(held, scene), "hotel").valid
    world.keyring.set_state(kid, KeyState.COMPROMISED)
    world.platform.register_issuer(
        "police", name_zh="市公安局", name_en="City Police", vcts=list(world.police.vcts)
    )
    fresh = world.verifier()  # a new bundle means a new verifier and an empty cache
    assert fresh.verify(wallet.present_for_scene(held, scene), "hotel").codes == [
        "key_compromised"
    ]


def test_the_cache_is_bounded_and_can_be_turned_off(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = [world.issue_id_card() for _ in range(3)]
    v = world.verifier(verified_cache=2)
    scene = v.trust_list.scenes["hotel"]
    for held, wallet in shown:
        assert v.verify(wallet.present_for_scene(held, scene), "hotel").valid
    assert len(v._verified) == 2
    off = world.verifier(verified_cache=0)
    calls = _count_signature_checks(monkeypatch)
    held, wallet = shown[0]
    for _ in range(2):
        world.clock.advance(1)
        assert off.verify(wallet.present_for_scene(held, scene), "hotel").valid
    assert calls[0] == 4
    assert off._verified == {}


def test_the_least_recently_used_credential_is_forgotten_first(world: World) -> None:
    shown = [world.issue_id_card() for _ in range(3)]
    v = world.verifier(verified_cache=2)
    scene = v.trust_list.scenes["hotel"]
    first, second, third = (wallet.present_for_scene(held, scene) for held, wallet in shown)
    assert v.verify(first, "hotel").valid
    assert v.verify(second, "hotel").valid
    world.clock.advance(1)
    held, wallet = shown[0]
    assert v.verify(wallet.present_for_scene(held, scene), "hotel").valid  # first used again
    assert v.verify(third, "hotel").valid  # evicts the second, not the first
    remembered = {jwt.split(b".")[1] for jwt in v._verified}
    assert first.split("~")[0].split(".")[1].encode() in remembered
    assert second.split("~")[0].split(".")[1].encode() not in remembered
