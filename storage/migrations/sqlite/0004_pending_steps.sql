-- A sweep's claim no longer marks steps 'claimed': it reads the due ones in the unit of work
-- that settles them (locked FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's unit holds the one
-- write lock), so each step is written once, when it is settled. No committed row was ever
-- 'claimed' (claim and settle always shared a transaction); any that were are due again.
UPDATE ladder_steps SET status = 'pending' WHERE status = 'claimed';
-- Due steps are found through an index of the pending ones only: a settled, cancelled or
-- paused step is written without touching any due index (PostgreSQL adds an entry only to
-- the indexes whose predicate the new row version meets).
-- (contact_id, status) repeated the leading column of UNIQUE (contact_id, ladder_name,
-- position), which answers every per-contact query; a contact has a dozen steps at most.
DROP INDEX ladder_steps_due;
DROP INDEX ladder_steps_contact;
CREATE INDEX ladder_steps_pending ON ladder_steps (due_at) WHERE status = 'pending';
