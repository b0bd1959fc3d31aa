-- Issue 22, the conversation that reads people.
-- The company's answers to seller questions: one row per topic an operator changed (a topic
-- without a row answers with the product's default, bot/answers.py), in English and French.
CREATE TABLE answers (
    topic TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    text_fr TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
-- The language the seller is answered in ('en', 'fr'); NULL until known (English, or French
-- for a Quebec lead).
ALTER TABLE contacts ADD COLUMN language TEXT;
-- What the seller told us beyond condition, timeline, motivation and price: the repairs they
-- named, the repair figure they gave (theirs, never the deal's repair_estimate), who lives
-- there, and who is writing (owner, spouse, executor, ...).
ALTER TABLE deals ADD COLUMN repairs TEXT;
ALTER TABLE deals ADD COLUMN repair_cost BIGINT;
ALTER TABLE deals ADD COLUMN occupancy TEXT;
ALTER TABLE deals ADD COLUMN relationship TEXT;
