"""Errors of the stores (re-exported by :mod:`store.interface`, which the domain uses)."""

from __future__ import annotations

from keys.errors import Conflict as _Conflict
from keys.errors import EcertError
from keys.errors import NotFound as _NotFound

__all__ = [
    "StoreError",
    "StoreUnavailable",
    "StoreClosed",
    "SchemaTooNew",
    "InvalidArgument",
    "OutOfRange",
    "CorruptRecord",
    "Conflict",
    "NotFound",
    "LeaseLost",
]


class StoreError(EcertError):
    """Root of the storage errors.

    Backends raise :class:`StoreUnavailable` when the server cannot be reached so that
    callers can answer "try again later".
    """

    code = "store_error"


class StoreUnavailable(StoreError):
    """The backing server cannot be reached or timed out."""

    code = "store_unavailable"


class StoreClosed(StoreError):
    """The store was closed and is used again (a programming error)."""

    code = "store_closed"


class SchemaTooNew(StoreError):
    """The database was written by a newer ecert than this one."""

    code = "schema_too_new"


class InvalidArgument(StoreError):
    """An argument no backend accepts (unknown state, bad list shape, key prefix, URL)."""

    code = "invalid_argument"


class OutOfRange(StoreError):
    """A status list index or value outside the list."""

    code = "out_of_range"


class CorruptRecord(StoreError):
    """A stored row or value does not fit its record (a wrong type, a missing or extra
    field, an unknown state): read strictly, never filled with a default."""

    code = "store_corrupt"


class Conflict(_Conflict, StoreError):
    """A record with this identity already exists (``conflict``)."""


class NotFound(_NotFound, StoreError):
    """The record does not exist (``not_found``)."""


class LeaseLost(StoreError):
    """A job's lease is held by another worker: this one's ran out (it stalled or was
    thought dead) and it must stop writing to the job."""

    code = "lease_lost"
