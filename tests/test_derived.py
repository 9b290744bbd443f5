"""Age and residence attestations (service/derived.py): issued alongside the ID card and
the household register, one valid per kind, never stating a stale age, following their
source's changes and status; and the internet café that learns a yes/no only."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from issuer import load_catalogue
from service.derived import (
    AGE_VCT,
    HOUSEHOLD_REGISTER,
    ID_CARD,
    RESIDENCE_VCT,
    age_claims,
    birthday,
    residence_claims,
)
from service.instance import Ecert, open_instance
from service.issuance import BulkItem
from store.interface import IssuerRecord
from tests.api_helpers import BASE_URL
from tests.factory import ID_CLAIMS, full_example
from tests.hygiene import personal, personal_claims

CATALOGUE = load_catalogue()
AGES = ("age_over_14", "age_over_16", "age_over_18", "age_over_60", "age_over_65")
#: Personal claims that must never reach the internet café.
NEVER = {"name", "id_number", "birth_date", "address", "sex", "ethnicity", "portrait"}

CHILD = personal("110101201506010029", "test_derived child (2015-06-01)")
ADULT = personal("110101199003070011", "test_derived adult (1990-03-07)")
ELDER = personal("110101194501010035", "test_derived elder (1945-01-01)")


def id_number(birth: dt.date, serial: str = "004") -> str:
    """A GB 11643 ID number of area 110101 for ``birth`` with its check character."""
    body = f"110101{birth:%Y%m%d}{serial}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def test_id_number_helper_matches_the_briefs_examples() -> None:
    assert id_number(dt.date(2015, 6, 1), "002") == "110101201506010029"
    assert id_number(dt.date(1945, 1, 1), "003") == "110101194501010035"


def today_utc(now: float | None = None) -> dt.date:
    return dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC).date()


def years_old(birth: dt.date, today: dt.date) -> int:
    """Completed years, written out here (not the module's birthday arithmetic)."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def id_claims(citizen_id: str, birth: str, **more: Any) -> dict[str, Any]:
    return personal_claims(
        {**ID_CLAIMS, "id_number": citizen_id, "birth_date": birth, **more}, "test_derived ID"
    )


# -- the pure rules ------------------------------------------------------------------------


def test_age_claims_and_the_day_they_flip() -> None:
    born = dt.date(2008, 7, 15)
    ages, flips = age_claims(born, dt.date(2026, 7, 14))
    assert ages == {
        "age_over_14": True,
        "age_over_16": True,
        "age_over_18": False,
        "age_over_60": False,
        "age_over_65": False,
    }
    assert flips == dt.date(2026, 7, 15)
    ages, flips = age_claims(born, dt.date(2026, 7, 15))  # the 18th birthday itself
    assert ages["age_over_18"] and not ages["age_over_60"]
    assert flips == dt.date(2068, 7, 15)
    ages, flips = age_claims(dt.date(1940, 1, 1), dt.date(2026, 1, 1))
    assert all(ages.values()) and flips == dt.date.max  # nothing left to flip
    # before birth (a date in the future, never issued in practice): all no
    ages, _ = age_claims(dt.date(2030, 1, 1), dt.date(2026, 1, 1))
    assert not any(ages.values())


def test_born_on_29_february_comes_of_age_on_1_march_in_a_common_year() -> None:
    leap = dt.date(2008, 2, 29)
    assert birthday(leap, 18) == dt.date(2026, 3, 1)
    assert birthday(leap, 16) == dt.date(2024, 2, 29)
    assert not age_claims(leap, dt.date(2026, 2, 28))[0]["age_over_18"]
    assert age_claims(leap, dt.date(2026, 3, 1))[0]["age_over_18"]


def test_residence_claims() -> None:
    assert residence_claims("北京市东城区测试街2号", "北京市") == {
        "resident_of_city": True,
        "city": "北京市",
    }
    assert residence_claims("上海市黄浦区样例路3号", "北京市")["resident_of_city"] is False


# -- an instance on each store ------------------------------------------------------------


class Clock:
    """The derived attestations' clock: real time plus an offset a test moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def ecert(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ecert]:
    redis_url = request.getfixturevalue("redis_server") if request.param == "redis" else None
    folder = tmp_path / "instance"
    instance = open_instance(folder, base_url=BASE_URL, redis_url=redis_url)
    try:
        instance.platform.ensure_anchor()
        instance.platform.register_issuer(
            "police",
            name_zh="公安局",
            name_en="Police",
            vcts=[ID_CARD, HOUSEHOLD_REGISTER, AGE_VCT, RESIDENCE_VCT],
        )
        for citizen in (CHILD, ADULT, ELDER):
            instance.accounts.create_citizen(citizen)
        instance.derived.clock = Clock()
        yield instance
    finally:
        if redis_url is not None:
            instance.store.client.flushdb()  # type: ignore[attr-defined]
        instance.close()


def police(ecert: Ecert) -> IssuerRecord:
    return ecert.platform.issuer("police")


def valid_of(ecert: Ecert, citizen: str, vct: str) -> list[str]:
    """The ids of the citizen's valid, unexpired credentials of ``vct`` (wallet order)."""
    now = ecert.derived.clock()
    return [
        c.item.credential_id
        for c in ecert.wallets.credentials(citizen)
        if c.item.vct == vct and c.status == "valid" and c.item.expires_at > now
    ]


def the_attestation(ecert: Ecert, citizen: str, vct: str = AGE_VCT) -> dict[str, Any]:
    [one] = valid_of(ecert, citizen, vct)
    return ecert.wallets.credential(citizen, one).claims


@pytest.mark.parametrize(
    ("citizen", "born"),
    [(CHILD, "2015-06-01"), (ADULT, "1990-03-07"), (ELDER, "1945-01-01")],
    ids=["child-2015", "adult-1990", "elder-1945"],
)
def test_an_id_card_issued_into_a_wallet_brings_its_age_attestation(
    ecert: Ecert, citizen: str, born: str
) -> None:
    card = ecert.issuance.issue(police(ecert), ID_CARD, citizen, id_claims(citizen, born))
    claims = the_attestation(ecert, citizen)
    age = years_old(dt.date.fromisoformat(born), today_utc())
    assert claims == {f"age_over_{n}": age >= n for n in (14, 16, 18, 60, 65)}
    if born.startswith("2015"):
        assert not claims["age_over_18"] and not claims["age_over_60"]
    if born.startswith("1990"):
        assert claims["age_over_18"] and not claims["age_over_60"]
    if born.startswith("1945"):
        assert all(claims.values())
    # nothing about the person: no name, no ID number, no birth date
    assert not set(claims) & NEVER
    # it never outlives its source nor the next birthday that flips one of its answers
    [att_id] = valid_of(ecert, citizen, AGE_VCT)
    att = ecert.store.get_credential(att_id)
    assert att is not None and att.issuer == police(ecert).iss
    assert att.expires_at <= card.expires_at
    birth = dt.date.fromisoformat(born)
    days = [birth.replace(year=birth.year + n) for n in (14, 16, 18, 60, 65)]
    upcoming = [day for day in days if day > today_utc()]
    if upcoming:
        flip = min(upcoming)
        midnight = dt.datetime(flip.year, flip.month, flip.day, tzinfo=dt.UTC)
        assert att.expires_at <= midnight.timestamp()
    # a second sync does nothing: one valid attestation, the same
    assert ecert.derived.sync(citizen).issued == []
    assert valid_of(ecert, citizen, AGE_VCT) == [att_id]


def test_a_birthday_that_crosses_a_threshold_re_issues_the_attestation(ecert: Ecert) -> None:
    today = today_utc()
    born = birthday(today, -18) + dt.timedelta(days=1)  # 18 tomorrow
    citizen = personal(id_number(born), "test_derived 18 tomorrow")
    ecert.accounts.create_citizen(citizen)
    ecert.issuance.issue(police(ecert), ID_CARD, citizen, id_claims(citizen, born.isoformat()))
    [first] = valid_of(ecert, citizen, AGE_VCT)
    assert ecert.wallets.credential(citizen, first).claims["age_over_18"] is False
    record = ecert.store.get_credential(first)
    tomorrow = today + dt.timedelta(days=1)
    midnight = dt.datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=dt.UTC)
    assert record is not None and record.expires_at <= midnight.timestamp()

    clock = ecert.derived.clock
    assert isinstance(clock, Clock)
    clock.offset = 2 * 86400  # two days later: the first one has expired
    listed = valid_of(ecert, citizen, AGE_VCT)  # the wallet's list issues what is due
    assert len(listed) == 1 and listed != [first]
    assert the_attestation(ecert, citizen)["age_over_18"] is True
    # and the operator's daily refresh finds nothing more to do
    assert ecert.derived.refresh().issued == 0


def test_one_valid_attestation_per_citizen_a_new_birth_date_revokes_the_old(
    ecert: Ecert,
) -> None:
    police_ = police(ecert)
    ecert.issuance.issue(police_, ID_CARD, ADULT, id_claims(ADULT, "1990-03-07"))
    [first] = valid_of(ecert, ADULT, AGE_VCT)
    # the same facts again (a second card): the attestation stands
    ecert.issuance.issue(police_, ID_CARD, ADULT, id_claims(ADULT, "1990-03-07"))
    assert valid_of(ecert, ADULT, AGE_VCT) == [first]
    # other facts: a new one, and the old one revoked
    ecert.issuance.issue(police_, ID_CARD, ADULT, id_claims(ADULT, "1950-03-07"))
    [second] = valid_of(ecert, ADULT, AGE_VCT)
    assert second != first
    assert ecert.vault.live_state(first) == "revoked"
    assert the_attestation(ecert, ADULT)["age_over_60"] is True


def test_a_change_of_birth_date_cascades_into_the_attestation(ecert: Ecert) -> None:
    ecert.issuance.issue(police(ecert), ID_CARD, ADULT, id_claims(ADULT, "1990-03-07"))
    [before] = valid_of(ecert, ADULT, AGE_VCT)
    made = ecert.changes.request(
        police(ecert),
        ADULT,
        {
            "field": "birth_date",
            "value": personal("1950-03-07", "test_derived new birth date"),
            "effective": "2026-01-02",
            "reason": "登记错误更正",
        },
    )
    ended = ecert.jobs.run(made.id)
    assert ended is not None and ended.state == "done"
    [after] = valid_of(ecert, ADULT, AGE_VCT)
    assert after != before and ecert.vault.live_state(before) == "revoked"
    claims = the_attestation(ecert, ADULT)
    assert claims["age_over_60"] is True and claims["age_over_65"] is True


def test_revoking_suspending_and_reinstating_the_id_card_is_followed(ecert: Ecert) -> None:
    card = ecert.issuance.issue(police(ecert), ID_CARD, CHILD, id_claims(CHILD, "2015-06-01"))
    [att] = valid_of(ecert, CHILD, AGE_VCT)
    ecert.issuance.suspend(police(ecert), card.id)
    assert valid_of(ecert, CHILD, AGE_VCT) == []
    assert ecert.vault.live_state(att) == "revoked"
    ecert.issuance.reinstate(police(ecert), card.id)
    [again] = valid_of(ecert, CHILD, AGE_VCT)
    assert again != att
    ecert.issuance.revoke(police(ecert), card.id)
    assert valid_of(ecert, CHILD, AGE_VCT) == []
    assert ecert.vault.live_state(again) == "revoked"
    # the daily refresh does not bring it back
    assert ecert.derived.refresh().issued == 0


def test_the_household_register_brings_the_residence_attestation(ecert: Ecert) -> None:
    register = personal_claims(
        {
            **full_example(CATALOGUE.get(HOUSEHOLD_REGISTER)),
            "name": "王小明",
            "id_number": CHILD,
            "birth_date": "2015-06-01",
            "address": "北京市东城区测试街2号",
        },
        "test_derived household register",
    )
    ecert.issuance.issue(police(ecert), HOUSEHOLD_REGISTER, CHILD, register)
    assert the_attestation(ecert, CHILD, RESIDENCE_VCT) == {
        "resident_of_city": True,
        "city": "北京市",
    }
    # a child without an ID card: the register gives the age too
    assert the_attestation(ecert, CHILD)["age_over_18"] is False
    [before] = valid_of(ecert, CHILD, RESIDENCE_VCT)
    made = ecert.changes.request(
        police(ecert),
        CHILD,
        {
            "field": "address",
            "value": personal("上海市黄浦区样例路3号", "test_derived new address"),
            "effective": "2026-01-02",
            "reason": "户口迁出",
        },
    )
    ended = ecert.jobs.run(made.id)
    assert ended is not None and ended.state == "done"
    assert the_attestation(ecert, CHILD, RESIDENCE_VCT)["resident_of_city"] is False
    assert ecert.vault.live_state(before) == "revoked"


def test_a_batch_of_id_cards_brings_their_attestations(ecert: Ecert) -> None:
    items = [
        BulkItem(ID_CARD, CHILD, id_claims(CHILD, "2015-06-01")),
        BulkItem(ID_CARD, ELDER, id_claims(ELDER, "1945-01-01")),
    ]
    outcomes = ecert.issuance.issue_many(police(ecert), items)
    assert all(not isinstance(o, Exception) for o in outcomes)
    assert the_attestation(ecert, CHILD)["age_over_14"] is False
    assert the_attestation(ecert, ELDER)["age_over_65"] is True


def test_without_the_grant_nothing_is_derived(tmp_path: Path) -> None:
    """An instance opts in by allowing the police to issue the attestation types."""
    with open_instance(tmp_path / "plain", base_url=BASE_URL) as instance:
        instance.platform.ensure_anchor()
        record = instance.platform.register_issuer(
            "police", name_zh="公安局", name_en="Police", vcts=[ID_CARD]
        )
        instance.accounts.create_citizen(ADULT)
        instance.issuance.issue(record, ID_CARD, ADULT, id_claims(ADULT, "1990-03-07"))
        assert [c.item.vct for c in instance.wallets.credentials(ADULT)] == [ID_CARD]


def test_the_refresh_command_is_idempotent(
    ecert: Ecert, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ecert.issuance.issue(police(ecert), ID_CARD, ELDER, id_claims(ELDER, "1945-01-01"))
    [att] = valid_of(ecert, ELDER, AGE_VCT)
    ecert.issuance.revoke(police(ecert), att)  # revoked by hand: the source still stands
    settings = ecert.settings
    folder = str(settings.instance)
    args = ["--instance", folder, "derived", "refresh"]
    if settings.redis_url:
        monkeypatch.setenv("ECERT_REDIS_URL", settings.redis_url)
    ecert.close()
    capsys.readouterr()
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["issued"] == 1 and first["failed"] == 0
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["issued"] == 0 and second["revoked"] == 0 and second["kept"] >= 1


# -- the internet café learns a yes/no ----------------------------------------------------


def _disclosed(presentation: str) -> list[list[Any]]:
    """Every disclosure of a presentation, decoded from its base64url bytes by hand."""
    parts = presentation.split("~")
    out = []
    for part in parts[1:-1]:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        out.append(json.loads(raw))
    return out


def _payload(presentation: str) -> dict[str, Any]:
    body = presentation.split("~")[0].split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


@pytest.mark.parametrize(
    ("citizen", "born", "adult"),
    [(ADULT, "1990-03-07", True), (CHILD, "2015-06-01", False)],
    ids=["adult", "minor"],
)
def test_the_internet_cafe_receives_no_birth_date_and_no_id_number(
    ecert: Ecert, citizen: str, born: str, adult: bool
) -> None:
    ecert.issuance.issue(police(ecert), ID_CARD, citizen, id_claims(citizen, born))
    [att] = valid_of(ecert, citizen, AGE_VCT)
    # the ID card is not accepted there at all
    [card] = valid_of(ecert, citizen, ID_CARD)
    with pytest.raises(Exception) as refused:
        ecert.wallets.present(citizen, card, "internet_cafe", "online")
    assert getattr(refused.value, "code", None) == "scene_unmet"

    shown = ecert.wallets.present(citizen, att, "internet_cafe", "online")
    text = ecert.presentations.redeem(shown.qr, "internet_cafe").presentation
    disclosures = _disclosed(text)
    names = [d[1] for d in disclosures if len(d) == 3]
    assert names == ["age_over_18"]
    assert [d[2] for d in disclosures] == [adult]
    values = json.dumps(disclosures, ensure_ascii=False) + json.dumps(
        _payload(text), ensure_ascii=False
    )
    for secret in (citizen, born, str(ID_CLAIMS["name"])):
        assert secret not in values
    assert not set(_payload(text)) & NEVER

    result = ecert.verification.verify(text, "internet_cafe", venue_id="net-cafe")
    assert result.valid, result.errors
    # a minor's presentation is valid and says no: the scanner shows a clear NO
    assert result.claims == {"age_over_18": adult}
    assert not set(result.to_dict()["claims"]) & NEVER
