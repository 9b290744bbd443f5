"""SQLite backend of :class:`store.interface.Store` (the embedded default).

One module per kind of record (``config``, ``keys``, ``trust``, ``status``,
``registry``, ``accounts``, ``wallets``, ``devices``, ``activity``, ``ephemeral``, ``jobs``,
``notices``, ``audit``), each a mixin on
:class:`store.sqlite.base.SQLiteBase` (connections, transactions, migrations), composed
here into :class:`SQLiteStore`; the schema is :mod:`store.sqlite.schema`.

One database file, shared safely by several threads and several processes:

* WAL journal, ``synchronous=NORMAL`` and a busy timeout on every connection;
* a small pool of connections (one per concurrent caller, created on demand), each
  used by one thread at a time; writes inside one process are also serialised by a
  lock so that threads never spin in SQLite's busy handler against each other; a
  process forked from one that used the store opens its own connections;
* every write that reads before it writes runs in ``BEGIN IMMEDIATE`` so that the
  write lock is taken before the read (no lost updates across processes).

Status lists are stored sparsely as 4096-byte chunks keyed by ``(uri, chunk_no)``: a
missing chunk means "all zeros", so creating a 10,000,000-entry list writes one row
and :meth:`SQLiteStore.set_status` rewrites one small row. Claimed indices live in
their own table (primary key ``(uri, idx)``) with a per-list counter updated in the
same transaction, so :meth:`SQLiteStore.claim_status_index` never reads the list.

Lists of keys and status lists are ordered by ``created_at`` then by kid / uri, the
same tie-break as the Redis backend.

Schema versions (``PRAGMA user_version``) are applied one step after the other, so an
older file upgrades in place when it is opened:

1. keys, issuers, status lists, the credential registry;
2. the service: citizens, wallets and their items, sessions, API keys, venues, activity,
   the short-lived entries (nonces, once-values, rate counters) and the index of
   credentials by status position (:meth:`SQLiteStore.find_credential`);
3. the sliding-window logs (``window_entries``: login failures);
4. citizens' devices and their credential copies (``devices``, ``device_copies``);
5. jobs, their steps, permanent marks and citizens' notices (``jobs``, ``job_steps``,
   ``marks``, ``notices``);
6. the keys' rotation times;
7. the uses of citizens' data: the audit chain (``audit``, by ``seq``, with an index
   by time).

Short-lived rows (sessions, nonces, once-values, counters, window entries) are never returned once
expired at the caller's ``now``; each write to one of those tables first deletes that
table's rows expired at the ``now`` it was given (for sessions, the new session's
``created_at``), inside the same ``BEGIN IMMEDIATE`` transaction. Activity keeps the
newest :data:`ACTIVITY_CAP` events per citizen, as the Redis backend does.
"""

from __future__ import annotations

from store.kinds.activity import ACTIVITY_CAP
from store.sqlite.accounts import AccountsMixin
from store.sqlite.activity import ActivityMixin
from store.sqlite.audit import AuditMixin
from store.sqlite.config import ConfigMixin
from store.sqlite.consents import ConsentsMixin
from store.sqlite.counters import CountersMixin
from store.sqlite.devices import DevicesMixin
from store.sqlite.ephemeral import EphemeralMixin
from store.sqlite.jobs import JobsMixin
from store.sqlite.keys import KeysMixin
from store.sqlite.links import LinksMixin
from store.sqlite.notices import NoticesMixin
from store.sqlite.queries import QueriesMixin
from store.sqlite.ratings import RatingsMixin
from store.sqlite.registry import RegistryMixin
from store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from store.sqlite.settle import SettleMixin
from store.sqlite.status import CHUNK_SIZE, StatusMixin
from store.sqlite.trust import TrustMixin
from store.sqlite.wallets import WalletsMixin

__all__ = ["ACTIVITY_CAP", "CHUNK_SIZE", "SCHEMA_VERSION", "SQLiteStore"]

#: The migration steps (kept under their former name for the tests that build old files).
_MIGRATIONS = MIGRATIONS


class SQLiteStore(
    ConfigMixin,
    KeysMixin,
    TrustMixin,
    StatusMixin,
    RegistryMixin,
    AccountsMixin,
    WalletsMixin,
    DevicesMixin,
    ActivityMixin,
    EphemeralMixin,
    SettleMixin,
    JobsMixin,
    NoticesMixin,
    AuditMixin,
    ConsentsMixin,
    QueriesMixin,
    RatingsMixin,
    CountersMixin,
    LinksMixin,
):
    """The storage contract on one SQLite file (WAL), safe across threads and processes.

    Raises :class:`StoreUnavailable` when the file cannot be opened or stays locked
    longer than ``busy_timeout`` seconds, and :class:`StoreError` when the file holds
    a newer schema than this code knows.
    """
