-- Inbound SMS as Twilio posted them, until they are read. The webhook's whole unit of work
-- is one insert here, keyed by MessageSid: a table of five columns and one B-tree that holds
-- only what is not read yet, so the answer to Twilio costs the same whatever the size of the
-- transcript. Reading takes the row out and writes the message (its contact found, its
-- indexes) in one unit of work, in the background.
-- No index on received_at: the table holds the backlog only, and only the sweep looks for
-- old rows (stranded by a crash); an index would be a second B-tree on every webhook.
CREATE TABLE sms_inbox (
    provider_id TEXT PRIMARY KEY,
    from_addr TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
