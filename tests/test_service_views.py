"""The use cases behind the thin views, called with no Flask at all: a citizen's wallet
(:class:`service.wallets.Wallets`), the public documents
(:class:`service.publication.Publication`), the one bundle builder, and the online QR
custody at its home in ``service`` (:mod:`service.presentations`).

Each runs on a real instance (:class:`service.instance.Ecert`) over SQLite and over a
real Redis server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer import Platform, UnknownIssuer
from keys.b64 import b64url_decode
from service.errors import OnlineQrUsed, PresentationNotFound
from service.instance import Ecert, open_instance
from service.publication import Publication
from store.interface import IssuerRecord, Store
from tests.factory import ID_CARD, ID_CLAIMS, Clock, World
from tests.hygiene import personal
from wallet.errors import CredentialNotInWallet, CredentialRevoked

CITIZEN = personal("110101199202020025", "test_service_views citizen id")
OTHER = personal("110101199303030038", "test_service_views other citizen id")


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("redis", marks=pytest.mark.redis)])
def ecert(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ecert]:
    """An instance with the police registered and two citizens, on each backend."""
    redis_url: str | None = None
    if request.param == "redis":
        request.getfixturevalue("redis_store")  # the session server, flushed afterwards
        redis_url = request.getfixturevalue("redis_server")
    with open_instance(tmp_path / "instance", redis_url=redis_url) as built:
        built.platform.ensure_anchor()
        built.platform.register_issuer(
            "police", name_zh="市公安局", name_en="City Police", vcts=[ID_CARD]
        )
        built.accounts.create_citizen(CITIZEN)
        built.accounts.create_citizen(OTHER)
        yield built


def _police(ecert: Ecert) -> IssuerRecord:
    return ecert.platform.issuer("police")


def _payload(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return payload


# -- the wallet --------------------------------------------------------------------------


def test_the_wallet_lists_opens_and_removes_a_credential(ecert: Ecert) -> None:
    record = ecert.issuance.issue(_police(ecert), ID_CARD, CITIZEN, dict(ID_CLAIMS))
    wallets = ecert.wallets

    [card] = wallets.credentials(CITIZEN)
    assert (card.item.credential_id, card.item.vct, card.status) == (record.id, ID_CARD, "valid")
    assert wallets.credentials(OTHER) == []

    opened = wallets.credential(CITIZEN, record.id)
    assert opened.claims == ID_CLAIMS  # every claim, and none of the SD-JWT VC layer's
    assert opened.sd_jwt.count("~") >= len(ID_CLAIMS)
    # another citizen's id is "not found", exactly like an id that does not exist
    with pytest.raises(CredentialNotInWallet):
        wallets.credential(OTHER, record.id)
    with pytest.raises(CredentialNotInWallet):
        wallets.credential(CITIZEN, "no-such-id")

    ecert.issuance.revoke(_police(ecert), record.id)
    [card] = wallets.credentials(CITIZEN)
    assert card.status == "revoked"  # live, from the registry: the card list and the QR agree
    with pytest.raises(CredentialRevoked):
        wallets.present(CITIZEN, record.id, "hotel", "offline")

    with pytest.raises(CredentialNotInWallet):
        wallets.remove(OTHER, record.id)
    wallets.remove(CITIZEN, record.id)
    assert wallets.credentials(CITIZEN) == []
    with pytest.raises(CredentialNotInWallet):
        wallets.remove(CITIZEN, record.id)
    # the issuer's registry is unchanged by the citizen's removal
    registered = ecert.store.get_credential(record.id)
    assert registered is not None and registered.state == "revoked"


def test_an_online_qr_is_shown_to_its_owner_and_redeemed_once(ecert: Ecert) -> None:
    record = ecert.issuance.issue(_police(ecert), ID_CARD, CITIZEN, dict(ID_CLAIMS))
    shown = ecert.wallets.present(CITIZEN, record.id, "hotel", "online")
    assert shown.qr.startswith(ecert.platform.base_url + "/p/")
    assert ecert.wallets.shown(CITIZEN, shown.id) == shown
    with pytest.raises(PresentationNotFound):
        ecert.wallets.shown(OTHER, shown.id)
    redeemed = ecert.presentations.redeem(shown.qr, "hotel")
    assert redeemed.scene == "hotel" and redeemed.owner == CITIZEN
    with pytest.raises(OnlineQrUsed) as caught:
        ecert.presentations.redeem(shown.qr, "hotel")
    assert caught.value.code == "replayed"


# -- publication -------------------------------------------------------------------------


def test_the_public_documents_come_from_publication(ecert: Ecert) -> None:
    ecert.issuance.issue(_police(ecert), ID_CARD, CITIZEN, dict(ID_CLAIMS))
    publication = ecert.publication
    police = _police(ecert)

    document = publication.issuer_status_list("police", 1)
    assert document.token == publication.status_list(f"{police.iss}/status/1")
    assert document.ttl == _payload(document.token)["ttl"] > 0
    with pytest.raises(UnknownIssuer):
        publication.issuer_keys("no-such-issuer")
    keys = publication.issuer_keys("police")
    assert keys.iss == police.iss
    assert [k["kid"] for k in keys.jwks] == [ecert.keyring.signing_key(police.iss).kid]
    assert publication.anchor() == ecert.platform.anchor_jwk()

    every = [scene["id"] for scene in publication.scenes()]
    assert every == [scene["id"] for scene in ecert.platform.scenes()] and "hotel" in every
    assert [scene["id"] for scene in publication.scenes(frozenset({"hotel"}))] == ["hotel"]
    assert publication.scenes(frozenset()) == []


def test_there_is_one_bundle_builder(store: Store) -> None:
    """The platform no longer builds bundles; the test factory's bundle is the
    service's, and ``max_age=0`` signs every document afresh on the world's clock."""
    assert not hasattr(Platform, "bundle") and not hasattr(Platform, "status_list_tokens")
    world = World(store)
    world.issue_id_card()
    ticks = Clock(0.0)
    publication = Publication(store, world.keyring, world.platform, world.status, monotonic=ticks)
    first = publication.bundle()
    factory = world.bundle()  # the factory's bundle: the same documents, the same shape
    assert sorted(factory) == sorted(first) == ["status_lists", "trust_list"]
    assert _payload(factory["trust_list"]) == _payload(first["trust_list"])
    assert [_payload(t) for t in factory["status_lists"]] == [
        _payload(t) for t in first["status_lists"]
    ]
    world.clock.advance(10)
    ticks.advance(10)
    cached = publication.bundle()
    fresh = publication.bundle(max_age=0)
    assert cached == first  # within the minute, nothing changed: handed out again
    assert _payload(fresh["trust_list"])["iat"] == _payload(first["trust_list"])["iat"] + 10
    [status_list] = fresh["status_lists"]
    assert _payload(status_list)["iat"] == _payload(first["status_lists"][0])["iat"] + 10
