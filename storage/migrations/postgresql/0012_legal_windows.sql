-- Issue 23, legal contact windows. A policy may cap messages per rolling 24 hours (all
-- channels), tightening the legal cap of the recipient's jurisdictions, never loosening it.
ALTER TABLE policies ADD COLUMN max_messages_per_24h INTEGER;
-- What allowed each sent message: the jurisdictions, their rule versions, the table version
-- and the local zones it was judged in (bot/send_window.py Decision.allowed_by). Written
-- once, when the provider accepts the message; the audit trail reads it.
ALTER TABLE messages ADD COLUMN allowed_by JSONB;
