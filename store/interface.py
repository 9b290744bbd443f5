"""The storage contract shared by every backend.

The domain packages (``issuer``, ``wallet``) depend on this module only: it imports
no driver. :class:`Store` combines one small protocol per kind of record, each with its
dataclasses in :mod:`store.kinds` (keys; issuers and venues; status lists; the
credential registry; accounts, sessions and API keys; wallets; activity; short-lived
entries; configuration; jobs and their journal; notices to citizens; the audit chain;
links between citizens). Backends live beside it (:mod:`store.sqlite`,
:mod:`store.redis`), one module per kind each, and the same contract tests
(``tests/test_store*.py``) run against each of them.

Nothing here holds personal data in clear: the credential registry keeps ids, types,
the subject's citizen id, the status index and the key id, never the disclosures.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

# The store's errors live in store/errors.py; re-exported here, where the domain and
# the backends import the storage contract from.
from store.errors import Conflict as Conflict
from store.errors import CorruptRecord as CorruptRecord
from store.errors import InvalidArgument as InvalidArgument
from store.errors import LeaseLost as LeaseLost
from store.errors import NotFound as NotFound
from store.errors import StoreError as StoreError
from store.errors import StoreUnavailable as StoreUnavailable
from store.kinds.accounts import API_KEY_KINDS as API_KEY_KINDS
from store.kinds.accounts import AccountStore as AccountStore
from store.kinds.accounts import ApiKeyKind as ApiKeyKind
from store.kinds.accounts import ApiKeyRecord as ApiKeyRecord
from store.kinds.accounts import CitizenRecord as CitizenRecord
from store.kinds.accounts import SessionRecord as SessionRecord
from store.kinds.activity import ACTIVITY_CAP as ACTIVITY_CAP
from store.kinds.activity import ActivityRecord as ActivityRecord
from store.kinds.activity import ActivityStore as ActivityStore
from store.kinds.audit import AUDIT_GENESIS as AUDIT_GENESIS
from store.kinds.audit import MAX_AUDIT_BATCH as MAX_AUDIT_BATCH
from store.kinds.audit import MAX_AUDIT_PAGE as MAX_AUDIT_PAGE
from store.kinds.audit import AuditEntry as AuditEntry
from store.kinds.audit import AuditLink as AuditLink
from store.kinds.audit import AuditStore as AuditStore
from store.kinds.config import BASE_URL as BASE_URL
from store.kinds.config import PSEUDONYMS as PSEUDONYMS
from store.kinds.config import SCENES as SCENES
from store.kinds.config import TRUST_VERSION as TRUST_VERSION
from store.kinds.config import ConfigStore as ConfigStore
from store.kinds.consents import CONSENT_CAP as CONSENT_CAP
from store.kinds.consents import CONSENT_STATES as CONSENT_STATES
from store.kinds.consents import ConsentRecord as ConsentRecord
from store.kinds.consents import ConsentState as ConsentState
from store.kinds.consents import ConsentStore as ConsentStore
from store.kinds.counters import MAX_COUNTER_DAYS as MAX_COUNTER_DAYS
from store.kinds.counters import CounterStore as CounterStore
from store.kinds.devices import DEVICE_STATES as DEVICE_STATES
from store.kinds.devices import DeviceAdded as DeviceAdded
from store.kinds.devices import DeviceCopy as DeviceCopy
from store.kinds.devices import DeviceRecord as DeviceRecord
from store.kinds.devices import DeviceState as DeviceState
from store.kinds.devices import DeviceStore as DeviceStore
from store.kinds.ephemeral import DEVICE_NONCE as DEVICE_NONCE
from store.kinds.ephemeral import DEVICE_NONCE_USED as DEVICE_NONCE_USED
from store.kinds.ephemeral import IDEMPOTENCY as IDEMPOTENCY
from store.kinds.ephemeral import MAX_LIMIT_COUNT as MAX_LIMIT_COUNT
from store.kinds.ephemeral import MAX_LIMITS as MAX_LIMITS
from store.kinds.ephemeral import MAX_WINDOW as MAX_WINDOW
from store.kinds.ephemeral import MAX_WINDOW_NAME as MAX_WINDOW_NAME
from store.kinds.ephemeral import ONCE_SPACES as ONCE_SPACES
from store.kinds.ephemeral import ONLINE_QR as ONLINE_QR
from store.kinds.ephemeral import ONLINE_QR_ISSUED as ONLINE_QR_ISSUED
from store.kinds.ephemeral import ONLINE_QR_USED as ONLINE_QR_USED
from store.kinds.ephemeral import QR_PRESENTATION as QR_PRESENTATION
from store.kinds.ephemeral import TRUSTLIST_IAT as TRUSTLIST_IAT
from store.kinds.ephemeral import TRUSTLIST_NEWEST as TRUSTLIST_NEWEST
from store.kinds.ephemeral import VP_REQUEST as VP_REQUEST
from store.kinds.ephemeral import VP_RESPONSE_USED as VP_RESPONSE_USED
from store.kinds.ephemeral import Limit as Limit
from store.kinds.ephemeral import OnceSpace as OnceSpace
from store.kinds.ephemeral import OnceValues as OnceValues
from store.kinds.ephemeral import ShortLivedStore as ShortLivedStore
from store.kinds.ephemeral import window_wait as window_wait
from store.kinds.jobs import JOB_STATES as JOB_STATES
from store.kinds.jobs import MAX_STEPS_PER_CALL as MAX_STEPS_PER_CALL
from store.kinds.jobs import STEP_STATES as STEP_STATES
from store.kinds.jobs import JobRecord as JobRecord
from store.kinds.jobs import JobState as JobState
from store.kinds.jobs import JobStep as JobStep
from store.kinds.jobs import JobStore as JobStore
from store.kinds.jobs import StepOutcome as StepOutcome
from store.kinds.jobs import StepState as StepState
from store.kinds.keys import KEY_STATES as KEY_STATES
from store.kinds.keys import KeyRecord as KeyRecord
from store.kinds.keys import KeyStateName as KeyStateName
from store.kinds.keys import KeyStore as KeyStore
from store.kinds.links import LINK_KINDS as LINK_KINDS
from store.kinds.links import LINK_STATES as LINK_STATES
from store.kinds.links import LinkCopy as LinkCopy
from store.kinds.links import LinkKind as LinkKind
from store.kinds.links import LinkRecord as LinkRecord
from store.kinds.links import LinkState as LinkState
from store.kinds.links import LinkStore as LinkStore
from store.kinds.notices import NOTICE_CAP as NOTICE_CAP
from store.kinds.notices import NoticeRecord as NoticeRecord
from store.kinds.notices import NoticeStore as NoticeStore
from store.kinds.queries import PROOF_QUERY_CAP as PROOF_QUERY_CAP
from store.kinds.queries import ProofQueryRecord as ProofQueryRecord
from store.kinds.queries import ProofQueryStore as ProofQueryStore
from store.kinds.ratings import LOW_STARS as LOW_STARS
from store.kinds.ratings import REPORT_STATES as REPORT_STATES
from store.kinds.ratings import RatingRecord as RatingRecord
from store.kinds.ratings import RatingStore as RatingStore
from store.kinds.ratings import ReportRecord as ReportRecord
from store.kinds.registry import CREDENTIAL_STATES as CREDENTIAL_STATES
from store.kinds.registry import CredentialRecord as CredentialRecord
from store.kinds.registry import CredentialState as CredentialState
from store.kinds.registry import RegistryStore as RegistryStore
from store.kinds.status import ALLOWED_BITS as ALLOWED_BITS
from store.kinds.status import STATUS_MAX_AHEAD as STATUS_MAX_AHEAD
from store.kinds.status import StatusListRecord as StatusListRecord
from store.kinds.status import StatusListStore as StatusListStore
from store.kinds.status import next_status_iat as next_status_iat
from store.kinds.status import packed_length as packed_length
from store.kinds.trust import IssuerRecord as IssuerRecord
from store.kinds.trust import TrustStore as TrustStore
from store.kinds.trust import VenueRecord as VenueRecord
from store.kinds.wallets import WalletItem as WalletItem
from store.kinds.wallets import WalletRecord as WalletRecord
from store.kinds.wallets import WalletStore as WalletStore
from store.validation import check_limits as check_limits
from store.validation import check_list_shape as check_list_shape
from store.validation import check_state as check_state
from store.validation import check_window_name as check_window_name


@runtime_checkable
class Store(
    ConfigStore,
    KeyStore,
    TrustStore,
    StatusListStore,
    RegistryStore,
    AccountStore,
    WalletStore,
    DeviceStore,
    ActivityStore,
    ShortLivedStore,
    JobStore,
    NoticeStore,
    AuditStore,
    ConsentStore,
    ProofQueryStore,
    RatingStore,
    CounterStore,
    LinkStore,
    Protocol,
):
    """What the domain needs from storage: every kind of record. Every method is atomic
    on its own."""

    def close(self) -> None: ...
