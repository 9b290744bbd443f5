"""Presentations of every catalogue type at the sizes the QR targets are about (issue 12).

Shared by tests/test_qr_transport_sizes.py (the pass/fail targets) and bench/qr_sizes.py
(the table in docs/formats.md). The issue's sentence "a test per type checks that its
hotel and bank presentations stay at version ≤ 22 and ≤ 27 at level M" is read as:

* **hotel-sized**: the type's ``name`` and ``id_number`` (what a hotel asks of an ID
  card), or its first two selectively disclosable claims if it lacks either;
* **bank-sized**: its first eight selectively disclosable claims other than an image
  (the portrait never travels in an offline code), or all of them if fewer;

each from a credential issued by our issuer with every claim set to the factory's
example value of the longest text below (``tests.factory.full_example``), by the
type's own department under the demo's base URL (``https://ecert.example``), with the
issuer's default decoy digests, bound to a P-256 wallet key, with a KB-JWT.
The catalogue is read when this runs: a type added later is measured too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from issuer import load_catalogue
from issuer.catalogue import Catalogue, CredentialType
from store.interface import Store
from tests.factory import World, full_example
from wallet import HeldCredential, Wallet
from wallet.presentation import present

#: The targets at error correction level M.
HOTEL_MAX_VERSION = 22
BANK_MAX_VERSION = 27
SET_MAX_VERSION = 27
#: The factory's example text, as long as a realistic value gets (an institution's or
#: an address's 24 characters; cut to each claim's max_length).
LONG_TEXT = "样例Sample"
#: How many disclosable claims the bank-sized presentation discloses.
BANK_CLAIMS = 8


def disclosable(ctype: CredentialType) -> list[str]:
    """The type's selectively disclosable claims, in catalogue order, images left out."""
    return [spec.name for spec in ctype.claims if spec.sd and spec.type != "image"]


def hotel_claims(ctype: CredentialType) -> list[str]:
    names = disclosable(ctype)
    if "name" in names and "id_number" in names:
        return ["name", "id_number"]
    return names[:2]


def bank_claims(ctype: CredentialType) -> list[str]:
    return disclosable(ctype)[:BANK_CLAIMS]


@dataclass(frozen=True)
class Sized:
    """One type's presentations: plain SD-JWT+KB texts."""

    vct: str
    hotel: str
    bank: str


class SizeWorld:
    """A world whose departments issue every catalogue type (each by its own hint)."""

    def __init__(self, store: Store, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or load_catalogue()
        self.world = World(store)
        self.iss: dict[str, str] = {}
        by_hint: dict[str, list[str]] = {}
        for ctype in self.catalogue.types:
            by_hint.setdefault(ctype.issuer_hint, []).append(ctype.vct)
        for hint, vcts in by_hint.items():
            record = self.world.platform.register_issuer(
                hint, name_zh="样例部门", name_en="Department", vcts=vcts
            )
            for vct in vcts:
                self.iss[vct] = record.iss

    def held(self, ctype: CredentialType, wallet: Wallet) -> HeldCredential:
        issued = self.world.issuer.issue(
            self.iss[ctype.vct],
            ctype.vct,
            subject="citizen-sizes",
            claims=full_example(ctype, LONG_TEXT),
            holder_jwk=wallet.holder_jwk,
        )
        return wallet.add(issued.sd_jwt)

    def sized(self, ctype: CredentialType) -> Sized:
        wallet = self.world.wallet()
        held = self.held(ctype, wallet)
        now = self.world.clock()

        def made(claims: list[str], aud: str) -> str:
            return present(held, claims, holder_key=wallet.holder_key, aud=aud, now=now)

        hotel, bank = made(hotel_claims(ctype), "hotel"), made(bank_claims(ctype), "bank")
        return Sized(ctype.vct, hotel, bank)

    def every_type(self) -> Iterator[Sized]:
        for ctype in self.catalogue.types:
            yield self.sized(ctype)

    def school_set(self, entries: list[tuple[str, list[str]]], aud: str = "school") -> list[str]:
        """The members of a set presentation: one credential per ``(vct, claims)``, all
        bound to one wallet key, with the same ``aud`` and ``nonce``."""
        wallet = self.world.wallet()
        now = self.world.clock()
        nonce = "c2V0LW5vbmNlLXNhbXBsZQ"  # 16 bytes, as a wallet draws them
        members = []
        for vct, claims in entries:
            held = self.held(self.catalogue.get(vct), wallet)
            members.append(
                present(held, claims, holder_key=wallet.holder_key, aud=aud, now=now, nonce=nonce)
            )
        return members
