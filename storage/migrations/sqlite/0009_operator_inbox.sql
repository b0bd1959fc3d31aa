-- The operator's inbox: notes people write on a contact (or its deal), and when a person last
-- opened each conversation, so replies that came after are shown as unread until opened.
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    deal_id TEXT,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX notes_contact ON notes (contact_id, created_at);
CREATE TABLE conversation_reads (
    contact_id TEXT PRIMARY KEY REFERENCES contacts (id),
    read_at TIMESTAMPTZ NOT NULL
);
