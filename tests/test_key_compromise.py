"""A compromised key and the re-issue job that follows, end to end on SQLite and Redis
(issue 10, "Keys over time"): three citizens hold credentials of the key (one also on a
registered phone), a fourth credential is held outside the service; the job re-issues
the three under the new key on every device, with a notice each, skips and lists the
fourth; venues holding the old and the new bundle verify offline as a real venue would;
a ``kill -9`` of ``ecert keys compromise`` in the middle of its job is resumed and ends
with exactly one valid credential per citizen.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from cli.main import main
from cli.seed import DEPARTMENTS, seed_demo
from keys.b64 import b64url_decode
from service.changes import SUCCESSOR
from service.compromise import JOB_MARKS
from service.instance import Ecert, open_instance
from tests.api_helpers import BASE_URL
from tests.factory import DERIVED, ID_CARD, ID_CLAIMS
from tests.hygiene import personal, personal_claims, personal_demo
from tests.test_devices_api import new_key, proof
from verifier import Verifier
from wallet import Wallet

SESSION = "a-session-token-of-the-compromise-test"
THIRD = personal("110101198511300034", "third citizen id of the compromise test")
OUTSIDE = personal("110101197001010016", "citizen id of an external holder")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class World:
    """An instance with the demo seeded, a third citizen and an external credential."""

    ecert: Ecert
    folder: Path
    env: dict[str, str]
    citizens: list[str]
    police: str
    external: str
    device: str


def _instance(folder: Path, redis_url: str | None) -> Ecert:
    assert main(["--instance", str(folder), "init", "--base-url", BASE_URL]) == 0
    return open_instance(folder, base_url=BASE_URL, redis_url=redis_url)


@pytest.fixture(params=["sqlite", "redis"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    folder = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECERT_")}
    env["ECERT_INSTANCE"] = str(folder)
    for name in [k for k in os.environ if k.startswith("ECERT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ECERT_INSTANCE", str(folder))
    redis_url: str | None = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_server")
        env["ECERT_REDIS_URL"] = redis_url
        monkeypatch.setenv("ECERT_REDIS_URL", redis_url)
    ecert = _instance(folder, redis_url)
    # This test counts the re-issue of ID cards: the demo's police here issue no derived
    # attestations beside them (service/derived.py: nothing is derived without the grant).
    monkeypatch.setattr(
        "cli.seed.DEPARTMENTS",
        [
            (slug, zh, en, [v for v in vcts if v not in DERIVED])
            for slug, zh, en, vcts in DEPARTMENTS
        ],
    )
    try:
        logins = seed_demo(ecert, ecert.accounts)
        personal_demo(logins)
        citizens = [c["citizen_id"] for c in logins["citizens"]][:2]
        police = ecert.platform.issuer("police").iss
        # A third citizen, with an account and an ID card in the wallet.
        ecert.accounts.create_citizen(THIRD, None)
        claims = personal_claims(dict(ID_CLAIMS, id_number=THIRD), "third citizen's claims")
        issued = ecert.issuer.issue(
            police, ID_CARD, subject=THIRD, claims=claims, holder_jwk=ecert.vault.holder_jwk(THIRD)
        )
        ecert.vault.add(THIRD, issued.id, issued.sd_jwt)
        citizens.append(THIRD)
        # A credential held outside the service (``ecert issue --holder``).
        outside = ecert.issuer.issue(
            police, ID_CARD, subject=OUTSIDE, claims=claims, holder_jwk=Wallet().holder_jwk
        )
        # The first citizen's phone, with its own copy of the card.
        made = ecert.devices.register(
            citizens[0],
            SESSION,
            proof(new_key(), ecert.devices.nonce(citizens[0], SESSION).c_nonce),
            "phone",
        )
        yield World(ecert, folder, env, citizens, police, outside.id, made.device.device_id)
    finally:
        ecert.close()
        if redis_url is not None:
            client = redis.Redis.from_url(redis_url)
            client.flushdb()
            client.close()


def _cards(world: World, citizen: str) -> list[str]:
    """The citizen's valid ID cards in the wallet."""
    return [
        c.item.credential_id
        for c in world.ecert.wallets.credentials(citizen)
        if c.item.vct == ID_CARD and c.status == "valid"
    ]


def _copies(world: World, citizen: str) -> list[tuple[str, str]]:
    """The phone's valid copies: (card id, copy's kid)."""
    out = []
    for copy in world.ecert.devices.credentials(citizen, world.device):
        if copy.status == "valid":
            record = world.ecert.store.get_credential(copy.id)
            assert record is not None
            out.append((copy.credential_id, record.kid))
    return out


def _kid(world: World, credential_id: str) -> str:
    record = world.ecert.store.get_credential(credential_id)
    assert record is not None
    return record.kid


def _venue(world: World, bundle: dict[str, Any]) -> Verifier:
    return Verifier(bundle, anchor=world.ecert.publication.anchor())


def _show(world: World, verifier: Verifier, citizen: str, card: str) -> str:
    scene = verifier.trust_list.scenes["hotel"]
    return world.ecert.vault.present(citizen, card, scene).text


def test_a_compromise_reissues_every_wallet_credential_of_the_key(world: World) -> None:
    ecert = world.ecert
    old_kid = ecert.keyring.signing_key(world.police).kid
    old_cards = {c: _cards(world, c) for c in world.citizens}
    assert all(len(cards) == 1 and _kid(world, cards[0]) == old_kid for cards in old_cards.values())
    assert [kid for _, kid in _copies(world, world.citizens[0])] == [old_kid]
    old_bundle = ecert.publication.bundle(max_age=0)
    old_venue = _venue(world, old_bundle)
    shown = {c: _show(world, old_venue, c, old_cards[c][0]) for c in world.citizens}

    reported = ecert.compromise.report(old_kid)
    assert reported.replacement is not None and reported.job is not None
    new_kid = reported.replacement
    job = ecert.jobs.run(reported.job.id)
    assert job is not None
    assert (job.state, job.total, job.done, job.skipped, job.failed) == ("done", 4, 3, 1, 0)
    assert ecert.compromise.skipped_ids(job) == [world.external]

    for citizen in world.citizens:
        (card,) = _cards(world, citizen)
        assert card not in old_cards[citizen] and _kid(world, card) == new_kid
        old = ecert.store.get_credential(old_cards[citizen][0])
        assert old is not None and old.state == "revoked"
        (notice,) = ecert.notices.list_notices(citizen)
        assert notice.kind == "reissue" and notice.credentials == (card,)
        assert notice.text.en == "A certificate was re-issued for your security"
        assert "重新签发" in notice.text.zh
    (new_card,) = _cards(world, world.citizens[0])
    assert _copies(world, world.citizens[0]) == [(new_card, new_kid)]  # the phone's too
    external = ecert.store.get_credential(world.external)
    assert external is not None and external.state == "valid"  # nobody here can replace it

    # Offline: a venue that has not synced still accepts the old credentials; one with
    # the new bundle refuses them (key_compromised) and accepts the new ones, which the
    # old bundle does not know.
    new_venue = _venue(world, ecert.publication.bundle(max_age=0))
    for citizen in world.citizens:
        assert old_venue.verify(shown[citizen], "hotel").valid
        assert "key_compromised" in new_venue.verify(shown[citizen], "hotel").codes
        (card,) = _cards(world, citizen)
        assert new_venue.verify(_show(world, new_venue, citizen, card), "hotel").valid
        assert _venue(world, old_bundle).verify(
            _show(world, new_venue, citizen, card), "hotel"
        ).codes == ["unknown_key"]

    # Reported again: the same job, nothing more.
    again = ecert.compromise.report(old_kid)
    assert again.job is not None and again.job.id == job.id and again.replacement is None
    assert [j.id for j in ecert.jobs.list_jobs(kind="reissue")] == [job.id]
    assert ecert.jobs.run(job.id) is None
    assert [len(_cards(world, c)) for c in world.citizens] == [1, 1, 1]


def test_a_card_a_change_has_claimed_is_left_to_that_change(world: World) -> None:
    """A change and the re-issue racing for one card: whoever claims it first (the
    successor mark, the same for both) replaces it; the other never issues a second
    valid version beside it."""
    ecert = world.ecert
    old_kid = ecert.keyring.signing_key(world.police).kid
    citizen = world.citizens[1]
    (card,) = _cards(world, citizen)
    reported = ecert.compromise.report(old_kid)
    assert reported.job is not None
    # A change job claimed the card for its own new credential a moment before.
    assert ecert.store.put_mark(SUCCESSOR, card, "a-change-got-there-first")
    job = ecert.jobs.run(reported.job.id)
    assert job is not None and (job.done, job.skipped) == (2, 2)
    reasons = [s.data.get("reason") for s in ecert.jobs.all_steps(job) if s.state == "skipped"]
    assert sorted(r for r in reasons if r) == ["not_in_wallet", "superseded"]
    assert _cards(world, citizen) == [card]  # left to the change: not replaced twice


def test_the_cli_lists_what_it_could_not_reissue(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    kid = world.ecert.keyring.signing_key(world.police).kid
    world.ecert.close()  # the command opens the instance itself
    assert main(["keys", "compromise", "-q", "police", kid]) == 0
    out, err = capsys.readouterr()
    job_id = out.strip()
    assert "3 re-issued, 1 skipped, 0 failed of 4" in err
    assert "1 held outside the service" in err
    assert main(["jobs", "show", job_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["kind"], shown["state"], shown["done"]) == ("reissue", "done", 3)
    assert shown["skipped"] == [
        {
            "step": shown["skipped"][0]["step"],
            "reason": "not_in_wallet",
            "credential_id": world.external,
        }
    ]
    world.ecert = open_instance(world.folder, redis_url=world.env.get("ECERT_REDIS_URL"))


def test_a_killed_compromise_job_resumes_with_one_valid_credential_each(world: World) -> None:
    ecert = world.ecert
    kid = ecert.keyring.signing_key(world.police).kid
    old_cards = {c: _cards(world, c)[0] for c in world.citizens}
    env = dict(world.env, ECERT_JOB_PACE="1", ECERT_JOB_LEASE="5")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "keys", "compromise", "-q", "police", kid],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        job_id = None
        for _ in range(600):  # until a step has ended (at most a minute)
            job_id = ecert.store.get_mark(JOB_MARKS, kid)
            job = None if job_id is None else ecert.jobs.get(job_id)
            if job is not None and job.done + job.skipped >= 1:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert job_id is not None
    killed = ecert.jobs.get(job_id)
    assert killed is not None and killed.state == "running"
    assert killed.done + killed.skipped + killed.failed < killed.total
    # Never neither: every citizen still holds a valid card (for a moment, maybe both).
    assert all(_cards(world, c) for c in world.citizens)

    # After its lease, whoever runs jobs (here: this worker) finishes it.
    ecert.jobs.clock = lambda: time.time() + 60
    ended = ecert.jobs.run(job_id)
    assert ended is not None
    assert (ended.state, ended.done, ended.skipped, ended.failed) == ("done", 3, 1, 0)
    new_kid = ecert.keyring.signing_key(world.police).kid
    assert new_kid != kid
    for citizen in world.citizens:
        (card,) = _cards(world, citizen)  # exactly one valid
        assert card != old_cards[citizen] and _kid(world, card) == new_kid
        assert len(ecert.notices.list_notices(citizen)) == 1
    assert _copies(world, world.citizens[0]) == [(_cards(world, world.citizens[0])[0], new_kid)]
    # No credential the job issued is left valid outside a wallet.
    valid_new = [
        r.id
        for r in ecert.store.list_credentials(issuer=world.police, kid=new_kid)
        if r.state == "valid"
    ]
    held = {_cards(world, c)[0] for c in world.citizens}
    copies = {copy.id for copy in ecert.devices.credentials(world.citizens[0], world.device)}
    assert set(valid_new) <= held | copies


def test_the_directory_keeps_ids_sealed(world: World) -> None:
    """What lets a job reach a wallet no one is logged in to: sealed, bound to the
    pseudonym, never in clear in the store."""
    ecert = world.ecert
    pseudonym = ecert.pseudonyms.of(THIRD)
    value = ecert.store.get_mark("citizen-ids", pseudonym)
    assert value is not None and value.startswith("c1_")
    assert THIRD.encode() not in b64url_decode(value[3:])
    assert ecert.directory.lookup(pseudonym) == THIRD
    assert ecert.directory.lookup(ecert.pseudonyms.of(OUTSIDE)) is None
