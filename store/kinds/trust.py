"""The entries of the trust list: issuers (departments) and venues with their scenes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["IssuerRecord", "TrustStore", "VenueRecord"]


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """A department allowed to issue: its URL, names and the credential types it may issue."""

    iss: str
    slug: str
    name_zh: str
    name_en: str
    vcts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VenueRecord:
    """A venue (hotel, bank…) and the scenes its staff may verify for."""

    venue_id: str
    name_zh: str
    name_en: str
    scenes: tuple[str, ...]
    created_at: int


@runtime_checkable
class TrustStore(Protocol):
    """Issuers by ``iss`` and venues by id (insert or replace)."""

    def put_issuer(self, record: IssuerRecord) -> None:
        """Insert or replace the issuer with this ``iss``."""

    def get_issuer(self, iss: str) -> IssuerRecord | None: ...
    def list_issuers(self) -> list[IssuerRecord]:
        """All issuers, sorted by ``iss``."""

    def put_venue(self, record: VenueRecord) -> None:
        """Insert or replace the venue with this id."""

    def get_venue(self, venue_id: str) -> VenueRecord | None: ...
    def list_venues(self) -> list[VenueRecord]:
        """All venues, sorted by id."""
