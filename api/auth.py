"""Citizens' login and logout (``/api/v1/auth``).

Login answers the same ``401 login_failed`` for an unknown citizen id and a wrong
password, and ``429 rate_limited`` with ``Retry-After`` once an account or a client
address has too many recent failed logins (:meth:`service.accounts.Accounts.login`; only
failures count). The client address is ``request.remote_addr``: behind a proxy, set
``TRUST_PROXY`` so that it is the caller's, not the proxy's.
"""

from __future__ import annotations

from typing import Literal

from flask import Response, request
from pydantic import BaseModel, ConfigDict, Field

from api.openapi import SECURITY_CITIZEN, APIBlueprint, Tag, problems
from api.principals import current_citizen
from api.security import bearer_token
from api.services import services
from service.accounts import MAX_PASSWORD

__all__ = ["bp"]

bp = APIBlueprint(
    "auth",
    __name__,
    url_prefix="/api/v1/auth",
    abp_tags=[Tag(name="auth", description="Citizens' login sessions.")],
)


class LoginBody(BaseModel):
    """A citizen's login."""

    model_config = ConfigDict(extra="forbid")

    citizen_id: str = Field(min_length=1, max_length=64, description="The citizen's id.")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class LoginAnswer(BaseModel):
    """A new session (RFC 6749 §5.1 style). The token is shown once."""

    access_token: str = Field(description="Send it as `Authorization: Bearer <token>`.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int = Field(description="Seconds until the session expires.")


@bp.post(
    "/login",
    summary="Log a citizen in",
    responses={200: LoginAnswer, **problems(401, 429)},
)
def login(body: LoginBody) -> dict[str, object]:
    """Check the citizen's id and password and open a session.

    Failures do not say whether the id or the password was wrong (`login_failed`).
    """
    client = request.remote_addr or "unknown"
    session = services().accounts.login(body.citizen_id, body.password, client=client)
    answer = LoginAnswer(access_token=session.access_token, expires_in=session.expires_in)
    return answer.model_dump()


@bp.post(
    "/logout",
    summary="End the citizen's session",
    security=SECURITY_CITIZEN,
    responses={204: None},
)
def logout() -> Response:
    """End the session of the bearer token; the token stops working at once."""
    current_citizen()
    services().accounts.logout(bearer_token())
    return Response(status=204)
