"""Publication: the one builder of the signed documents verifiers fetch.

The trust list, every status list and the verifier bundle (DESIGN.md §3) come from
here, for the HTTP service (``GET /api/v1/verifier/bundle``, ``/trust-list``,
``/issuers/{issuer}/status/{n}``) and for the CLI's ``ecert bundle export`` alike, so
both hand out the same bundle shape.

The views of ``api/public.py`` and ``api/pages.py`` call one method each:
:meth:`Publication.bundle`, :meth:`~Publication.trust_list`,
:meth:`~Publication.issuer_status_list`, :meth:`~Publication.anchor`,
:meth:`~Publication.issuer_keys` and :meth:`~Publication.scenes`.

Signing a large list costs tens of milliseconds and verifiers fetch it far more often
than it changes, so each document is kept signed in memory and re-signed when its
content changes (the store's status version, the trust version) or after ``max_age``
seconds, so that ``iat``/``exp`` stay fresh.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from issuer import Keyring, NoSigningKey, Platform, StatusRegistry
from issuer.status import DEFAULT_TTL
from keys import SceneDict
from keys.b64 import b64url_decode
from keys.errors import FormatError, NotFound
from keys.jwk import JWKDict
from keys.jws import parse_compact
from sdjwt import TYP_STATUS_LIST
from store import Store

__all__ = ["DEFAULT_MAX_AGE", "IssuerKeys", "Publication", "StatusListDocument"]

#: Seconds a signed document is handed out again before it is re-signed.
DEFAULT_MAX_AGE = 60.0


@dataclass(frozen=True, slots=True)
class StatusListDocument:
    """A signed status list and how long a cache may keep it (its ``ttl`` claim)."""

    token: str
    ttl: int


@dataclass(frozen=True, slots=True)
class IssuerKeys:
    """An issuer's identifier (``iss``) and its published public keys (SD-JWT VC issuer
    metadata)."""

    iss: str
    jwks: list[JWKDict]


class Publication:
    """The cached signed trust list, status lists and bundle of one instance."""

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        platform: Platform,
        status: StatusRegistry,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._platform = platform
        self.status = status
        self._monotonic = monotonic
        #: uri -> (monotonic time signed, status version, token, its iat)
        self._lists: dict[str, tuple[float, bytes | None, str, int]] = {}
        self._trust: tuple[float, bytes | None, str] | None = None

    def status_list(self, uri: str, *, max_age: float = DEFAULT_MAX_AGE) -> str:
        """The signed status list at ``uri``: re-signed when a status in it changes, and
        at least every ``max_age`` seconds.

        Raises :class:`~keys.errors.NotFound` for an unknown list and
        :class:`~issuer.errors.NoSigningKey`.
        """
        now = self._monotonic()
        version = self._store.status_list_version(uri)
        cached = self._lists.get(uri)
        # Another worker may have published a newer iat (same or new content) since this
        # one cached its token: never hand out an iat older than one already published.
        if (
            cached is not None
            and cached[1] == version
            and now - cached[0] < max_age
            and cached[3] >= (self._store.last_status_stamp(uri) or 0)
        ):
            return cached[2]
        record = self._store.get_status_list(uri)
        if record is None:
            raise NotFound(f"no status list {uri}")
        token = self.status.publish(uri, self._keyring.signing_key(record.issuer))
        self._lists[uri] = (now, version, token, _iat(token))
        return token

    def issuer_status_list(
        self, issuer: str, n: int, *, max_age: float = DEFAULT_MAX_AGE
    ) -> StatusListDocument:
        """The issuer's (slug) status list number ``n``, at
        ``<base>/issuers/<issuer>/status/<n>``, with its ``ttl``.

        Raises :class:`~keys.errors.NotFound` and :class:`~issuer.errors.NoSigningKey`
        as :meth:`status_list` does.
        """
        uri = f"{self._platform.issuer_url(issuer)}/status/{n}"
        token = self.status_list(uri, max_age=max_age)
        return StatusListDocument(token, _ttl(token))

    def anchor(self) -> JWKDict:
        """The trust anchor's public JWK, which verifiers pin (created on first use)."""
        return self._platform.anchor_jwk()

    def issuer_keys(self, issuer: str) -> IssuerKeys:
        """The issuer's (slug or URL) identifier and published keys.

        Raises :class:`~issuer.errors.UnknownIssuer`.
        """
        record = self._platform.issuer(issuer)
        return IssuerKeys(record.iss, self._keyring.published_jwks(record.iss))

    def scenes(self, only: Collection[str] | None = None) -> list[SceneDict]:
        """The scene policies of the trust list, in its order; with ``only``, just those
        scenes (a venue's)."""
        return [s for s in self._platform.scenes() if only is None or s["id"] in only]

    def trust_list(self, *, max_age: float = DEFAULT_MAX_AGE) -> str:
        """The signed trust list, re-signed when its content changes or after ``max_age`` s.

        Raises :class:`~issuer.errors.NoSigningKey` when there is no anchor yet.
        """
        now = self._monotonic()
        version = self._store.trust_version()
        cached = self._trust
        if cached is not None and cached[1] == version and now - cached[0] < max_age:
            return cached[2]
        token = self._platform.trust_list()
        self._trust = (now, version, token)
        return token

    def bundle(self, *, max_age: float = DEFAULT_MAX_AGE) -> dict[str, Any]:
        """The verifier bundle ``{"trust_list": …, "status_lists": […]}``: the trust list
        and every issuer's status lists, issuer by issuer (each document as
        :meth:`status_list` and :meth:`trust_list` hand it out; ``max_age=0`` signs
        every one afresh).

        An issuer with no active key (its only key was just reported compromised) has
        its lists left out until a new key is activated, rather than blocking the bundle
        that carries the compromise to verifiers; its credentials then answer
        ``status_unavailable`` (or ``key_compromised``), never ``valid``.
        """
        lists: list[str] = []
        for issuer in self._store.list_issuers():
            for record in self._store.list_status_lists(issuer.iss):
                try:
                    lists.append(self.status_list(record.uri, max_age=max_age))
                except NoSigningKey:
                    break  # the issuer's key: none of its lists can be signed
        return {"trust_list": self.trust_list(max_age=max_age), "status_lists": lists}


def _iat(token: str) -> int:
    """The ``iat`` of a token this instance has just signed."""
    payload = json.loads(b64url_decode(token.split(".")[1]))
    return int(payload["iat"])


def _ttl(token: str) -> int:
    """The ``ttl`` claim of a status list token we signed (the default if absent)."""
    try:
        ttl = parse_compact(token, typ=TYP_STATUS_LIST, max_length=len(token)).payload.get("ttl")
    except FormatError:
        return DEFAULT_TTL
    return ttl if isinstance(ttl, int) and ttl > 0 else DEFAULT_TTL
