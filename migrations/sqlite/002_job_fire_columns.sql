-- The facts the engine writes on every fire and run end get columns of their
-- own, so recording a fire updates a few integers in place instead of reading,
-- re-serializing and rewriting the job's whole `data` blob. Reads overlay
-- these columns onto the blob (status and next_run already had columns).
-- NULL means "not written since this migration": the blob's value stands.

ALTER TABLE jobs ADD COLUMN last_run INTEGER;   -- Unix micros of the latest fire
ALTER TABLE jobs ADD COLUMN last_status TEXT;
