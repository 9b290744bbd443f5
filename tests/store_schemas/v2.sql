-- ecert SQLite file at schema version 2: migration steps 1-2 of the code before the store split (steps are never edited), rows inserted raw
PRAGMA user_version = 2;
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
CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    principal  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
INSERT INTO "api_keys" VALUES('key1','h1','venue','grand-hotel',1000,NULL);
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
CREATE TABLE counters (
    counter      TEXT NOT NULL,
    window       INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (counter, window, window_start)
);
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
CREATE TABLE issuers (
    iss     TEXT PRIMARY KEY,
    slug    TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    vcts    TEXT NOT NULL
);
INSERT INTO "issuers" VALUES('https://police.example.gov.cn','police','公安局','Police','["urn:ecert:id-card"]');
CREATE TABLE keys (
    kid          TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    private_blob BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
INSERT INTO "keys" VALUES('k1','https://police.example.gov.cn','ES256','active','{"kty":"EC","kid":"k1"}',X'00FF10',1000);
CREATE TABLE nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE once_values (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    citizen_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE status_chunks (
    uri      TEXT NOT NULL,
    chunk_no INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (uri, chunk_no)
) WITHOUT ROWID;
INSERT INTO "status_chunks" VALUES('https://police.example.gov.cn/status/1',0,X'0400000000000000000000000000000000');
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
