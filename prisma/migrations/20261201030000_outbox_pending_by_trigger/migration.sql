-- Hand-written (Prisma does not model partial indexes).
-- Every lookup of outbox rows by trigger is for the pending ones ("done_at IS NULL"): marking a
-- trigger's row done when its fan-out commits, cancelling it. Through the full index on trigger_id
-- a generic plan could prefer "outbox_pending_idx" (every pending row, plus the dead index entries
-- of rows marked done since the last vacuum) and filter them: under load that bitmap scan was an
-- eighth of PostgreSQL's time. A partial index on trigger_id answers exactly the one row, and no
-- longer grows with the rows that are done.
DROP INDEX "outbox_trigger_id_idx";
CREATE INDEX "outbox_pending_trigger_idx" ON "outbox"("trigger_id") WHERE "done_at" IS NULL;
