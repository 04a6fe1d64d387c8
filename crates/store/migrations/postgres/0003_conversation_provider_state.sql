-- What a provider tells us about a conversation that later sends depend on.
-- The provider's own chat with the contact (UniPile's chat_id): replies go back into it.
ALTER TABLE conversations ADD COLUMN provider_thread TEXT;
-- When the contact last wrote, by the provider's clock, Unix milliseconds: WhatsApp allows
-- free-form messages only within 24 hours of it.
ALTER TABLE conversations ADD COLUMN last_inbound_at BIGINT;

-- What a message's text costs as SMS (GSM-7 or UCS-2 segments, `domain::sms_segments`),
-- counted when it is stored so usage and cost are read from the message records. Counted
-- for every message: whether a line bills it as SMS (SendBlue falls back from iMessage) is
-- the usage report's business.
ALTER TABLE messages ADD COLUMN sms_segments INTEGER NOT NULL DEFAULT 0;
