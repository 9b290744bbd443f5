"""The SQLite schema, applied one version after the other (``PRAGMA user_version``).

1. keys, issuers, status lists, the credential registry;
2. the service: citizens, wallets and their items, sessions, API keys, venues, activity,
   the short-lived entries (nonces, once-values, rate counters) and the index of
   credentials by status position;
3. the sliding-window logs (``window_entries``: login failures);
4. citizens' devices and the credential copies bound to them (``devices``,
   ``device_copies``);
5. jobs and their journal (``jobs``, ``job_steps``), permanent marks (``marks``) and
   citizens' notices (``notices``);
6. key rotation over time: the keys' ``activate_at``, ``retired_at`` and
   ``verify_until``, and the registry's index of credentials by signing key.
7. the uses of citizens' data (consents, proof queries, audit, ratings, counters);
8. links between citizens (guardians and carers) and their held-for copies (``links``,
   ``link_copies``).

Never edit a step once released: add one. ``tests/store_schemas/`` holds the schema
each version leaves (captured from the code), which the migration tests start from.
"""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION", "MIGRATIONS"]

SCHEMA_VERSION = 8

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS config (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    kid          TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    private_blob BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_by_owner ON keys (owner, created_at, kid);
CREATE INDEX IF NOT EXISTS keys_by_created ON keys (created_at, kid);
CREATE TABLE IF NOT EXISTS issuers (
    iss     TEXT PRIMARY KEY,
    slug    TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    vcts    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS status_lists (
    uri        TEXT PRIMARY KEY,
    issuer     TEXT NOT NULL,
    bits       INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    claimed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS status_lists_by_issuer ON status_lists (issuer, created_at, uri);
CREATE INDEX IF NOT EXISTS status_lists_by_created ON status_lists (created_at, uri);
CREATE TABLE IF NOT EXISTS status_chunks (
    uri      TEXT NOT NULL,
    chunk_no INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (uri, chunk_no)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_claims (
    uri TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (uri, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credentials (
    id         TEXT PRIMARY KEY,
    vct        TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    kid        TEXT NOT NULL,
    status_uri TEXT NOT NULL,
    status_idx INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_by_subject ON credentials (subject, issued_at, id);
CREATE INDEX IF NOT EXISTS credentials_by_issuer ON credentials (issuer, issued_at, id);
CREATE INDEX IF NOT EXISTS credentials_by_issued ON credentials (issued_at, id);
"""

_SCHEMA_V2 = """
CREATE INDEX IF NOT EXISTS credentials_by_status ON credentials (status_uri, status_idx);
CREATE TABLE IF NOT EXISTS citizens (
    citizen_id    TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wallets (
    citizen_id  TEXT PRIMARY KEY,
    holder_kid  TEXT NOT NULL,
    holder_blob BLOB NOT NULL,
    key_blob    BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wallet_items (
    citizen_id    TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    vct           TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    added_at      INTEGER NOT NULL,
    blob          BLOB NOT NULL,
    PRIMARY KEY (citizen_id, credential_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS wallet_items_by_added
    ON wallet_items (citizen_id, added_at, credential_id);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    citizen_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    principal  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_by_principal ON api_keys (principal, created_at, key_id);
CREATE INDEX IF NOT EXISTS api_keys_by_created ON api_keys (created_at, key_id);
CREATE TABLE IF NOT EXISTS venues (
    venue_id   TEXT PRIMARY KEY,
    name_zh    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    scenes     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS activity (
    citizen_id    TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    at            INTEGER NOT NULL,
    venue_id      TEXT NOT NULL,
    scene         TEXT NOT NULL,
    vct           TEXT,
    credential_id TEXT,
    claims        TEXT NOT NULL,
    valid         INTEGER NOT NULL,
    codes         TEXT NOT NULL,
    PRIMARY KEY (citizen_id, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS activity_by_time ON activity (citizen_id, at, event_id);
CREATE TABLE IF NOT EXISTS nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_at);
CREATE TABLE IF NOT EXISTS once_values (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS once_values_by_expiry ON once_values (expires_at);
CREATE TABLE IF NOT EXISTS counters (
    counter      TEXT NOT NULL,
    window       INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (counter, window, window_start)
);
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires_at);
"""

_SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS window_entries (
    counter    TEXT NOT NULL,
    entry      TEXT NOT NULL,
    at         REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (counter, entry)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS window_entries_by_time ON window_entries (counter, at);
CREATE INDEX IF NOT EXISTS window_entries_by_expiry ON window_entries (expires_at);
"""

_SCHEMA_V4 = """
CREATE TABLE IF NOT EXISTS devices (
    citizen_id TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    kid        TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    state      TEXT NOT NULL,
    PRIMARY KEY (citizen_id, device_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS devices_by_kid ON devices (citizen_id, kid);
CREATE TABLE IF NOT EXISTS device_copies (
    citizen_id    TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    copy_id       TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    vct           TEXT NOT NULL,
    added_at      INTEGER NOT NULL,
    blob          BLOB NOT NULL,
    PRIMARY KEY (citizen_id, copy_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS device_copies_by_device
    ON device_copies (citizen_id, device_id, added_at, copy_id);
CREATE INDEX IF NOT EXISTS device_copies_by_card ON device_copies (citizen_id, credential_id);
"""

_SCHEMA_V5 = """
CREATE TABLE IF NOT EXISTS jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    owner        TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    total        INTEGER NOT NULL,
    done         INTEGER NOT NULL,
    skipped      INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    spec         BLOB NOT NULL,
    subject      TEXT NOT NULL,
    lease_holder TEXT NOT NULL,
    lease_until  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at, id);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created_at, id);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, lease_until);
CREATE TABLE IF NOT EXISTS job_steps (
    job_id TEXT NOT NULL,
    n      INTEGER NOT NULL,
    state  TEXT NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (job_id, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS marks (
    scope TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notices (
    citizen_id TEXT NOT NULL,
    notice_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    blob       BLOB NOT NULL,
    PRIMARY KEY (citizen_id, notice_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notices_by_time ON notices (citizen_id, created_at, notice_id);
"""

# Key rotation over time (a step of its own: the job tables come in another).
_SCHEMA_V6_KEY_TIMES = """
ALTER TABLE keys ADD COLUMN activate_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN retired_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN verify_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS credentials_by_kid ON credentials (kid, issued_at, id);
"""

# The uses of citizens' data (issue 11): consents, proof queries, the audit chain,
# ratings and misuse reports, the operator's daily counters.
_SCHEMA_V7_USES = """
-- consents
CREATE TABLE IF NOT EXISTS consents (
    consent_id TEXT PRIMARY KEY,
    citizen    TEXT NOT NULL,
    department TEXT NOT NULL,
    proof_type TEXT NOT NULL,
    state      TEXT NOT NULL,
    origin     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    until      INTEGER NOT NULL,
    blob       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS consents_by_citizen ON consents (citizen, created_at, consent_id);


-- proof queries
CREATE TABLE IF NOT EXISTS proof_queries (
    citizen     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    at          INTEGER NOT NULL,
    department  TEXT NOT NULL,
    proof_type  TEXT NOT NULL,
    answered_by TEXT NOT NULL,
    claims      TEXT NOT NULL,
    answered    INTEGER NOT NULL,
    codes       TEXT NOT NULL,
    blob        BLOB NOT NULL,
    PRIMARY KEY (citizen, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS proof_queries_by_time ON proof_queries (citizen, at, event_id);


-- audit
CREATE TABLE IF NOT EXISTS audit (
    seq  INTEGER PRIMARY KEY,
    at   INTEGER NOT NULL,
    body BLOB NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL,
    tag  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at, seq);


-- ratings and reports
CREATE TABLE IF NOT EXISTS ratings (
    citizen     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    topic       TEXT NOT NULL,
    stars       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    followed_up INTEGER NOT NULL,
    blob        BLOB NOT NULL,
    PRIMARY KEY (citizen, event_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS ratings_by_event ON ratings (event_id);
CREATE INDEX IF NOT EXISTS ratings_by_actor ON ratings (actor_kind, actor, created_at, event_id);
CREATE INDEX IF NOT EXISTS ratings_low ON ratings (created_at, event_id)
    WHERE followed_up = 0 AND stars <= 2;
CREATE TABLE IF NOT EXISTS reports (
    report_id   TEXT PRIMARY KEY,
    citizen     TEXT NOT NULL,
    event_id    TEXT NOT NULL UNIQUE,
    actor_kind  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    topic       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    resolved_at INTEGER NOT NULL,
    blob        BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reports_by_state ON reports (state, created_at, report_id);


-- counters
CREATE TABLE IF NOT EXISTS daily_counters (
    day   TEXT NOT NULL,
    name  TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, name)
) WITHOUT ROWID;

"""

# Guardians and carers (issue 12): links by holder, found by party, and held-for copies.
_SCHEMA_V8_LINKS = """
CREATE TABLE IF NOT EXISTS links (
    holder        TEXT NOT NULL,
    link_id       TEXT NOT NULL,
    party         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    until         INTEGER NOT NULL,
    state         TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    blob          BLOB NOT NULL,
    PRIMARY KEY (holder, link_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_by_holder ON links (holder, created_at, link_id);
CREATE INDEX IF NOT EXISTS links_by_party ON links (party, created_at, link_id);
CREATE TABLE IF NOT EXISTS link_copies (
    holder        TEXT NOT NULL,
    link_id       TEXT NOT NULL,
    copy_id       TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    vct           TEXT NOT NULL,
    added_at      INTEGER NOT NULL,
    PRIMARY KEY (holder, copy_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS link_copies_by_link ON link_copies (holder, link_id, added_at, copy_id);
"""

# Migration steps: MIGRATIONS[v - 1] takes a file from version v - 1 to version v.
MIGRATIONS = (
    _SCHEMA_V1,
    _SCHEMA_V2,
    _SCHEMA_V3,
    _SCHEMA_V4,
    _SCHEMA_V5,
    _SCHEMA_V6_KEY_TIMES,
    _SCHEMA_V7_USES,
    _SCHEMA_V8_LINKS,
)
assert len(MIGRATIONS) == SCHEMA_VERSION
