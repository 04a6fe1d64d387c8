-- The dashboard (crates/server/src/dashboard): the inbox's state of each conversation,
-- handoffs to humans, and each agency's white-label brand.

-- Who works the conversation now (a user of its location or agency), and when an agent
-- last read it: it is unread while the contact wrote after that.
ALTER TABLE conversations ADD COLUMN assigned_user_id TEXT REFERENCES users(id);
ALTER TABLE conversations ADD COLUMN read_at INTEGER;

-- The inbox: a tenant's conversations by last activity.
CREATE INDEX conversations_by_activity ON conversations(agency_id, last_message_at, id);

-- A conversation handed to a human: pending (nobody has it), assigned, resolved. At most
-- one open (pending or assigned) handoff per conversation.
CREATE TABLE handoffs (
    id                TEXT PRIMARY KEY,
    agency_id         TEXT NOT NULL REFERENCES agencies(id),
    location_id       TEXT NOT NULL REFERENCES locations(id),
    conversation_id   TEXT NOT NULL REFERENCES conversations(id),
    state             TEXT NOT NULL CHECK (state IN ('pending', 'assigned', 'resolved')),
    reason            TEXT NOT NULL,
    requested_by      TEXT NOT NULL,
    assigned_user_id  TEXT REFERENCES users(id),
    created_at        INTEGER NOT NULL,
    assigned_at       INTEGER,
    resolved_at       INTEGER,
    -- On resolve: whether the AI answers the contact again.
    ai_resumed        INTEGER CHECK (ai_resumed IN (0, 1))
);
CREATE UNIQUE INDEX handoffs_open_per_conversation ON handoffs(conversation_id)
    WHERE state <> 'resolved';
CREATE INDEX handoffs_by_agency ON handoffs(agency_id, state, created_at, id);

-- An agency's white-label brand, applied on every dashboard page and in its emails.
CREATE TABLE brands (
    agency_id     TEXT PRIMARY KEY REFERENCES agencies(id),
    product_name  TEXT NOT NULL,
    logo_url      TEXT,
    primary_color TEXT NOT NULL,
    accent_color  TEXT NOT NULL,
    updated_at    INTEGER NOT NULL
);
