"""A small world for tests: one store, the anchor, departments, wallets, bundles.

    world = World(store)              # any Store; clock starts at NOW and is settable
    cred, wallet = world.issue_id_card()
    v = world.verifier()              # offline verifier over a fresh bundle, same clock
    pres = wallet.present_for_scene(cred, v.trust_list.scenes["hotel"])
    assert v.verify(pres, "hotel").valid
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from issuer import CredentialIssuer, Keyring, Platform, StatusRegistry
from issuer.catalogue import ClaimSpec, CredentialType
from keys import KeyWrapper, generate_secret
from service.publication import Publication
from store.interface import Store
from tests.hygiene import personal, personal_claims
from verifier import Verifier
from wallet import HeldCredential, Wallet

NOW = 1_800_000_000
BASE_URL = "https://ecert.example"
ID_CARD = "urn:ecert:resident-id-card"
RESIDENCE_PERMIT = "urn:ecert:residence-permit"
MARRIAGE = "urn:ecert:marriage-certificate"
AGE_ATTESTATION = "urn:ecert:age-attestation"
RESIDENCE_ATTESTATION = "urn:ecert:residence-attestation"
#: The attestations the police issue beside an ID card or a household register (the
#: demo's police may: its citizens' wallets hold an age attestation beside the ID card).
DERIVED = frozenset({AGE_ATTESTATION, RESIDENCE_ATTESTATION})
GUARDIANSHIP = "urn:ecert:guardianship"
CARE_AUTHORISATION = "urn:ecert:care-authorisation"
#: The smallest value an ``image`` claim (a portrait) accepts: a data URL of JPEG bytes.
SAMPLE_PORTRAIT = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ=="


#: The ID number :func:`example_value` gives (valid GB 11643 check character).
EXAMPLE_ID_NUMBER = "110101198511300026"


def example_value(spec: ClaimSpec, text: str = "样例Sample") -> object:
    """A value of the claim's type that issuance accepts: an end date in the future,
    other dates in the past, a valid ID number, an enumeration's first value, ``text``
    cut to the claim's length for strings."""
    if spec.type in ("date", "date_or_long_term"):
        return "2036-02-29" if "until" in spec.name else "2020-02-29"
    if spec.type == "id_number":
        return EXAMPLE_ID_NUMBER
    if spec.type == "enum":
        return spec.values[0].value
    if spec.type == "integer":
        return 3
    if spec.type == "boolean":
        return True
    if spec.type == "image":
        return SAMPLE_PORTRAIT
    assert spec.max_length is not None
    return text[: spec.max_length]


def full_example(ctype: CredentialType, text: str = "样例Sample") -> dict[str, object]:
    """Every claim of the type, each with :func:`example_value`."""
    return {spec.name: example_value(spec, text) for spec in ctype.claims}


#: A realistic claim set of each type issue 12 added, as the document prints it (the
#: citizen of :data:`ID_CLAIMS` where a person is named; fictional numbers).
EXAMPLES: dict[str, dict[str, object]] = {
    "urn:ecert:passport": {
        "name": "李四",
        "sex": "女",
        "birth_date": "1985-11-30",
        "birth_place": "北京",
        "id_number": EXAMPLE_ID_NUMBER,
        "passport_number": "E12345678",
        "issue_date": "2024-03-01",
        "valid_until": "2034-02-28",
        "issuing_authority": "中华人民共和国国家移民管理局",
    },
    "urn:ecert:hk-macao-travel-permit": {
        "name": "李四",
        "sex": "女",
        "birth_date": "1985-11-30",
        "id_number": EXAMPLE_ID_NUMBER,
        "permit_number": "C12345678",
        "issue_date": "2024-03-01",
        "valid_until": "2034-02-28",
        "issuing_authority": "公安部出入境管理局",
    },
    "urn:ecert:taiwan-travel-permit": {
        "name": "李四",
        "sex": "女",
        "birth_date": "1985-11-30",
        "id_number": EXAMPLE_ID_NUMBER,
        "permit_number": "T12345678",
        "issue_date": "2024-03-01",
        "valid_until": "2034-02-28",
        "issuing_authority": "公安部出入境管理局",
    },
    "urn:ecert:divorce-certificate": {
        "name": "李四",
        "sex": "女",
        "birth_date": "1985-11-30",
        "id_number": EXAMPLE_ID_NUMBER,
        "spouse_name": "王五",
        "spouse_id_number": "110101199003070011",
        "registration_date": "2023-04-12",
        "certificate_number": "L110101-2023-000123",
        "registration_authority": "北京市东城区民政局",
    },
    "urn:ecert:vaccination-record": {
        "name": "李四",
        "birth_date": "1985-11-30",
        "id_number": EXAMPLE_ID_NUMBER,
        "vaccine_name": "乙型肝炎疫苗",
        "dose_number": 3,
        "vaccination_date": "2024-05-20",
        "batch_number": "202403B017",
        "vaccination_unit": "东城区社区卫生服务中心",
    },
    "urn:ecert:elderly-preferential-card": {
        "name": "张老",
        "sex": "男",
        "birth_date": "1945-01-01",
        "id_number": "110101194501010035",
        "card_number": "1101010012345",
        "issue_date": "2010-01-05",
        "issuing_authority": "北京市东城区民政局",
    },
    "urn:ecert:veteran-preferential-card": {
        "name": "赵六",
        "sex": "男",
        "id_number": "110101196005150046",
        "card_number": "11010100001234",
        "holder_category": "退役军人",
        "issue_date": "2022-08-01",
        "issuing_authority": "北京市东城区退役军人事务局",
    },
    "urn:ecert:degree-certificate": {
        "name": "李四",
        "sex": "女",
        "birth_date": "1985-11-30",
        "id_number": EXAMPLE_ID_NUMBER,
        "degree_level": "学士",
        "degree_name": "工学学士",
        "institution": "北京样例大学",
        "award_date": "2007-07-01",
        "certificate_number": "1000142007001234",
    },
    "urn:ecert:professional-qualification": {
        "name": "李四",
        "sex": "女",
        "id_number": EXAMPLE_ID_NUMBER,
        "qualification_name": "电工",
        "qualification_level": "三级/高级工",
        "certificate_number": "S000011000000123",
        "issue_date": "2019-11-20",
        "issuing_authority": "北京市人力资源和社会保障局",
    },
    "urn:ecert:student-card": {
        "name": "李小明",
        "sex": "男",
        "birth_date": "2010-09-01",
        "id_number": "110101201009010052",
        "institution": "北京市东城区样例中学",
        "student_number": "G110101201009010052",
        "enrolment_date": "2022-09-01",
        "valid_until": "2028-07-31",
    },
    "urn:ecert:tenancy-registration": {
        "name": "李四",
        "id_number": EXAMPLE_ID_NUMBER,
        "location": "北京市东城区样例胡同8号院3号",
        "landlord_name": "王五",
        "lease_from": "2025-03-01",
        "valid_until": "2027-02-28",
        "registration_number": "ZL2025-0001234",
        "registration_date": "2025-03-05",
        "registration_authority": "北京市东城区住房和城乡建设委员会",
    },
    "urn:ecert:vehicle-inspection": {
        "plate_number": "京A12345",
        "vehicle_type": "小型普通客车",
        "vin": "LSVAA4182E2123456",
        "certificate_number": "1101000123456",
        "inspection_date": "2025-06-01",
        "valid_until": "2027-06-30",
        "issuing_authority": "北京市公安局公安交通管理局",
    },
    "urn:ecert:security-guard-licence": {
        "name": "王五",
        "sex": "男",
        "birth_date": "1990-03-07",
        "id_number": "110101199003070011",
        "certificate_number": "京保安0123456",
        "issue_date": "2018-06-30",
        "issuing_authority": "北京市公安局",
    },
    "urn:ecert:medical-insurance-card": {
        "name": "李四",
        "sex": "女",
        "id_number": EXAMPLE_ID_NUMBER,
        "insurance_type": "职工基本医疗保险",
        "insured_region": "北京市东城区",
        "issue_date": "2020-06-01",
        "issuing_authority": "北京市医疗保障局",
    },
}


def example_claims(ctype: CredentialType) -> dict[str, object]:
    """A claim set of the type that issuance accepts: its :data:`EXAMPLES` entry, or
    :func:`full_example` for a type without one."""
    found = EXAMPLES.get(ctype.vct)
    return dict(found) if found is not None else full_example(ctype)


for _vct, _claims in EXAMPLES.items():
    personal_claims(_claims, f"EXAMPLES {_vct}")


#: A fictional citizen (test area code 110101).
ID_CLAIMS: dict[str, Any] = personal_claims({
    "name": "李四",
    "sex": "女",
    "ethnicity": "汉",
    "birth_date": "1985-11-30",
    "address": "北京市东城区测试街2号",
    "id_number": "110101198511300026",
    "issuing_authority": "北京市公安局东城分局",
    "valid_from": "2015-06-01",
    "valid_until": "2035-06-01",
}, "ID_CLAIMS")
#: The age attestation the police derive from ID_CLAIMS (born 1985: an adult under 60).
#: No name, no ID number, no birth date: a yes/no per threshold.
AGE_CLAIMS: dict[str, Any] = {
    "age_over_14": True,
    "age_over_16": True,
    "age_over_18": True,
    "age_over_60": False,
    "age_over_65": False,
}
#: The residence attestation derived from a household register of the city.
RESIDENCE_CLAIMS: dict[str, Any] = {"resident_of_city": True, "city": "北京市"}

#: A guardianship (issue 12): a mother and her child born 2015-06-01 (ends 2033-06-01).
GUARDIANSHIP_CLAIMS: dict[str, Any] = personal_claims({
    "guardian_name": "王芳",
    "guardian_id_number": "110101199003070011",
    "ward_name": "李小明",
    "ward_id_number": "110101201506010029",
    "ward_birth_date": "2015-06-01",
    "relationship": "mother",
}, "GUARDIANSHIP_CLAIMS")

#: A care authorisation (issue 12): an elder born 1945 authorises a carer for two scenes.
CARE_CLAIMS: dict[str, Any] = personal_claims({
    "principal_name": "张三",
    "principal_id_number": "110101194501010035",
    "carer_name": "李四",
    "carer_id_number": "110101196005150046",
    "scenes": "bank pharmacy",
    "valid_until": "2027-06-30",
}, "CARE_CLAIMS")


class Clock:
    """A settable clock: ``clock()`` returns ``clock.now``."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class World:
    """Anchor, a police and a civil-affairs department over one store, with a shared clock."""

    def __init__(self, store: Store, *, clock: Clock | None = None, list_size: int = 4096) -> None:
        self.store = store
        self.clock = clock or Clock()
        secret = personal(generate_secret(), "World's key secret")
        self.keyring = Keyring(store, KeyWrapper(secret), clock=self.clock)
        self.platform = Platform(store, self.keyring, base_url=BASE_URL, clock=self.clock)
        self.anchor = self.platform.ensure_anchor()
        self.police = self.platform.register_issuer(
            "police", name_zh="市公安局", name_en="City Police", vcts=[ID_CARD, RESIDENCE_PERMIT]
        )
        self.civil = self.platform.register_issuer(
            "civil-affairs", name_zh="市民政局", name_en="Civil Affairs", vcts=[MARRIAGE]
        )
        self.status = StatusRegistry(store, list_size=list_size, clock=self.clock)
        self.issuer = CredentialIssuer(store, self.keyring, self.status, clock=self.clock)

    @property
    def anchor_jwk(self) -> dict[str, Any]:
        return dict(self.anchor.public_jwk())

    def wallet(self) -> Wallet:
        return Wallet(clock=self.clock)

    def issue_id_card(
        self, wallet: Wallet | None = None, claims: Mapping[str, Any] | None = None
    ) -> tuple[HeldCredential, Wallet]:
        wallet = wallet or self.wallet()
        issued = self.issuer.issue(
            self.police.iss,
            ID_CARD,
            subject=personal("citizen-1", "World's citizen id"),
            claims=personal_claims(dict(claims or ID_CLAIMS), "World.issue_id_card"),
            holder_jwk=wallet.holder_jwk,
        )
        self.last_id = issued.id
        return wallet.add(issued.sd_jwt), wallet

    def bundle(self) -> dict[str, Any]:
        """The bundle as the service publishes it (:mod:`service.publication`, the one
        builder), every document signed afresh on the world's clock."""
        return Publication(self.store, self.keyring, self.platform, self.status).bundle(max_age=0)

    def verifier(self, **kwargs: Any) -> Verifier:
        kwargs.setdefault("clock", self.clock)
        return Verifier(self.bundle(), anchor=self.anchor_jwk, **kwargs)


T = TypeVar("T")


def run_threads(count: int, target: Callable[[int], T]) -> list[T]:
    """Run ``target(i)`` in ``count`` threads released together; return the results."""
    barrier = threading.Barrier(count)

    def start(i: int) -> T:
        barrier.wait()
        return target(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))
