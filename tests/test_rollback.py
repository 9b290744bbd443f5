"""Rolled-back status lists (IETF Token Status List, security considerations, rollback).

Every list here is genuinely signed: old and new bundles come from the real issuer code
at two moments of the test world's clock, and the odd ones (equal ``iat``, far ``exp``,
bad ``ttl``) are signed with the police department's real key, so that each refusal is
for the reason the test names and never for a bad signature.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from keys import SigningKey, sign_compact
from store.interface import STATUS_MAX_AHEAD, Store
from tests.factory import World
from verifier import (
    BundleInvalid,
    FileStatusHistory,
    MemoryStatusHistory,
    StatusHistoryInvalid,
    VerificationResult,
    Verifier,
)
from verifier.bundle import STATUS_FUTURE_SKEW
from verifier.history import MAX_STATE_BYTES, StatusMark, payload_digest
from wallet import HeldCredential, Wallet

YEAR = 366 * 24 * 3600


def unb64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def payload_of(token: str) -> dict[str, Any]:
    return dict(unb64json(token.split(".")[1]))


class Story:
    """A citizen's ID card, a bundle from before its revocation and one from after."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.held, self.wallet = world.issue_id_card()
        self.id = world.last_id
        self.before = world.bundle()  # the card is valid here
        world.clock.advance(60)
        world.issuer.revoke(world.police.iss, self.id)
        self.after = world.bundle()  # and revoked here

    @property
    def stale(self) -> dict[str, Any]:
        """The newer trust list with the status lists from before the revocation."""
        return {"trust_list": self.after["trust_list"], "status_lists": self.before["status_lists"]}

    @property
    def police_key(self) -> SigningKey:
        return self.world.keyring.signing_key(self.world.police.iss)

    def present(self, held: HeldCredential | None = None, wallet: Wallet | None = None) -> str:
        scene = Verifier(self.after, anchor=self.world.anchor_jwk).trust_list.scenes["hotel"]
        return (wallet or self.wallet).present_for_scene(held or self.held, scene)

    def verifier(self, bundle: dict[str, Any], **kwargs: Any) -> Verifier:
        kwargs.setdefault("clock", self.world.clock)
        return Verifier(bundle, anchor=self.world.anchor_jwk, **kwargs)

    def verify(self, bundle: dict[str, Any], **kwargs: Any) -> VerificationResult:
        return self.verifier(bundle, **kwargs).verify(self.present(), "hotel")

    def resign(self, token: str, **changes: Any) -> str:
        """The status list ``token`` with ``changes`` to its payload, signed by the police."""
        payload = payload_of(token) | changes
        for name in [k for k, v in changes.items() if v is _DROP]:
            del payload[name]
        return sign_compact(payload, self.police_key, typ="statuslist+jwt")


_DROP = object()


@pytest.fixture
def story(world: World) -> Story:
    return Story(world)


def only_status_error(result: VerificationResult) -> dict[str, str]:
    [error] = [e for e in result.errors if e["code"] == "status_unavailable"]
    assert result.valid is False and result.claims == {} and result.status == "unavailable"
    return {"code": error["code"], "message": error["message"]}


# -- the attack, without and with a history -------------------------------------------------


def test_without_a_history_an_old_bundle_hides_the_revocation(story: Story) -> None:
    """The attack the rule stops: a fresh verifier has nothing to compare with."""
    assert story.verify(story.after).codes == ["revoked"]
    assert story.verify(story.before).valid


def test_older_status_lists_are_refused_after_newer_ones(story: Story) -> None:
    history = MemoryStatusHistory()
    assert story.verify(story.after, history=history).codes == ["revoked"]

    v = story.verifier(story.stale, history=history)
    result = v.verify(story.present(), "hotel")

    error = only_status_error(result)
    old_iat = payload_of(story.before["status_lists"][0])["iat"]
    new_iat = payload_of(story.after["status_lists"][0])["iat"]
    reason = f"rolled back: iat {old_iat} older than {new_iat} already accepted"
    assert reason in error["message"]
    assert "no status list" not in error["message"]
    assert any(reason in p and story.world.police.iss in p for p in v.bundle.problems)


def test_a_newer_trust_list_with_older_status_lists_is_refused(story: Story) -> None:
    history = MemoryStatusHistory()
    story.verifier(story.after, history=history)
    story.world.clock.advance(60)
    mixed = {
        "trust_list": story.world.bundle()["trust_list"],
        "status_lists": story.before["status_lists"],
    }

    result = story.verify(mixed, history=history)

    assert "rolled back" in only_status_error(result)["message"]


def test_an_equal_iat_with_other_content_is_refused(story: Story) -> None:
    history = MemoryStatusHistory()
    [new] = story.after["status_lists"]
    [old] = story.before["status_lists"]
    story.verifier(story.after, history=history)
    # the old (unrevoked) bits under the new list's iat and exp, signed by the real key
    forged = story.resign(new, status_list=payload_of(old)["status_list"])

    result = story.verify(story.after | {"status_lists": [forged]}, history=history)

    assert "different content" in only_status_error(result)["message"]


def test_an_equal_iat_with_the_same_content_is_the_same_list(story: Story) -> None:
    """ES256 signatures are randomised: a second signature over one payload is no rollback."""
    history = MemoryStatusHistory()
    [new] = story.after["status_lists"]
    story.verifier(story.after, history=history)
    again = story.resign(new)
    assert again != new

    assert story.verify(story.after | {"status_lists": [again]}, history=history).codes == [
        "revoked"
    ]


def test_two_lists_with_one_iat_and_other_content_in_one_bundle_are_both_left_out(
    story: Story,
) -> None:
    [new] = story.after["status_lists"]
    [old] = story.before["status_lists"]
    forged = story.resign(new, status_list=payload_of(old)["status_list"])

    result = story.verify(story.after | {"status_lists": [new, forged]})

    assert "other content" in only_status_error(result)["message"]


def test_a_newer_list_is_accepted_and_becomes_the_reference(story: Story) -> None:
    history = MemoryStatusHistory()
    assert story.verify(story.before, history=history).valid
    assert story.verify(story.after, history=history).codes == ["revoked"]
    assert "rolled back" in only_status_error(story.verify(story.stale, history=history))["message"]


def test_a_history_is_not_updated_by_a_bundle_that_is_not_accepted(story: Story) -> None:
    history = MemoryStatusHistory()
    broken = dict(story.after, trust_list=story.after["trust_list"][:-4] + "AAAA")
    with pytest.raises(Exception, match="signature"):
        story.verifier(broken, history=history)
    assert story.verify(story.before, history=history).valid


# -- the file-backed history -----------------------------------------------------------------


def test_a_state_file_carries_the_history_across_verifiers(story: Story, tmp_path: Path) -> None:
    state = tmp_path / "verifier.state.json"
    assert story.verify(story.after, history=FileStatusHistory(state)).codes == ["revoked"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o600

    # a new process: a new history object over the same file
    result = story.verify(story.stale, history=FileStatusHistory(state))

    assert "rolled back" in only_status_error(result)["message"]


def test_from_bundle_file_takes_a_history(story: Story, tmp_path: Path) -> None:
    state, old = tmp_path / "s.json", tmp_path / "old.json"
    old.write_text(json.dumps(story.stale), encoding="utf-8")
    story.verifier(story.after, history=FileStatusHistory(state))

    v = Verifier.from_bundle_file(
        old, anchor=story.world.anchor_jwk, clock=story.world.clock,
        history=FileStatusHistory(state),
    )  # fmt: skip

    assert "rolled back" in only_status_error(v.verify(story.present(), "hotel"))["message"]


def test_a_readonly_history_never_writes(story: Story, tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    story.verifier(story.after, history=FileStatusHistory(state, readonly=True))
    assert not state.exists()


def _state(entries: Any) -> bytes:
    return json.dumps({"version": 1, "status_lists": entries}).encode()


GOOD_ISS = "https://i"
GOOD_URI = "https://i/status/1"
GOOD_ENTRY: dict[str, object] = {
    "iss": GOOD_ISS,
    "uri": GOOD_URI,
    "iat": 5,
    "digest": "sha256:" + "a" * 64,
}
CORRUPT_STATES: dict[str, bytes] = {
    "not-json": b"{",
    "not-an-object": b"[]",
    "empty": b"",
    "wrong-version": json.dumps({"version": 3, "status_lists": [], "trust_lists": []}).encode(),
    "version-string": json.dumps({"version": "1", "status_lists": []}).encode(),
    "version-float": json.dumps({"version": 1.0, "status_lists": []}).encode(),
    "version-bool": json.dumps({"version": True, "status_lists": []}).encode(),
    "extra-member": json.dumps({"version": 1, "status_lists": [], "x": 1}).encode(),
    "duplicate-member": b'{"version": 1, "version": 1, "status_lists": []}',
    "entries-not-array": json.dumps({"version": 1, "status_lists": {}}).encode(),
    "iat-string": _state([GOOD_ENTRY | {"iat": "5"}]),
    "iat-bool": _state([GOOD_ENTRY | {"iat": True}]),
    "iat-float": _state([GOOD_ENTRY | {"iat": 5.5}]),
    "iat-huge": _state([GOOD_ENTRY | {"iat": 2**64}]),
    "digest-short": _state([GOOD_ENTRY | {"digest": "sha256:abc"}]),
    "digest-upper": _state([GOOD_ENTRY | {"digest": "sha256:" + "A" * 64}]),
    "uri-empty": _state([GOOD_ENTRY | {"uri": ""}]),
    "entry-missing-digest": _state([{k: v for k, v in GOOD_ENTRY.items() if k != "digest"}]),
    "entry-twice": _state([GOOD_ENTRY, GOOD_ENTRY | {"iat": 6}]),
    "deep": b"[" * 5000 + b"]" * 5000,
    "not-utf8": b'{"version": 1, "status_lists": [], "\xff": 1}',
}


@pytest.mark.parametrize("data", CORRUPT_STATES.values(), ids=CORRUPT_STATES.keys())
def test_a_corrupt_state_file_is_refused_not_forgotten(tmp_path: Path, data: bytes) -> None:
    state = tmp_path / "s.json"
    state.write_bytes(data)
    with pytest.raises(StatusHistoryInvalid) as caught:
        FileStatusHistory(state)
    assert caught.value.code == "status_history_invalid"
    assert str(state) in caught.value.message


def test_a_too_large_state_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    state.write_bytes(b" " * (MAX_STATE_BYTES + 1))
    with pytest.raises(StatusHistoryInvalid, match="too large"):
        FileStatusHistory(state)


def test_a_good_state_file_round_trips(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    state.write_bytes(_state([GOOD_ENTRY]))
    history = FileStatusHistory(state)
    mark = history.newest(GOOD_ISS, GOOD_URI)
    assert mark is not None and mark.iat == 5


def test_marks_older_than_any_live_list_are_forgotten(story: Story, tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    history = FileStatusHistory(state)
    story.verifier(story.after, history=history)
    story.world.clock.advance(YEAR + 10)
    story.verifier({"trust_list": story.after["trust_list"]}, history=history)
    assert json.loads(state.read_text())["status_lists"] == []


# -- the trust list ----------------------------------------------------------------------


def trust_iat(bundle: dict[str, Any]) -> int:
    return int(payload_of(bundle["trust_list"])["iat"])


def resign_trust_list(story: Story, token: str, **changes: Any) -> str:
    """The trust list ``token`` with ``changes`` to its payload, signed by the real anchor."""
    return sign_compact(payload_of(token) | changes, story.world.anchor, typ="trustlist+jwt")


def test_an_older_trust_list_refuses_the_whole_bundle(story: Story) -> None:
    """The old trust list with the newest status lists: the lists alone are fine."""
    history = MemoryStatusHistory()
    story.verifier(story.after, history=history)
    old_trust = {
        "trust_list": story.before["trust_list"],
        "status_lists": story.after["status_lists"],
    }

    with pytest.raises(BundleInvalid) as caught:
        story.verifier(old_trust, history=history)

    anchor_iss = payload_of(story.after["trust_list"])["iss"]
    assert caught.value.code == "bundle_invalid"
    assert caught.value.message == (
        f"the trust list of {anchor_iss} rolled back: iat {trust_iat(story.before)} older than "
        f"{trust_iat(story.after)} already accepted"
    )


def test_without_a_shared_history_an_older_trust_list_is_accepted(story: Story) -> None:
    """The guard is the history: each verifier alone has none to compare with."""
    story.verifier(story.after)
    assert story.verifier(story.before).trust_list.iat == trust_iat(story.before)


def test_an_older_trust_list_is_refused_across_verifiers_by_the_state_file(
    story: Story, tmp_path: Path
) -> None:
    state = tmp_path / "verifier.state.json"
    story.verifier(story.after, history=FileStatusHistory(state))
    [entry] = json.loads(state.read_text())["trust_lists"]
    assert entry["iat"] == trust_iat(story.after)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(story.before), encoding="utf-8")

    with pytest.raises(BundleInvalid, match=r"the trust list of .* rolled back: iat"):
        Verifier.from_bundle_file(
            old, anchor=story.world.anchor_jwk, clock=story.world.clock,
            history=FileStatusHistory(state),
        )  # fmt: skip


def test_a_refused_trust_list_records_nothing(story: Story, tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    story.verifier(story.after, history=FileStatusHistory(state))
    recorded = state.read_bytes()
    with pytest.raises(BundleInvalid):
        story.verifier(story.before, history=FileStatusHistory(state))
    assert state.read_bytes() == recorded


def test_a_trust_list_with_an_equal_iat_and_other_content_is_refused(story: Story) -> None:
    history = MemoryStatusHistory()
    story.verifier(story.after, history=history)
    token = story.after["trust_list"]
    forged = resign_trust_list(story, token, ttl=payload_of(token)["ttl"] + 1)

    with pytest.raises(BundleInvalid, match="already accepted with different content"):
        story.verifier(story.after | {"trust_list": forged}, history=history)


def test_a_trust_list_signed_again_over_the_same_payload_is_the_same(story: Story) -> None:
    history = MemoryStatusHistory()
    story.verifier(story.after, history=history)
    token = story.after["trust_list"]
    again = resign_trust_list(story, token)  # ES256 signatures are randomised
    assert again.split(".")[1] == token.split(".")[1] and again != token

    assert story.verify(story.after | {"trust_list": again}, history=history).codes == ["revoked"]


def test_a_newer_trust_list_becomes_the_reference(story: Story) -> None:
    history = MemoryStatusHistory()
    story.verifier(story.before, history=history)
    story.verifier(story.after, history=history)
    mark = history.newest_trust_list(payload_of(story.after["trust_list"])["iss"])
    assert mark is not None and mark.iat == trust_iat(story.after)
    with pytest.raises(BundleInvalid, match="rolled back"):
        story.verifier(story.before, history=history)


def test_trust_lists_are_kept_by_anchor(story: Story) -> None:
    """Another anchor's newer trust list says nothing about this anchor's."""
    other = "https://other-anchor.example"
    history = MemoryStatusHistory(trust_lists={other: StatusMark(2**40, "sha256:" + "0" * 64)})
    assert story.verifier(story.before, history=history).trust_list.iat == trust_iat(story.before)


def test_a_status_list_mark_never_stands_for_the_trust_list(story: Story, tmp_path: Path) -> None:
    """A status-list entry named like the anchor, newer than any trust list, is no trust mark."""
    anchor_iss = payload_of(story.after["trust_list"])["iss"]
    state = tmp_path / "s.json"
    entry = {"iss": anchor_iss, "uri": anchor_iss, "iat": 2**40, "digest": "sha256:" + "0" * 64}
    state.write_bytes(_state([entry]))
    assert story.verifier(story.after, history=FileStatusHistory(state)).trust_list is not None


def test_a_version_1_state_file_is_still_read_and_written_as_version_2(
    story: Story, tmp_path: Path
) -> None:
    state = tmp_path / "s.json"
    story.verifier(story.after, history=MemoryStatusHistory())
    [token] = story.after["status_lists"]
    newer = {
        "iss": story.world.police.iss,
        "uri": payload_of(token)["sub"],
        "iat": payload_of(token)["iat"],
        "digest": payload_digest(token.split(".")[1]),
    }
    state.write_bytes(_state([newer]))  # written by the version before trust lists

    result = story.verify(story.stale, history=FileStatusHistory(state))

    assert "rolled back" in only_status_error(result)["message"]  # its marks still guard
    written = json.loads(state.read_text())
    assert written["version"] == 2 and written["status_lists"] == [newer]
    assert [e["iat"] for e in written["trust_lists"]] == [trust_iat(story.after)]


def _trust_state(entries: Any) -> bytes:
    return json.dumps({"version": 2, "status_lists": [], "trust_lists": entries}).encode()


GOOD_TRUST: dict[str, Any] = {"iss": "https://anchor", "iat": 5, "digest": "sha256:" + "b" * 64}
CORRUPT_TRUST_STATES: dict[str, bytes] = {
    "v2-without-trust-lists": json.dumps({"version": 2, "status_lists": []}).encode(),
    "v1-with-trust-lists": json.dumps(
        {"version": 1, "status_lists": [], "trust_lists": []}
    ).encode(),
    "trust-lists-not-array": _trust_state({}),
    "trust-lists-null": _trust_state(None),
    "entry-not-object": _trust_state(["https://anchor"]),
    "entry-with-uri": _trust_state([GOOD_TRUST | {"uri": "https://anchor/x"}]),
    "entry-missing-digest": _trust_state([{"iss": "https://anchor", "iat": 5}]),
    "iss-empty": _trust_state([GOOD_TRUST | {"iss": ""}]),
    "iss-number": _trust_state([GOOD_TRUST | {"iss": 7}]),
    "iss-too-long": _trust_state([GOOD_TRUST | {"iss": "x" * 3000}]),
    "iat-string": _trust_state([GOOD_TRUST | {"iat": "5"}]),
    "iat-bool": _trust_state([GOOD_TRUST | {"iat": False}]),
    "iat-float": _trust_state([GOOD_TRUST | {"iat": 5.0}]),
    "iat-huge": _trust_state([GOOD_TRUST | {"iat": 2**64}]),
    "iat-null": _trust_state([GOOD_TRUST | {"iat": None}]),
    "digest-upper": _trust_state([GOOD_TRUST | {"digest": "sha256:" + "B" * 64}]),
    "digest-other-alg": _trust_state([GOOD_TRUST | {"digest": "sha512:" + "b" * 64}]),
    "anchor-twice": _trust_state([GOOD_TRUST, GOOD_TRUST | {"iat": 6}]),
    "duplicate-member": (
        b'{"version": 2, "status_lists": [], "trust_lists": [{"iss": "https://anchor",'
        b' "iat": 5, "iat": 9, "digest": "sha256:' + b"b" * 64 + b'"}]}'
    ),
}


@pytest.mark.parametrize("data", CORRUPT_TRUST_STATES.values(), ids=CORRUPT_TRUST_STATES.keys())
def test_a_corrupt_trust_list_entry_is_refused_not_forgotten(tmp_path: Path, data: bytes) -> None:
    state = tmp_path / "s.json"
    state.write_bytes(data)
    with pytest.raises(StatusHistoryInvalid) as caught:
        FileStatusHistory(state)
    assert caught.value.code == "status_history_invalid"
    assert str(state) in caught.value.message and "corrupt" in caught.value.message


def test_a_good_trust_list_entry_round_trips(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    state.write_bytes(_trust_state([GOOD_TRUST]))
    assert FileStatusHistory(state).newest_trust_list("https://anchor") == StatusMark(
        5, GOOD_TRUST["digest"]
    )


# -- status list claims -------------------------------------------------------------------


def _bad_lists(s: Story) -> dict[str, str]:
    [token] = s.after["status_lists"]
    iat = payload_of(token)["iat"]
    return {
        "exp-more-than-a-year-after-iat": s.resign(token, exp=iat + YEAR + 1),
        "exp-before-iat": s.resign(token, exp=iat - 1),
        "exp-missing": s.resign(token, exp=_DROP),
        "exp-float": s.resign(token, exp=iat + 0.5),
        "exp-huge": s.resign(token, exp=2**53 + 1),
        "exp-null": s.resign(token, exp=None),
        "iat-bool": s.resign(token, iat=True),
        "iat-string": s.resign(token, iat=str(iat)),
        "iat-negative-huge": s.resign(token, iat=-(2**53) - 1),
        "iss-missing": s.resign(token, iss=_DROP),
        "sub-missing": s.resign(token, sub=_DROP),
        "ttl-negative": s.resign(token, ttl=-1),
        "ttl-float": s.resign(token, ttl=3600.5),
        "ttl-string": s.resign(token, ttl="3600"),
        "ttl-bool": s.resign(token, ttl=True),
        "ttl-null": s.resign(token, ttl=None),
        "kid-missing": sign_compact(
            payload_of(token), s.police_key, typ="statuslist+jwt", with_kid=False
        ),
        "iat-in-the-future": s.resign(
            token,
            iat=int(s.world.clock.now) + STATUS_FUTURE_SKEW + 60,
            exp=int(s.world.clock.now) + 86_400,
        ),
        "bad-signature": token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"),
    }


BAD_LIST_IDS = [
    "exp-more-than-a-year-after-iat", "exp-before-iat", "exp-missing", "exp-float", "exp-huge",
    "exp-null", "iat-bool", "iat-string", "iat-negative-huge", "iss-missing", "sub-missing",
    "ttl-negative", "ttl-float", "ttl-string", "ttl-bool", "ttl-null", "kid-missing",
    "iat-in-the-future", "bad-signature",
]  # fmt: skip
#: Those whose payload still names the credential's list: the reason reaches the result.
NAMED = {i for i in BAD_LIST_IDS if i != "sub-missing"}


@pytest.mark.parametrize("name", BAD_LIST_IDS)
def test_a_bad_status_list_is_left_out_with_its_reason(story: Story, name: str) -> None:
    token = _bad_lists(story)[name]
    v = story.verifier(story.after | {"status_lists": [token]})

    result = v.verify(story.present(), "hotel")

    error = only_status_error(result)
    assert len(v.bundle.problems) == 1 and v.bundle.status_lists == {}
    if name in NAMED:  # said why, never the misleading "no status list at this uri"
        assert "left out" in error["message"] and "no status list" not in error["message"]
        assert v.bundle.problems[0].split(": ", 1)[1] in error["message"]


def test_a_list_valid_for_a_year_is_accepted(story: Story) -> None:
    [token] = story.after["status_lists"]
    iat = payload_of(token)["iat"]
    longest = story.resign(token, exp=iat + YEAR, ttl=0)
    assert story.verify(story.after | {"status_lists": [longest]}).codes == ["revoked"]


def test_a_list_without_ttl_is_accepted(story: Story) -> None:
    [token] = story.after["status_lists"]
    assert story.verify(story.after | {"status_lists": [story.resign(token, ttl=_DROP)]}).codes == [
        "revoked"
    ]


# -- the credential's own iat --------------------------------------------------------------


def test_a_credential_dated_in_the_future_is_malformed(world: World) -> None:
    world.clock.advance(3600)
    held, wallet = world.issue_id_card()  # issued "an hour from now"
    world.clock.advance(-3600)
    v = world.verifier()
    scene = v.trust_list.scenes["hotel"]

    result = v.verify(wallet.present_for_scene(held, scene), "hotel")

    assert "malformed" in result.codes and "iat" in json.dumps(result.errors)


def test_a_credential_dated_within_the_leeway_is_valid(world: World) -> None:
    world.clock.advance(20)
    held, wallet = world.issue_id_card()
    world.clock.advance(-20)
    v = world.verifier()
    assert v.verify(wallet.present_for_scene(held, v.trust_list.scenes["hotel"]), "hotel").valid


# -- the service's own lists -----------------------------------------------------------------


def test_two_revocations_in_one_second_are_both_seen(store: Store) -> None:
    """Each change gets a newer iat, so a verifier keeping a history accepts both lists."""
    world = World(store)
    first, first_wallet = world.issue_id_card()
    first_id = world.last_id
    second, second_wallet = world.issue_id_card()
    second_id = world.last_id
    history = MemoryStatusHistory()

    world.issuer.revoke(world.police.iss, first_id)
    b1 = world.bundle()
    v1 = Verifier(b1, anchor=world.anchor_jwk, clock=world.clock, history=history)
    world.issuer.revoke(world.police.iss, second_id)  # the clock has not moved
    b2 = world.bundle()
    v2 = Verifier(b2, anchor=world.anchor_jwk, clock=world.clock, history=history)

    assert v1.bundle.problems == () and v2.bundle.problems == ()
    assert payload_of(b2["status_lists"][0])["iat"] > payload_of(b1["status_lists"][0])["iat"]
    scene = v2.trust_list.scenes["hotel"]
    assert v2.verify(first_wallet.present_for_scene(first, scene), "hotel").codes == ["revoked"]
    assert v2.verify(second_wallet.present_for_scene(second, scene), "hotel").codes == ["revoked"]


def test_republishing_unchanged_content_keeps_its_iat_and_never_goes_back(store: Store) -> None:
    world = World(store)
    world.issue_id_card()
    [a] = world.bundle()["status_lists"]
    [b] = world.bundle()["status_lists"]
    assert payload_of(a) == payload_of(b)  # one iat, one content
    world.clock.advance(-100)  # another worker whose clock is behind
    [c] = world.bundle()["status_lists"]
    assert payload_of(c)["iat"] == payload_of(a)["iat"]
    world.clock.advance(200)
    [d] = world.bundle()["status_lists"]
    assert payload_of(d)["iat"] == int(world.clock.now)


def test_the_stamp_contract(store: Store) -> None:
    world = World(store)
    world.issue_id_card()
    [record] = store.list_status_lists()
    uri = record.uri
    assert store.last_status_stamp(uri) is None
    iat1, data1 = store.stamp_status_list(uri, 1000)
    assert (iat1, data1) == (1000, store.status_bytes(uri))
    assert store.stamp_status_list(uri, 1000) == (1000, data1)  # same content, same second
    assert store.stamp_status_list(uri, 900) == (1000, data1)  # never backwards
    store.set_status(uri, 0, 1)
    iat2, data2 = store.stamp_status_list(uri, 1000)
    assert iat2 == 1001 and data2 != data1 and data2 == store.status_bytes(uri)
    store.set_status(uri, 0, 0)  # back to the first content: still a new iat
    assert store.stamp_status_list(uri, 1000)[0] == 1002
    assert store.last_status_stamp(uri) == 1002
    assert store.stamp_status_list(uri, 5000)[0] == 5000


def test_a_burst_of_changes_never_dates_a_list_far_ahead(store: Store) -> None:
    """Changes published faster than once a second push iat ahead, at most STATUS_MAX_AHEAD
    seconds: then the last stamped content is published again under its own iat."""
    world = World(store)
    world.issue_id_card()
    [record] = store.list_status_lists()
    uri = record.uri
    history = MemoryStatusHistory()
    seen: dict[int, bytes] = {}
    for i in range(STATUS_MAX_AHEAD + 5):
        store.set_status(uri, i, 1)
        iat, data = store.stamp_status_list(uri, 1000)
        assert seen.setdefault(iat, data) == data
    assert max(seen) == 1000 + STATUS_MAX_AHEAD
    assert seen[max(seen)][(STATUS_MAX_AHEAD - 1) // 4] != 0  # the content of that stamp
    assert store.stamp_status_list(uri, 1000) == (1000 + STATUS_MAX_AHEAD, seen[max(seen)])
    assert seen[max(seen)] != store.status_bytes(uri)  # the newest changes wait a second
    iat, data = store.stamp_status_list(uri, 1001)  # the clock moved: one more change fits
    assert iat == 1000 + STATUS_MAX_AHEAD + 1 and data == store.status_bytes(uri)
    # and a verifier keeping a history takes every list the service publishes meanwhile
    world.clock.now = 1000 + STATUS_MAX_AHEAD + 1
    for _ in range(3):
        store.set_status(uri, 100, 1)
        assert world.verifier(history=history).bundle.problems == ()
        store.set_status(uri, 100, 0)


def test_concurrent_stamps_give_one_iat_per_content(store: Store) -> None:
    from tests.factory import run_threads

    world = World(store)
    world.issue_id_card()
    [record] = store.list_status_lists()

    def work(i: int) -> tuple[int, bytes]:
        store.set_status(record.uri, i, 1)
        return store.stamp_status_list(record.uri, 1000)

    results = run_threads(8, work)
    by_iat: dict[int, bytes] = {}
    for iat, data in results:
        assert by_iat.setdefault(iat, data) == data  # one iat never carries two contents
    final_iat, final = store.stamp_status_list(record.uri, 1000)
    assert final_iat >= max(by_iat) and all(final[i // 4] for i in range(8))


def test_a_worker_never_serves_an_iat_older_than_another_published(tmp_path: Path) -> None:
    import time

    from issuer import StatusRegistry
    from keys import generate_secret
    from service.instance import open_instance

    secret = generate_secret()
    folder = tmp_path / "inst"
    one = open_instance(folder, base_url="https://ecert.example", key_secret=secret)
    two = open_instance(folder, key_secret=secret)
    try:
        one.platform.ensure_anchor()
        police = one.platform.register_issuer(
            "police", name_zh="市公安局", name_en="City Police", vcts=["urn:ecert:resident-id-card"]
        )
        uri, _ = one.status.allocate(police.iss)
        first = one.published_status_list(uri)
        # the other worker publishes later (its clock a minute ahead), content unchanged
        two.status = StatusRegistry(two.store, clock=lambda: time.time() + 60)
        later = two.published_status_list(uri)
        assert payload_of(later)["iat"] > payload_of(first)["iat"]

        again = one.published_status_list(uri)  # its cache is fresh and its version unchanged

        assert payload_of(again)["iat"] >= payload_of(later)["iat"]
    finally:
        one.close()
        two.close()


def test_state_files_are_written_atomically_with_mode_0600(story: Story, tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    state.write_bytes(_state([]))
    os.chmod(state, 0o644)
    story.verifier(story.after, history=FileStatusHistory(state))
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert len(json.loads(state.read_text())["status_lists"]) == 1


# -- the service's own trust lists ------------------------------------------------------------


def test_two_trust_list_changes_in_one_second_are_both_accepted(store: Store) -> None:
    """Each content gets its own second, so a verifier keeping a history takes both."""
    world = World(store)
    history = MemoryStatusHistory()
    before = world.bundle()
    Verifier(before, anchor=world.anchor_jwk, clock=world.clock, history=history)
    world.platform.register_issuer(  # a new department; the clock has not moved
        "health", name_zh="卫生健康委", name_en="Health Commission", vcts=[]
    )
    after = world.bundle()
    v2 = Verifier(after, anchor=world.anchor_jwk, clock=world.clock, history=history)

    assert payload_of(after["trust_list"])["iat"] > payload_of(before["trust_list"])["iat"]
    assert world.platform.issuer_url("health") in v2.trust_list.issuers


def test_an_unchanged_trust_list_keeps_its_second(store: Store) -> None:
    world = World(store)
    assert payload_of(world.platform.trust_list()) == payload_of(world.platform.trust_list())


def test_a_slow_worker_never_signs_an_older_trust_list(store: Store) -> None:
    world = World(store)
    newest = payload_of(world.platform.trust_list())["iat"]
    world.clock.advance(-100)  # another worker whose clock is behind
    assert payload_of(world.platform.trust_list())["iat"] >= newest
