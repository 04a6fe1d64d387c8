-- A contact's conversations: which line the contact last talked on (outbound line choice)
-- is read for every GHL outbound message.
CREATE INDEX conversations_by_contact ON conversations(contact_id);
