"""Where a verifier gets what it trusts: issuer keys by ``iss`` + ``kid``, the scenes,
and the status of a credential.

:class:`TrustSource` is the one thing a :class:`~verifier.Verifier` reads. Its key
resolver works in the spirit of sd-jwt-python's issuer-key callback and joserfc's
``KeyFlexible``: the verifier names the ``iss`` and ``kid`` of an unverified token and
gets back a key from trusted configuration, or a stable error; the token never brings
its own key. Two sources ship:

* :class:`BundleTrustSource`: a signed bundle checked against the pinned anchor
  (offline, today's behaviour: rollback guard, status lists left out with a reason);
* :class:`LiveTrustSource`: a :class:`~keys.trustlist.TrustList` object held in
  memory plus a live status source (the online service: nothing to sign or re-parse).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from keys import TrustList, VerifyingKey
from keys.trustlist import Scene, TrustedIssuer
from verifier.bundle import Bundle, load_bundle, record_bundle
from verifier.errors import KeyCompromised, UnknownIssuer, UnknownKey, UnknownScene
from verifier.history import StatusHistory
from verifier.status import BundleStatusSource, StatusSource


class TrustSource(StatusSource, Protocol):
    """What a verifier trusts. Every lookup answers from trusted data or raises.

    ``issuer_key`` raises :class:`~verifier.errors.UnknownIssuer` (``unknown_issuer``),
    :class:`~verifier.errors.UnknownKey` (``unknown_key``) or
    :class:`~verifier.errors.KeyCompromised` (``key_compromised``); ``scene`` raises
    :class:`~verifier.errors.UnknownScene`; ``lookup`` (the status of a credential,
    see :class:`~verifier.status.StatusSource`) raises ``StatusUnavailable`` or
    ``StatusStale``.
    """

    def issuer_key(self, iss: str, kid: str | None) -> VerifyingKey:
        """The trusted key ``kid`` of issuer ``iss``."""
        ...

    def may_issue(self, iss: str, vct: str) -> bool:
        """Whether issuer ``iss`` is authorised for the credential type ``vct``."""
        ...

    def may_answer(self, iss: str, proof_type: str) -> bool:
        """Whether issuer ``iss`` is authorised to answer the proof type ``proof_type``."""
        ...

    def scene(self, name: str) -> Scene:
        """The policy of scene ``name``."""
        ...

    def scene_ids(self) -> Sequence[str]:
        """The ids of the scenes this source defines."""
        ...

    @property
    def expires_at(self) -> float | None:
        """When the trusted data stops being current (``trust_list_stale`` after), or None."""
        ...


@runtime_checkable
class HasTrustList(Protocol):
    """A trust source backed by a :class:`~keys.trustlist.TrustList` (both shipped ones)."""

    @property
    def trust_list(self) -> TrustList:
        """The trust list the source answers from."""
        ...


class _TrustListSource:
    """The lookups of a :class:`TrustSource` over a :class:`TrustList`."""

    __slots__ = ("_issuers", "_scenes", "_status", "trust_list")

    def __init__(self, trust_list: TrustList, status: StatusSource) -> None:
        self.trust_list = trust_list
        self._issuers: Mapping[str, TrustedIssuer] = trust_list.issuers
        self._scenes: Mapping[str, Scene] = trust_list.scenes
        self._status = status

    def issuer_key(self, iss: str, kid: str | None) -> VerifyingKey:
        """See :meth:`TrustSource.issuer_key`."""
        issuer = self._issuers.get(iss)
        if issuer is None:
            raise UnknownIssuer("the issuer is not in the trust list")
        if kid is None:
            raise UnknownKey("the credential names no key ('kid')")
        if kid in issuer.revoked_kids:
            raise KeyCompromised("the issuer's signing key was reported compromised")
        key = issuer.keys.get(kid)
        if key is None:
            raise UnknownKey("the signing key is not among the issuer's published keys")
        return key

    def may_issue(self, iss: str, vct: str) -> bool:
        """See :meth:`TrustSource.may_issue`."""
        issuer = self._issuers.get(iss)
        return issuer is not None and vct in issuer.vcts

    def may_answer(self, iss: str, proof_type: str) -> bool:
        """See :meth:`TrustSource.may_answer`."""
        issuer = self._issuers.get(iss)
        return issuer is not None and proof_type in issuer.proof_types

    def scene(self, name: str) -> Scene:
        """See :meth:`TrustSource.scene`."""
        policy = self._scenes.get(name)
        if policy is None:
            raise UnknownScene(f"unknown scene {name!r}")
        return policy

    def scene_ids(self) -> list[str]:
        """See :meth:`TrustSource.scene_ids`."""
        return list(self._scenes)

    @property
    def expires_at(self) -> float | None:
        """The trust list's ``exp``."""
        return self.trust_list.exp

    def lookup(self, iss: str, uri: str, idx: int, now: float) -> int:
        """See :meth:`~verifier.status.StatusSource.lookup`."""
        return self._status.lookup(iss, uri, idx, now)


class BundleTrustSource(_TrustListSource):
    """A signed bundle (trust list + status lists) verified against the pinned anchor."""

    __slots__ = ("bundle",)

    def __init__(self, bundle: Bundle) -> None:
        super().__init__(bundle.trust_list, BundleStatusSource(bundle.status_lists, bundle.dropped))
        self.bundle = bundle

    @classmethod
    def load(
        cls,
        bundle: Mapping[str, Any],
        anchor: Mapping[str, Any] | VerifyingKey,
        *,
        history: StatusHistory,
        now: float,
    ) -> BundleTrustSource:
        """Verify ``bundle`` (see :func:`~verifier.bundle.load_bundle`) and record what is
        accepted in ``history`` (accepting is recording). Raises
        :class:`~verifier.errors.BundleInvalid` or
        :class:`~verifier.errors.StatusHistoryInvalid`."""
        loaded = load_bundle(bundle, anchor, history=history, now=now)
        record_bundle(history, loaded, now)
        return cls(loaded)


class LiveTrustSource(_TrustListSource):
    """A trust list held in memory (no signature: it never left the process) and a live
    status source, for the online service."""

    __slots__ = ()
