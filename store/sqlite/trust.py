"""Issuers and venues on SQLite (tables ``issuers`` and ``venues``)."""

from __future__ import annotations

from store.codec import Codec
from store.kinds.trust import IssuerRecord, VenueRecord
from store.sqlite.base import SQLiteBase

__all__ = ["TrustMixin"]

ISSUER = Codec(IssuerRecord)
VENUE = Codec(VenueRecord)


class TrustMixin(SQLiteBase):
    """:class:`store.kinds.trust.TrustStore` on SQLite."""

    def put_issuer(self, record: IssuerRecord) -> None:
        """Insert or replace the issuer with this ``iss``. Raises :class:`StoreUnavailable`."""
        with self._write() as conn:
            conn.execute(ISSUER.insert("issuers", "INSERT OR REPLACE"), ISSUER.to_row(record))

    def get_issuer(self, iss: str) -> IssuerRecord | None:
        """The issuer with this ``iss``, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(ISSUER.select("issuers") + " WHERE iss = ?", (iss,)).fetchone()
        return None if row is None else ISSUER.from_row(row)

    def list_issuers(self) -> list[IssuerRecord]:
        """All issuers, sorted by ``iss``. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            rows = conn.execute(ISSUER.select("issuers") + " ORDER BY iss").fetchall()
        return [ISSUER.from_row(row) for row in rows]

    def put_venue(self, record: VenueRecord) -> None:
        """Insert or replace the venue with this id. Raises :class:`StoreUnavailable`."""
        with self._write() as conn:
            conn.execute(VENUE.insert("venues", "INSERT OR REPLACE"), VENUE.to_row(record))

    def get_venue(self, venue_id: str) -> VenueRecord | None:
        """The venue, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                VENUE.select("venues") + " WHERE venue_id = ?", (venue_id,)
            ).fetchone()
        return None if row is None else VENUE.from_row(row)

    def list_venues(self) -> list[VenueRecord]:
        """All venues, sorted by id. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            rows = conn.execute(VENUE.select("venues") + " ORDER BY venue_id").fetchall()
        return [VENUE.from_row(row) for row in rows]
