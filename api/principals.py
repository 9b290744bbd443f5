"""Who is calling: the department, venue or citizen behind the request's bearer token.

Each helper reads ``Authorization: Bearer …`` (:func:`api.security.bearer_token`),
asks :class:`service.accounts.Accounts` who it belongs to, and raises:

- 401 ``unauthorized`` for a missing, malformed, unknown, expired or revoked token,
  and for a token of the wrong kind (a venue key on a department route, a citizen
  token on a venue route…): it is not a valid credential *for this route*;
- 403 ``forbidden`` for a valid token whose principal may not do this (another
  department's issuer path, a scene the venue is not allowed).

Tokens are never logged or echoed; the store only knows their SHA-256.
"""

from __future__ import annotations

from api.errors import Forbidden
from api.security import bearer_token
from api.services import services
from store.interface import IssuerRecord, VenueRecord

__all__ = ["current_citizen", "current_department", "current_venue"]


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


def current_venue() -> VenueRecord:
    """The venue calling. Raises :class:`~api.errors.AuthError` 401 (no valid venue key) or 403
    (the key's venue is no longer registered)."""
    svc = services()
    key = svc.accounts.api_key(bearer_token(), "venue")
    record = svc.store.get_venue(key.principal)
    if record is None:
        raise Forbidden("This key's venue is not registered.")
    return record


def current_citizen() -> str:
    """The citizen id of the request's session token. Raises :class:`~api.errors.AuthError` 401
    (or :class:`service.accounts.AuthError`, also 401)."""
    return services().accounts.citizen_for_token(bearer_token())
