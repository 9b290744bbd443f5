"""Checking a change of a citizen's subject field and planning which credentials it
re-issues (service/changes.py), over a real instance on SQLite: real issuance, real
wallets, real status lists."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.errors import status_for
from issuer import load_catalogue
from issuer.catalogue import parse_catalogue
from keys.errors import EcertError
from service.changes import (
    MAX_REASON,
    ChangeRequest,
    parse_change,
    plan_change,
    today_in_china,
)
from service.errors import ChangeInvalid, FieldNotOwned, FieldUnknown, Forbidden
from service.instance import Ecert, open_instance
from store.interface import IssuerRecord
from tests.factory import full_example
from tests.hygiene import personal

CATALOGUE = load_catalogue()
TODAY = dt.date(2026, 12, 3)
ID_CARD = "urn:ecert:resident-id-card"
DRIVING = "urn:ecert:driving-licence"
REGISTER = "urn:ecert:household-register"
KINSHIP = "urn:ecert:kinship-proof"
MARRIAGE = "urn:ecert:marriage-certificate"
SOCIAL = "urn:ecert:social-security-card"
BUSINESS = "urn:ecert:business-licence"
BIRTH = "urn:ecert:birth-medical-certificate"

OLD_NAME = personal("王小明", "test_changes_plan old name")
NEW_NAME = personal("王晓明", "test_changes_plan new name")
#: A value that must never appear in a refusal's message.
SECRET = personal("SEKRIT-赵六-0xBEEF", "test_changes_plan secret value")


def body(**members: object) -> dict[str, object]:
    base: dict[str, object] = {
        "field": "name",
        "value": NEW_NAME,
        "effective": "2026-12-01",
        "reason": "更名 / name changed",
    }
    base.update(members)
    return {k: v for k, v in base.items() if v is not _ABSENT}


_ABSENT = object()


def refusal(data: object, authority: str = "police") -> EcertError:
    with pytest.raises(EcertError) as caught:
        parse_change(data, authority, today=TODAY)
    err = caught.value
    # names the member at most: never the submitted value
    assert SECRET not in err.message
    assert SECRET not in json.dumps(getattr(err, "field", None))
    return err


# -- checking a request --------------------------------------------------------------------


def test_a_valid_change_is_returned_clean() -> None:
    change = parse_change(body(), "police", today=TODAY)
    assert change == ChangeRequest("name", NEW_NAME, "2026-12-01", "更名 / name changed", "police")
    assert parse_change(body(effective="2026-12-03"), "police", today=TODAY).effective == (
        "2026-12-03"
    )
    married = parse_change(
        body(field="marital_status", value="已婚"), "civil-affairs", today=TODAY
    )
    assert married.field == "marital_status" and married.authority == "civil-affairs"
    born = parse_change(body(field="birth_date", value="1990-02-28"), "police", today=TODAY)
    assert born.value == "1990-02-28"


def test_an_unknown_field_is_field_unknown_422() -> None:
    err = refusal(body(field="surname"))
    assert isinstance(err, FieldUnknown) and err.code == "field_unknown"
    assert status_for(err) == 422
    assert err.message == "There is no subject field 'surname'."
    # a claim that exists on some card but is no subject field
    assert isinstance(refusal(body(field="id_number")), FieldUnknown)
    # something that is not a name is not echoed
    err = refusal(body(field=SECRET))
    assert err.message == "There is no subject field of this name."


def test_a_department_that_is_not_the_authority_is_field_not_owned_403() -> None:
    err = refusal(body(), "civil-affairs")
    assert isinstance(err, FieldNotOwned) and isinstance(err, Forbidden)
    assert err.code == "field_not_owned" and status_for(err) == 403
    err = refusal(body(field="marital_status", value="已婚"), "police")
    assert err.code == "field_not_owned"
    # checked before the value: a department that may not change the field learns
    # nothing about what the field accepts
    assert refusal(body(value=12, reason=""), "human-resources").code == "field_not_owned"
    assert refusal(body(value=SECRET * 10), "market-regulation").code == "field_not_owned"


@pytest.mark.parametrize(
    ("members", "member"),
    [
        ({"value": SECRET * 10}, "value"),  # longer than the field's 64 characters
        ({"value": ""}, "value"),
        ({"value": "  "}, "value"),
        ({"value": "王\u202e明"}, "value"),  # a bidi override
        ({"value": "王\x00明"}, "value"),
        ({"value": 7}, "value"),
        ({"value": None}, "value"),
        ({"value": ["王晓明"]}, "value"),
        ({"field": "birth_date", "value": "1990-02-30"}, "value"),
        ({"field": "birth_date", "value": "19900228"}, "value"),
        ({"effective": "2026-12-04"}, "effective"),  # after today
        ({"effective": "2026-02-30"}, "effective"),
        ({"effective": "2026-1-1"}, "effective"),
        ({"effective": 20261201}, "effective"),
        ({"effective": "2026-12-01T00:00:00"}, "effective"),
        ({"reason": ""}, "reason"),
        ({"reason": "x" * (MAX_REASON + 1)}, "reason"),
        ({"reason": "line\nbreak"}, "reason"),
        ({"reason": 3}, "reason"),
        ({"reason": _ABSENT}, "reason"),
        ({"value": _ABSENT}, "value"),
        ({"effective": _ABSENT}, "effective"),
        ({"field": 1}, "field"),
        ({"field": _ABSENT}, "field"),
    ],
)
def test_an_unusable_member_is_change_invalid_422_naming_it(
    members: dict[str, object], member: str
) -> None:
    err = refusal(body(**members))
    assert type(err) is ChangeInvalid
    assert err.code == "change_invalid" and status_for(err) == 422
    assert getattr(err, "field", None) == member
    assert "field" in type(err).public


def test_a_reason_of_the_longest_length_passes() -> None:
    assert len(parse_change(body(reason="理" * MAX_REASON), "police", today=TODAY).reason) == (
        MAX_REASON
    )


def test_a_request_that_is_not_an_object_or_has_other_members_is_change_invalid() -> None:
    for data in (None, [], "name", [body()]):
        err = refusal(data)
        assert type(err) is ChangeInvalid and err.message == "A change is a JSON object."
    err = refusal({**body(), "old_value": SECRET})
    assert type(err) is ChangeInvalid and getattr(err, "field", None) is None


def test_today_is_chinas() -> None:
    # 2026-12-03 17:00 UTC is already the 4th in Beijing
    instant = dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC).timestamp()
    assert today_in_china(instant) == dt.date(2026, 12, 4)
    assert today_in_china(instant - 3600) == dt.date(2026, 12, 4)
    assert today_in_china(instant - 3600 * 2) == dt.date(2026, 12, 3)


# -- planning over a real wallet -------------------------------------------------------


@dataclass
class Town:
    ecert: Ecert
    departments: dict[str, IssuerRecord]
    citizen: str
    other: str

    def issue(
        self, slug: str, vct: str, citizen: str | None = None, **claims: object
    ) -> str:
        values: dict[str, Any] = dict(full_example(CATALOGUE.get(vct)))
        carrying = CATALOGUE.get(vct).claim_for("name")
        if carrying is not None:
            values[carrying] = OLD_NAME
        for name, value in claims.items():
            if value is _ABSENT:
                values.pop(name, None)
            else:
                values[name] = value
        record = self.ecert.issuance.issue(
            self.departments[slug], vct, citizen or self.citizen, values
        )
        return record.id


@pytest.fixture
def town(tmp_path: Path) -> Iterator[Town]:
    with open_instance(tmp_path / "instance") as ecert:
        ecert.platform.ensure_anchor()
        departments = {
            slug: ecert.platform.register_issuer(slug, name_zh=slug, name_en=slug, vcts=vcts)
            for slug, vcts in (
                ("police", [ID_CARD, DRIVING, REGISTER, KINSHIP]),
                ("civil-affairs", [MARRIAGE]),
                ("human-resources", [SOCIAL]),
                ("market-regulation", [BUSINESS]),
                ("health", [BIRTH]),
            )
        }
        citizen = personal("110101199001011237", "test_changes_plan citizen")
        other = personal("110101199202022346", "test_changes_plan other citizen")
        for cid in (citizen, other):
            ecert.accounts.create_citizen(cid)
        yield Town(ecert, departments, citizen, other)


def rename(town: Town, *, now: float | None = None) -> Any:
    change = parse_change(body(), "police", today=TODAY)
    return plan_change(
        town.ecert.wallets, town.citizen, change, now=time.time() if now is None else now
    )


def test_every_valid_card_carrying_the_field_is_planned_whoever_issued_it(town: Town) -> None:
    card = town.issue("police", ID_CARD)
    social = town.issue("human-resources", SOCIAL)
    marriage = town.issue("civil-affairs", MARRIAGE, spouse_name="张丽")
    kinship = town.issue("police", KINSHIP, relative_name="王大明")
    # not the citizen's name: untouched
    town.issue("market-regulation", BUSINESS, name="测试科技有限公司")
    town.issue("health", BIRTH, name="王小小")
    # another citizen's card: untouched
    town.issue("police", ID_CARD, citizen=town.other)

    plan = rename(town)
    assert {p.credential_id for p in plan.credentials} == {card, social, marriage, kinship}
    assert len(plan.credentials) == 4
    assert plan.skipped == ()
    wallets = town.ecert.wallets
    by_id = {p.credential_id: p for p in plan.credentials}
    for credential_id, vct, slug, claim in (
        (card, ID_CARD, "police", "name"),
        (social, SOCIAL, "human-resources", "name"),
        (marriage, MARRIAGE, "civil-affairs", "name"),
        (kinship, KINSHIP, "police", "subject_name"),
    ):
        planned = by_id[credential_id]
        assert (planned.vct, planned.claim) == (vct, claim)
        assert planned.issuer == town.departments[slug].iss
        old = wallets.credential(town.citizen, credential_id).claims
        # the one claim changes; every other claim is the old credential's
        assert planned.claims == {**old, claim: NEW_NAME}
        assert list(planned.claims) == [
            c for c in CATALOGUE.get(vct).claim_names if c in planned.claims
        ]
    assert by_id[marriage].claims["spouse_name"] == "张丽"
    assert by_id[kinship].claims["relative_name"] == "王大明"


def test_cards_that_cannot_pass_now_are_not_planned(town: Town) -> None:
    card = town.issue("police", ID_CARD)
    revoked = town.issue("human-resources", SOCIAL)
    suspended = town.issue("civil-affairs", MARRIAGE)
    kinship = town.issue("police", KINSHIP)  # a proof: valid 90 days
    town.ecert.issuance.revoke(town.departments["human-resources"], revoked)
    town.ecert.issuance.suspend(town.departments["civil-affairs"], suspended)
    assert {p.credential_id for p in rename(town).credentials} == {card, kinship}
    later = time.time() + 91 * 86400
    assert [p.credential_id for p in rename(town, now=later).credentials] == [card]


def test_a_card_that_already_holds_the_new_value_is_skipped(town: Town) -> None:
    card = town.issue("police", ID_CARD)
    driving = town.issue("police", DRIVING, name=NEW_NAME)
    plan = rename(town)
    assert [p.credential_id for p in plan.credentials] == [card]
    assert [(s.credential_id, s.vct, s.reason) for s in plan.skipped] == [
        (driving, DRIVING, "same_value")
    ]


def test_an_optional_claim_left_out_is_not_added(town: Town) -> None:
    with_status = town.issue("police", REGISTER, marital_status="未婚")
    town.issue("police", REGISTER, marital_status=_ABSENT)
    town.issue("police", ID_CARD)  # the ID card does not carry a marital status
    change = parse_change(
        body(field="marital_status", value="已婚"), "civil-affairs", today=TODAY
    )
    plan = plan_change(town.ecert.wallets, town.citizen, change, now=time.time())
    assert [p.credential_id for p in plan.credentials] == [with_status]
    assert plan.credentials[0].claims["marital_status"] == "已婚"


def test_a_card_whose_other_claims_no_longer_pass_is_skipped_not_fatal(town: Town) -> None:
    card = town.issue("police", ID_CARD)
    social = town.issue("human-resources", SOCIAL, card_number="12345678901234567890")
    # the catalogue tightened since the social security card was issued
    data = [t.to_dict() for t in CATALOGUE.types]
    entry = next(t for t in data if t["vct"] == SOCIAL)
    next(c for c in entry["claims"] if c["name"] == "card_number")["max_length"] = 12
    tighter = parse_catalogue(data)
    change = parse_change(body(), "police", today=TODAY)
    plan = plan_change(
        town.ecert.wallets, town.citizen, change, now=time.time(), catalogue=tighter
    )
    assert [p.credential_id for p in plan.credentials] == [card]
    assert [(s.credential_id, s.reason) for s in plan.skipped] == [(social, "claims_invalid")]


def test_an_empty_wallet_plans_nothing(town: Town) -> None:
    plan = rename(town)
    assert plan.credentials == () and plan.skipped == ()
    assert plan.change.field == "name"


# -- the job: a step run again changes nothing more ---------------------------------------


def test_a_step_run_again_after_a_crash_reissues_nothing_twice(town: Town) -> None:
    ecert = town.ecert
    card = town.issue("police", ID_CARD)
    social = town.issue("human-resources", SOCIAL)
    made = ecert.changes.request(town.departments["police"], town.citizen, body())
    assert {c["old"] for c in made.credentials} == {card, social}
    ended = ecert.jobs.run(made.id)
    assert ended is not None and ended.state == "done" and ended.done == 2
    status = ecert.changes.status(town.departments["police"], town.citizen, made.id)
    new_ids = {c["old"]: c["new"] for c in status.credentials}
    wallet_before = {c.item.credential_id for c in ecert.wallets.credentials(town.citizen)}
    assert wallet_before == set(new_ids.values())
    activity_before = ecert.wallets.activity(town.citizen)

    # a crash after the work, before the outcome was recorded: the steps run again
    job = ecert.jobs.get(made.id)
    assert job is not None
    steps = list(ecert.jobs.all_steps(job))
    results = ecert.changes.run_steps(job, ecert.jobs.spec(job), steps, journal=None)  # type: ignore[arg-type]
    assert [(r.state, r.result["new"]) for r in results] == [
        ("done", new_ids[s.data["old"]]) for s in steps
    ]
    cards = ecert.wallets.credentials(town.citizen)
    assert {c.item.credential_id for c in cards} == wallet_before
    assert all(c.status == "valid" for c in cards)
    assert len(ecert.wallets.activity(town.citizen)) == len(activity_before)
    for old in (card, social):
        assert ecert.vault.live_state(old) == "revoked"
    # and the notice is told once
    ecert.changes.finished(job, ecert.jobs.spec(job))
    assert [n.id for n in ecert.notices.list_notices(town.citizen)] == [made.id]


def test_a_card_replaced_while_the_plan_is_made_is_planned_as_its_replacement(
    town: Town,
) -> None:
    ecert = town.ecert
    card = town.issue("police", ID_CARD)
    renamed = ecert.changes.request(town.departments["police"], town.citizen, body())

    class Interleaved:
        """The real wallets; the first card opened runs the name change to its end
        first, as another worker would between the listing and the opening."""

        ran = False

        def credentials(self, citizen_id: str) -> list[Any]:
            return ecert.wallets.credentials(citizen_id)

        def credential(self, citizen_id: str, credential_id: str) -> Any:
            if not self.ran:
                self.ran = True
                assert ecert.jobs.run(renamed.id) is not None
            return ecert.wallets.credential(citizen_id, credential_id)

    moved = parse_change(body(field="address", value="北京市西城区新址2号"), "police", today=TODAY)
    plan = plan_change(Interleaved(), town.citizen, moved, now=time.time())
    new = ecert.changes.status(town.departments["police"], town.citizen, renamed.id)
    [entry] = new.credentials
    assert entry["old"] == card and entry["new"] is not None
    assert [p.credential_id for p in plan.credentials] == [entry["new"]]
    assert plan.credentials[0].claims["name"] == NEW_NAME
    assert plan.credentials[0].claims["address"] == "北京市西城区新址2号"
