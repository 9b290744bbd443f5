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
GUARDIANSHIP = "urn:ecert:guardianship"
CARE_AUTHORISATION = "urn:ecert:care-authorisation"
#: The smallest value an ``image`` claim (a portrait) accepts: a data URL of JPEG bytes.
SAMPLE_PORTRAIT = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ=="


def example_value(spec: ClaimSpec, text: str = "样例Sample") -> object:
    """A value of the claim's type that issuance accepts: an end date in the future,
    other dates in the past, ``text`` cut to the claim's length for strings."""
    if spec.type == "date":
        return "2036-02-29" if "until" in spec.name else "2020-02-29"
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

#: A fictional citizen (test area code 110101).
ID_CLAIMS: dict[str, Any] = personal_claims({
    "name": "李四",
    "sex": "女",
    "ethnicity": "汉",
    "birth_date": "1985-11-30",
    "address": "北京市东城区测试街2号",
    "id_number": "11010119851130002X",
    "issuing_authority": "北京市公安局东城分局",
    "valid_from": "2015-06-01",
    "valid_until": "2035-06-01",
}, "ID_CLAIMS")

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
