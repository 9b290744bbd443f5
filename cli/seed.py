"""Demo data for ``ecert serve --demo``: seeded idempotently, logins in ``demo.json``.

Running it again keeps what exists: the same departments, venues, citizens, keys and
passwords (read back from ``$ECERT_INSTANCE/demo.json``, mode 0600), and issues
credentials only to citizens whose wallets are still empty.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import secrets
from pathlib import Path
from typing import Any, TypedDict

from PIL import Image, ImageDraw

from cli.demo import DEMO_CLAIMS
from keys.errors import FormatError
from keys.jsonstrict import loads
from service.accounts import Accounts
from service.errors import AuthError
from service.instance import Instance
from store.interface import Conflict, VenueRecord

POLICE_VCTS = [
    "urn:ecert:resident-id-card",
    "urn:ecert:residence-permit",
    "urn:ecert:driving-licence",
    "urn:ecert:vehicle-licence",
    "urn:ecert:household-register",
    "urn:ecert:no-criminal-record-proof",
    # issue 12: exit-entry documents, vehicle inspection and security-guard licences
    "urn:ecert:passport",
    "urn:ecert:hk-macao-travel-permit",
    "urn:ecert:taiwan-travel-permit",
    "urn:ecert:vehicle-inspection",
    "urn:ecert:security-guard-licence",
    # issue 12: derived from the ID card and the household register (service/derived.py)
    "urn:ecert:age-attestation",
    "urn:ecert:residence-attestation",
    # issue 12: the parent–child link of a minor (guardians and carers)
    "urn:ecert:guardianship",
]
DEPARTMENTS: list[tuple[str, str, str, list[str]]] = [
    ("police", "市公安局", "City Public Security Bureau", POLICE_VCTS),
    (
        "civil-affairs",
        "市民政局",
        "City Civil Affairs Bureau",
        [
            "urn:ecert:marriage-certificate",
            "urn:ecert:kinship-proof",
            "urn:ecert:divorce-certificate",
            "urn:ecert:elderly-preferential-card",
            # issue 12: an elder's authorisation of a carer (guardians and carers)
            "urn:ecert:care-authorisation",
        ],
    ),
    (
        "health",
        "市卫生健康委员会",
        "City Health Commission",
        [
            "urn:ecert:birth-medical-certificate",
            "urn:ecert:death-medical-certificate",
            "urn:ecert:vaccination-record",
        ],
    ),
    # The other departments that answer proof types (issuer/data/proofs.json), so that
    # every proof type is answerable in the demo.
    (
        "human-resources",
        "市人力资源和社会保障局",
        "City Human Resources and Social Security Bureau",
        [
            "urn:ecert:social-security-card",
            "urn:ecert:social-insurance-record",
            "urn:ecert:professional-qualification",
        ],
    ),
    (
        "disabled-persons-federation",
        "市残疾人联合会",
        "City Disabled Persons' Federation",
        ["urn:ecert:disability-certificate"],
    ),
    (
        "natural-resources",
        "市规划和自然资源局",
        "City Planning and Natural Resources Bureau",
        ["urn:ecert:real-estate-certificate"],
    ),
    (
        "market-regulation",
        "市市场监督管理局",
        "City Market Regulation Administration",
        ["urn:ecert:business-licence"],
    ),
    ("taxation", "市税务局", "City Taxation Bureau", ["urn:ecert:tax-payment-certificate"]),
    (
        "housing-provident-fund",
        "市住房公积金管理中心",
        "City Housing Provident Fund Centre",
        ["urn:ecert:provident-fund-certificate"],
    ),
    (
        "education",
        "市教育局",
        "City Education Bureau",
        [
            "urn:ecert:education-certificate",
            "urn:ecert:degree-certificate",
            "urn:ecert:student-card",
        ],
    ),
    # issue 12: the departments authoritative for the new types no department above issues
    (
        "veterans-affairs",
        "市退役军人事务局",
        "City Veterans Affairs Bureau",
        ["urn:ecert:veteran-preferential-card"],
    ),
    (
        "healthcare-security",
        "市医疗保障局",
        "City Healthcare Security Administration",
        ["urn:ecert:medical-insurance-card"],
    ),
    (
        "housing",
        "市住房和城乡建设局",
        "City Housing and Urban-Rural Development Bureau",
        ["urn:ecert:tenancy-registration"],
    ),
]
VENUES: list[tuple[str, str, str, list[str]]] = [
    ("grand-hotel", "城市大酒店", "Grand City Hotel", ["hotel"]),
    ("city-bank", "城市商业银行", "City Commercial Bank", ["bank"]),
    # One venue for a few other categories of scene (issuer/data/scene_categories.json).
    (
        "city-hospital",
        "市第一人民医院",
        "City No. 1 People's Hospital",
        ["hospital", "vaccination", "health_checkup", "medical_insurance_settlement"],
    ),
    ("central-station", "城市火车站", "Central Railway Station", ["train"]),
    (
        "telecom-hall",
        "城市通信营业厅",
        "City Telecom Service Hall",
        ["sim_card", "broadband", "number_portability"],
    ),
    (
        "express-point",
        "城市快递服务点",
        "City Express Delivery Point",
        ["express_delivery", "parcel_collection"],
    ),
    (
        "social-security-centre",
        "市社会保障服务中心",
        "City Social Security Service Centre",
        ["social_security_office", "pension_certification", "provident_fund_office"],
    ),
    ("city-museum", "市博物馆", "City Museum", ["museum_discount", "scenic_spot_ticket"]),
]
#: The demo's operator (``/admin``).
DEMO_OPERATOR = "ops"
#: Fictional citizens; ID numbers use the test area code 110101.
CITIZENS: list[dict[str, Any]] = [
    {
        "citizen_id": "110101199003070011",
        "credentials": [
            ("police", "urn:ecert:resident-id-card", DEMO_CLAIMS),
        ],
    },
    {
        "citizen_id": "11010119920815004X",
        "credentials": [
            (
                "police",
                "urn:ecert:resident-id-card",
                {
                    "name": "李四",
                    "sex": "女",
                    "ethnicity": "汉",
                    "birth_date": "1992-08-15",
                    "address": "北京市东城区样例胡同8号",
                    "id_number": "11010119920815004X",
                    "issuing_authority": "北京市公安局东城分局",
                    "valid_from": "2021-05-01",
                    "valid_until": "2041-05-01",
                },
            ),
        ],
    },
]

#: Guardians and carers (issue 12): a mother and her son (born 2015: the guardianship
#: ends at his 18th birthday), an elder and the carer she authorises for the scenes that
#: take carers. Seeded by :func:`seed_links_demo` (not yet by ``seed_demo``: the tests
#: built on the demo count its citizens and their cards).
DEMO_MOTHER = "440305198812120064"
DEMO_CHILD = "110101201506010029"
DEMO_ELDER = "110101194501010035"
DEMO_CARER = "110101196005150046"


def _id_card(name: str, sex: str, born: str, cid: str, until: str | None) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "name": name,
        "sex": sex,
        "ethnicity": "汉",
        "birth_date": born,
        "address": "北京市东城区样例胡同8号",
        "id_number": cid,
        "issuing_authority": "北京市公安局东城分局",
        "valid_from": "2021-05-01",
    }
    if until is not None:
        claims["valid_until"] = until
    return claims


LINK_CITIZENS: list[dict[str, Any]] = [
    {
        "citizen_id": DEMO_MOTHER,
        "credentials": [
            (
                "police",
                "urn:ecert:resident-id-card",
                _id_card("王芳", "女", "1988-12-12", DEMO_MOTHER, "2041-05-01"),
            )
        ],
    },
    {
        "citizen_id": DEMO_CHILD,
        "credentials": [
            (
                "police",
                "urn:ecert:resident-id-card",
                _id_card("李小明", "男", "2015-06-01", DEMO_CHILD, "2030-05-01"),
            )
        ],
    },
    {
        "citizen_id": DEMO_ELDER,
        "credentials": [
            (
                "police",
                "urn:ecert:resident-id-card",
                _id_card("王秀英", "女", "1945-01-01", DEMO_ELDER, None),
            )
        ],
    },
    {
        "citizen_id": DEMO_CARER,
        "credentials": [
            (
                "police",
                "urn:ecert:resident-id-card",
                _id_card("李建国", "男", "1960-05-15", DEMO_CARER, "2036-05-01"),
            )
        ],
    },
]
#: The carer's scenes in the demo (those of them that take carers in the trust list).
DEMO_CARER_SCENES = ("bank", "pharmacy", "social_security_office")

#: The demo portraits' size in pixels (a few KB as a JPEG: the catalogue allows 6144 bytes).
PORTRAIT_SIZE = (96, 120)


def demo_portrait(seed: str) -> str:
    """A generated portrait for a demo citizen: a plain avatar (no real face), its
    colours drawn from ``seed``; the same seed always gives the same data URL."""
    digest = hashlib.sha256(b"ecert-demo-portrait:" + seed.encode("utf-8")).digest()
    width, height = PORTRAIT_SIZE
    background = (200 + digest[0] % 50, 210 + digest[1] % 40, 220 + digest[2] % 35)
    skin = (180 + digest[3] % 60, 130 + digest[4] % 60, 100 + digest[5] % 50)
    hair = (20 + digest[6] % 60, 15 + digest[7] % 40, 10 + digest[8] % 30)
    cloth = (digest[9] % 120, 60 + digest[10] % 120, 100 + digest[11] % 140)
    image = Image.new("RGB", PORTRAIT_SIZE, background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 84, width - 8, height + 40), fill=cloth)  # shoulders
    draw.rectangle((40, 70, 56, 92), fill=skin)  # neck
    draw.ellipse((26, 22, 70, 76), fill=skin)  # face
    draw.chord((24, 14, 72, 56), 180, 360, fill=hair)  # hair
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _with_portrait(vct: str, claims: dict[str, Any], seed: str) -> dict[str, Any]:
    """The claims, with a generated portrait if the type has one."""
    if vct != "urn:ecert:resident-id-card" or "portrait" in claims:
        return claims
    return {**claims, "portrait": demo_portrait(seed)}


class DemoLogins(TypedDict):
    """What ``demo.json`` holds."""

    base_url: str
    departments: list[dict[str, Any]]
    venues: list[dict[str, Any]]
    citizens: list[dict[str, str]]
    operators: list[dict[str, str]]


def seed_demo(instance: Instance, accounts: Accounts) -> DemoLogins:
    """Seed the demo (idempotent) and write ``demo.json``; returns its content."""
    path = instance.path / "demo.json"
    previous = _read(path)
    platform = instance.platform
    platform.ensure_anchor()
    logins: DemoLogins = {
        "base_url": platform.base_url,
        "departments": [],
        "venues": [],
        "citizens": [],
        "operators": [],
    }

    for slug, zh, en, vcts in DEPARTMENTS:
        record = platform.register_issuer(slug, name_zh=zh, name_en=en, vcts=vcts)
        key = _reuse_key(accounts, previous, "departments", "issuer", slug, "department")
        if key is None:
            key = accounts.issue_api_key("department", record.iss)[1]
        logins["departments"].append(
            {"issuer": slug, "iss": record.iss, "api_key": key, "vcts": vcts}
        )

    for venue_id, zh, en, scenes in VENUES:
        if instance.store.get_venue(venue_id) is None:
            instance.store.put_venue(VenueRecord(venue_id, zh, en, tuple(scenes), 0))
        key = _reuse_key(accounts, previous, "venues", "id", venue_id, "venue")
        if key is None:
            key = accounts.issue_api_key("venue", venue_id)[1]
        logins["venues"].append({"id": venue_id, "api_key": key, "scenes": scenes})

    key = _reuse_key(accounts, previous, "operators", "name", DEMO_OPERATOR, "operator")
    if key is None:
        key = accounts.issue_api_key("operator", DEMO_OPERATOR)[1]
    logins["operators"].append({"name": DEMO_OPERATOR, "api_key": key})

    old_passwords = {c["citizen_id"]: c["password"] for c in previous.get("citizens", [])}
    for citizen in CITIZENS:
        cid = citizen["citizen_id"]
        password = old_passwords.get(cid) or secrets.token_urlsafe(9)
        try:
            accounts.create_citizen(cid, password)
        except Conflict:
            accounts.set_password(cid, password)
        logins["citizens"].append({"citizen_id": cid, "password": password})
        if not instance.vault.items(cid):
            holder = dict(instance.vault.holder_jwk(cid))
            for slug, vct, claims in citizen["credentials"]:
                issued = instance.issuer.issue(
                    platform.issuer_url(slug),
                    vct,
                    subject=cid,
                    claims=_with_portrait(vct, claims, cid),
                    holder_jwk=holder,
                )
                instance.vault.add(cid, issued.id, issued.sd_jwt)
            # the age attestation beside the ID card (service/derived.py)
            instance.derived.sync(cid, counted=False)

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(logins, fh, ensure_ascii=False, indent=2)
    return logins


def seed_links_demo(instance: Instance, accounts: Accounts) -> list[dict[str, str]]:
    """Seed the guardians' and carers' demo (idempotent: the citizens keep their
    passwords when given back); the citizens' logins."""
    logins = []
    platform = instance.platform
    for citizen in LINK_CITIZENS:
        cid = citizen["citizen_id"]
        password = secrets.token_urlsafe(9)
        try:
            accounts.create_citizen(cid, password)
        except Conflict:
            accounts.set_password(cid, password)
        logins.append({"citizen_id": cid, "password": password})
        if not instance.vault.items(cid):
            holder = dict(instance.vault.holder_jwk(cid))
            for slug, vct, claims in citizen["credentials"]:
                issued = instance.issuer.issue(
                    platform.issuer_url(slug), vct, subject=cid, claims=claims, holder_jwk=holder
                )
                instance.vault.add(cid, issued.id, issued.sd_jwt)
    _seed_links(instance)
    return logins


def _seed_links(instance: Instance) -> None:
    """The mother's guardianship of her son (checked and followed by the links use case,
    so that she gets the held-for copies; seeding is not counted as issuance) and the
    elder's carer, once each."""
    links = instance.links
    if not links.links_of(DEMO_MOTHER):
        vct = "urn:ecert:guardianship"
        claims = {
            "guardian_name": "王芳",
            "guardian_id_number": DEMO_MOTHER,
            "ward_name": "李小明",
            "ward_id_number": DEMO_CHILD,
            "ward_birth_date": "2015-06-01",
            "relationship": "mother",
        }
        issued = instance.issuer.issue(
            instance.platform.issuer_url("police"),
            vct,
            subject=DEMO_MOTHER,
            claims=claims,
            holder_jwk=dict(instance.vault.holder_jwk(DEMO_MOTHER)),
            not_after=links.check_issue(vct, DEMO_MOTHER, claims),
        )
        instance.vault.add(DEMO_MOTHER, issued.id, issued.sd_jwt)
        links.issued(DEMO_MOTHER, issued.record, claims)
    if not links.carers(DEMO_ELDER):
        live = instance.online.verifier().trust_list.scenes
        scenes = [s for s in DEMO_CARER_SCENES if s in live and live[s].carer]
        if scenes:  # the shipped scenes say which take carers
            until = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=180)
            links.authorise(DEMO_ELDER, DEMO_CARER, scenes, until.isoformat())


def _read(path: Path) -> dict[str, Any]:
    try:
        data = loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, FormatError):
        return {}
    return data if isinstance(data, dict) else {}


def _reuse_key(
    accounts: Accounts, previous: dict[str, Any], group: str, field: str, name: str, kind: str
) -> str | None:
    for entry in previous.get(group, []):
        if entry.get(field) == name and isinstance(entry.get("api_key"), str):
            try:
                accounts.api_key(entry["api_key"], kind)  # type: ignore[arg-type]
            except AuthError:
                return None
            return str(entry["api_key"])
    return None
