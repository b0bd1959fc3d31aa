-- Sending at scale (issue 25): number pools with sticky senders, one rate for many servers,
-- and a fair order between a big import's backlog and everything else.

-- The pool number a contact was first texted from, kept for every later text (sticky sender).
ALTER TABLE contacts ADD COLUMN sending_number TEXT;
-- A number's contacts, for an operator's reassignment after Twilio reported the number broken.
CREATE INDEX contacts_sending_number ON contacts (sending_number) WHERE sending_number IS NOT NULL;

-- Each pool number as every server sees it: broken (with Twilio's code) or active, and how many
-- contacts it holds (the least loaded one takes a new contact).
CREATE TABLE sending_numbers (
    number TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    contacts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    broken_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Token buckets shared by every server (GCRA): next_at is the database clock's epoch second at
-- which the bucket's next send may go. One key per sending number, one for the account.
CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY,
    next_at DOUBLE PRECISION NOT NULL
);

-- 0: goes first (replies, operators, a web lead's texts); 1: a bulk import's backlog.
ALTER TABLE messages ADD COLUMN priority SMALLINT NOT NULL DEFAULT 0;
-- The claim takes priority 0 first, each in due order: an index range per priority.
DROP INDEX messages_outbox;
CREATE INDEX messages_outbox ON messages (status, priority, next_attempt_at) WHERE direction = 'out';

-- A lead brought in by `dealbot import leads`: its texts are the backlog (priority 1).
ALTER TABLE leads ADD COLUMN bulk BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX leads_bulk ON leads (deal_id) WHERE bulk;
