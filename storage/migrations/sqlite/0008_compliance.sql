-- Consent evidence, as each lead (or the seller's own START) brought it: append-only, never
-- updated or deleted, so the record a regulator asks for is the record that was written.
-- method 'asserted' is the operator's "consent: true" without evidence (a contact with the
-- flag and no row at all, from before this table, counts the same).
CREATE TABLE consent_evidence (
    id INTEGER PRIMARY KEY,
    contact_id TEXT NOT NULL,
    lead_id TEXT,
    message_id TEXT,
    method TEXT NOT NULL,
    text TEXT,
    source_url TEXT,
    ip TEXT,
    captured_at TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX consent_evidence_contact ON consent_evidence (contact_id, id);

-- Do-not-contact entries: a phone (E.164), an email, or a NANP area code (three digits), so one
-- index lookup on value answers "may this send go?" whatever the kind. consumer: the person's
-- own opt-out (only their START lifts it). A lifted entry stays, with when and by whom, for the
-- audit trail; the live ones are unique per (value, reason, consumer), which makes imports
-- idempotent and is the index the send-time check reads.
CREATE TABLE suppressions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    reason TEXT NOT NULL,
    source TEXT,
    consumer BOOLEAN NOT NULL DEFAULT FALSE,
    contact_id TEXT,
    message_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    lifted_at TIMESTAMPTZ,
    lifted_by TEXT
);
CREATE UNIQUE INDEX suppressions_live ON suppressions (value, reason, consumer) WHERE lifted_at IS NULL;
CREATE INDEX suppressions_contact ON suppressions (contact_id) WHERE contact_id IS NOT NULL;
