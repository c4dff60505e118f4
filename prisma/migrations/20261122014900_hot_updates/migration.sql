-- Hand-written (Prisma does not model storage parameters).
-- Every notification and every read-state change updates its user's row (seq and counters). Leaving
-- free space in each page lets PostgreSQL do those updates as HOT updates (no new index entries),
-- and the same holds for notifications, whose read/seen/archived columns are not indexed.
ALTER TABLE "users" SET (fillfactor = 70);
ALTER TABLE "notifications" SET (fillfactor = 90);
