-- An index that only some rows need holds only those rows: a row outside its predicate is
-- written without touching it (SQLite and PostgreSQL both), and every query that reads the
-- index names the predicate's terms, so the planners still use it.
-- An inbound SMS now writes the table, its id, its provider id, its contact and the unread
-- index (left as soon as it is read), not the outbox and buyer indexes it never appears in.
DROP INDEX messages_outbox;
DROP INDEX messages_buyer;
DROP INDEX messages_unprocessed;
-- The dispatcher's claim, orphans, unknown results and the outbox depth: outbound rows only.
CREATE INDEX messages_outbox ON messages (status, next_attempt_at) WHERE direction = 'out';
-- Seller messages have no buyer; `buyer_id = $1` implies the predicate.
CREATE INDEX messages_buyer ON messages (buyer_id, created_at) WHERE buyer_id IS NOT NULL;
-- Inbound rows not read yet, oldest first: what recovery after a crash reads.
CREATE INDEX messages_unprocessed ON messages (created_at) WHERE direction = 'in' AND processed_at IS NULL;
-- KPI events without a deal (or a contact) are not indexed under it.
DROP INDEX kpi_events_contact;
DROP INDEX kpi_events_deal;
CREATE INDEX kpi_events_contact ON kpi_events (contact_id, id) WHERE contact_id IS NOT NULL;
CREATE INDEX kpi_events_deal ON kpi_events (deal_id, id) WHERE deal_id IS NOT NULL;
