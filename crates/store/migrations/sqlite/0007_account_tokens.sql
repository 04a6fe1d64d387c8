-- One-time links mailed to a user (password reset; invitations later), stored as SHA-256
-- hashes like refresh tokens: 256 random bits, so a database leak yields nothing usable.
-- A token works once (used_at) and only until expires_at.
CREATE TABLE account_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    purpose     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX account_tokens_by_user ON account_tokens(user_id, purpose);
