-- ecert SQLite file at schema version 1: migration step 1 of the code before the store split (steps are never edited), rows inserted raw
PRAGMA user_version = 1;
CREATE TABLE config (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
INSERT INTO "config" VALUES('trust_version',X'31');
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
CREATE INDEX keys_by_owner ON keys (owner, created_at, kid);
CREATE INDEX keys_by_created ON keys (created_at, kid);
CREATE INDEX status_lists_by_issuer ON status_lists (issuer, created_at, uri);
CREATE INDEX status_lists_by_created ON status_lists (created_at, uri);
CREATE INDEX credentials_by_subject ON credentials (subject, issued_at, id);
CREATE INDEX credentials_by_issuer ON credentials (issuer, issued_at, id);
CREATE INDEX credentials_by_issued ON credentials (issued_at, id);
