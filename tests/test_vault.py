"""Citizens' wallets kept by the service: encrypted per citizen, bound to its holder key."""

from __future__ import annotations

import secrets
import threading

import pytest

from keys import derive_key, generate_secret
from store.interface import Store
from tests.factory import ID_CARD, ID_CLAIMS, World
from verifier import LEEWAY
from wallet import ClaimsUnavailable, CredentialNotInWallet, NotHolder, WalletCorrupt, WalletVault
from wallet.errors import CredentialExpired, CredentialRevoked, CredentialSuspended


@pytest.fixture
def world(store: Store) -> World:
    return World(store)


@pytest.fixture
def vault(world: World) -> WalletVault:
    return WalletVault(world.store, derive_key(generate_secret(), "test"), clock=world.clock)


def issue_into(world: World, vault: WalletVault, citizen: str) -> str:
    issued = world.issuer.issue(
        world.police.iss,
        ID_CARD,
        subject=citizen,
        claims=ID_CLAIMS,
        holder_jwk=vault.holder_jwk(citizen),
    )
    vault.add(citizen, issued.id, issued.sd_jwt)
    return issued.id


def test_a_stored_credential_presents_and_verifies(world: World, vault: WalletVault) -> None:
    cid = issue_into(world, vault, "citizen-a")
    v = world.verifier()
    shown = vault.present("citizen-a", cid, v.trust_list.scenes["hotel"])
    result = v.verify(shown.text, "hotel")
    assert result.valid, result.errors
    assert result.claims == {"name": ID_CLAIMS["name"], "id_number": ID_CLAIMS["id_number"]}
    assert shown.expires_at == int(world.clock.now) + 120


def test_one_holder_key_per_citizen_and_stable(world: World, vault: WalletVault) -> None:
    first = vault.holder_jwk("citizen-a")
    assert vault.holder_jwk("citizen-a") == first
    assert vault.holder_jwk("citizen-b") != first
    assert "d" not in first


def test_nothing_personal_is_stored_in_clear(world: World, vault: WalletVault) -> None:
    issue_into(world, vault, "citizen-a")
    item = vault.items("citizen-a")[0]
    wallet = world.store.get_wallet("citizen-a")
    assert wallet is not None
    for blob in (item.blob, wallet.holder_blob, wallet.key_blob):
        for value in ("李四", ID_CLAIMS["id_number"], ID_CLAIMS["address"]):
            assert value.encode("utf-8") not in blob
        assert b"eyJ" not in blob  # no JWT either


def test_another_citizen_cannot_open_or_see_a_credential(world: World, vault: WalletVault) -> None:
    cid = issue_into(world, vault, "citizen-a")
    with pytest.raises(CredentialNotInWallet):
        vault.credential("citizen-b", cid)
    with pytest.raises(CredentialNotInWallet):
        vault.remove("citizen-b", cid)
    assert vault.items("citizen-b") == []
    assert vault.credential("citizen-a", cid).vct == ID_CARD


def test_a_blob_moved_to_another_citizen_does_not_open(world: World, vault: WalletVault) -> None:
    import dataclasses

    cid = issue_into(world, vault, "citizen-a")
    vault.holder_jwk("citizen-b")
    item = world.store.get_wallet_item("citizen-a", cid)
    assert item is not None
    world.store.put_wallet_item(dataclasses.replace(item, citizen_id="citizen-b"))
    with pytest.raises(WalletCorrupt):
        vault.credential("citizen-b", cid)


def test_another_secret_cannot_open_the_wallet(world: World, vault: WalletVault) -> None:
    cid = issue_into(world, vault, "citizen-a")
    other = WalletVault(world.store, derive_key(generate_secret(), "test"))
    with pytest.raises(WalletCorrupt):
        other.credential("citizen-a", cid)


def test_a_credential_for_another_holder_is_refused(world: World, vault: WalletVault) -> None:
    issued = world.issuer.issue(
        world.police.iss,
        ID_CARD,
        subject="citizen-a",
        claims=ID_CLAIMS,
        holder_jwk=vault.holder_jwk("citizen-b"),
    )
    with pytest.raises(NotHolder):
        vault.add("citizen-a", issued.id, issued.sd_jwt)


def test_a_scene_that_does_not_accept_the_type(world: World, vault: WalletVault) -> None:
    cid = issue_into(world, vault, "citizen-a")
    scene = world.verifier().trust_list.scenes["school"]
    with pytest.raises(ClaimsUnavailable):
        vault.present("citizen-a", cid, scene)


def test_delete_removes_only_that_credential(world: World, vault: WalletVault) -> None:
    keep = issue_into(world, vault, "citizen-a")
    drop = issue_into(world, vault, "citizen-a")
    vault.remove("citizen-a", drop)
    assert [i.credential_id for i in vault.items("citizen-a")] == [keep]
    with pytest.raises(CredentialNotInWallet):
        vault.remove("citizen-a", drop)


def test_the_first_wallet_wins_when_created_concurrently(world: World, vault: WalletVault) -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def create() -> None:
        kid = vault.holder_jwk("citizen-race")["kid"]
        with lock:
            seen.append(kid)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1


# -- no presentation for a credential that cannot pass (issue 7 §5) ------------------------


class CountingBytes:
    """``secrets.token_bytes`` that counts its calls (nonces drawn)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        return secrets.token_bytes(n)


def test_no_presentation_and_no_nonce_for_a_revoked_or_suspended_credential(
    world: World,
) -> None:
    drawn = CountingBytes()
    vault = WalletVault(
        world.store, derive_key(generate_secret(), "test"), clock=world.clock, token_bytes=drawn
    )
    cid = issue_into(world, vault, "citizen-a")
    scene = world.verifier().trust_list.scenes["hotel"]
    vault.present("citizen-a", cid, scene)
    assert drawn.calls == 1
    world.issuer.suspend(world.police.iss, cid)
    with pytest.raises(CredentialSuspended) as suspended:
        vault.present("citizen-a", cid, scene)
    assert suspended.value.code == "credential_suspended"
    world.issuer.reinstate(world.police.iss, cid)
    vault.present("citizen-a", cid, scene)
    assert drawn.calls == 2
    world.issuer.revoke(world.police.iss, cid)
    with pytest.raises(CredentialRevoked) as revoked:
        vault.present("citizen-a", cid, scene)
    assert revoked.value.code == "credential_revoked"
    assert drawn.calls == 2, "a nonce was drawn for a revoked credential"
    assert vault.live_state(cid) == "revoked" and vault.live_state("no-such-id") == "unknown"


def test_the_vault_refuses_exactly_what_a_verifier_with_its_clock_refuses(
    world: World, vault: WalletVault
) -> None:
    cid = issue_into(world, vault, "citizen-a")
    exp = vault.item("citizen-a", cid).expires_at
    world.clock.now = exp + LEEWAY  # the last second a verifier accepts
    v = world.verifier()
    shown = vault.present("citizen-a", cid, v.trust_list.scenes["hotel"])
    assert v.verify(shown.text, "hotel").valid
    world.clock.now = exp + LEEWAY + 1
    assert v.verify(shown.text, "hotel").codes == ["expired"]
    with pytest.raises(CredentialExpired) as expired:
        vault.present("citizen-a", cid, v.trust_list.scenes["hotel"])
    assert expired.value.code == "credential_expired"
