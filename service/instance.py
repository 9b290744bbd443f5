"""The container of one ecert instance, opened from :class:`~service.settings.Settings`.

::

    with Ecert.open(settings) as ecert:
        ecert.issuance.issue(...)

:class:`Ecert` holds the store (the SQLite file in the instance folder, or Redis), the
domain objects over it (keyring, platform, status registry, credential issuer, wallet
vault, presentations) and the use cases (:mod:`service.accounts`,
:mod:`service.issuance`, :mod:`service.verification`, :mod:`service.publication`,
:mod:`service.wallets`, :mod:`service.devices`; the jobs :mod:`service.jobs` with
:mod:`service.reissue` and :mod:`service.notices`; a key compromise and its re-issue,
:mod:`service.compromise`, with the citizen directory :mod:`service.directory`).
Closing it (leaving the ``with`` block, also on an exception) closes the store. The
HTTP service keeps one per app (:mod:`api.services`); each CLI command opens one.

The key-encryption secret is ``Settings.key_secret`` or the file
``<instance>/secret.key`` (mode 0600), created on first use. Issuer identifiers
(``iss``) are built from the base URL, so the first one an instance uses is kept in its
store and wins afterwards.

Citizens are kept under pseudonyms (:mod:`keys.pseudonym`, keys derived from the
secret): :attr:`Ecert.pseudonyms` is handed to the vault, the issuer and the accounts.
An instance made before pseudonyms is migrated in place when it is opened, once
(:mod:`store.pseudonymize`).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

from argon2 import PasswordHasher

from issuer import CredentialIssuer, Keyring, Platform, StatusRegistry
from keys import KeySecretMissing, KeyWrapper, derive_key, generate_secret
from keys.pseudonym import Pseudonyms
from service.accounts import LOGIN_KEY_LABEL, Accounts
from service.audit import AUDIT_KEY_LABEL, AUDIT_TAG_KEY_LABEL, AuditLog
from service.batches import MARK_KEY_LABEL as BATCH_MARK_KEY_LABEL
from service.batches import Batches
from service.changes import Changes
from service.compromise import REISSUE_IDS_KEY_LABEL, KeyCompromise, ReissueHandler
from service.consents import CONSENTS_KEY_LABEL, Consents
from service.derived import Derived
from service.devices import COPY_KEY_LABEL, Devices
from service.directory import DIRECTORY_KEY_LABEL, CitizenDirectory
from service.issuance import IDEMPOTENCY_KEY_LABEL, Issuance
from service.jobs import JOBS_KEY_LABEL, Jobs
from service.links import LINKS_KEY_LABEL, Links
from service.notices import NOTICES_KEY_LABEL, Notices
from service.oid4vci import MAC_KEY_LABEL as OID4VCI_MAC_KEY_LABEL
from service.oid4vci import SEAL_KEY_LABEL as OID4VCI_SEAL_KEY_LABEL
from service.oid4vci import Oid4vci
from service.oid4vp import KEY_LABEL as OID4VP_KEY_LABEL
from service.oid4vp import SIGNING_LABEL as OID4VP_SIGNING_LABEL
from service.oid4vp import VpRequests
from service.presentations import KEY_LABEL as QR_KEY_LABEL
from service.presentations import QrPresentations
from service.proofs import PROOFS_KEY_LABEL, Proofs
from service.publication import Publication
from service.receipts import RECEIPTS_KEY_LABEL, Receipts
from service.reissue import Reissue
from service.settings import DEFAULT_BASE_URL, Settings
from service.stats import Counters, Stats
from service.uses import Uses
from service.verification import OnlineVerifier, Verification
from service.wallets import Wallets
from store import Store, open_store
from store.pseudonymize import pseudonymize
from wallet import WalletVault

__all__ = ["DEFAULT_BASE_URL", "Ecert", "Instance", "open_instance"]


class Ecert:
    """One instance: its store, domain objects and use cases (see the module doc)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        secret: str,
        base_url: str,
    ) -> None:
        self.settings = settings
        self.path = settings.instance
        self.store = store
        self._secret = secret
        wrapper = KeyWrapper(secret)
        self.keyring = Keyring(store, wrapper)
        self.platform = Platform(store, self.keyring, base_url=base_url)
        self._status = StatusRegistry(store)
        #: Citizen id -> pseudonym, and the sealing of a session's citizen id.
        self.pseudonyms = Pseudonyms.from_secret(lambda label: derive_key(secret, label))
        self.issuer = CredentialIssuer(
            store, self.keyring, self._status, pseudonyms=self.pseudonyms
        )
        #: Pseudonym -> citizen id, sealed: for jobs that name no citizen (a re-issue).
        self.directory = CitizenDirectory(
            store, derive_key(secret, DIRECTORY_KEY_LABEL), self.pseudonyms
        )
        self.vault = WalletVault(
            store,
            derive_key(secret, "ecert/wallet-keys/v1"),
            pseudonyms=self.pseudonyms,
            on_create=self.directory.remember,
        )
        params: dict[str, Any] = dict(settings.password_hasher_params or {})
        self.accounts = Accounts(
            store,
            hasher=PasswordHasher(**params) if params else None,
            counter_key=derive_key(secret, LOGIN_KEY_LABEL),
            policy=settings.login_policy,
            pseudonyms=self.pseudonyms,
            on_citizen=self.directory.remember,
        )
        self.presentations = QrPresentations(
            store, derive_key(secret, QR_KEY_LABEL), self.platform.base_url
        )
        self.publication = Publication(store, self.keyring, self.platform, self._status)
        self.devices = Devices(
            store,
            self.issuer,
            self.vault,
            self.pseudonyms,
            base_url=self.platform.base_url,
            copy_key=derive_key(secret, COPY_KEY_LABEL),
            max_devices=settings.max_devices,
        )
        #: The operator's daily counters (issuances, verifications, proof queries)
        #: and the statistics read from them (:mod:`service.stats`).
        self.counters = Counters(store)
        self.issuance = Issuance(
            store,
            self.issuer,
            self.vault,
            self.accounts,
            idempotency_key=derive_key(secret, IDEMPOTENCY_KEY_LABEL),
            devices=self.devices,
            counters=self.counters,
        )
        #: OpenID4VCI 1.0 issuance: offers, token, nonce and credential endpoints.
        self.oid4vci = Oid4vci(
            store,
            self.issuer,
            self.accounts,
            self.issuance,
            base_url=self.platform.base_url,
            seal_key=derive_key(secret, OID4VCI_SEAL_KEY_LABEL),
            mac_key=derive_key(secret, OID4VCI_MAC_KEY_LABEL),
            counters=self.counters,
        )
        #: every use of a citizen's data (verifications, proof queries) is published
        #: here; the audit chain and the counters listen (:mod:`service.uses`)
        self.uses = Uses()
        #: the audit chain: every use appended, verifiable, exportable (:mod:`service.audit`)
        self.audit = AuditLog(
            store,
            derive_key(secret, AUDIT_KEY_LABEL),
            derive_key(secret, AUDIT_TAG_KEY_LABEL),
            self.platform,
        )
        self.uses.subscribe(self.audit.record)
        self.uses.subscribe(self.counters.on_use)
        self.verification = Verification(
            OnlineVerifier(store, self.platform, uses=self.uses), self.presentations
        )
        #: Venues' OpenID4VP 1.0 requests answered by citizens' wallets (:mod:`service.oid4vp`).
        self.vp_requests = VpRequests(
            store,
            self.verification,
            self.vault,
            key=derive_key(secret, OID4VP_KEY_LABEL),
            signing_seed=derive_key(secret, OID4VP_SIGNING_LABEL),
            base_url=self.platform.base_url,
        )
        self.wallets = Wallets(
            store,
            self.vault,
            self.presentations,
            self.verification.online,
            self.pseudonyms,
            on_remove=self.devices.forget,
        )
        #: Guardians and carers (issue 12): link credentials and held-for copies.
        self.links = Links(
            store,
            self.issuer,
            self.vault,
            self.pseudonyms,
            self.platform,
            key=derive_key(secret, LINKS_KEY_LABEL),
            scenes=lambda: self.verification.online.verifier().trust_list.scenes,
            devices=self.devices,
            presentations=self.presentations,
        )
        self.issuance.links = self.links
        # a held-for copy stays with the service: never on a device, never re-issued by
        # a change of the holder's own fields
        self.devices.keep_off = self.links.is_held_copy
        #: Long work that survives a crash (change cascades, batches, re-issues).
        self.jobs = Jobs(
            store,
            derive_key(secret, JOBS_KEY_LABEL),
            lease=settings.job_lease,
            pace=settings.job_pace,
        )
        self.reissue = Reissue(store, self.issuer, self.vault, self.devices, self.pseudonyms)
        self.notices = Notices(store, derive_key(secret, NOTICES_KEY_LABEL), self.pseudonyms)
        #: A key reported compromised: revoked at once, and what it signed re-issued.
        self.compromise = KeyCompromise(store, self.keyring, self.jobs)
        self.jobs.register(
            ReissueHandler(
                store,
                self.reissue,
                self.directory,
                self.notices,
                derive_key(secret, REISSUE_IDS_KEY_LABEL),
                self.jobs,
            )
        )
        #: Change cascades (一处变更、处处变更): a department's change, every certificate.
        self.changes = Changes(
            store,
            wallets=self.wallets,
            vault=self.vault,
            accounts=self.accounts,
            jobs=self.jobs,
            reissue=self.reissue,
            notices=self.notices,
            pseudonyms=self.pseudonyms,
        )
        self.jobs.register(self.changes)
        #: Age and residence attestations derived from the ID card and the household
        #: register, issued alongside and kept in sync (:mod:`service.derived`).
        self.derived = Derived(
            store, self.issuance, self.vault, self.directory, city=settings.city
        )
        self.derived.attach(self.issuance, self.reissue)
        self.wallets.before_list = self.derived.refresh_due
        self.changes.held_copies = self.links.is_held_copy
        self.changes.links = self.links
        self.derived.held_copies = self.links.copy_ids
        # a card held for another is the other's: never presented alone, never a source
        self.wallets.held_copies = self.links.copy_ids
        self.vp_requests.held_copies = self.links.copy_ids
        self.reissue.links = self.links
        #: Proactive issuance: departments' batches into wallets, run as jobs.
        self.batches = Batches(
            store,
            self.jobs,
            self.issuance,
            self.wallets,
            self.notices,
            self.devices,
            mark_key=derive_key(secret, BATCH_MARK_KEY_LABEL),
        )
        self.jobs.register(self.batches)
        #: Consent to proof queries: departments ask, citizens approve, grant, withdraw.
        self.consents = Consents(
            store,
            derive_key(secret, CONSENTS_KEY_LABEL),
            self.pseudonyms,
            self.platform,
            notices=self.notices,
        )
        #: Proof queries (电子证明共享核查): a department's look-up, with consent.
        self.proofs = Proofs(
            store,
            self.keyring,
            self.platform,
            self.vault,
            self.pseudonyms,
            self.uses,
            key=derive_key(secret, PROOFS_KEY_LABEL),
            consent=self.consents.match,
        )
        # a consent names a proof type of the catalogue
        self.consents.known_proof_type = self.proofs.known_proof_type
        self.proofs.held_copies = self.links.copy_ids  # a ward's card speaks of the ward
        #: Receipts, ratings and misuse reports of every use (the proofs plug in theirs).
        self.receipts = Receipts(
            store,
            self.keyring,
            self.platform,
            self.pseudonyms,
            derive_key(secret, RECEIPTS_KEY_LABEL),
        )
        #: The operator's figures: the counters' days, ratings and follow-up.
        # the proof queries about a citizen are uses of their data, with receipts too
        self.receipts.add_source(self.proofs.uses_of)
        self.receipts.proof_type_name = self.proofs.type_name
        self.stats = Stats(store, self.receipts)

    # -- opening and closing -----------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, create: bool = True) -> Ecert:
        """Open (and, with ``create``, set up) the instance ``settings`` names; use it as
        a context manager, or :meth:`close` it.

        Raises :class:`~keys.errors.KeySecretMissing` when no secret can be found and
        ``create`` is false, :class:`~keys.errors.KeyStoreError` for an unusable secret,
        and :class:`~store.StoreError` when the store cannot be opened.
        """
        folder = settings.instance
        if create:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        url = settings.redis_url or f"sqlite:///{folder / 'ecert.db'}"
        store = open_store(url, cluster=settings.redis_cluster)
        try:
            # A new secret next to keys wrapped under the old one would only make every
            # later command fail: refuse, and say what to restore.
            has_keys = bool(store.list_keys())
            secret = _secret(folder, create=create and not has_keys, given=settings.key_secret)
            KeyWrapper(secret)  # an unusable secret fails here, before anything is written
            # The first base URL kept wins (also between workers starting together).
            base_url = store.base_url() or store.set_base_url(settings.base_url or DEFAULT_BASE_URL)
            ecert = cls(settings, store, secret, base_url)
            # Records of an instance made before pseudonyms: moved once, resumably.
            pseudonymize(store, ecert.pseudonyms.of, ecert.pseudonyms.seal)
            return ecert
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Stop running jobs here and close the store."""
        self.jobs.close()
        self.store.close()

    def __enter__(self) -> Ecert:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- shortcuts ---------------------------------------------------------------------

    @property
    def instance(self) -> Ecert:
        """This container (it was ``Services.instance`` before the two were one)."""
        return self

    @property
    def status(self) -> StatusRegistry:
        """The status registry (status lists and their bits)."""
        return self._status

    @status.setter
    def status(self, registry: StatusRegistry) -> None:
        # A registry swapped in (a test's other clock) is the one publication signs with.
        self._status = registry
        self.publication.status = registry

    @property
    def online(self) -> OnlineVerifier:
        """The online verifier of :attr:`verification`."""
        return self.verification.online

    def derive_key(self, label: str) -> bytes:
        """A 256-bit key for one purpose, derived from the instance's secret (HKDF)."""
        return derive_key(self._secret, label)

    def published_status_list(self, uri: str, *, max_age: float = 60.0) -> str:
        """See :meth:`service.publication.Publication.status_list`."""
        return self.publication.status_list(uri, max_age=max_age)

    def published_trust_list(self, *, max_age: float = 60.0) -> str:
        """See :meth:`service.publication.Publication.trust_list`."""
        return self.publication.trust_list(max_age=max_age)

    def published_bundle(self) -> dict[str, Any]:
        """See :meth:`service.publication.Publication.bundle`."""
        return self.publication.bundle()


#: The container's former name (the CLI's and seeding's type hints).
Instance = Ecert


def _secret(path: Path, *, create: bool, given: str | None) -> str:
    if given:
        return given
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


def open_instance(
    path: str | Path | None = None,
    *,
    base_url: str | None = None,
    create: bool = True,
    redis_url: str | None = None,
    redis_cluster: bool | str | int | None = None,
    key_secret: str | None = None,
) -> Ecert:
    """Open an instance from the environment's settings with these overrides: a
    shortcut for ``Ecert.open(Settings.from_env(overrides=...))`` (scripts and tests).

    Raises :class:`~service.errors.SettingsInvalid` and whatever :meth:`Ecert.open` does.
    """
    settings = Settings.from_env(
        overrides={
            "INSTANCE": None if path is None else str(path),
            "BASE_URL": base_url,
            "REDIS_URL": redis_url,
            "REDIS_CLUSTER": redis_cluster,
            "KEY_SECRET": key_secret,
        }
    )
    return Ecert.open(settings, create=create)
