"""issuer.status: random index allocation (herd privacy) and the published Status List
Token (``typ: statuslist+jwt``, DESIGN.md §3). Runs on SQLite and on Redis."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from issuer import IssuerError, StatusRegistry
from issuer.status import FILL_LIMIT
from keys import SigningKey, VerifyingKey
from keys.b64 import b64url_decode
from sdjwt import StatusList
from store.interface import Store
from tests.factory import ID_CARD, ID_CLAIMS, NOW, World
from verifier.bundle import load_status_list_token


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h64, p64, _ = token.split(".")
    return json.loads(b64url_decode(h64)), json.loads(b64url_decode(p64))


def issue_many(w: World, n: int) -> list[tuple[str, int, str]]:
    """Issue ``n`` resident ID cards; returns (uri, idx, credential id) in issuance order."""
    holder = w.wallet().holder_jwk
    out = []
    for i in range(n):
        issued = w.issuer.issue(
            w.police.iss, ID_CARD, subject=f"citizen-{i}", claims=ID_CLAIMS, holder_jwk=holder
        )
        out.append((issued.record.status_uri, issued.record.status_idx, issued.id))
    return out


# -- allocation ------------------------------------------------------------------------------


def test_indices_are_random_without_reuse(store: Store) -> None:
    w = World(store, list_size=1024)
    issued = issue_many(w, 300)
    uris = {uri for uri, _, _ in issued}
    idx = [i for _, i, _ in issued]
    assert uris == {f"{w.police.iss}/status/1"}  # 300 < 1024 * FILL_LIMIT: one list
    assert len(set(idx)) == 300, "an index was handed out twice"
    assert all(0 <= i < 1024 for i in idx)
    assert store.count_claimed(f"{w.police.iss}/status/1") == 300
    # not sequential: not in issuance order, few neighbours, spread over the whole range
    assert idx != sorted(idx)
    assert sum(b == a + 1 for a, b in itertools.pairwise(idx)) < 10
    assert min(idx) < 1024 // 10 and max(idx) > 1024 * 9 // 10
    quarters = [sum(q * 256 <= i < (q + 1) * 256 for i in idx) for q in range(4)]
    assert all(n >= 40 for n in quarters), quarters  # 75 expected in each


def test_allocation_draws_from_the_injected_randomness(store: Store) -> None:
    draws = iter([7, 7, 7, 3, 12])
    registry = StatusRegistry(store, list_size=16, randbelow=lambda n: next(draws))
    assert registry.allocate("https://i.example")[1] == 7
    assert registry.allocate("https://i.example")[1] == 3  # 7 is taken: drawn again
    assert registry.allocate("https://i.example")[1] == 12


def test_a_full_list_opens_a_second_list(store: Store) -> None:
    registry = StatusRegistry(store, list_size=64)
    iss = "https://ecert.example/issuers/police"
    limit = int(64 * FILL_LIMIT)
    first = [registry.allocate(iss) for _ in range(limit)]
    assert {uri for uri, _ in first} == {f"{iss}/status/1"}
    assert len({i for _, i in first}) == limit
    uri, idx = registry.allocate(iss)
    assert uri == f"{iss}/status/2"
    assert 0 <= idx < 64
    assert [r.uri for r in store.list_status_lists(iss)] == [f"{iss}/status/1", f"{iss}/status/2"]
    assert all(r.size == 64 and r.bits == 2 for r in store.list_status_lists(iss))
    later = {registry.allocate(iss)[0] for _ in range(10)}
    assert later == {f"{iss}/status/2"}
    assert store.count_claimed(f"{iss}/status/1") == limit


def test_issuers_never_share_a_list(store: Store) -> None:
    w = World(store, list_size=64)
    police = w.status.allocate(w.police.iss)[0]
    civil = w.status.allocate(w.civil.iss)[0]
    assert police.startswith(w.police.iss + "/") and civil.startswith(w.civil.iss + "/")
    assert police != civil


@pytest.mark.parametrize("bits", [1, 3, 16])
def test_status_lists_need_room_for_suspension(store: Store, bits: int) -> None:
    with pytest.raises(IssuerError):
        StatusRegistry(store, bits=bits)


# -- the published Status List Token ------------------------------------------------------


def test_published_token_has_the_members_of_design_3(store: Store) -> None:
    w = World(store, list_size=1024)
    uri, _, _ = issue_many(w, 1)[0]
    key = w.keyring.signing_key(w.police.iss)
    w.clock.advance(100)
    token = w.status.publish(uri, key, ttl=600, lifetime=7200)
    header, payload = decode(token)
    assert header == {"alg": "ES256", "typ": "statuslist+jwt", "kid": key.kid}
    assert set(payload) == {"iss", "sub", "iat", "exp", "ttl", "status_list"}
    assert payload["iss"] == w.police.iss
    assert payload["sub"] == uri
    assert payload["iat"] == NOW + 100
    assert payload["exp"] == NOW + 100 + 7200
    assert payload["ttl"] == 600
    assert set(payload["status_list"]) == {"bits", "lst"}
    assert payload["status_list"]["bits"] == 2
    h64, p64, s64 = token.split(".")
    VerifyingKey.from_jwk(key.public_jwk()).verify(f"{h64}.{p64}".encode(), b64url_decode(s64))


def test_published_token_defaults_to_an_hourly_ttl_and_a_day(store: Store) -> None:
    w = World(store)
    uri, _, _ = issue_many(w, 1)[0]
    _, payload = decode(w.status.publish(uri, w.keyring.signing_key(w.police.iss)))
    assert payload["ttl"] == 3600
    assert payload["exp"] - payload["iat"] == 86400


def test_published_list_decodes_to_the_stores_statuses(store: Store) -> None:
    w = World(store, list_size=1024)
    issued = issue_many(w, 12)
    uri = issued[0][0]
    revoked, suspended, reinstated = issued[0], issued[1], issued[2]
    w.issuer.revoke(w.police.iss, revoked[2])
    w.issuer.suspend(w.police.iss, suspended[2])
    w.issuer.suspend(w.police.iss, reinstated[2])
    w.issuer.reinstate(w.police.iss, reinstated[2])
    _, payload = decode(w.status.publish(uri, w.keyring.signing_key(w.police.iss)))
    lst = StatusList.decode(payload["status_list"]["lst"], payload["status_list"]["bits"])
    assert len(lst) == 1024
    assert lst.get(revoked[1]) == 1
    assert lst.get(suspended[1]) == 2
    assert lst.get(reinstated[1]) == 0
    expected = {revoked[1]: 1, suspended[1]: 2}
    assert [lst.get(i) for i in range(1024)] == [expected.get(i, 0) for i in range(1024)]
    assert [lst.get(i) for i in range(1024)] == [store.get_status(uri, i) for i in range(1024)]


def test_published_bits_follow_the_token_status_list_example(store: Store) -> None:
    """draft-ietf-oauth-status-list §4.1, 2-bit example: lst "eNo76fITAAPfAgc"."""
    registry = StatusRegistry(store, list_size=12)
    uri, _ = registry.allocate("https://i.example")
    statuses = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
    for idx, value in enumerate(statuses):
        registry.set(uri, idx, value)
    _, payload = decode(registry.publish(uri, SigningKey.generate()))
    lst = StatusList.decode(payload["status_list"]["lst"], 2)
    assert (
        bytes(lst.data) == StatusList.decode("eNo76fITAAPfAgc", 2).data == bytes.fromhex("c944f9")
    )


def test_a_verifier_loads_the_published_token(store: Store) -> None:
    w = World(store, list_size=1024)
    uri, idx, cid = issue_many(w, 1)[0]
    w.issuer.suspend(w.police.iss, cid)
    bundle = w.verifier().bundle
    assert bundle.problems == ()
    loaded = bundle.status_lists[w.police.iss, uri]
    assert loaded.iss == w.police.iss and loaded.statuses.get(idx) == 2
    (token,) = w.bundle()["status_lists"]
    assert load_status_list_token(token, bundle.trust_list).uri == uri


def test_publishing_an_unknown_list_raises(store: Store) -> None:
    w = World(store)
    with pytest.raises(IssuerError):
        w.status.publish(f"{w.police.iss}/status/99", w.keyring.signing_key(w.police.iss))


def test_every_list_of_every_issuer_is_in_the_bundle(store: Store) -> None:
    w = World(store, list_size=64)
    for _ in range(int(64 * FILL_LIMIT) + 1):
        w.status.allocate(w.police.iss)
    w.status.allocate(w.civil.iss)
    subs = sorted(decode(t)[1]["sub"] for t in w.bundle()["status_lists"])
    assert subs == sorted(
        [f"{w.police.iss}/status/1", f"{w.police.iss}/status/2", f"{w.civil.iss}/status/1"]
    )
