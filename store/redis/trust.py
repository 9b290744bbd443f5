"""Issuers and venues on Redis: ``P:{issuers}:rec`` (iss -> JSON) and
``P:{venues}:rec`` (venue id -> JSON), one slot each."""

from __future__ import annotations

from store.codec import Codec
from store.kinds.trust import IssuerRecord, VenueRecord
from store.redis.base import RedisBase

__all__ = ["TrustMixin"]

ISSUER = Codec(IssuerRecord)
VENUE = Codec(VenueRecord)


class TrustMixin(RedisBase):
    """:class:`store.kinds.trust.TrustStore` on Redis."""

    def put_issuer(self, record: IssuerRecord) -> None:
        """Insert or replace the issuer with this ``iss``. Raises :class:`StoreUnavailable`."""
        with self._guard():
            self._r.hset(self._k("issuers", "rec"), record.iss, ISSUER.to_json(record))

    def get_issuer(self, iss: str) -> IssuerRecord | None:
        """The issuer with this ``iss``, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.hget(self._k("issuers", "rec"), iss)
        return None if blob is None else ISSUER.from_json(blob)

    def list_issuers(self) -> list[IssuerRecord]:
        """All issuers, sorted by ``iss``. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blobs = self._r.hgetall(self._k("issuers", "rec"))
        return sorted((ISSUER.from_json(b) for b in blobs.values()), key=lambda r: r.iss)

    def put_venue(self, record: VenueRecord) -> None:
        """Insert or replace the venue with this id. Raises :class:`StoreUnavailable`."""
        with self._guard():
            self._r.hset(self._k("venues", "rec"), record.venue_id, VENUE.to_json(record))

    def get_venue(self, venue_id: str) -> VenueRecord | None:
        """The venue, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.hget(self._k("venues", "rec"), venue_id)
        return None if blob is None else VENUE.from_json(blob)

    def list_venues(self) -> list[VenueRecord]:
        """All venues, sorted by id. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blobs = self._r.hgetall(self._k("venues", "rec"))
        return sorted((VENUE.from_json(b) for b in blobs.values()), key=lambda r: r.venue_id)
