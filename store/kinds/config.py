"""Configuration values: a few named, typed settings of the instance, one accessor each.

Every name kept in the config table (SQLite) or hash (Redis) is declared here, so that
no two callers can pick the same string for different things. The names and the stored
bytes are those written before the accessors existed (no migration):

=============================  ==================================================
``trust_version``              16 hex digits, new whenever the trust list's
                               content changes (:meth:`ConfigStore.bump_trust_version`)
``base_url``                   the service's base URL, UTF-8: the first one kept wins
``scenes``                     the operator's scene policies, a JSON array (UTF-8)
``pseudonyms``                 ``v1`` once citizens were moved to pseudonyms
``idempotency_hmac_since``     decimal seconds: when idempotency entries were first
                               named by a keyed HMAC (:mod:`service.issuance`); the
                               first one kept wins
``status_version:<uri>``       16 hex digits, new whenever a status in the list
                               at ``<uri>`` changes
``status_stamp:<uri>``         (SQLite only, written by the status-list kind) the
``status_stamp_bytes:<uri>``   last stamp of a list and the bytes stamped
=============================  ==================================================
"""

from __future__ import annotations

import secrets
from typing import Protocol, runtime_checkable

from store.errors import InvalidArgument

__all__ = [
    "BASE_URL",
    "KEYED_IDEMPOTENCY_SINCE",
    "CONFIG_NAMES",
    "MAX_BASE_URL",
    "MAX_CONFIG_VALUE",
    "MAX_URI",
    "PSEUDONYMS",
    "PSEUDONYMS_DONE",
    "SCENES",
    "STATUS_STAMP_BYTES_PREFIX",
    "STATUS_STAMP_PREFIX",
    "STATUS_VERSION_PREFIX",
    "TRUST_VERSION",
    "ConfigStore",
    "check_base_url",
    "check_config_name",
    "check_config_value",
    "check_uri",
    "new_version",
    "parse_instant",
    "status_version_name",
]

#: Changed whenever what the trust list says changes (keys, issuers, scenes).
TRUST_VERSION = "trust_version"
#: The service's base URL (the trust list's ``iss``): the first one kept wins.
BASE_URL = "base_url"
#: The operator's scene policies (JSON); absent: the shipped defaults.
SCENES = "scenes"
#: Set once the instance's citizens are pseudonymous (:mod:`store.pseudonymize`).
PSEUDONYMS = "pseudonyms"
#: When idempotency entries were first named by a keyed HMAC (decimal seconds, ASCII).
KEYED_IDEMPOTENCY_SINCE = "idempotency_hmac_since"
#: The value :data:`PSEUDONYMS` holds once done.
PSEUDONYMS_DONE = b"v1"
#: ``status_version:<uri>``: changed whenever a status in the list at ``<uri>`` changes.
STATUS_VERSION_PREFIX = "status_version:"
#: ``status_stamp:<uri>`` and ``status_stamp_bytes:<uri>``: the last stamp of a status
#: list and its bytes (SQLite's status-list kind keeps them in the config table).
STATUS_STAMP_PREFIX = "status_stamp:"
STATUS_STAMP_BYTES_PREFIX = "status_stamp_bytes:"

#: The fixed names :meth:`ConfigStore.get_config` reads.
CONFIG_NAMES = frozenset({TRUST_VERSION, BASE_URL, SCENES, PSEUDONYMS, KEYED_IDEMPOTENCY_SINCE})

#: Longest base URL, status-list URI, and stored value (the scene policies are the
#: largest: a few kilobytes).
MAX_BASE_URL = 2048
MAX_URI = 2048
MAX_CONFIG_VALUE = 1 << 20


def new_version() -> bytes:
    """A fresh opaque version value: 16 random hex digits (ASCII), as written before."""
    return secrets.token_hex(8).encode("ascii")


def parse_instant(raw: bytes | None, default: int) -> int:
    """A kept instant (decimal seconds, ASCII), or ``default`` if absent or unreadable."""
    if raw is None or not 1 <= len(raw) <= 20 or not raw.isdigit():
        return int(default)
    return int(raw)


def check_uri(uri: str) -> str:
    """``uri`` if it is a non-empty string of at most :data:`MAX_URI` characters;
    raises :class:`InvalidArgument` otherwise."""
    if not isinstance(uri, str) or not 1 <= len(uri) <= MAX_URI:
        raise InvalidArgument(f"a status list URI has 1 to {MAX_URI} characters")
    return uri


def status_version_name(uri: str) -> str:
    """The config name of the version of the status list at ``uri``."""
    return STATUS_VERSION_PREFIX + check_uri(uri)


def check_base_url(url: str) -> bytes:
    """``url`` as stored (UTF-8); raises :class:`InvalidArgument` for a value that is not
    a non-empty string of at most :data:`MAX_BASE_URL` characters, or holds controls."""
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_BASE_URL:
        raise InvalidArgument(f"a base URL has 1 to {MAX_BASE_URL} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidArgument("a base URL holds no control characters")
    try:
        return url.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("a base URL is valid Unicode text") from None


def check_config_name(name: str) -> str:
    """``name`` if it is one of :data:`CONFIG_NAMES`; raises :class:`InvalidArgument`."""
    if name not in CONFIG_NAMES:
        raise InvalidArgument(f"not a declared config name: {str(name)[:40]!r}")
    return name


def check_config_value(value: bytes) -> bytes:
    """``value`` as bytes; raises :class:`InvalidArgument` for anything but bytes of at
    most :data:`MAX_CONFIG_VALUE`."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgument("a config value is bytes")
    got = bytes(value)
    if len(got) > MAX_CONFIG_VALUE:
        raise InvalidArgument(f"a config value has at most {MAX_CONFIG_VALUE} bytes")
    return got


@runtime_checkable
class ConfigStore(Protocol):
    """The instance's settings kept in the store, one typed accessor each; each call
    atomic. Raise :class:`StoreUnavailable`, or :class:`InvalidArgument` for an input out
    of bounds."""

    def trust_version(self) -> bytes | None:
        """The trust list's content version (opaque), or None before any change."""

    def bump_trust_version(self) -> bytes:
        """Record that the trust list's content changed; the new version."""

    def base_url(self) -> str | None:
        """The base URL kept for the instance, or None before the first."""

    def set_base_url(self, url: str) -> str:
        """Keep ``url`` unless a base URL is kept already (the first wins, also between
        workers racing); the base URL kept."""

    def scene_policies(self) -> bytes | None:
        """The operator's scene policies (a JSON array, UTF-8), or None: the defaults."""

    def put_scene_policies(self, value: bytes) -> None:
        """Replace the scene policies (the caller has checked them)."""

    def status_list_version(self, uri: str) -> bytes | None:
        """The version (opaque) of the status list at ``uri``, or None before any change."""

    def bump_status_list_version(self, uri: str) -> bytes:
        """Record that a status in the list at ``uri`` changed; the new version."""

    def pseudonyms_done(self) -> bool:
        """Whether the instance's citizens were moved to pseudonyms."""

    def mark_pseudonyms_done(self) -> None:
        """Record that the instance's citizens are pseudonymous."""

    def keyed_idempotency_since(self, now: int) -> int:
        """When idempotency entries were first named by a keyed HMAC: ``now`` unless an
        instant is kept already (the first wins, also between workers racing); the
        instant kept. An unreadable kept value counts as ``now``."""

    def get_config(self, name: str) -> bytes | None:
        """The raw value of one of :data:`CONFIG_NAMES`, or None.

        Kept only for ``service/verification.py``, which reads ``trust_version`` with it
        (prefer :meth:`trust_version`). Raises :class:`InvalidArgument` for any other
        name.
        """
