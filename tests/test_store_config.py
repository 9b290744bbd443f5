"""The config kind's typed accessors and the declared once-spaces (issue 8).

Contract tests (every test taking ``store`` runs on SQLite, Redis and a Redis Cluster),
and the proof that nothing moved at rest: the names the domain writes through the
accessors are the strings it wrote before them (read raw from the SQLite file and from
Redis), and values written raw the old way read back through the accessors.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from typing import Any

import pytest
from argon2 import PasswordHasher
from redis.cluster import RedisCluster

from keys import derive_key, generate_secret
from service.accounts import Accounts
from service.issuance import Issuance, Kept
from service.presentations import EXPIRED_GRACE, QrPresentations
from store.errors import InvalidArgument
from store.interface import (
    IDEMPOTENCY,
    ONCE_SPACES,
    ONLINE_QR,
    ONLINE_QR_ISSUED,
    ONLINE_QR_USED,
    QR_PRESENTATION,
    TRUSTLIST_IAT,
    TRUSTLIST_NEWEST,
    OnceSpace,
    Store,
)
from store.kinds.config import MAX_BASE_URL, MAX_CONFIG_VALUE, MAX_URI
from store.kinds.ephemeral import MAX_ONCE_NAME, MAX_ONCE_VALUE
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.factory import ID_CARD, ID_CLAIMS, World, run_threads
from tests.redis_replies import all_bytes, as_bytes
from wallet import WalletVault
from wallet.errors import WalletCorrupt

URI = "https://police.example/status/1"
URI2 = "https://police.example/status/2"
HEX16 = re.compile(rb"[0-9a-f]{16}")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the config kind: contract -----------------------------------------------------------


def test_trust_version_starts_absent_and_every_bump_is_new(store: Store) -> None:
    assert store.trust_version() is None
    first = store.bump_trust_version()
    assert HEX16.fullmatch(first)
    assert store.trust_version() == first
    second = store.bump_trust_version()
    assert second != first
    assert store.trust_version() == second


def test_the_first_base_url_kept_wins(store: Store) -> None:
    assert store.base_url() is None
    assert store.set_base_url("https://城市.example/证照") == "https://城市.example/证照"
    assert store.set_base_url("https://other.example") == "https://城市.example/证照"
    assert store.base_url() == "https://城市.example/证照"


def test_workers_racing_for_the_base_url_all_get_the_same_one(store: Store) -> None:
    kept = run_threads(8, lambda i: store.set_base_url(f"https://w{i}.example"))
    assert len(set(kept)) == 1
    assert store.base_url() == kept[0]


@pytest.mark.parametrize(
    "url",
    ["", "x" * (MAX_BASE_URL + 1), "https://a.example\n", "https://a.example\x00", "\udc80"],
    ids=["empty", "too-long", "newline", "nul", "lone-surrogate"],
)
def test_a_bad_base_url_is_refused_and_nothing_kept(store: Store, url: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        store.set_base_url(url)
    assert info.value.code == "invalid_argument"
    assert store.base_url() is None


def test_scene_policies_round_trip_replace_and_bound(store: Store) -> None:
    assert store.scene_policies() is None
    blob = bytes(range(256)) + "酒店".encode()
    store.put_scene_policies(blob)
    assert store.scene_policies() == blob
    store.put_scene_policies(b"")
    assert store.scene_policies() == b""
    with pytest.raises(InvalidArgument):
        store.put_scene_policies(b"[" * (MAX_CONFIG_VALUE + 1))
    assert store.scene_policies() == b""


def test_status_list_versions_are_per_list(store: Store) -> None:
    assert store.status_list_version(URI) is None
    first = store.bump_status_list_version(URI)
    assert HEX16.fullmatch(first)
    assert store.status_list_version(URI) == first
    assert store.status_list_version(URI2) is None
    assert store.bump_status_list_version(URI) != first
    for uri in ("", "u" * (MAX_URI + 1)):
        with pytest.raises(InvalidArgument):
            store.status_list_version(uri)
        with pytest.raises(InvalidArgument):
            store.bump_status_list_version(uri)


def test_the_pseudonym_marker(store: Store) -> None:
    assert store.pseudonyms_done() is False
    store.mark_pseudonyms_done()
    assert store.pseudonyms_done() is True
    store.mark_pseudonyms_done()  # idempotent
    assert store.pseudonyms_done() is True


def test_the_first_keyed_idempotency_instant_kept_wins(store: Store) -> None:
    assert store.keyed_idempotency_since(1_700_000_000) == 1_700_000_000
    assert store.keyed_idempotency_since(1_800_000_000) == 1_700_000_000
    kept = run_threads(8, lambda i: store.keyed_idempotency_since(1_900_000_000 + i))
    assert set(kept) == {1_700_000_000}


def test_an_unreadable_keyed_idempotency_instant_counts_as_now(store: Store) -> None:
    _write_raw_config(store, "idempotency_hmac_since", b"not-a-number")
    assert store.keyed_idempotency_since(1_700_000_000) == 1_700_000_000


def test_get_config_reads_only_declared_names(store: Store) -> None:
    version = store.bump_trust_version()
    store.bump_status_list_version(URI)
    assert store.get_config("trust_version") == version
    assert store.get_config("scenes") is None
    for name in ("x", f"status_version:{URI}", f"status_stamp:{URI}", "trust_version "):
        with pytest.raises(InvalidArgument):
            store.get_config(name)


# -- once-spaces: contract ---------------------------------------------------------------


@pytest.mark.parametrize(
    "space",
    [
        OnceSpace("made-up", 60),
        OnceSpace("online-qr", 10 * 24 * 3600),  # a declared name, another lifetime
        OnceSpace("online-qr", 24 * 3600, single=True),
        OnceSpace("online-qr:x", 60),
        "online-qr",  # a bare prefix, as callers wrote before
    ],
    ids=["unknown", "other-ttl", "other-shape", "colon", "string"],
)
def test_an_undeclared_space_is_refused(store: Store, space: Any) -> None:
    with pytest.raises(InvalidArgument) as info:
        store.once(space)
    assert info.value.code == "invalid_argument"


def test_the_declared_spaces_cannot_share_a_key() -> None:
    names = [space.name for space in ONCE_SPACES]
    assert len(set(names)) == len(names)
    for name in names:
        # no ':' in a space's name: the first ':' of a key ends the space's name
        assert re.fullmatch(r"[a-z0-9-]+", name), name


def test_the_same_name_in_every_space_is_a_different_entry(store: Store) -> None:
    t = time.time()
    spaces = [space for space in ONCE_SPACES if not space.single]
    for i, space in enumerate(spaces):
        assert store.once(space).put("x", f"{i}".encode(), t + 60, t)
    for i, space in enumerate(spaces):
        assert store.once(space).get("x", t) == f"{i}".encode()
    # a name holding ':' stays inside its space: "online-qr" + ":issued:x" is not
    # the entry "x" of "online-qr-issued"
    assert store.once(ONLINE_QR).put("issued:x", b"forged", t + 60, t)
    assert store.once(ONLINE_QR_ISSUED).get("x", t) == f"{spaces.index(ONLINE_QR_ISSUED)}".encode()


def test_a_one_entry_space_takes_no_name_and_others_need_one(store: Store) -> None:
    t = time.time()
    assert store.once(TRUSTLIST_NEWEST).put("", b"5", t + 60, t)
    assert store.once(TRUSTLIST_NEWEST).get("", t) == b"5"
    with pytest.raises(InvalidArgument):
        store.once(TRUSTLIST_NEWEST).put("x", b"5", t + 60, t)
    with pytest.raises(InvalidArgument):
        store.once(ONLINE_QR).put("", b"v", t + 60, t)
    with pytest.raises(InvalidArgument):
        store.once(ONLINE_QR).get("n" * (MAX_ONCE_NAME + 1), t)


def test_an_entry_lives_at_most_its_spaces_lifetime(store: Store) -> None:
    t = time.time()
    once = store.once(IDEMPOTENCY)
    assert once.put("at-the-bound", b"v", t + IDEMPOTENCY.max_ttl, t)
    with pytest.raises(InvalidArgument):
        once.put("past-the-bound", b"v", t + IDEMPOTENCY.max_ttl + 2, t)
    assert once.get("past-the-bound", t) is None
    with pytest.raises(InvalidArgument):
        once.put("huge", b"\x00" * (MAX_ONCE_VALUE + 1), t + 60, t)
    with pytest.raises(InvalidArgument):
        once.put("nan", b"v", float("nan"), t)
    assert once.get("huge", t) is None


# -- nothing moved at rest ---------------------------------------------------------------


def _config_names(store: Store) -> dict[str, bytes]:
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as raw:
            rows = raw.execute("SELECT name, value FROM config").fetchall()
        raw.close()
        return {str(name): bytes(value) for name, value in rows}
    assert isinstance(store, RedisStore)
    got = store.client.hgetall(f"{store.prefix}:{{cfg}}:values")
    assert isinstance(got, dict)
    return {as_bytes(k).decode(): as_bytes(v) for k, v in got.items()}


def _once_keys(store: Store) -> dict[str, bytes]:
    """Every once-value's raw key -> value, read past the store."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as raw:
            rows = raw.execute("SELECT key, value FROM once_values").fetchall()
        raw.close()
        return {str(key): bytes(value) for key, value in rows}
    assert isinstance(store, RedisStore)
    client: Any = store.client
    pattern = f"{store.prefix}:{{once:*"
    if isinstance(client, RedisCluster):
        names = all_bytes(client.keys(pattern, target_nodes=RedisCluster.PRIMARIES))
    else:
        names = all_bytes(client.keys(pattern))
    out: dict[str, bytes] = {}
    for name in names:
        text = name.decode()
        key = text.split("}:", 1)[1]
        # the hash tag is the first 16 hex digits of SHA-256 of the whole key, as before
        assert text == f"{store.prefix}:{{once:{sha(key)[:16]}}}:{key}"
        out[key] = as_bytes(client.hget(name, "v"))
    return out


def test_the_domain_writes_the_same_names_as_before(store: Store) -> None:
    world = World(store)
    clock = world.clock
    # config: base URL, scenes, a status change, the pseudonym marker (the trust version
    # was bumped by World's registrations)
    assert store.set_base_url("https://ecert.example") == "https://ecert.example"
    world.platform.set_scenes([dict(scene) for scene in world.platform.scenes()])
    vault = WalletVault(store, derive_key(generate_secret(), "test"), clock=clock)
    issued = world.issuer.issue(
        world.police.iss,
        ID_CARD,
        subject="citizen-a",
        claims=ID_CLAIMS,
        holder_jwk=vault.holder_jwk("citizen-a"),
    )
    vault.add("citizen-a", issued.id, issued.sd_jwt)
    world.issuer.suspend(world.police.iss, issued.id)
    world.issuer.reinstate(world.police.iss, issued.id)
    store.mark_pseudonyms_done()
    # once-values: a shown online QR redeemed, an idempotent request, a signed trust list
    qr = QrPresentations(store, bytes(32), "https://ecert.example", clock=clock)
    scene = world.platform.live_trust_list().scenes["hotel"]
    shown = qr.show("citizen-a", vault.present("citizen-a", issued.id, scene), "online")
    token = shown.qr.rsplit("/", 1)[1]
    qr.redeem(shown.qr, "hotel")
    accounts = Accounts(store, clock=clock, hasher=PasswordHasher(1, 1024, 1))
    issuance = Issuance(
        store, world.issuer, vault, accounts, idempotency_key=bytes(32), clock=clock
    )
    issuance.idempotent("police", "key-1", "f", lambda: Kept(201, {"id": "x"}))
    world.platform.trust_list()
    iat = int(clock())

    config = _config_names(store)
    uri = world.store.get_credential(issued.id)
    assert uri is not None
    assert set(config) == {
        "trust_version",
        "base_url",
        "scenes",
        f"status_version:{uri.status_uri}",
        "pseudonyms",
        "idempotency_hmac_since",
    } | ({f"status_stamp:{uri.status_uri}", f"status_stamp_bytes:{uri.status_uri}"} & set(config))
    assert HEX16.fullmatch(config["trust_version"])
    assert HEX16.fullmatch(config[f"status_version:{uri.status_uri}"])
    assert config["base_url"] == b"https://ecert.example"
    assert config["pseudonyms"] == b"v1"
    assert json.loads(config["scenes"]) == world.platform.scenes()

    once = _once_keys(store)
    assert set(once) == {
        f"qr-presentation:{sha(shown.id)}",
        f"online-qr:{sha(token)}",
        f"online-qr-issued:{sha(token)}",
        f"online-qr-used:{sha(token)}",
        "idem:" + issuance.entry_name("police", "key-1"),
        f"trustlist-iat:{iat}",
        "trustlist-newest",
    }
    assert once[f"online-qr:{sha(token)}"] == b""  # redeemed: emptied
    assert once["trustlist-newest"] == str(iat).encode()
    assert json.loads(once["idem:" + issuance.entry_name("police", "key-1")])["state"] == "done"


def _write_raw_once(store: Store, key: str, value: bytes, expires_at: float) -> None:
    """A once-value as the code before the spaces stored it, written past the store."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as raw:
            raw.execute(
                "INSERT INTO once_values (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, expires_at),
            )
        raw.close()
        return
    assert isinstance(store, RedisStore)
    name = f"{store.prefix}:{{once:{sha(key)[:16]}}}:{key}"
    store.client.hset(name, mapping={"v": value, "x": repr(float(expires_at))})


def _write_raw_config(store: Store, name: str, value: bytes) -> None:
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as raw:
            raw.execute("INSERT INTO config (name, value) VALUES (?, ?)", (name, value))
        raw.close()
        return
    assert isinstance(store, RedisStore)
    store.client.hset(f"{store.prefix}:{{cfg}}:values", name, value)


def test_values_stored_the_old_way_read_back_through_the_accessors(store: Store) -> None:
    t = time.time()
    h = sha("token")
    for key in (
        f"online-qr-used:{h}",
        f"online-qr-issued:{h}",
        f"qr-presentation:{h}",
        f"idem:police:{h}",
        "trustlist-iat:999",
        "trustlist-newest",
    ):
        _write_raw_once(store, key, key.encode(), t + 60)
    assert store.once(ONLINE_QR_USED).get(h, t) == f"online-qr-used:{h}".encode()
    assert store.once(ONLINE_QR_ISSUED).get(h, t) == f"online-qr-issued:{h}".encode()
    assert store.once(QR_PRESENTATION).get(h, t) == f"qr-presentation:{h}".encode()
    assert store.once(IDEMPOTENCY).get(f"police:{h}", t) == f"idem:police:{h}".encode()
    assert store.once(TRUSTLIST_IAT).get("999", t) == b"trustlist-iat:999"
    assert store.once(TRUSTLIST_NEWEST).get("", t) == b"trustlist-newest"
    assert store.once(ONLINE_QR).get(h, t) is None
    # a claim written the old way still wins over a new one
    assert not store.once(ONLINE_QR_USED).put(h, b"", t + EXPIRED_GRACE, t)

    for name, value in (
        ("trust_version", b"0123456789abcdef"),
        ("base_url", "https://旧.example".encode()),
        ("scenes", b"[]"),
        ("pseudonyms", b"v1"),
        (f"status_version:{URI}", b"fedcba9876543210"),
    ):
        _write_raw_config(store, name, value)
    assert store.trust_version() == b"0123456789abcdef"
    assert store.base_url() == "https://旧.example"
    assert store.set_base_url("https://new.example") == "https://旧.example"
    assert store.scene_policies() == b"[]"
    assert store.pseudonyms_done()
    assert store.status_list_version(URI) == b"fedcba9876543210"
    assert store.status_list_version(URI2) is None


def test_a_once_value_is_sealed_under_its_whole_key(store: Store) -> None:
    """The online QR's entry is sealed with its full store key as associated data, as
    before: moved to another space or name, it does not open."""
    world = World(store)
    clock = world.clock
    vault = WalletVault(store, derive_key(generate_secret(), "test"), clock=clock)
    issued = world.issuer.issue(
        world.police.iss,
        ID_CARD,
        subject="citizen-a",
        claims=ID_CLAIMS,
        holder_jwk=vault.holder_jwk("citizen-a"),
    )
    vault.add("citizen-a", issued.id, issued.sd_jwt)
    qr = QrPresentations(store, bytes(32), "https://ecert.example", clock=clock)
    scene = world.platform.live_trust_list().scenes["hotel"]
    shown = qr.show("citizen-a", vault.present("citizen-a", issued.id, scene), "offline")
    sealed = store.once(QR_PRESENTATION).get(sha(shown.id), clock())
    assert sealed is not None
    other = "A" * 22
    _write_raw_once(store, f"qr-presentation:{sha(other)}", sealed, clock() + 60)
    with pytest.raises(WalletCorrupt):
        qr.get("citizen-a", other)
    assert qr.get("citizen-a", shown.id).qr == shown.qr
