"""Who is calling: the department, venue or citizen behind the request's bearer token.

Each helper reads ``Authorization: Bearer …`` (:func:`api.security.bearer_token`),
asks :class:`service.accounts.Accounts` who it belongs to, and raises:

- 401 ``unauthorized`` for a missing, malformed, unknown, expired or revoked token,
  and for a token of the wrong kind (a venue key on a department route, a citizen
  token on a venue route…): it is not a valid credential *for this route*;
- 403 ``forbidden`` for a valid token whose principal may not do this (another
  department's issuer path, a scene the venue is not allowed), and for a live
  department or venue key on an operator route (:func:`current_operator`).

Tokens are never logged or echoed; the store only knows their SHA-256.

Venue keys (the verification route's) are kept per worker for up to two seconds
(:class:`service.verification.VenueKeys`): a revoked venue key keeps working that
long in a worker that saw it just before; an unknown or revoked key is never kept.
"""

from __future__ import annotations

from flask import current_app

from api.errors import Forbidden
from api.security import bearer_token
from api.services import services
from service.instance import Ecert
from service.verification import VenueKeys
from store.interface import ApiKeyRecord, IssuerRecord, VenueRecord

__all__ = [
    "VENUE_KEYS",
    "calling_department",
    "current_citizen",
    "current_department",
    "current_operator",
    "current_venue",
    "venue_keys",
]


def current_department(issuer: str) -> IssuerRecord:
    """The department calling, which must be the issuer ``issuer`` (slug) of the path.

    Raises :class:`~api.errors.AuthError` 401 (no valid department key) or 403 (the key belongs to
    another department, or its department is no longer registered).
    """
    svc = services()
    key = svc.accounts.api_key(bearer_token(), "department")
    if key.principal != svc.platform.issuer_url(issuer):
        raise Forbidden("This key may not act for this issuer.")
    record = svc.store.get_issuer(key.principal)
    if record is None:
        raise Forbidden("This key's department is not registered.")
    return record


def calling_department() -> IssuerRecord:
    """The department calling, whichever it is (routes without an issuer in the path).

    Raises :class:`~api.errors.AuthError` 401 (no valid department key) or 403 (its
    department is no longer registered).
    """
    svc = services()
    key = svc.accounts.api_key(bearer_token(), "department")
    record = svc.store.get_issuer(key.principal)
    if record is None:
        raise Forbidden("This key's department is not registered.")
    return record


def current_venue() -> VenueRecord:
    """The venue calling. Raises :class:`~api.errors.AuthError` 401 (no valid venue key) or 403
    (the key's venue is no longer registered)."""
    _key, record = venue_keys().venue(bearer_token())
    if record is None:
        raise Forbidden("This key's venue is not registered.")
    return record


#: Where the app keeps its :class:`VenueKeys` (``app.extensions[VENUE_KEYS]``).
VENUE_KEYS = "ecert.venue_keys"


def venue_keys(svc: Ecert | None = None) -> VenueKeys:
    """The current app's cache of venue keys (made on first use, and again for an
    instance swapped in)."""
    svc = svc or services()
    kept: tuple[Ecert, VenueKeys] | None = current_app.extensions.get(VENUE_KEYS)
    if kept is not None and kept[0] is svc:
        return kept[1]
    accounts = svc.accounts
    keys = VenueKeys(lambda secret: accounts.api_key(secret, "venue"), svc.store)
    current_app.extensions[VENUE_KEYS] = (svc, keys)
    return keys


def current_operator() -> ApiKeyRecord:
    """The operator calling (``/api/v1/admin/…``). Raises :class:`~api.errors.AuthError`
    401 (no valid key, or a citizen's token) or :class:`~api.errors.Forbidden` 403 (a live
    department or venue key)."""
    return services().accounts.operator_key(bearer_token())


def current_citizen() -> str:
    """The citizen id of the request's session token. Raises :class:`~api.errors.AuthError` 401
    (or :class:`service.accounts.AuthError`, also 401)."""
    return services().accounts.citizen_for_token(bearer_token())
