-- What a provider tells us about a conversation that later sends depend on.
-- The provider's own chat with the contact (UniPile's chat_id): replies go back into it.
ALTER TABLE conversations ADD COLUMN provider_thread TEXT;
-- When the contact last wrote, by the provider's clock, Unix milliseconds: WhatsApp allows
-- free-form messages only within 24 hours of it.
ALTER TABLE conversations ADD COLUMN last_inbound_at BIGINT;
