-- Marketplace installs (keep in step with ../postgres/0006_installations.sql).
-- One row per GHL install target: a company (agency-level install, Company token) or a
-- location (location-level install, Location token), keyed by GHL's id for it. The tokens
-- are sealed like locations' tokens. ghl_user_id is the GHL user who installed, for the
-- admin invitation.
CREATE TABLE installations (
    ghl_id             TEXT PRIMARY KEY,
    agency_id          TEXT NOT NULL REFERENCES agencies(id),
    user_type          TEXT NOT NULL,
    ghl_user_id        TEXT,
    plan_id            TEXT,
    access_token_enc   TEXT NOT NULL,
    refresh_token_enc  TEXT,
    token_expires_at   INTEGER,
    status             TEXT NOT NULL DEFAULT 'active',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX installations_by_agency ON installations(agency_id);

-- Uninstalled agencies and locations are kept (status 'uninstalled') until purge_after,
-- the end of the retention period; plan_id is the Marketplace plan from PLAN_CHANGE.
ALTER TABLE agencies ADD COLUMN plan_id TEXT;
ALTER TABLE agencies ADD COLUMN uninstalled_at INTEGER;
ALTER TABLE agencies ADD COLUMN purge_after INTEGER;
ALTER TABLE locations ADD COLUMN plan_id TEXT;
ALTER TABLE locations ADD COLUMN uninstalled_at INTEGER;
ALTER TABLE locations ADD COLUMN purge_after INTEGER;
