"""The dataclass codec (store/codec.py): every record kind round-trips through an SQLite
row, JSON and a Redis hash, and reading is strict: a stored value that does not fit its
field raises CorruptRecord, never a default (issue 8, "a store per kind of record").

The corrupt inputs are built by hand (raw tuples, JSON text, raw SQL and raw Redis
commands), not by the codec, so that a codec that writes what it wrongly accepts cannot
hide the bug.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest

from store.codec import Codec
from store.errors import CorruptRecord
from store.interface import (
    ActivityRecord,
    ApiKeyRecord,
    CitizenRecord,
    CredentialRecord,
    IssuerRecord,
    KeyRecord,
    SessionRecord,
    StatusListRecord,
    Store,
    VenueRecord,
    WalletItem,
    WalletRecord,
)
from store.redis import RedisStore
from store.sqlite import SQLiteStore

CITIZEN = "110101199003070011"
ISSUER = "https://police.example"
URI = "https://ecert.example/status/1"
EVERY_BYTE = bytes(range(256))

#: One record of every kind, with its edge values (None, empty tuples, non-ASCII, every
#: byte value).
RECORDS: list[Any] = [
    KeyRecord("k1", ISSUER, "ES256", "active", '{"kty":"EC"}', EVERY_BYTE, 1000),
    KeyRecord("k2", "anchor", "EdDSA", "compromised", "{}", b"", 0),
    IssuerRecord(ISSUER, "police", "公安局", "Police", ("urn:ecert:id-card", "urn:x")),
    IssuerRecord("https://x.example", "x", "", "", ()),
    StatusListRecord(URI, ISSUER, 2, 10_000_000, 1000),
    CredentialRecord("c1", "urn:ecert:id-card", ISSUER, CITIZEN, "k1", URI, 7, 1000, 2000),
    CredentialRecord("c2", "urn:x", ISSUER, CITIZEN, "k1", URI, 0, 1, 2, "suspended"),
    CitizenRecord(CITIZEN, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", 1000),
    CitizenRecord("11010119900307002X", "", 0),
    WalletRecord(CITIZEN, "hk1", EVERY_BYTE, b"\x00", 1000),
    WalletItem(CITIZEN, "c1", "urn:ecert:id-card", ISSUER, 2000, 1001, EVERY_BYTE),
    SessionRecord("a" * 64, CITIZEN, 1000, 4000),
    ApiKeyRecord("key1", "b" * 64, "venue", "grand-hotel", 1000),
    ApiKeyRecord("key2", "c" * 64, "department", ISSUER, 1000, 1500),
    VenueRecord("grand-hotel", "大酒店", "Grand Hotel", ("hotel", "bank"), 1000),
    ActivityRecord("e1", CITIZEN, 1002, "v", "hotel", "urn:x", "c1", ("name",), True, ()),
    ActivityRecord("e2", CITIZEN, 1003, "v", "hotel", None, None, (), False, ("revoked",)),
]
KINDS = sorted({type(r) for r in RECORDS}, key=lambda t: t.__name__)


def _id(record: object) -> str:
    return type(record).__name__


def test_every_record_kind_is_covered() -> None:
    assert {t.__name__ for t in KINDS} == {
        "ActivityRecord", "ApiKeyRecord", "CitizenRecord", "CredentialRecord", "IssuerRecord",
        "KeyRecord", "SessionRecord", "StatusListRecord", "VenueRecord", "WalletItem",
        "WalletRecord",
    }  # fmt: skip


@pytest.mark.parametrize("record", RECORDS, ids=_id)
def test_a_record_round_trips_through_a_row_json_and_a_hash(record: Any) -> None:
    codec: Codec[Any] = Codec(type(record))
    assert codec.from_row(codec.to_row(record)) == record
    assert codec.from_json(codec.to_json(record)) == record
    hashed = {k.encode(): v for k, v in codec.to_hash(record).items()}
    assert codec.from_hash(hashed) == record


@pytest.mark.parametrize("record", RECORDS, ids=_id)
def test_a_record_round_trips_through_a_real_sqlite_table(record: Any) -> None:
    """Through SQLite itself (types as the driver gives them back: BLOB, INTEGER…)."""
    codec: Codec[Any] = Codec(type(record))
    raw = sqlite3.connect(":memory:")
    try:
        raw.execute(f"CREATE TABLE t ({codec.columns})")
        raw.execute(codec.insert("t"), codec.to_row(record))
        row = raw.execute(codec.select("t")).fetchone()
    finally:
        raw.close()
    assert codec.from_row(row) == record


@pytest.mark.parametrize("record", RECORDS, ids=_id)
def test_json_leaves_out_excluded_fields_and_takes_them_back_as_extra(record: Any) -> None:
    codec: Codec[Any] = Codec(type(record))
    last = codec.fields[-1]
    blob = codec.to_json(record, exclude=(last,))
    assert last not in json.loads(blob)
    assert codec.from_json(blob, {last: codec.to_dict(record)[last]}) == record
    with pytest.raises(CorruptRecord):  # the excluded field missing: not a default
        codec.from_json(blob)


# -- strict reading: one wrong value per field and per kind -----------------------------


def _field(cls: type, name: str) -> tuple[object, bool]:
    """The field's type without ``None``, and whether it may be None."""
    hint = get_type_hints(cls)[name]
    args = get_args(hint)
    if type(None) in args and get_origin(hint) is not Literal:
        (inner,) = (a for a in args if a is not type(None))
        return inner, True
    return hint, False


def _wrong_values(cls: type, name: str, *, row: bool) -> list[object]:
    """Stored values (a row's, or a JSON object's) that do not fit field ``name``."""
    hint, optional = _field(cls, name)
    wrong: list[object]
    if hint is bool:
        wrong = [2, -1, "1", 1.5] if row else [1, 0, "true"]
    elif hint is int:
        wrong = ["1000", True, 1.5]
    elif hint is str:
        wrong = [7, 1.5, ["x"]]
    elif get_origin(hint) is Literal:
        wrong = ["bogus", 7, ""]
    elif hint is bytes:
        wrong = ["text", 7] if row else ["not base64!", "QUJD=", 7]
    else:  # tuple[str, ...]
        wrong = ['{"a": 1}', "[1]", "not json", 7] if row else ["x", [1], {"a": 1}]
    if row:
        wrong.append(b"\x00" if hint is not bytes else "x")
    return wrong if optional else [*wrong, None]


@pytest.mark.parametrize("record", RECORDS, ids=_id)
def test_a_row_that_does_not_fit_is_corrupt(record: Any) -> None:
    codec: Codec[Any] = Codec(type(record))
    good = list(codec.to_row(record))
    seen = 0
    for i, name in enumerate(codec.fields):
        for bad in _wrong_values(type(record), name, row=True):
            row = [*good[:i], bad, *good[i + 1 :]]
            with pytest.raises(CorruptRecord, match=name):
                codec.from_row(tuple(row))
            seen += 1
    assert seen >= len(codec.fields) * 3
    with pytest.raises(CorruptRecord):
        codec.from_row(tuple(good[:-1]))  # a column short
    with pytest.raises(CorruptRecord):
        codec.from_row((*good, 1))  # a column extra


@pytest.mark.parametrize("record", RECORDS, ids=_id)
def test_json_that_does_not_fit_is_corrupt(record: Any) -> None:
    codec: Codec[Any] = Codec(type(record))
    good = json.loads(codec.to_json(record))
    for name in codec.fields:
        for bad in _wrong_values(type(record), name, row=False):
            text = json.dumps({**good, name: bad})
            with pytest.raises(CorruptRecord, match=name):
                codec.from_json(text)
        missing = {k: v for k, v in good.items() if k != name}
        with pytest.raises(CorruptRecord):
            codec.from_json(json.dumps(missing))
    with pytest.raises(CorruptRecord):
        codec.from_json(json.dumps({**good, "extra": 1}))
    not_records: tuple[str | bytes, ...] = ("[]", '"x"', "null", "{", b"\xff\xfe")
    for blob in not_records:
        with pytest.raises(CorruptRecord):
            codec.from_json(blob)


def test_a_corrupt_message_names_the_field_never_the_value() -> None:
    codec = Codec(CitizenRecord)
    with pytest.raises(CorruptRecord) as caught:
        codec.from_row((CITIZEN, 12345, 1000))
    assert CITIZEN not in str(caught.value) and "12345" not in str(caught.value)
    assert "password_hash" in str(caught.value)


def test_a_field_type_the_codec_does_not_know_fails_at_once() -> None:
    @dataclasses.dataclass(frozen=True)
    class Odd:
        values: list[int]

    @dataclasses.dataclass(frozen=True)
    class Either:
        value: int | str

    @dataclasses.dataclass(frozen=True)
    class Numbers:
        value: Literal[1, 2]

    for cls in (Odd, Either, Numbers):
        with pytest.raises(TypeError):
            Codec(cls)


# -- through the real stores: raw corrupt data is refused, not defaulted ----------------


def _corrupt_sqlite(store: SQLiteStore, sql: str, *args: object) -> None:
    raw = sqlite3.connect(store.path, isolation_level=None)
    try:
        raw.execute(sql, args)
    finally:
        raw.close()


def _seed(store: Store) -> None:
    store.put_key(RECORDS[0])
    store.put_credential(RECORDS[5])
    store.put_citizen(RECORDS[7])
    store.put_api_key(RECORDS[12])
    store.put_venue(RECORDS[14])
    store.add_activity(RECORDS[15])


def test_sqlite_refuses_corrupt_rows(sqlite_store: SQLiteStore) -> None:
    s = sqlite_store
    _seed(s)
    _corrupt_sqlite(s, "UPDATE keys SET state = 'bogus'")
    _corrupt_sqlite(s, "UPDATE credentials SET issued_at = 'soon'")  # not an integer
    _corrupt_sqlite(s, "UPDATE venues SET scenes = '{\"hotel\": 1}'")
    _corrupt_sqlite(s, "UPDATE api_keys SET kind = 'root'")
    _corrupt_sqlite(s, "UPDATE activity SET valid = 2")
    _corrupt_sqlite(s, "UPDATE citizens SET password_hash = x'00'")
    reads: list[Callable[[], object]] = [
        lambda: s.get_key("k1"),
        lambda: s.list_keys(),
        lambda: s.get_credential("c1"),
        lambda: s.find_credential(URI, 7),
        lambda: s.get_venue("grand-hotel"),
        lambda: s.get_api_key("b" * 64),
        lambda: s.list_activity(CITIZEN),
        lambda: s.get_citizen(CITIZEN),
    ]
    for i, read in enumerate(reads):
        with pytest.raises(CorruptRecord):
            read()
            pytest.fail(f"read {i} took a corrupt row")


def test_redis_refuses_corrupt_values(redis_store: RedisStore) -> None:
    s = redis_store
    _seed(s)
    r = s.client
    # A revoked credential whose state key is lost (evicted, half-restored) was read as
    # "valid" by default: now it is an error, never a silent un-revocation.
    r.delete("ecert:{cred:c1}:state")
    r.hset("ecert:{keys}:state", "k1", "bogus")
    r.hset("ecert:{venues}:rec", "grand-hotel", '{"venue_id": "grand-hotel"}')
    r.hset(
        "ecert:{apikeys}:rec",
        "key1",
        '{"key_id": "key1", "key_hash": "' + "b" * 64 + '", "kind": "venue",'
        ' "principal": "grand-hotel", "created_at": "1000"}',
    )
    r.delete(f"ecert:{{sub:{CITIZEN}}}:password")
    (event,) = r.hkeys(f"ecert:{{sub:{CITIZEN}}}:events")
    r.hset(f"ecert:{{sub:{CITIZEN}}}:events", event, b"\xff not json")
    reads: list[Callable[[], object]] = [
        lambda: s.get_credential("c1"),
        lambda: s.find_credential(URI, 7),
        lambda: s.list_credentials(subject=CITIZEN),
        lambda: s.get_key("k1"),
        lambda: s.get_venue("grand-hotel"),
        lambda: s.get_api_key("b" * 64),
        lambda: s.get_citizen(CITIZEN),
        lambda: s.list_activity(CITIZEN),
    ]
    for i, read in enumerate(reads):
        with pytest.raises(CorruptRecord):
            read()
            pytest.fail(f"read {i} took a corrupt value")
