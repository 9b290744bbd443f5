"""An ecert instance: the folder with the SQLite file and the key secret, or Redis.

Configuration, in order: command-line flags, then ``ECERT_*`` environment
variables, then defaults:

* ``ECERT_INSTANCE`` — the instance folder (default ``./instance``);
* ``ECERT_REDIS_URL`` — use Redis instead of ``<instance>/ecert.db``;
* ``ECERT_REDIS_CLUSTER`` — ``1`` (or ``true``/``yes``): ``ECERT_REDIS_URL`` names any
  node of a Redis Cluster and the store uses the cluster client (docs/scaling.md);
* ``ECERT_KEY_SECRET`` — the key-encryption key (base64url, 256 bits); without it the
  file ``<instance>/secret.key`` (mode 0600) is used, created on first use;
* ``ECERT_BASE_URL`` — the public base URL (default ``http://127.0.0.1:8000``). Issuer
  identifiers (``iss``) are built from it, so the first value an instance uses is kept
  in its store and wins afterwards.

Citizens are kept under pseudonyms (:mod:`keys.pseudonym`, keys derived from the
secret): :attr:`Instance.pseudonyms` is handed to the vault, the issuer and the
accounts. An instance made before pseudonyms is migrated in place when it is opened,
once (:mod:`store.pseudonymize`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from issuer import (
    CredentialIssuer,
    Keyring,
    NoSigningKey,
    Platform,
    StatusRegistry,
)
from issuer.keyring import TRUST_VERSION
from issuer.status import status_version
from keys import KeySecretMissing, KeyWrapper, derive_key, generate_secret
from keys.b64 import b64url_decode
from keys.errors import NotFound
from keys.pseudonym import Pseudonyms
from store import Store, open_store
from store.errors import InvalidArgument
from store.pseudonymize import pseudonymize
from wallet import WalletVault

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass
class Instance:
    """The domain objects over one store (the CLI's and the HTTP service's)."""

    path: Path
    store: Store
    keyring: Keyring
    platform: Platform
    status: StatusRegistry
    issuer: CredentialIssuer
    vault: WalletVault
    _secret: str = field(repr=False)
    #: uri -> (monotonic time signed, status version, token, its iat)
    _published: dict[str, tuple[float, bytes | None, str, int]] = field(
        default_factory=dict, repr=False
    )
    _trust: tuple[float, bytes | None, str] | None = field(default=None, repr=False)
    #: Citizen id -> pseudonym, and the sealing of a session's citizen id.
    pseudonyms: Pseudonyms = field(default_factory=Pseudonyms.none, repr=False)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def derive_key(self, label: str) -> bytes:
        """A 256-bit key for one purpose, derived from the instance's secret (HKDF)."""
        return derive_key(self._secret, label)

    def published_status_list(self, uri: str, *, max_age: float = 60.0) -> str:
        """The signed status list at ``uri``: re-signed when a status in it changes, and
        at least every ``max_age`` seconds (so that ``iat``/``exp`` stay fresh).

        Signing a large list costs tens of milliseconds and verifiers fetch it far more
        often than it changes. Raises :class:`~keys.errors.NotFound` for an
        unknown list and :class:`~issuer.errors.NoSigningKey`.
        """
        now = time.monotonic()
        version = status_version(self.store, uri)
        cached = self._published.get(uri)
        # Another worker may have published a newer iat (same or new content) since this
        # one cached its token: never hand out an iat older than one already published.
        if (
            cached is not None
            and cached[1] == version
            and now - cached[0] < max_age
            and cached[3] >= (self.store.last_status_stamp(uri) or 0)
        ):
            return cached[2]
        record = self.store.get_status_list(uri)
        if record is None:
            raise NotFound(f"no status list {uri}")
        token = self.status.publish(uri, self.keyring.signing_key(record.issuer))
        self._published[uri] = (now, version, token, _iat(token))
        return token

    def published_trust_list(self, *, max_age: float = 60.0) -> str:
        """The signed trust list, re-signed when its content changes or after ``max_age`` s."""
        now = time.monotonic()
        version = self.store.get_config(TRUST_VERSION)
        cached = self._trust
        if cached is not None and cached[1] == version and now - cached[0] < max_age:
            return cached[2]
        token = self.platform.trust_list()
        self._trust = (now, version, token)
        return token

    def published_bundle(self) -> dict[str, Any]:
        """The verifier bundle from the cached trust list and status lists.

        Issuers without an active key (just compromised) are left out of the status
        lists, as :meth:`issuer.Platform.status_list_tokens` does.
        """
        lists: list[str] = []
        for record in self.store.list_status_lists():
            try:
                lists.append(self.published_status_list(record.uri))
            except NoSigningKey:
                continue
        return {"trust_list": self.published_trust_list(), "status_lists": lists}


def _iat(token: str) -> int:
    """The ``iat`` of a token this instance has just signed."""
    payload = json.loads(b64url_decode(token.split(".")[1]))
    return int(payload["iat"])


def _secret(path: Path, *, create: bool, given: str | None = None) -> str:
    env = given or os.environ.get("ECERT_KEY_SECRET")
    if env:
        return env
    secret_file = path / "secret.key"
    if secret_file.exists():
        return secret_file.read_text(encoding="ascii").strip()
    if not create:
        raise KeySecretMissing(
            f"no key-encryption secret: set ECERT_KEY_SECRET or restore {secret_file} "
            "(the store holds keys wrapped under it; a new secret cannot open them)"
        )
    secret = generate_secret()
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
    return secret


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def parse_flag(value: bool | str | int | None, name: str) -> bool:
    """A yes/no setting: a bool, 0/1, or ``1``/``true``/``yes``/``on`` and
    ``0``/``false``/``no``/``off``/empty in any case. Raises :class:`StoreError` otherwise
    (a typo must not silently pick the single-node client)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidArgument(f"{name} must be 1 or 0 (true or false)")


def open_instance(
    path: str | Path | None = None,
    *,
    base_url: str | None = None,
    create: bool = True,
    redis_url: str | None = None,
    redis_cluster: bool | str | int | None = None,
    key_secret: str | None = None,
) -> Instance:
    """Open (and, with ``create``, set up) an instance.

    Raises :class:`~keys.errors.KeySecretMissing` when no secret can be found and
    ``create`` is false, and :class:`~store.StoreError` when the store cannot be opened.
    """
    folder = Path(path or os.environ.get("ECERT_INSTANCE") or "instance")
    if create:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    redis_url = redis_url or os.environ.get("ECERT_REDIS_URL")
    if redis_cluster is None:
        redis_cluster = os.environ.get("ECERT_REDIS_CLUSTER")
    cluster = parse_flag(redis_cluster, "ECERT_REDIS_CLUSTER")
    if cluster and not redis_url:
        raise InvalidArgument("ECERT_REDIS_CLUSTER needs ECERT_REDIS_URL (any node of the cluster)")
    store = open_store(redis_url or f"sqlite:///{folder / 'ecert.db'}", cluster=cluster)
    try:
        # A new secret next to keys wrapped under the old one would only make every
        # later command fail: refuse, and say what to restore.
        has_keys = bool(store.list_keys())
        secret = _secret(folder, create=create and not has_keys, given=key_secret)
        wrapper = KeyWrapper(secret)
    except BaseException:
        store.close()
        raise
    keyring = Keyring(store, wrapper)
    # Issuer URLs embed the base URL, so the first one used is kept in the store.
    stored = store.get_config("base_url")
    if stored is not None:
        url = stored.decode("utf-8")
    else:
        url = base_url or os.environ.get("ECERT_BASE_URL") or DEFAULT_BASE_URL
        store.put_config("base_url", url.encode("utf-8"))
    platform = Platform(store, keyring, base_url=url)
    status = StatusRegistry(store)
    pseudonyms = Pseudonyms.from_secret(lambda label: derive_key(secret, label))
    try:
        # Records of an instance made before pseudonyms: moved once, resumably.
        pseudonymize(store, pseudonyms.of, pseudonyms.seal)
    except BaseException:
        store.close()
        raise
    vault = WalletVault(store, derive_key(secret, "ecert/wallet-keys/v1"), pseudonyms=pseudonyms)
    return Instance(
        folder,
        store,
        keyring,
        platform,
        status,
        CredentialIssuer(store, keyring, status, pseudonyms=pseudonyms),
        vault,
        secret,
        pseudonyms=pseudonyms,
    )
