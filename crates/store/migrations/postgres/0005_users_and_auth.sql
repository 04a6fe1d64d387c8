-- Users, sessions (refresh tokens), API keys: see crates/store/src/repo/{users,sessions,api_keys}.rs.

-- Sign-in state. Emails are stored lower-cased and unique whatever their case, so
-- "Ann@x" and "ann@x" are one account. tokens_valid_after ends every access token issued
-- before it (logout everywhere).
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT;
ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
CREATE UNIQUE INDEX users_email_ci ON users(lower(email));
CREATE INDEX users_by_location ON users(location_id);

-- Refresh tokens, stored as SHA-256 hashes. One sign-in is one family; each use marks the
-- token used and issues its child. A used or revoked token presented again revokes the
-- whole family (it was stolen, or the client is confused: either way, sign in again).
CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    family_id   TEXT NOT NULL,
    parent_id   TEXT,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(user_id);

-- API keys: the prefix is public (shown in lists, used to find the key), the secret is
-- stored as a SHA-256 hash of the whole key.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    agency_id     TEXT NOT NULL REFERENCES agencies(id),
    location_id   TEXT REFERENCES locations(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);
CREATE INDEX api_keys_by_agency ON api_keys(agency_id, location_id);

ALTER TABLE audit_log ADD COLUMN request_id TEXT;
