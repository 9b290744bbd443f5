"""Pseudonymous citizens at rest: a dump of the store holds no citizen id, name or claim.

Two kinds of test, each on SQLite, one Redis server and a Redis Cluster:

* the **dump test** runs a realistic walk over HTTP (seeded citizens, a department
  issues over the API into a wallet, logins, offline and online QR codes verified at
  a venue, so that activity is written), then reads the SQLite file and its WAL while
  the service still has them open (or Redis: an uncompressed ``SAVE`` and every key
  and value read back by type) and searches the raw bytes for every citizen id and
  claim value, as UTF-8, JSON ``\\u`` escapes and base64/base64url at each alignment;
* the **migration test** builds an instance the way the code before pseudonyms did
  (domain objects with no pseudonyms: ids written straight through the store),
  interrupts the migration on open after a step, reopens, and checks every
  user-visible behaviour (login, an old session, wallet list, activity, revoke by
  subject, presentations) and the dump.

The searches are of bytes the tests did not produce through the project's helpers.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from redis.cluster import RedisCluster

import service.instance
from api import create_app
from cli.seed import CITIZENS, seed_demo
from issuer import CredentialIssuer
from issuer.catalogue import default_scenes
from keys import generate_secret
from keys.errors import SealBroken
from keys.pseudonym import Pseudonyms, is_pseudonym, is_sealed_id
from service.accounts import Accounts, token_hash
from service.errors import AuthError
from service.instance import Instance, open_instance
from service.uses import Use
from service.verification import OnlineVerifier
from store.interface import Store
from store.kinds.activity import new_event_id
from store.pseudonymize import pseudonymize
from tests.api_helpers import (
    BASE_URL,
    FAST_HASHER,
    ID_CARD,
    ID_CLAIMS,
    AuthActions,
    bearer,
    card_id,
    services_of,
)
from tests.conftest import flush_cluster
from tests.factory import DERIVED
from tests.hygiene import personal, personal_demo
from wallet import WalletVault

SECRET = personal(generate_secret(), "the pseudonym tests' key secret")
NEW_CITIZEN = str(ID_CLAIMS["id_number"])
NEW_PASSWORD = personal("pseudonym-walk-password-1", "the pseudonym walk's password")
#: A purpose a department typed for a proof query (free text: sealed in the audit chain).
AUDIT_PURPOSE = personal("复核王小明低保申请的家庭成员", "the pseudonym walk's audit purpose")
#: A clerk's purpose (free text: sealed at rest).
CONSENT_PURPOSE = personal("核实李四的低保申请 (walk purpose)", "a consent's purpose")
#: The free text of a proof query (issue 11): sealed at rest, like the answer's values.
PROOF_PURPOSE = personal("核验身份以办理低保（化名测试）", "the pseudonym walk's proof purpose")
#: A ward (issue 12): a child's ID number and name, held for by NEW_CITIZEN.
WARD = personal("110101201009010052", "the pseudonym walk's ward id")
GUARDIANSHIP = "urn:ecert:guardianship"
WARD_NAME = personal("林小雨", "the pseudonym walk's ward")
#: Shorter values (a sex, an ethnicity: one character) are no identifier and would
#: match random bytes of ciphertext.
MIN_SEARCHED = 6


class Crash(Exception):
    """The injected failure half-way through a migration."""


# -- the service on each backend -----------------------------------------------------------


@dataclasses.dataclass
class Backend:
    name: str
    redis_url: str | None
    cluster: bool

    def config(self, folder: Path) -> dict[str, Any]:
        return {
            "TESTING": True,
            "INSTANCE": str(folder),
            "KEY_SECRET": SECRET,
            "BASE_URL": BASE_URL,
            "REDIS_URL": self.redis_url,
            "REDIS_CLUSTER": "1" if self.cluster else None,
            "PASSWORD_HASHER_PARAMS": FAST_HASHER,
        }


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
        pytest.param("cluster", id="cluster", marks=[pytest.mark.redis, pytest.mark.cluster]),
    ]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", None, False)
        return
    url: str = request.getfixturevalue(
        "redis_server" if request.param == "redis" else "redis_cluster"
    )
    try:
        yield Backend(request.param, url, request.param == "cluster")
    finally:
        if request.param == "cluster":
            flush_cluster(url)
        else:
            client = redis.Redis.from_url(url)
            try:
                client.flushdb()
            finally:
                client.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "instance"


def _app(backend: Backend, folder: Path) -> Flask:
    return create_app(backend.config(folder))


# -- reading the store's bytes ---------------------------------------------------------------


def _client(backend: Backend) -> Any:
    assert backend.redis_url is not None
    if backend.cluster:
        return RedisCluster.from_url(backend.redis_url)
    return redis.Redis.from_url(backend.redis_url)


def _redis_values(client: Any) -> bytes:
    """Every key and value, read back by type (every master of a cluster)."""
    out: list[bytes] = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            out.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                out += [field, value]
        elif kind == "zset":
            out += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "set":
            out += list(client.smembers(key))
        elif kind == "list":
            out += list(client.lrange(key, 0, -1))
        else:
            raise AssertionError(f"a key of unexpected type {kind!r}")
    return b"\n".join(out)


def _rdb(client: redis.Redis) -> bytes:
    """An uncompressed snapshot of the server (LZF would hide long strings)."""
    client.config_set("rdbcompression", "no")
    try:
        client.save()
    finally:
        client.config_set("rdbcompression", "yes")
    config = {**client.config_get("dir"), **client.config_get("dbfilename")}
    text = {(k.decode() if isinstance(k, bytes) else k): v for k, v in config.items()}
    directory, name = (
        v.decode() if isinstance(v, bytes) else str(v) for v in (text["dir"], text["dbfilename"])
    )
    return (Path(directory) / name).read_bytes()


def dump(backend: Backend, folder: Path) -> bytes:
    """The store's bytes at rest, read while the service still has the store open."""
    if backend.redis_url is None:
        parts = [folder / "ecert.db", folder / "ecert.db-wal", folder / "ecert.db-shm"]
        return b"".join(p.read_bytes() for p in parts if p.exists())
    client = _client(backend)
    try:
        values = _redis_values(client)
        return values if backend.cluster else values + _rdb(client)
    finally:
        client.close()


def _b64_forms(raw: bytes) -> list[bytes]:
    """The base64 and base64url text of ``raw`` wherever it starts in a longer string:
    for each of the three alignments, only the characters that ``raw`` alone decides."""
    forms: list[bytes] = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).rstrip(b"=")
        start = (shift * 8 + 5) // 6
        end = ((shift + len(raw)) * 8) // 6
        core = encoded[start:end]
        forms += [core, core.replace(b"+", b"-").replace(b"/", b"_")]
    return forms


def forms(value: str) -> list[bytes]:
    raw = value.encode("utf-8")
    escaped = json.dumps(value).strip('"').encode("ascii")
    # base64 of the escaped form too: JSON written with ensure_ascii, then kept as bytes
    found = [raw, escaped, *_b64_forms(raw), *_b64_forms(escaped)]
    return [f for f in dict.fromkeys(found) if len(f) >= MIN_SEARCHED]


#: Free text of the walk's rating and misuse report (issue 11): sealed in the store.
COMMENT = "前台把证件拍了照 rude desk"
REPORT_TEXT = "他们复印了我的身份证 copied my card"


def personal_values() -> dict[str, str]:
    """Every citizen id and claim value of the walk: value -> what it is."""
    values = {NEW_CITIZEN: "citizen id"}
    for citizen in CITIZENS:
        values[citizen["citizen_id"]] = "citizen id"
        for _, _, claims in citizen["credentials"]:
            values.update({v: f"claim {k}" for k, v in claims.items() if isinstance(v, str)})
    values.update({v: f"claim {k}" for k, v in ID_CLAIMS.items() if isinstance(v, str)})
    values[AUDIT_PURPOSE] = "a proof query's purpose"
    values[CONSENT_PURPOSE] = "a consent's purpose"
    values[PROOF_PURPOSE] = "a proof query's purpose"
    values.update({COMMENT: "rating comment", REPORT_TEXT: "misuse report"})
    return {v: what for v, what in values.items() if len(v.encode("utf-8")) >= MIN_SEARCHED}


def assert_no_personal_data(data: bytes, pseudonyms: Pseudonyms, ids: list[str]) -> None:
    """No value of :func:`personal_values` in ``data``, and the pseudonym of each of
    ``ids`` (the citizens the store must hold) in it."""
    leaks = [
        f"{what} {value!r} as {form!r}"
        for value, what in personal_values().items()
        for form in forms(value)
        if form in data
    ]
    assert not leaks, "personal data in clear in the store:\n" + "\n".join(leaks)
    # The search is not vacuous: every citizen's records are there, under the pseudonym.
    missing = [cid for cid in ids if pseudonyms.of(cid).encode() not in data]
    assert not missing, f"{len(missing)} citizens' pseudonyms are not in the dump at all"


def assert_clear_ids_present(data: bytes) -> None:
    """Before the migration: the old code did write the ids in clear (a sanity check)."""
    for citizen in CITIZENS:
        assert citizen["citizen_id"].encode() in data


# -- the walk ---------------------------------------------------------------------------------


def walk(app: Flask) -> None:
    """Seed, issue over HTTP, log in, show QR codes and verify them at the hotel."""
    client = app.test_client()
    svc = services_of(app)
    logins = seed_demo(svc.instance, svc.accounts)
    personal_demo(logins)
    auth = AuthActions(client, logins)
    svc.accounts.create_citizen(NEW_CITIZEN, NEW_PASSWORD)
    issued = client.post(
        "/api/v1/issuers/police/credentials",
        json={"vct": ID_CARD, "citizen_id": NEW_CITIZEN, "claims": ID_CLAIMS},
        headers={**auth.department(), "Idempotency-Key": f"walk-{NEW_CITIZEN}"},
    )
    assert issued.status_code == 201, issued.get_json()
    token = client.post(
        "/api/v1/auth/login", json={"citizen_id": NEW_CITIZEN, "password": NEW_PASSWORD}
    ).get_json()["access_token"]
    citizen = bearer(personal(token, "the pseudonym walk's session"))
    for headers in (citizen, auth.citizen(0)):
        for mode in ("offline", "online"):
            assert verify_once(client, headers, auth, mode)["valid"]
    events = client.get("/api/v1/wallet/activity", headers=citizen).get_json()["items"]
    assert [e["venue"]["id"] for e in events] == ["grand-hotel", "grand-hotel"]
    # A proof query with its purpose, as the proofs use case publishes it: in the audit chain.
    svc.uses.record(
        Use(
            event_id=new_event_id(),
            kind="proof_query",
            at=1_800_000_000,
            subject=svc.pseudonyms.of(NEW_CITIZEN),
            actor_kind="department",
            actor="civil-affairs",
            topic="kinship-parent-child",
            fields=("relation",),
            purpose=AUDIT_PURPOSE,
            answered_by="police",
            accepted=True,
        )
    )
    assert svc.audit.verify().entries == 5
    # A department asks for consent with a clerk's purpose; the citizen approves it.
    asked = client.post(
        "/api/v1/proofs/consent-requests",
        json={
            "citizen_id": NEW_CITIZEN,
            "proof_type": "no-criminal-record",
            "purpose": CONSENT_PURPOSE,
            "until": time.strftime("%Y-%m-%d", time.gmtime()),
        },
        headers=auth.department(),
    )
    assert asked.status_code == 201, asked.get_json()
    approved = client.post(
        f"/api/v1/wallet/consents/{asked.get_json()['id']}/approve", headers=citizen
    )
    assert approved.status_code == 200, approved.get_json()
    # a proof query (issue 11): answered with the citizen's name, refused for another type
    until = (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=9)).isoformat()
    svc.instance.consents.grant(NEW_CITIZEN, "civil-affairs", "identity", PROOF_PURPOSE, until)
    for proof_type, status in (("identity", 200), ("residence", 403)):
        asked = client.post(
            "/api/v1/proofs/queries",
            json={"proof_type": proof_type, "citizen_id": NEW_CITIZEN, "purpose": PROOF_PURPOSE},
            headers=auth.department("civil-affairs"),
        )
        assert asked.status_code == status, asked.get_json()
    assert len(svc.instance.proofs.uses_of(NEW_CITIZEN)) == 2
    # A rating's comment and a misuse report's text are sealed (issue 11).
    receipts = svc.instance.receipts
    use = receipts.list(NEW_CITIZEN)[0]
    receipts.rate(NEW_CITIZEN, use.event_id, 1, personal(COMMENT, "a rating's comment"))
    receipts.report(NEW_CITIZEN, use.event_id, personal(REPORT_TEXT, "a misuse report"))
    # The operator's daily counters were written too (issue 11), so the dump holds them.
    figures = svc.instance.stats.stats()
    # the ID card, and the police's age attestation issued beside it (service/derived.py)
    assert figures["issuance"]["by_department"]["police"][figures["to"]] == 2
    assert figures["verification"]["by_venue"]["grand-hotel"][figures["to"]] == 4
    # Guardians and carers (issue 12): a link kept under pseudonyms, its names sealed, and
    # the held-for copies in the guardian's and the carer's wallets.
    svc.accounts.create_citizen(WARD, NEW_PASSWORD)
    ward_card = {**ID_CLAIMS, "name": WARD_NAME, "id_number": WARD, "birth_date": "2010-09-01"}
    link = {
        "guardian_name": ID_CLAIMS["name"],
        "guardian_id_number": NEW_CITIZEN,
        "ward_name": WARD_NAME,
        "ward_id_number": WARD,
        "ward_birth_date": "2010-09-01",
        "relationship": "mother",
    }
    for vct, cid, claims in ((ID_CARD, WARD, ward_card), (GUARDIANSHIP, NEW_CITIZEN, link)):
        got = client.post(
            "/api/v1/issuers/police/credentials",
            json={"vct": vct, "citizen_id": cid, "claims": claims},
            headers=auth.department(),
        )
        assert got.status_code == 201, got.get_json()
    scenes = [dict(s, carer=True) if s["id"] == "bank" else s for s in default_scenes()]
    svc.instance.platform.set_scenes(scenes)
    svc.instance.verification.online.check_every = 0.0
    carer = client.post(
        "/api/v1/wallet/carers",
        json={"carer_id": auth.citizen_ids[1], "scenes": ["bank"], "until": until},
        headers=citizen,
    )
    assert carer.status_code == 201, carer.get_json()
    held = client.get("/api/v1/wallet/credentials", headers=citizen).get_json()["items"]
    # the ward's ID card and the age attestation derived from it, held for the ward
    assert {c["held_for"]["name"] for c in held if c["held_for"]} == {WARD_NAME}
    # OpenID4VCI offers (issue 13): one left pending, one redeemed for an access token;
    # the citizen and the claims are sealed in the offer, the codes kept as hashes.
    for _ in range(2):
        offered = client.post(
            "/api/v1/issuers/police/offers",
            json={"citizen_id": NEW_CITIZEN, "vct": ID_CARD, "claims": ID_CLAIMS},
            headers=auth.department(),
        )
        assert offered.status_code == 201, offered.get_json()
    link = urllib.parse.urlsplit(offered.get_json()["offer_uri"]).query
    offer = json.loads(urllib.parse.parse_qs(link)["credential_offer"][0])
    grant = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    redeemed = client.post(
        "/api/v1/oid4vci/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": grant["pre-authorized_code"],
            "tx_code": offered.get_json()["tx_code"],
        },
    )
    assert redeemed.status_code == 200, redeemed.get_json()


def verify_once(
    client: FlaskClient, citizen: dict[str, str], auth: AuthActions, mode: str
) -> dict[str, Any]:
    cred = card_id(client, citizen)
    made = client.post(
        f"/api/v1/wallet/credentials/{cred}/presentations",
        json={"scene": "hotel", "mode": mode},
        headers=citizen,
    )
    assert made.status_code == 201, made.get_json()
    checked = client.post(
        "/api/v1/verify", json={"qr": made.get_json()["qr"], "scene": "hotel"}, headers=auth.venue()
    )
    assert checked.status_code == 200, checked.get_json()
    answer: dict[str, Any] = checked.get_json()
    return answer


def test_a_store_dump_holds_no_citizen_id_or_claim(backend: Backend, folder: Path) -> None:
    app = _app(backend, folder)
    try:
        walk(app)
        ids = [NEW_CITIZEN, WARD] + [c["citizen_id"] for c in CITIZENS]
        assert_no_personal_data(dump(backend, folder), services_of(app).instance.pseudonyms, ids)
    finally:
        services_of(app).close()


def test_forms_find_a_value_at_every_alignment() -> None:
    value = "李四"
    for pad in (b"", b"x", b"xy", b"xyz"):
        blob = pad + b'["salt","name","' + value.encode() + b'"]'
        text = base64.urlsafe_b64encode(blob)
        assert any(f in text for f in forms(value)), pad
    assert any(f in json.dumps({"n": value}).encode() for f in forms(value))


# -- the migration ------------------------------------------------------------------------------


def legacy_instance(backend: Backend, folder: Path) -> Instance:
    """An instance as the code before pseudonyms wrote it: ids in clear everywhere."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(service.instance, "pseudonymize", lambda *args, **kwargs: 0)
        inst = open_instance(
            folder,
            base_url=BASE_URL,
            redis_url=backend.redis_url,
            redis_cluster=backend.cluster,
            key_secret=SECRET,
        )
    vault = WalletVault(inst.store, inst.derive_key("ecert/wallet-keys/v1"))
    issuer = CredentialIssuer(inst.store, inst.keyring, inst.status)
    inst.vault, inst.issuer, inst.pseudonyms = vault, issuer, Pseudonyms.none()
    return inst


def build_legacy(backend: Backend, folder: Path) -> tuple[dict[str, Any], str]:
    """Seed the demo, log in and verify once at the hotel with the old code; the demo
    logins and the old session's token."""
    inst = legacy_instance(backend, folder)
    try:
        hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        accounts = Accounts(inst.store, hasher=hasher)
        logins = seed_demo(inst, accounts)
        personal_demo(logins)
        first = logins["citizens"][0]
        session = accounts.login(first["citizen_id"], first["password"], client="127.0.0.1")
        personal(session.access_token, "an old session token")
        item = next(i for i in inst.vault.items(first["citizen_id"]) if i.vct not in DERIVED)
        online = OnlineVerifier(inst.store, inst.platform)
        scene = online.verifier().trust_list.scenes["hotel"]
        shown = inst.vault.present(first["citizen_id"], item.credential_id, scene)
        result = online.verify(shown.text, "hotel", venue_id="grand-hotel")
        assert result.valid, result.errors
        assert_clear_ids_present(dump(backend, folder))
        assert not inst.store.pseudonyms_done()
    finally:
        inst.close()
    return dict(logins), session.access_token


def crash_after(count: int) -> Callable[..., int]:
    """``pseudonymize`` that fails after its ``count``-th step."""
    steps: list[str] = []

    def crashing(*args: Any, **kwargs: Any) -> int:
        def hook(name: str) -> None:
            steps.append(name)
            if len(steps) == count:
                raise Crash(name)

        return pseudonymize(*args, hook=hook)

    return crashing


@pytest.mark.parametrize("crash_at", [1, 2])
def test_an_old_instance_migrates_in_place_after_a_crash(
    backend: Backend, folder: Path, crash_at: int
) -> None:
    logins, old_token = build_legacy(backend, folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(service.instance, "pseudonymize", crash_after(crash_at))
        with pytest.raises(Crash):
            open_instance(
                folder,
                redis_url=backend.redis_url,
                redis_cluster=backend.cluster,
                key_secret=SECRET,
            )
    app = _app(backend, folder)
    try:
        check_after_migration(app, logins, old_token)
        svc = services_of(app)
        pseudonyms = svc.instance.pseudonyms
        assert svc.instance.store.pseudonyms_done()
        steps: list[str] = []
        moved = pseudonymize(svc.instance.store, pseudonyms.of, pseudonyms.seal, hook=steps.append)
        assert moved == 0
        assert steps == [], "a migrated instance is migrated again"
        ids = [c["citizen_id"] for c in CITIZENS]
        assert_no_personal_data(dump(backend, folder), pseudonyms, ids)
    finally:
        services_of(app).close()


def check_after_migration(app: Flask, logins: dict[str, Any], old_token: str) -> None:
    client = app.test_client()
    auth = AuthActions(client, logins)  # type: ignore[arg-type]
    svc = services_of(app)
    first = auth.citizen(0)
    # A session opened before the migration still works.
    old = client.get("/api/v1/wallet/credentials", headers=bearer(old_token))
    assert old.status_code == 200, old.get_json()
    assert old.get_json() == client.get("/api/v1/wallet/credentials", headers=first).get_json()
    # The wallet and the activity written before.
    items = client.get("/api/v1/wallet/credentials", headers=first).get_json()["items"]
    assert [(i["vct"], i["status"]) for i in items if i["vct"] not in DERIVED] == [
        (ID_CARD, "valid")
    ]
    events = client.get("/api/v1/wallet/activity", headers=first).get_json()["items"]
    assert [(e["venue"]["id"], e["valid"]) for e in events] == [("grand-hotel", True)]
    # Presentations made and verified now, logged in the same activity.
    for mode in ("offline", "online"):
        assert verify_once(client, first, auth, mode)["valid"]
    events = client.get("/api/v1/wallet/activity", headers=first).get_json()["items"]
    assert len(events) == 3
    # The registry still finds a citizen's credentials by id: revoke by subject.
    second_id = logins["citizens"][1]["citizen_id"]
    records = [r for r in svc.instance.issuer.credentials_of(second_id) if r.vct not in DERIVED]
    assert [r.vct for r in records] == [ID_CARD]
    revoked = client.post(
        f"/api/v1/issuers/police/credentials/{records[0].id}/revoke", headers=auth.department()
    )
    assert revoked.status_code == 200, revoked.get_json()
    second = auth.citizen(1)
    items = client.get("/api/v1/wallet/credentials", headers=second).get_json()["items"]
    assert [i["status"] for i in items] == ["revoked"]
    assert svc.instance.issuer.credentials_of(logins["citizens"][0]["citizen_id"])


# -- the mapping and the sealed session id ------------------------------------------------------


def _pseudonyms(seed: int) -> Pseudonyms:
    return Pseudonyms(bytes([seed]) * 32, bytes([seed + 1]) * 32)


def test_a_pseudonym_is_keyed_stable_and_shaped() -> None:
    one, other = _pseudonyms(1), _pseudonyms(3)
    cid = CITIZENS[1]["citizen_id"]  # ends with X: case matters
    assert one.of(cid) == one.of(cid)
    assert one.of(cid) != other.of(cid)  # another instance secret: no join across dumps
    assert one.of(cid) != one.of(cid.lower()) != one.of(cid + " ")
    assert is_pseudonym(one.of(cid)) and len(one.of(cid)) == 46
    assert not is_pseudonym(cid)
    # Not a plain hash of the id: an enumerable id must not be found by hashing guesses.
    plain = base64.urlsafe_b64encode(hashlib.sha256(cid.encode()).digest()).rstrip(b"=")
    assert plain.decode() not in one.of(cid)
    assert Pseudonyms.none().of(cid) == cid


def test_a_sealed_session_id_opens_only_for_its_token() -> None:
    one = _pseudonyms(1)
    cid = CITIZENS[0]["citizen_id"]
    sealed = one.seal(cid, "hash-a")
    assert is_sealed_id(sealed) and cid not in sealed
    assert one.open(sealed, "hash-a") == cid
    for text, context, who in (
        (sealed, "hash-b", one),  # moved to another session
        (sealed, "hash-a", _pseudonyms(3)),  # another instance's secret
        (cid, "hash-a", one),  # a clear id left by old code
        (sealed[:-2], "hash-a", one),
        ("sc_" + "A" * 60, "hash-a", one),
    ):
        with pytest.raises(SealBroken) as caught:
            who.open(text, context)
        assert caught.value.code == "seal_broken"


def test_a_session_record_moved_to_another_token_logs_no_one_in(store: Store) -> None:
    """An attacker who can write the store copies a victim's session citizen field into
    the record of their own token: the service must not take them for the victim."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts = Accounts(store, hasher=hasher, pseudonyms=_pseudonyms(5))
    victim, mallory = CITIZENS[0]["citizen_id"], CITIZENS[1]["citizen_id"]
    for cid in (victim, mallory):
        accounts.create_citizen(cid, "correct horse battery")
    theirs = accounts.login(victim, "correct horse battery", client="10.0.0.1")
    mine = accounts.login(mallory, "correct horse battery", client="10.0.0.2")
    stolen = store.get_session(token_hash(theirs.access_token), 0)
    own = store.get_session(token_hash(mine.access_token), 0)
    assert stolen is not None and own is not None
    store.put_session(dataclasses.replace(own, citizen_id=stolen.citizen_id))
    with pytest.raises(AuthError):
        accounts.citizen_for_token(mine.access_token)
    assert accounts.citizen_for_token(theirs.access_token) == victim
    # and the store's session records hold no citizen id in clear
    assert victim not in stolen.citizen_id and mallory not in own.citizen_id


def test_workers_opening_an_old_instance_at_once_migrate_it_once(
    backend: Backend, folder: Path
) -> None:
    """gunicorn's workers each open the instance: their migrations overlap harmlessly."""
    logins, old_token = build_legacy(backend, folder)
    opened: list[Instance] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(
                open_instance(
                    folder,
                    redis_url=backend.redis_url,
                    redis_cluster=backend.cluster,
                    key_secret=SECRET,
                )
            )
        except BaseException as err:  # reported below
            errors.append(err)

    workers = [threading.Thread(target=open_one) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for inst in opened:
        inst.close()
    assert not errors, errors
    app = _app(backend, folder)
    try:
        check_after_migration(app, logins, old_token)
        ids = [c["citizen_id"] for c in CITIZENS]
        assert_no_personal_data(dump(backend, folder), services_of(app).instance.pseudonyms, ids)
    finally:
        services_of(app).close()
