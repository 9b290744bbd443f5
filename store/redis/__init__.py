"""Redis backend of :class:`store.interface.Store` (the production backend).

One module per kind of record (``config``, ``keys``, ``trust``, ``status``,
``registry``, ``accounts``, ``wallets``, ``devices``, ``activity``, ``ephemeral``), each a mixin on
:class:`store.redis.base.RedisBase` (the client, errors, key names, scripts), composed
here into :class:`RedisStore`. Records are JSON written and read by
:class:`store.codec.Codec` (strictly: a value that does not fit raises
:class:`store.errors.CorruptRecord`).

Key layout (``P`` is the prefix, ``ecert`` by default). Every key carries a hash tag
(the part in braces) so that the keys one operation touches together share a Redis
Cluster slot; multi-key scripts and ``MULTI`` blocks only ever touch one tag.

==================================  ===========  =========================================
key                                 type         holds
==================================  ===========  =========================================
``P:{cfg}:values``                  hash         declared config name -> value bytes
``P:{keys}:rec``                    hash         kid -> key record JSON (without state)
``P:{keys}:state``                  hash         kid -> key state
``P:{keys}:activate_at``            hash         kid -> when a pending key signs (absent: 0)
``P:{keys}:retired_at``             hash         kid -> when it stopped signing (absent: 0)
``P:{keys}:verify_until``           hash         kid -> last expiry it verifies (absent: 0)
``P:{issuers}:rec``                 hash         iss -> issuer record JSON
``P:{sl:H}:meta``                   string       status list record JSON (authoritative)
``P:{sl:H}:bits``                   string       packed statuses (Token Status List order)
``P:{sl:H}:claims``                 string       claims bitmap, bit ``idx`` set = claimed
``P:{sl:H}:claimed``                string       counter of claimed indices
``P:{sl:H}:stamp``                  hash         ``iat``, ``digest``, ``bits`` last published
``P:{sls}:rec``                     hash         uri -> status list record JSON (index)
``P:{cred:ID}:rec``                 string       credential record JSON (without state)
``P:{cred:ID}:state``               string       credential state
``P:{sub:SUBJECT}:creds``           sorted set   ids of one citizen's credentials, by issued_at
``P:{iss:I}:creds``                 sorted set   ids of one issuer's credentials, by issued_at
``P:{creds}:issuers``               set          issuers that have credentials
``P:{sl:H}:creds``                  hash         status index -> id of the credential there
``P:{sub:C}:citizen``               string       citizen record JSON (without password)
``P:{sub:C}:password``              string       the citizen's password hash
``P:{sub:C}:wallet``                string       wallet record JSON (``SET NX``: first wins)
``P:{sub:C}:items``                 hash         credential id -> wallet item JSON
``P:{sub:C}:devices``               hash         device id -> device JSON (without state)
``P:{sub:C}:device-state``          hash         device id -> ``active`` / ``removed``
``P:{sub:C}:device-seen``           hash         device id -> ``last_seen``
``P:{sub:C}:device-kids``           hash         key thumbprint -> device id
``P:{sub:C}:copies``                hash         copy id -> device copy JSON (SD-JWT sealed)
``P:{sub:C}:activity``              sorted set   event ids by ``at`` (newest 1000 kept)
``P:{sub:C}:events``                hash         event id -> activity record JSON
``P:{sub:C}:notices``               sorted set   notice ids by ``created_at`` (newest 200 kept)
``P:{sub:C}:notice-data``           hash         notice id -> notice JSON (text sealed)
``P:{sub:C}:consents``              sorted set   consent ids by ``created_at`` (newest 200 kept)
``P:{sub:C}:consent-data``          hash         consent id -> consent JSON (purpose sealed)
``P:{sub:C}:consent-state``         hash         consent id -> ``<state>:<updated_at>``
``P:{consent:ID}:owner``            string       pseudonym holding consent ``ID`` (set first)
``P:{sub:C}:ratings``                hash         event id -> rating JSON (comment sealed)
``P:{sub:C}:rating-followed``       hash         event id -> ``1`` once followed up, else ``0``
``P:{rate:A}:order``                sorted set   an actor's rated event ids by ``created_at``
``P:{rate:A}:data``                 hash         event id -> rating JSON (the actor's copy)
``P:{rate:A}:stars``                hash         event id -> its stars (for the counts)
``P:{rate:A}:dist``                 hash         ``1``..``5`` -> how many ratings of so many
``P:{rate:A}:followed``             hash         event id -> ``1`` / ``0`` (followed up)
``P:{ratings}:low``                 sorted set   low ratings awaiting follow-up, by time
``P:{ratings}:low-data``            hash         event id -> full rating JSON
``P:{ratings}:actors``              set          ``[actor_kind, actor]`` JSON of rated actors
``P:{reports}:by-event``            hash         event id -> report id (one per event)
``P:{reports}:data``                hash         report id -> report JSON (text sealed)
``P:{reports}:state``               hash         report id -> ``open`` / ``resolved``
``P:{reports}:resolved-at``         hash         report id -> resolved_at (0 while open)
``P:{reports}:open``                sorted set   open report ids by ``created_at``
``P:{reports}:resolved``            sorted set   resolved report ids by ``created_at``
``P:{citizens}:ids``                set          ids of all citizens
``P:{audit}:entries``               hash         seq -> audit entry JSON (body base64)
``P:{audit}:tail``                  hash         ``seq`` and ``hash`` of the last entry
``P:{audit}:time``                  sorted set   seqs (20 digits) by ``at``
``P:{audit}:turn``                  string       the token of the appender whose turn it is (250 ms)
``P:{job:ID}:job``                  string       job record JSON (fixed fields; spec sealed)
``P:{job:ID}:live``                 hash         state, counters, ``updated_at``, the lease
``P:{job:ID}:step-state``           hash         step number -> step state
``P:{job:ID}:step-data``            hash         step number -> sealed step data
``P:{jobs}:index``                  sorted set   every job id by ``created_at``
``P:{jobs}:open``                   sorted set   jobs not yet done or failed
``P:{mark:N}:mark:SCOPE:KEY``       string       a permanent mark (``SET NX``)
``P:{sess:T}:rec``                  string       session record JSON, ``EXPIREAT`` expiry
``P:{apikeys}:rec``                 hash         key id -> API key JSON (without revoked_at)
``P:{apikeys}:hash``                hash         SHA-256 of the secret -> key id
``P:{apikeys}:revoked``             hash         key id -> revoked_at
``P:{venues}:rec``                  hash         venue id -> venue record JSON
``P:{hit:N}:W:S:COUNTER``           string       hits of ``COUNTER`` in window ``[S, S+W)``
``P:{nonce:N}:NONCE``               string       the nonce's ``expires_at``, ``PXAT`` expiry
``P:{once:N}:KEY``                  hash         ``v`` value, ``x`` expires_at; ``PXAT``;
                                                 ``KEY`` is ``<space>:<name>``
``P:{win:N}:COUNTER``               sorted set   sliding-window log: entry -> time
``P:{counters:DAY}:n``              hash         operator's counter name -> count (UTC day)
==================================  ===========  =========================================

``H`` is the first 16 hex digits of SHA-256 of the list's URI and ``I`` the same for an
issuer URL (URLs can be long and hold braces); ``ID`` and ``SUBJECT`` are used as they
are. Keys, issuers and the status-list index are small and live in one slot each.

Everything of one citizen (``C``, the citizen id, the same as a credential's
``SUBJECT``) shares the slot of ``{sub:C}``: the account, the wallet, its items, the
activity log and the citizen's credential index, so one citizen's operations never
cross slots. Sessions live in the slot of their token hash ``T``. API keys (records,
the hash index and revocations) share the one slot ``{apikeys}`` so that a key id and
its hash are claimed together by one script; venues share ``{venues}``. The
short-lived entries spread over slots by ``N``, the first 16 hex digits of SHA-256 of
the counter name, nonce or key, which is then repeated in clear after the tag so that
two names never share a key. ``A`` is the same hash of a rated actor's JSON
``[actor_kind, actor]`` (:mod:`store.redis.ratings` says how a rating's three slots are
written).

Expiry: sessions, nonces, once-values and counters carry a Redis expiry (the session's
``expires_at``; a nonce's or once-value's ``expires_at`` rounded up to the
millisecond; a counter's window end), so the server drops them by its own clock.
Reads and the replay checks also compare the stored ``expires_at`` with the caller's
``now``, so an entry expired at ``now`` is never returned even before the server has
dropped it. Nonces and once-values are written by scripts that check and write in one
step; ``hit`` is ``INCR`` and ``EXPIREAT`` in one ``MULTI``. A sliding-window log
(``window_add``) is one script: drop the entries older than the longest window, count
each window (``ZCOUNT``), add the entry if it fits, keep the newest ``max(count)`` and
expire the key the longest window after the newest entry (``PEXPIREAT``).

The activity log keeps the newest :data:`ACTIVITY_CAP` (1000) events of a citizen: the
script that adds an event trims the oldest (by ``at``, then event id) in the same step.
``P:{sl:H}:creds`` is written with ``HSETNX`` just after the credential record, like the
other cross-slot indexes: the first credential put at an index is the one found.

Status bits use ``BITFIELD`` on ``P:{sl:H}:bits``. The Token Status List puts entry
``i`` of width ``b`` at bit ``p = (i*b) % 8`` counted from the *least* significant bit
of byte ``(i*b) // 8``; Redis counts bit offsets from the *most* significant bit, so
the ``BITFIELD`` offset is ``byte*8 + (8 - p - b)``. ``b`` divides 8, so an entry never
straddles two bytes and the string's bytes are exactly the Token Status List bytes. A
missing or short string means "zeros"; :meth:`RedisStore.status_bytes` pads it.

Atomicity: status updates and claims are Lua scripts over one list's keys (claims:
``SETBIT`` returns the old bit and ``INCR`` runs only when it was 0, so the count is
exact). Records are created with ``SET NX``/``HSETNX``; the cross-slot indexes
(``{sls}``, ``{sub:…}``, ``{iss:…}``) are written just after the record, so a crash in
between can leave a record that a list does not show, never a listed record that is
missing. Records are JSON (``bytes`` fields base64); mutable states are kept beside the
immutable JSON so that a state change is one command.
"""

from __future__ import annotations

from store.kinds.activity import ACTIVITY_CAP
from store.redis.accounts import AccountsMixin
from store.redis.activity import ActivityMixin
from store.redis.audit import AuditMixin
from store.redis.config import ConfigMixin
from store.redis.consents import ConsentsMixin
from store.redis.counters import CountersMixin
from store.redis.devices import DevicesMixin
from store.redis.ephemeral import EphemeralMixin
from store.redis.jobs import JobsMixin
from store.redis.keys import KeysMixin
from store.redis.links import LinksMixin
from store.redis.notices import NoticesMixin
from store.redis.queries import QueriesMixin
from store.redis.ratings import RatingsMixin
from store.redis.registry import RegistryMixin
from store.redis.settle import SettleMixin
from store.redis.status import StatusMixin
from store.redis.trust import TrustMixin
from store.redis.wallets import WalletsMixin

__all__ = ["ACTIVITY_CAP", "RedisStore"]


class RedisStore(
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
    """The storage contract on a Redis server (keys laid out for Redis Cluster).

    The store owns ``client``: :meth:`close` closes it. Every method raises
    :class:`StoreUnavailable` (chained to the driver's error) when the server cannot
    be reached or times out, and :class:`StoreError` for other server errors.
    """
