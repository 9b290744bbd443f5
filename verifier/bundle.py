"""The verifier bundle: a signed trust list and the issuers' signed status lists.

``{"trust_list": "<trustlist+jwt>", "status_lists": ["<statuslist+jwt>", ...]}``.
Everything in it is signed, so it may travel by any channel. Loading checks the
trust list against the pinned anchor (a failure is misuse: :class:`BundleInvalid`)
and each status list against its issuer's keys from that trust list; a status
list that fails is left out and named in ``problems`` — its credentials then get
``status_unavailable``, never ``valid``, with the reason it was left out.

Given a :class:`~verifier.history.StatusHistory`, a list older than the newest one
accepted before for its ``(iss, uri)`` (or as old, with other content) is a rollback:
it is left out the same way (IETF Token Status List, security considerations). A
trust list older than the newest one accepted before for its anchor (``iss``), or as
old with other content, refuses the whole bundle (:class:`BundleInvalid`): there is
no other trust list to fall back to, and an older one could bring back a revoked key
or a removed issuer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keys import EcertError, TrustList, TrustListError, VerifyingKey, verify_trust_list
from keys.errors import FormatError
from keys.jsonstrict import loads_object
from keys.jws import parse_compact, verify_compact
from keys.numericdate import numeric_date
from sdjwt import TYP_STATUS_LIST, StatusList
from verifier.errors import BundleInvalid
from verifier.history import (
    MAX_STATUS_LIFETIME,
    StatusHistory,
    StatusMark,
    payload_digest,
    rollback_reason,
    trust_rollback_reason,
)

#: A bundle file larger than this is refused before parsing.
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
#: How far in the future a status list's ``iat`` may lie when ``now`` is known (s).
STATUS_FUTURE_SKEW = 300
#: Largest status-list token accepted, in characters.
MAX_STATUS_LIST = 128 * 1024 * 1024
#: NumericDate bound: integers a JSON number holds exactly (RFC 7519, I-JSON).
_MAX_INT = 2**53


@dataclass(frozen=True, slots=True)
class LoadedStatusList:
    """A status list whose signature was checked against its issuer's trusted keys."""

    uri: str
    iss: str
    iat: int
    exp: int
    ttl: int | None
    statuses: StatusList
    #: ``sha256:<hex>`` of the signed payload (the rollback guard's digest).
    digest: str = ""

    @property
    def mark(self) -> StatusMark:
        """What a :class:`~verifier.history.StatusHistory` remembers of this list."""
        return StatusMark(self.iat, self.digest)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A verified bundle."""

    trust_list: TrustList
    #: by ``(iss, sub)``: a list speaks only for its own issuer's credentials, so another
    #: trusted issuer's list with the same ``sub`` can never stand in for it.
    status_lists: Mapping[tuple[str, str], LoadedStatusList]
    problems: tuple[str, ...]
    #: why a list was left out, by the ``(iss, sub)`` it claimed (unverified when its
    #: signature failed; ``iss`` "" when it had none): what a credential on it is told
    #: instead of "no list".
    dropped: Mapping[tuple[str, str], str] = field(default_factory=dict)


def read_bundle_file(path: str | Path) -> dict[str, Any]:
    """Read a bundle JSON file. Raises :class:`BundleInvalid`."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BUNDLE_BYTES + 1)
    except OSError as err:
        raise BundleInvalid(f"cannot read the bundle file: {err.strerror}") from err
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleInvalid("the bundle file is too large")
    try:
        return loads_object(data, max_bytes=MAX_BUNDLE_BYTES)
    except FormatError as err:
        raise BundleInvalid(f"the bundle file is not a usable JSON object: {err.message}") from err


def load_bundle(
    bundle: Mapping[str, Any],
    anchor: VerifyingKey | Mapping[str, Any],
    *,
    history: StatusHistory | None = None,
    now: float | None = None,
) -> Bundle:
    """Verify a bundle against the pinned anchor key.

    Raises :class:`BundleInvalid` when it is malformed or its trust list does not
    verify; bad status lists are reported in :attr:`Bundle.problems` and
    :attr:`Bundle.dropped`. With ``history``, rolled-back status lists are left out
    too, and a rolled-back trust list raises :class:`BundleInvalid`; nothing is
    recorded in it (the caller records what it accepts, see :func:`record_bundle`).
    With ``now``, a list whose ``iat`` lies more than :data:`STATUS_FUTURE_SKEW`
    seconds after it is left out (it would otherwise lock the history onto a future
    date).
    """
    token = bundle.get("trust_list") if isinstance(bundle, Mapping) else None
    if not isinstance(token, str):
        raise BundleInvalid("the bundle has no 'trust_list' string")
    try:
        trust = verify_trust_list(token, anchor)
    except TrustListError as err:
        raise BundleInvalid(err.message) from err
    if history is not None:
        rollback = trust_rollback_reason(
            trust.iss, history.newest_trust_list(trust.iss), trust_list_mark(trust)
        )
        if rollback is not None:
            raise BundleInvalid(rollback)
    raw_lists = bundle.get("status_lists", [])
    if not isinstance(raw_lists, list):
        raise BundleInvalid("the bundle's 'status_lists' must be an array")
    lists: dict[tuple[str, str], LoadedStatusList] = {}
    problems: list[str] = []
    dropped: dict[tuple[str, str], str] = {}
    conflicts: dict[tuple[str, str], int] = {}
    for n, item in enumerate(raw_lists):
        try:
            loaded = load_status_list_token(item, trust)
            if now is not None and loaded.iat > now + STATUS_FUTURE_SKEW:
                raise BundleInvalid(
                    f"status list {loaded.uri} of {loaded.iss} is dated in the future "
                    f"(iat {loaded.iat})"
                )
        except EcertError as err:
            problems.append(f"status list #{n} rejected: {err.message}")
            claimed = _claimed_key(item)
            if claimed is not None:
                dropped.setdefault(claimed, err.message)
            continue
        key = (loaded.iss, loaded.uri)
        previous = lists.get(key)
        if previous is not None and previous.iat == loaded.iat:
            if previous.digest != loaded.digest:
                conflicts[key] = loaded.iat
        elif previous is None or loaded.iat > previous.iat:
            lists[key] = loaded
    for key, iat in conflicts.items():
        if lists[key].iat == iat:  # not superseded by a newer list of the bundle
            why = f"status list {key[1]} of {key[0]}: two lists with iat {iat} and other content"
            problems.append(why)
            dropped[key] = why
            del lists[key]
    if history is not None:
        for key, loaded in list(lists.items()):
            rollback = rollback_reason(loaded.iss, loaded.uri, history.newest(*key), loaded.mark)
            if rollback is not None:
                problems.append(rollback)
                dropped[key] = rollback
                del lists[key]
    for key in lists:
        dropped.pop(key, None)  # a good list of the same key stands: no reason to give
    return Bundle(trust, lists, tuple(problems), dropped)


def trust_list_mark(trust: TrustList) -> StatusMark:
    """What a :class:`~verifier.history.StatusHistory` remembers of a trust list."""
    return StatusMark(trust.iat, payload_digest(trust.token.split(".")[1]))


def record_bundle(history: StatusHistory, bundle: Bundle, now: float) -> None:
    """Record an accepted bundle in ``history``: its status lists and its trust list."""
    history.record(
        {k: sl.mark for k, sl in bundle.status_lists.items()},
        now,
        trust_lists={bundle.trust_list.iss: trust_list_mark(bundle.trust_list)},
    )


def _claimed_key(token: object) -> tuple[str, str] | None:
    """The ``(iss, sub)`` a rejected status list claims, if its payload says so."""
    if not isinstance(token, str):
        return None
    try:
        payload = parse_compact(token, typ=TYP_STATUS_LIST, max_length=MAX_STATUS_LIST).payload
    except (EcertError, RecursionError, ValueError):
        return None
    iss, sub = payload.get("iss"), payload.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 2048:
        return None
    # without a usable iss the reason is kept for the uri alone ("" as the issuer)
    return (iss if isinstance(iss, str) and len(iss) <= 2048 else ""), sub


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_INT


def load_status_list_token(token: object, trust: TrustList) -> LoadedStatusList:
    """Verify a ``statuslist+jwt`` with a key of the issuer named in its ``iss``.

    The list needs ``iss`` (an issuer of the trust list), ``sub`` (its URI), a ``kid``
    of a trusted key of that issuer, integer ``iat`` and ``exp`` within ±2^53 with
    ``iat <= exp <= iat + 366 days``, and, if present, a non-negative integer ``ttl``.
    Raises :class:`~keys.errors.EcertError` subclasses on any failure.
    """
    if not isinstance(token, str):
        raise BundleInvalid("a status list must be a string")

    def issuer_key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> VerifyingKey:
        iss, sub = payload.get("iss"), payload.get("sub")
        if not isinstance(iss, str) or not isinstance(sub, str) or not iss or not sub:
            raise BundleInvalid("status list needs string 'iss' and 'sub'")
        issuer = trust.issuers.get(iss)
        if issuer is None:
            raise BundleInvalid("status list issuer is not in the trust list")
        kid = header.get("kid")
        if not isinstance(kid, str) or kid in issuer.revoked_kids or kid not in issuer.keys:
            raise BundleInvalid("status list is not signed by a trusted key of its issuer")
        key = issuer.keys[kid]
        if key.alg != header["alg"]:
            raise BundleInvalid("status list 'alg' does not match its key")
        return key

    jws = verify_compact(token, TYP_STATUS_LIST, issuer_key, max_length=MAX_STATUS_LIST)
    payload = jws.payload
    iss, sub = payload["iss"], payload["sub"]
    iat = numeric_date(payload, "iat", integer=True, where="the status list")
    exp = numeric_date(payload, "exp", integer=True, where="the status list")
    assert isinstance(iat, int) and isinstance(exp, int)  # for mypy: integer=True checked it
    ttl = payload.get("ttl")
    if exp < iat:
        raise BundleInvalid("status list 'exp' is before its 'iat'")
    if exp - iat > MAX_STATUS_LIFETIME:
        raise BundleInvalid("status list 'exp' is more than a year after its 'iat'")
    if "ttl" in payload and (not _is_int(ttl) or not isinstance(ttl, int) or ttl < 0):
        raise BundleInvalid("status list 'ttl' must be a non-negative integer")
    body = payload.get("status_list")
    bits = body.get("bits") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(bits, int) or isinstance(bits, bool):
        raise BundleInvalid("status list has no 'status_list' with integer 'bits'")
    statuses = StatusList.decode(body.get("lst"), bits)
    digest = payload_digest(token.split(".", 2)[1].encode("ascii"))
    return LoadedStatusList(sub, iss, iat, exp, ttl, statuses, digest)
