-- How far a slice's notifications have had their users' counts cached in Redis (a user id, as the
-- cursor; NULL: none beyond `after`). A worker that dies between a chunk's commit and its cache
-- write leaves a gap behind the cursor, which the trigger's completion caches again.
ALTER TABLE "fanout_ranges" ADD COLUMN "cached_upto" TEXT;
