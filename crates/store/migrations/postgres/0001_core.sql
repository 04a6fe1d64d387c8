-- Switchboard core schema (PostgreSQL). Keep in step with ../sqlite/0001_core.sql.
-- Times are Unix milliseconds (BIGINT). Ids are prefixed ULIDs (TEXT), except jobs.
-- Every tenant-owned row carries agency_id so a tenant scope can filter on it directly.
-- Flags are INTEGER 0/1: sqlx's Any driver reads no SQLite BOOLEAN.

CREATE TABLE agencies (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    ghl_company_id  TEXT UNIQUE,
    status          TEXT NOT NULL DEFAULT 'active',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE locations (
    id                        TEXT PRIMARY KEY,
    agency_id                 TEXT NOT NULL REFERENCES agencies(id),
    ghl_location_id           TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL DEFAULT '',
    time_zone                 TEXT,
    conversation_provider_id  TEXT,
    access_token_enc          TEXT,
    refresh_token_enc         TEXT,
    token_expires_at          BIGINT,
    token_refresh_until       BIGINT,
    status                    TEXT NOT NULL DEFAULT 'active',
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
CREATE INDEX locations_by_agency ON locations(agency_id);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    agency_id      TEXT REFERENCES agencies(id),
    location_id    TEXT REFERENCES locations(id),
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL DEFAULT '',
    role           TEXT NOT NULL,
    password_hash  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX users_by_agency ON users(agency_id);

CREATE TABLE channels (
    id               TEXT PRIMARY KEY,
    agency_id        TEXT NOT NULL REFERENCES agencies(id),
    location_id      TEXT NOT NULL REFERENCES locations(id),
    provider         TEXT NOT NULL,
    line             TEXT NOT NULL,
    credentials_enc  TEXT NOT NULL,
    api_base         TEXT,
    settings         TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL DEFAULT 'active',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (provider, line)
);
CREATE INDEX channels_by_location ON channels(location_id);

CREATE TABLE contacts (
    id              TEXT PRIMARY KEY,
    agency_id       TEXT NOT NULL REFERENCES agencies(id),
    location_id     TEXT NOT NULL REFERENCES locations(id),
    ghl_contact_id  TEXT,
    phone           TEXT,
    email           TEXT,
    name            TEXT NOT NULL DEFAULT '',
    opted_out       INTEGER NOT NULL DEFAULT 0 CHECK (opted_out IN (0, 1)),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (location_id, phone),
    UNIQUE (location_id, email),
    UNIQUE (location_id, ghl_contact_id)
);

CREATE TABLE conversations (
    id                   TEXT PRIMARY KEY,
    agency_id            TEXT NOT NULL REFERENCES agencies(id),
    location_id          TEXT NOT NULL REFERENCES locations(id),
    contact_id           TEXT NOT NULL REFERENCES contacts(id),
    channel_id           TEXT NOT NULL REFERENCES channels(id),
    ghl_conversation_id  TEXT,
    ai_enabled           INTEGER NOT NULL DEFAULT 1 CHECK (ai_enabled IN (0, 1)),
    last_message_at      BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    UNIQUE (channel_id, contact_id)
);
CREATE INDEX conversations_by_location ON conversations(location_id, last_message_at);

CREATE TABLE messages (
    id                   TEXT PRIMARY KEY,
    agency_id            TEXT NOT NULL REFERENCES agencies(id),
    location_id          TEXT NOT NULL REFERENCES locations(id),
    conversation_id      TEXT NOT NULL REFERENCES conversations(id),
    channel_id           TEXT NOT NULL REFERENCES channels(id),
    direction            TEXT NOT NULL,
    actor                TEXT NOT NULL,
    body                 TEXT NOT NULL DEFAULT '',
    attachments          TEXT NOT NULL DEFAULT '[]',
    status               TEXT NOT NULL,
    error                TEXT,
    provider_message_id  TEXT,
    ghl_message_id       TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    sent_at              BIGINT,
    delivered_at         BIGINT,
    read_at              BIGINT,
    failed_at            BIGINT,
    -- Inbound dedupe: a provider's message id is seen once per channel.
    UNIQUE (channel_id, provider_message_id),
    -- Outbound dedupe: GHL's message id is delivered once per location.
    UNIQUE (location_id, ghl_message_id)
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, created_at);

CREATE TABLE message_events (
    id          TEXT PRIMARY KEY,
    agency_id   TEXT NOT NULL REFERENCES agencies(id),
    message_id  TEXT NOT NULL REFERENCES messages(id),
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    at          BIGINT NOT NULL
);
CREATE INDEX message_events_by_message ON message_events(message_id, at);

CREATE TABLE webhook_receipts (
    id           TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    agency_id    TEXT REFERENCES agencies(id),
    received_at  BIGINT NOT NULL,
    UNIQUE (source, external_id)
);

CREATE TABLE consent_events (
    id           TEXT PRIMARY KEY,
    agency_id    TEXT NOT NULL REFERENCES agencies(id),
    location_id  TEXT NOT NULL REFERENCES locations(id),
    contact_id   TEXT NOT NULL REFERENCES contacts(id),
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '',
    at           BIGINT NOT NULL
);
CREATE INDEX consent_events_by_contact ON consent_events(contact_id, at);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    agency_id  TEXT REFERENCES agencies(id),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    detail     TEXT NOT NULL DEFAULT '{}',
    at         BIGINT NOT NULL
);
CREATE INDEX audit_log_by_agency ON audit_log(agency_id, at);

-- The durable queue. id is the enqueue order; see crates/store/src/queue/.
CREATE TABLE jobs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL,           -- ready | running | done | dead
    attempt       BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL,
    run_at        BIGINT NOT NULL,
    lease_until   BIGINT,
    ordering_key  TEXT,
    pacing_key    TEXT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs(run_at, id) WHERE state = 'ready';
CREATE INDEX jobs_running ON jobs(lease_until) WHERE state = 'running';
CREATE INDEX jobs_in_order ON jobs(ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state IN ('ready', 'running');
CREATE INDEX jobs_dead ON jobs(kind, id) WHERE state = 'dead';
CREATE INDEX jobs_done ON jobs(updated_at) WHERE state = 'done';

-- A pacing key whose budget is empty until until_ms: the claim skips its jobs.
CREATE TABLE pacing_holds (
    pacing_key  TEXT PRIMARY KEY,
    until_ms    BIGINT NOT NULL
);

-- The queue table churns: every job is inserted and updated two or three times. Vacuum
-- and analyze it after 1% of its rows change instead of PostgreSQL's default 10–20%, so
-- dead rows don't pile up and the claim keeps its index-ordered plan.
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_analyze_scale_factor = 0.01,
    autovacuum_vacuum_cost_delay = 0
);

-- Installation-wide values. `key_check` holds a value sealed under the current master key,
-- so a process started with the wrong key stops at once instead of failing on first use.
CREATE TABLE app_settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
