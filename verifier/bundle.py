"""The verifier bundle: a signed trust list and the issuers' signed status lists.

``{"trust_list": "<trustlist+jwt>", "status_lists": ["<statuslist+jwt>", ...]}``.
Everything in it is signed, so it may travel by any channel. Loading checks the
trust list against the pinned anchor (a failure is misuse: :class:`BundleInvalid`)
and each status list against its issuer's keys from that trust list; a status
list that fails is left out and named in ``problems`` — its credentials then get
``status_unavailable``, never ``valid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keys import EcertError, TrustList, TrustListError, VerifyingKey, verify_trust_list
from keys.errors import FormatError
from keys.jsonstrict import loads_object
from keys.jws import parse_compact
from sdjwt import TYP_STATUS_LIST, StatusList
from verifier.errors import BundleInvalid

#: A bundle file larger than this is refused before parsing.
MAX_BUNDLE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LoadedStatusList:
    """A status list whose signature was checked against its issuer's trusted keys."""

    uri: str
    iss: str
    iat: int
    exp: int
    ttl: int | None
    statuses: StatusList


@dataclass(frozen=True, slots=True)
class Bundle:
    """A verified bundle."""

    trust_list: TrustList
    #: by ``(iss, sub)``: a list speaks only for its own issuer's credentials, so another
    #: trusted issuer's list with the same ``sub`` can never stand in for it.
    status_lists: Mapping[tuple[str, str], LoadedStatusList]
    problems: tuple[str, ...]


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


def load_bundle(bundle: Mapping[str, Any], anchor: VerifyingKey | Mapping[str, Any]) -> Bundle:
    """Verify a bundle against the pinned anchor key.

    Raises :class:`BundleInvalid` when it is malformed or its trust list does not
    verify; bad status lists are reported in :attr:`Bundle.problems`.
    """
    token = bundle.get("trust_list") if isinstance(bundle, Mapping) else None
    if not isinstance(token, str):
        raise BundleInvalid("the bundle has no 'trust_list' string")
    try:
        trust = verify_trust_list(token, anchor)
    except TrustListError as err:
        raise BundleInvalid(err.message) from err
    raw_lists = bundle.get("status_lists", [])
    if not isinstance(raw_lists, list):
        raise BundleInvalid("the bundle's 'status_lists' must be an array")
    lists: dict[tuple[str, str], LoadedStatusList] = {}
    problems: list[str] = []
    for n, item in enumerate(raw_lists):
        try:
            loaded = load_status_list_token(item, trust)
        except EcertError as err:
            problems.append(f"status list #{n} rejected: {err.message}")
            continue
        previous = lists.get((loaded.iss, loaded.uri))
        if previous is None or loaded.iat > previous.iat:
            lists[loaded.iss, loaded.uri] = loaded
    return Bundle(trust, lists, tuple(problems))


def load_status_list_token(token: object, trust: TrustList) -> LoadedStatusList:
    """Verify a ``statuslist+jwt`` with a key of the issuer named in its ``iss``.

    Raises :class:`~keys.errors.EcertError` subclasses on any failure.
    """
    if not isinstance(token, str):
        raise BundleInvalid("a status list must be a string")
    jws = parse_compact(token, typ=TYP_STATUS_LIST, max_length=128 * 1024 * 1024)
    payload = jws.payload
    iss, sub = payload.get("iss"), payload.get("sub")
    if not isinstance(iss, str) or not isinstance(sub, str):
        raise BundleInvalid("status list needs string 'iss' and 'sub'")
    issuer = trust.issuers.get(iss)
    if issuer is None:
        raise BundleInvalid("status list issuer is not in the trust list")
    kid = jws.header.get("kid")
    if not isinstance(kid, str) or kid in issuer.revoked_kids or kid not in issuer.keys:
        raise BundleInvalid("status list is not signed by a trusted key of its issuer")
    key = issuer.keys[kid]
    if key.alg != jws.header["alg"]:
        raise BundleInvalid("status list 'alg' does not match its key")
    key.verify(jws.signing_input, jws.signature)
    iat, exp, ttl = payload.get("iat"), payload.get("exp"), payload.get("ttl")
    if not isinstance(iat, int) or not isinstance(exp, int) or isinstance(iat, bool):
        raise BundleInvalid("status list 'iat' and 'exp' must be integers")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool)):
        raise BundleInvalid("status list 'ttl' must be an integer")
    body = payload.get("status_list")
    bits = body.get("bits") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(bits, int) or isinstance(bits, bool):
        raise BundleInvalid("status list has no 'status_list' with integer 'bits'")
    statuses = StatusList.decode(body.get("lst"), bits)
    return LoadedStatusList(sub, iss, iat, exp, ttl, statuses)
