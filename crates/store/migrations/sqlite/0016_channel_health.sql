-- The channels page's health of each line (crates/server/src/dashboard/channels.rs):
-- when it last received a message and when it last sent one. Partial indexes, so each
-- answer is one index probe (the newest entry of the channel) rather than a walk over
-- the line's messages, and each message adds one entry to one of them at most.
CREATE INDEX messages_inbound_by_channel ON messages(channel_id, created_at)
    WHERE direction = 'inbound';
CREATE INDEX messages_sent_by_channel ON messages(channel_id, sent_at)
    WHERE sent_at IS NOT NULL;
