"""The operator's side of issuing: the trust anchor, the registry of issuers and scenes,
and the signed trust list (DESIGN.md §3). The verifier bundle (the trust list with
every status list) is built by one builder, :class:`service.publication.Publication`."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from issuer.catalogue import CatalogueError, default_scenes, load_catalogue, parse_scenes
from issuer.errors import IssuerError, NoSigningKey, UnknownIssuer
from issuer.keyring import ANCHOR, Keyring
from issuer.proof_types import load_proof_types
from keys import IssuerEntryDict, KeyState, SceneDict, SigningKey, build_trust_list
from keys.errors import FormatError
from keys.jsonstrict import dumps_compact, loads
from keys.jwk import Alg, JWKDict
from keys.trustlist import (
    DEFAULT_LIFETIME,
    DEFAULT_TTL,
    TrustList,
    TrustListPayload,
    trust_list_from_payload,
)
from store.interface import TRUSTLIST_IAT, TRUSTLIST_NEWEST, IssuerRecord, Store

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
# The trust list's stamps are once-values: the content claimed for one ``iat``
# (TRUSTLIST_IAT, ``<iat>`` -> SHA-256 hex), and the newest ``iat`` claimed
# (TRUSTLIST_NEWEST).
#: How far past the clock a trust list's ``iat`` may be pushed by changes in one second.
MAX_TRUST_AHEAD = 60


class Platform:
    """The operator's registry of anchor key, issuers and scenes; publishes what verifiers need."""

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        *,
        base_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self.base_url = base_url.rstrip("/")
        self._clock = clock

    @property
    def anchor_id(self) -> str:
        """The trust list's ``iss``: the platform's base URL."""
        return self.base_url

    def issuer_url(self, slug: str) -> str:
        """The ``iss`` of the department ``slug``."""
        return f"{self.base_url}/issuers/{slug}"

    # -- anchor ----------------------------------------------------------------------

    def ensure_anchor(self, alg: Alg = "ES256") -> SigningKey:
        """The active anchor key, created on first use."""
        try:
            return self._keyring.signing_key(ANCHOR)
        except NoSigningKey:
            return self._keyring.create(ANCHOR, alg=alg)

    def anchor_jwk(self) -> JWKDict:
        """The anchor's public JWK, which verifiers pin. Raises :class:`NoSigningKey`."""
        return self._keyring.signing_key(ANCHOR).public_jwk()

    # -- issuers ---------------------------------------------------------------------

    def register_issuer(
        self,
        slug: str,
        *,
        name_zh: str,
        name_en: str,
        vcts: Sequence[str],
        alg: Alg = "ES256",
    ) -> IssuerRecord:
        """Register (or update) a department and give it a signing key if it has none.

        Raises :class:`IssuerError` for a bad slug and
        :class:`~issuer.errors.UnknownCredentialType` for a ``vct`` not in the catalogue.
        """
        if not _SLUG.fullmatch(slug):
            raise IssuerError("an issuer slug is 1-64 lowercase letters, digits and dashes")
        catalogue = load_catalogue()
        for vct in vcts:
            catalogue.get(vct)
        record = IssuerRecord(
            iss=self.issuer_url(slug), slug=slug, name_zh=name_zh, name_en=name_en, vcts=tuple(vcts)
        )
        self._store.put_issuer(record)
        self._store.bump_trust_version()
        if not any(r.state == KeyState.ACTIVE.value for r in self._keyring.records(record.iss)):
            self._keyring.create(record.iss, alg=alg)
        return record

    def issuer(self, slug_or_iss: str) -> IssuerRecord:
        """Look an issuer up by slug or URL. Raises :class:`UnknownIssuer`."""
        iss = slug_or_iss if "/" in slug_or_iss else self.issuer_url(slug_or_iss)
        record = self._store.get_issuer(iss)
        if record is None:
            raise UnknownIssuer(f"no issuer {slug_or_iss!r}")
        return record

    # -- scenes ----------------------------------------------------------------------

    def scenes(self) -> list[SceneDict]:
        """The scene policies: the operator's if set, else the shipped defaults."""
        raw = self._store.scene_policies()
        if raw is None:
            return default_scenes()  # type: ignore[return-value]
        try:
            scenes: list[SceneDict] = loads(raw)
        except FormatError as err:
            raise CatalogueError(f"stored scene policies unreadable: {err.message}") from None
        return scenes

    def set_scenes(self, scenes: Sequence[dict[str, Any]]) -> None:
        """Replace the scene policies after checking them against the catalogue.

        Raises :class:`~issuer.catalogue.CatalogueError`.
        """
        parse_scenes(list(scenes), load_catalogue())
        self._store.put_scene_policies(json.dumps(list(scenes)).encode("utf-8"))
        self._store.bump_trust_version()

    # -- publication -----------------------------------------------------------------

    def trust_entries(self) -> tuple[list[IssuerEntryDict], list[SceneDict]]:
        """The trust list's content: the issuers (with their published keys, credential
        types and the proof types each may answer: those whose ``answered_by`` is its
        slug) and scenes."""
        issuers: list[IssuerEntryDict] = []
        proof_types = load_proof_types()
        for record in self._store.list_issuers():
            issuers.append(
                {
                    "iss": record.iss,
                    "name": {"zh": record.name_zh, "en": record.name_en},
                    "jwks": {"keys": [dict(k) for k in self._keyring.published_jwks(record.iss)]},
                    "revoked_kids": self._keyring.revoked_kids(record.iss),
                    "vcts": list(record.vcts),
                    "proof_types": list(proof_types.answered_by(record.slug)),
                }
            )
        return issuers, self.scenes()

    def live_trust_list(
        self, *, lifetime: int = DEFAULT_LIFETIME, ttl: int = DEFAULT_TTL
    ) -> TrustList:
        """The current trust list as an object, unsigned, for a verifier in this process.

        Dated by the clock (no stamp is claimed in the store: nothing is published).
        Raises :class:`~keys.errors.TrustListError` for content no verifier would accept.
        """
        issuers, scenes = self.trust_entries()
        now = int(self._clock())
        payload: TrustListPayload = {
            "iss": self.anchor_id,
            "iat": now,
            "exp": now + lifetime,
            "ttl": ttl,
            "issuers": issuers,
            "scenes": scenes,
        }
        return trust_list_from_payload(payload)

    def trust_list(self, *, lifetime: int = DEFAULT_LIFETIME, ttl: int = DEFAULT_TTL) -> str:
        """Sign the current trust list with the anchor key. Raises :class:`NoSigningKey`."""
        issuers, scenes = self.trust_entries()
        content = dumps_compact(
            {"iss": self.anchor_id, "issuers": issuers, "scenes": scenes, "ttl": ttl}
        )
        return build_trust_list(
            self._keyring.signing_key(ANCHOR),
            anchor_id=self.anchor_id,
            issuers=issuers,
            scenes=scenes,
            now=self._stamp_trust_list(content, lifetime),
            lifetime=lifetime,
            ttl=ttl,
        )

    def _stamp_trust_list(self, content: str, lifetime: int) -> int:
        """The ``iat`` to sign ``content`` under: one content per second across workers.

        A verifier that keeps a history refuses a trust list as old as one it accepted
        but with other content (a rollback), so two workers, or one change right after a
        refresh, may never sign two contents in the same second. Each second is claimed
        for one content with the store's atomic once-value ``put``; a second already claimed
        by another content moves the ``iat`` one second on (at most
        :data:`MAX_TRUST_AHEAD` seconds past the clock). It never goes below the newest
        ``iat`` claimed, so a worker with a slow clock cannot publish an older list.
        """
        now = int(self._clock())
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest().encode("ascii")
        newest = self._store.once(TRUSTLIST_NEWEST).get("", now)
        known = int(newest) if newest is not None and newest.isdigit() else 0
        start = max(now, known)
        last = max(start, now + MAX_TRUST_AHEAD)
        claims = self._store.once(TRUSTLIST_IAT)
        for iat in range(start, last + 1):
            if claims.put(str(iat), digest, iat + lifetime + 1, now):
                break
            if claims.get(str(iat), now) == digest:
                break
        else:  # a burst past the bound: the last second (a verifier may wait one refresh)
            iat = last
        if iat > known:  # not atomic: two workers may race, and the lower may win briefly
            self._store.once(TRUSTLIST_NEWEST).put(
                "", str(iat).encode("ascii"), iat + lifetime + 1, now, replace=True
            )
        return iat
