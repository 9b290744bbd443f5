-- ecert SQLite file at schema version 8 (current): version 7 as captured, then step 8 (links between citizens: guardians and carers)
PRAGMA user_version = 8;
CREATE TABLE activity (
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
INSERT INTO "activity" VALUES('110101199003070011','e1',1002,'grand-hotel','hotel','urn:ecert:id-card','c1','["name"]',1,'[]');
INSERT INTO "activity" VALUES('110101199003070011','e2',1003,'grand-hotel','hotel',NULL,NULL,'[]',0,'["revoked"]');
CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    principal  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
INSERT INTO "api_keys" VALUES('key1','h1','venue','grand-hotel',1000,NULL);
INSERT INTO "api_keys" VALUES('key2','h2','department','https://police.example.gov.cn',1000,1500);
CREATE TABLE citizens (
    citizen_id    TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
INSERT INTO "citizens" VALUES('110101199003070011','',1000);
CREATE TABLE config (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
INSERT INTO "config" VALUES('trust_version',X'31');
INSERT INTO "config" VALUES('status_stamp:https://police.example.gov.cn/status/1',X'7B22696174223A20313030302C2022646967657374223A202236623666313465366166323632373138366266386135356534373464636636656633663663653831616635363064613837316563353165623637303137316139227D');
INSERT INTO "config" VALUES('status_stamp_bytes:https://police.example.gov.cn/status/1',X'04000000000000000000000000000000');
CREATE TABLE counters (
    counter      TEXT NOT NULL,
    window       INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (counter, window, window_start)
);
INSERT INTO "counters" VALUES('login:1',60,4102443960,1,4102444020);
CREATE TABLE credentials (
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
INSERT INTO "credentials" VALUES('c1','urn:ecert:id-card','https://police.example.gov.cn','110101199003070011','k1','https://police.example.gov.cn/status/1',1,1000,87400,'revoked');
CREATE TABLE device_copies (
    citizen_id    TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    copy_id       TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    vct           TEXT NOT NULL,
    added_at      INTEGER NOT NULL,
    blob          BLOB NOT NULL,
    PRIMARY KEY (citizen_id, copy_id)
) WITHOUT ROWID;
INSERT INTO "device_copies" VALUES('110101199003070011','d1','c2','c1','urn:ecert:id-card',1001,X'0708');
CREATE TABLE devices (
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
INSERT INTO "devices" VALUES('110101199003070011','d1','kid1','{"kty":"EC","crv":"P-256","x":"x","y":"y"}','Pixel 8',1000,1200,'active');
INSERT INTO "devices" VALUES('110101199003070011','d2','kid2','{"kty":"EC","crv":"P-256","x":"x2","y":"y2"}','旧手机',1100,1100,'removed');
CREATE TABLE issuers (
    iss     TEXT PRIMARY KEY,
    slug    TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    vcts    TEXT NOT NULL
);
INSERT INTO "issuers" VALUES('https://police.example.gov.cn','police','公安局','Police','["urn:ecert:id-card"]');
CREATE TABLE job_steps (
    job_id TEXT NOT NULL,
    n      INTEGER NOT NULL,
    state  TEXT NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (job_id, n)
) WITHOUT ROWID;
INSERT INTO "job_steps" VALUES('j1',0,'done',X'03');
INSERT INTO "job_steps" VALUES('j1',1,'pending',X'04');
CREATE TABLE jobs (
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
INSERT INTO "jobs" VALUES('j1','change','https://police.example.gov.cn','running',1000,1001,2,1,0,0,X'0102','ps_x','w1',1030);
CREATE TABLE keys (
    kid          TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    private_blob BLOB NOT NULL,
    created_at   INTEGER NOT NULL
, activate_at INTEGER NOT NULL DEFAULT 0, retired_at INTEGER NOT NULL DEFAULT 0, verify_until INTEGER NOT NULL DEFAULT 0);
INSERT INTO "keys" VALUES('k1','https://police.example.gov.cn','ES256','active','{"kty":"EC","kid":"k1"}',X'00FF10',1000,0,0,0);
INSERT INTO "keys" VALUES('k2','https://police.example.gov.cn','EdDSA','pending','{"kty":"OKP","kid":"k2"}',X'0102',1100,4102444800,0,0);
INSERT INTO "keys" VALUES('k0','https://police.example.gov.cn','ES256','retired','{"kty":"EC","kid":"k0"}',X'0304',900,900,1000,87430);
CREATE TABLE marks (
    scope TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
INSERT INTO "marks" VALUES('rows:police','k1','c1');
CREATE TABLE nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
INSERT INTO "nonces" VALUES('n1',4102444800.5);
CREATE TABLE notices (
    citizen_id TEXT NOT NULL,
    notice_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    blob       BLOB NOT NULL,
    PRIMARY KEY (citizen_id, notice_id)
) WITHOUT ROWID;
INSERT INTO "notices" VALUES('110101199003070011','n1',1002,'change',X'05');
CREATE TABLE once_values (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    expires_at REAL NOT NULL
);
INSERT INTO "once_values" VALUES('once1',X'76',4102444800.0);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    citizen_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
INSERT INTO "sessions" VALUES('t1','110101199003070011',1000,4102444800);
CREATE TABLE status_chunks (
    uri      TEXT NOT NULL,
    chunk_no INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (uri, chunk_no)
) WITHOUT ROWID;
INSERT INTO "status_chunks" VALUES('https://police.example.gov.cn/status/1',0,X'04000000000000000000000000000000');
CREATE TABLE status_claims (
    uri TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (uri, idx)
) WITHOUT ROWID;
INSERT INTO "status_claims" VALUES('https://police.example.gov.cn/status/1',1);
CREATE TABLE status_lists (
    uri        TEXT PRIMARY KEY,
    issuer     TEXT NOT NULL,
    bits       INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    claimed    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "status_lists" VALUES('https://police.example.gov.cn/status/1','https://police.example.gov.cn',2,64,1000,1);
CREATE TABLE venues (
    venue_id   TEXT PRIMARY KEY,
    name_zh    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    scenes     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO "venues" VALUES('grand-hotel','大酒店','Grand Hotel','["hotel"]',1000);
CREATE TABLE wallet_items (
    citizen_id    TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    vct           TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    added_at      INTEGER NOT NULL,
    blob          BLOB NOT NULL,
    PRIMARY KEY (citizen_id, credential_id)
) WITHOUT ROWID;
INSERT INTO "wallet_items" VALUES('110101199003070011','c1','urn:ecert:id-card','https://police.example.gov.cn',87400,1001,X'0506');
CREATE TABLE wallets (
    citizen_id  TEXT PRIMARY KEY,
    holder_kid  TEXT NOT NULL,
    holder_blob BLOB NOT NULL,
    key_blob    BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
INSERT INTO "wallets" VALUES('110101199003070011','hk1',X'0102',X'0304',1000);
CREATE TABLE window_entries (
    counter    TEXT NOT NULL,
    entry      TEXT NOT NULL,
    at         REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (counter, entry)
) WITHOUT ROWID;
INSERT INTO "window_entries" VALUES('acct','e',4102444000.0,4102444900.0);
CREATE INDEX keys_by_owner ON keys (owner, created_at, kid);
CREATE INDEX keys_by_created ON keys (created_at, kid);
CREATE INDEX status_lists_by_issuer ON status_lists (issuer, created_at, uri);
CREATE INDEX status_lists_by_created ON status_lists (created_at, uri);
CREATE INDEX credentials_by_subject ON credentials (subject, issued_at, id);
CREATE INDEX credentials_by_issuer ON credentials (issuer, issued_at, id);
CREATE INDEX credentials_by_issued ON credentials (issued_at, id);
CREATE INDEX credentials_by_status ON credentials (status_uri, status_idx);
CREATE INDEX wallet_items_by_added
    ON wallet_items (citizen_id, added_at, credential_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX api_keys_by_principal ON api_keys (principal, created_at, key_id);
CREATE INDEX api_keys_by_created ON api_keys (created_at, key_id);
CREATE INDEX activity_by_time ON activity (citizen_id, at, event_id);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);
CREATE INDEX once_values_by_expiry ON once_values (expires_at);
CREATE INDEX counters_by_expiry ON counters (expires_at);
CREATE INDEX window_entries_by_time ON window_entries (counter, at);
CREATE INDEX window_entries_by_expiry ON window_entries (expires_at);
CREATE UNIQUE INDEX devices_by_kid ON devices (citizen_id, kid);
CREATE INDEX device_copies_by_device
    ON device_copies (citizen_id, device_id, added_at, copy_id);
CREATE INDEX device_copies_by_card ON device_copies (citizen_id, credential_id);
CREATE INDEX jobs_by_created ON jobs (created_at, id);
CREATE INDEX jobs_by_owner ON jobs (owner, created_at, id);
CREATE INDEX jobs_by_state ON jobs (state, lease_until);
CREATE INDEX notices_by_time ON notices (citizen_id, created_at, notice_id);
CREATE INDEX credentials_by_kid ON credentials (kid, issued_at, id);
CREATE TABLE audit (
    seq  INTEGER PRIMARY KEY,
    at   INTEGER NOT NULL,
    body BLOB NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL,
    tag  TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at, seq);
CREATE TABLE consents (
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
CREATE INDEX consents_by_citizen ON consents (citizen, created_at, consent_id);
CREATE TABLE proof_queries (
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
CREATE INDEX proof_queries_by_time ON proof_queries (citizen, at, event_id);
CREATE TABLE ratings (
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
CREATE TABLE reports (
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
CREATE UNIQUE INDEX ratings_by_event ON ratings (event_id);
CREATE INDEX ratings_by_actor ON ratings (actor_kind, actor, created_at, event_id);
CREATE INDEX ratings_low ON ratings (created_at, event_id)
    WHERE followed_up = 0 AND stars <= 2;
CREATE INDEX reports_by_state ON reports (state, created_at, report_id);
CREATE TABLE daily_counters (
    day   TEXT NOT NULL,
    name  TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, name)
) WITHOUT ROWID;
CREATE TABLE links (
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
CREATE INDEX links_by_holder ON links (holder, created_at, link_id);
CREATE INDEX links_by_party ON links (party, created_at, link_id);
CREATE TABLE link_copies (
    holder        TEXT NOT NULL,
    link_id       TEXT NOT NULL,
    copy_id       TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    vct           TEXT NOT NULL,
    added_at      INTEGER NOT NULL,
    PRIMARY KEY (holder, copy_id)
) WITHOUT ROWID;
CREATE INDEX link_copies_by_link ON link_copies (holder, link_id, added_at, copy_id);
