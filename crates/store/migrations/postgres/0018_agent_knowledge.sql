-- The AI agent's settings per location, its memory of long conversations, and the
-- location's knowledge base (flows 3 and 7 of DESIGN.md).

-- One row per location whose agent was configured in the dashboard; a location without
-- one uses the operator's defaults (SWITCHBOARD_OPENAI_*).
-- strategy: the location's layer of the prompt (persona, goals, qualification questions,
-- booking rules, business hours), free text written by the agency.
-- chat_model / embedding_model / api_base: override the operator's defaults; api_key_enc
-- is the location's own model key, AES-GCM sealed like channel credentials.
-- calendar_id: the GHL calendar the agent books into; NULL: the agent cannot book.
-- contact_fields: JSON object, the names the model may set with update_contact mapped to
-- GHL custom field ids or keys ({"budget": "contact.budget"}).
-- replies_per_day: the location's AI reply budget; NULL for the operator's default.
-- reactivate_minutes: after a handoff is resolved without resuming the AI, turn it back
-- on this many minutes later; NULL never.
CREATE TABLE agent_settings (
    location_id        TEXT PRIMARY KEY REFERENCES locations(id),
    agency_id          TEXT NOT NULL REFERENCES agencies(id),
    strategy           TEXT NOT NULL DEFAULT '',
    chat_model         TEXT,
    embedding_model    TEXT,
    api_base           TEXT,
    api_key_enc     TEXT,
    calendar_id        TEXT,
    contact_fields     TEXT NOT NULL DEFAULT '{}',
    replies_per_day    INTEGER CHECK (replies_per_day >= 0),
    reactivate_minutes INTEGER CHECK (reactivate_minutes > 0),
    updated_at         BIGINT NOT NULL
);

-- The rolling summary of a conversation's older messages: what the model is told about
-- everything before the last 12 messages, folded in as messages age out of that window.
-- summary_through: created_at of the newest message the summary covers; summary_from: of
-- the oldest. Erasure clears the summary (it may quote the contact), and so does message
-- retention once summary_from is past it.
ALTER TABLE conversations ADD COLUMN summary TEXT;
ALTER TABLE conversations ADD COLUMN summary_from BIGINT;
ALTER TABLE conversations ADD COLUMN summary_through BIGINT;

-- A knowledge source: a website (crawled same-site within depth and page limits), a PDF
-- or pasted text. document holds the PDF's bytes or the text, so a re-ingest needs
-- nothing outside the database. state: queued → ingesting → ready | failed; progress and
-- the last error are shown on the knowledge page.
CREATE TABLE knowledge_sources (
    id          TEXT PRIMARY KEY,
    agency_id   TEXT NOT NULL REFERENCES agencies(id),
    location_id TEXT NOT NULL REFERENCES locations(id),
    kind        TEXT NOT NULL CHECK (kind IN ('url', 'pdf', 'text')),
    title       TEXT NOT NULL,
    url         TEXT,
    max_depth   INTEGER NOT NULL DEFAULT 2,
    max_pages   INTEGER NOT NULL DEFAULT 25,
    document    BYTEA,
    state       TEXT NOT NULL CHECK (state IN ('queued', 'ingesting', 'ready', 'failed')),
    pages       INTEGER NOT NULL DEFAULT 0,
    chunks      INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    ingested_at BIGINT
);
CREATE INDEX knowledge_sources_by_location ON knowledge_sources(location_id, created_at, id);

-- A passage of a source, as retrieval returns it. A source's chunks are replaced in one
-- transaction when it is ingested again, so retrieval never sees half of an ingest.
-- embedding: little-endian f32s (ai::vector::encode_f32_le), NULL when no embedding model
-- is configured; embedding_model names the model that made it, so vectors of another
-- model are never compared.
CREATE TABLE knowledge_chunks (
    id              TEXT PRIMARY KEY,
    agency_id       TEXT NOT NULL REFERENCES agencies(id),
    location_id     TEXT NOT NULL REFERENCES locations(id),
    source_id       TEXT NOT NULL REFERENCES knowledge_sources(id),
    ordinal         INTEGER NOT NULL,
    page_url        TEXT,
    title           TEXT NOT NULL,
    text            TEXT NOT NULL,
    embedding       BYTEA,
    embedding_model TEXT
);
CREATE INDEX knowledge_chunks_by_location ON knowledge_chunks(location_id, source_id, ordinal);
CREATE INDEX knowledge_chunks_by_source ON knowledge_chunks(source_id);

-- Behind the tenant wall like every tenant-owned table (0011_tenant_wall.sql).
ALTER TABLE agent_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON agent_settings
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());
ALTER TABLE knowledge_sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_sources FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON knowledge_sources
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());
ALTER TABLE knowledge_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON knowledge_chunks
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());
