-- The conversations API (crates/server/src/api/{contacts,conversations,messages}.rs).

-- A send from the API may carry an Idempotency-Key: the same key from the same agency
-- stores (and sends) one message. NULLs are distinct, so messages without a key never
-- collide.
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX messages_by_idempotency_key ON messages(agency_id, idempotency_key);

-- A messages page of one conversation, newest first.
CREATE INDEX messages_by_conversation_page ON messages(conversation_id, created_at, id);

-- When a contact's personal data was erased (GDPR): the row stays, without phone, email,
-- name or GHL id, so its messages' records and consent log keep their owner.
ALTER TABLE contacts ADD COLUMN erased_at INTEGER;

-- Handles (phone or email) of erased contacts who had opted out, as keyed hashes
-- (HMAC-SHA256 under a key derived from the master key): a contact created again with the
-- same handle at the same location starts opted out, and no send reaches the handle,
-- without our keeping the handle itself.
CREATE TABLE contact_suppressions (
    location_id  TEXT NOT NULL REFERENCES locations(id),
    handle_hash  TEXT NOT NULL,
    agency_id    TEXT NOT NULL REFERENCES agencies(id),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (location_id, handle_hash)
);

-- Tenant-wide pages, newest first.
CREATE INDEX contacts_by_agency ON contacts(agency_id, created_at, id);
CREATE INDEX conversations_by_agency ON conversations(agency_id, created_at, id);
CREATE INDEX consent_events_by_agency ON consent_events(agency_id, at, id);
