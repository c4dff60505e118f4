-- Hand-written: Prisma cannot express partitioning. The notifications table becomes a table
-- partitioned by month of created_at (UTC), with the same columns, keys and indexes; every index is
-- defined on the parent, so each partition gets it. Rows outside every monthly partition land in
-- notifications_default instead of failing the insert; the maintenance job (relay, hourly) keeps
-- monthly partitions NOTIFICATION_PARTITIONS_AHEAD months ahead so that it stays empty.

-- From now on a group's window ends with the (UTC) month it started in, so a notification's sort_at
-- stays in the month of its created_at (the inbox reads month by month). Groups still open are cut
-- at their month's end, and a notification an update already moved past its month is sorted at the
-- last moment of its own month. (Stop the fan-out workers of the previous release before migrating:
-- they would still move groups across months.)
UPDATE "notification_groups"
   SET "window_ends_at" = (date_trunc('month', "notification_at" AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
 WHERE "notification_at" IS NOT NULL
   AND "window_ends_at" > (date_trunc('month', "notification_at" AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
UPDATE "notifications"
   SET "sort_at" = (date_trunc('month', "created_at" AT TIME ZONE 'UTC') + interval '1 month' - interval '1 millisecond') AT TIME ZONE 'UTC'
 WHERE "sort_at" >= (date_trunc('month', "created_at" AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';

-- The existing table steps aside (its constraint and index names are needed by the new one).
ALTER TABLE "notifications" RENAME TO "notifications_unpartitioned";
ALTER TABLE "notifications_unpartitioned" RENAME CONSTRAINT "notifications_pkey" TO "notifications_unpartitioned_pkey";
ALTER INDEX "notifications_user_id_sort_at_id_idx" RENAME TO "notifications_unpartitioned_user_idx";
ALTER INDEX "notifications_trigger_id_user_id_created_at_key" RENAME TO "notifications_unpartitioned_trigger_idx";
ALTER INDEX "notifications_expiring_idx" RENAME TO "notifications_unpartitioned_expiring_idx";
ALTER INDEX "notifications_created_at_idx" RENAME TO "notifications_unpartitioned_created_at_idx";

CREATE TABLE "notifications" (LIKE "notifications_unpartitioned" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)
  PARTITION BY RANGE ("created_at");
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_pkey" PRIMARY KEY ("id", "created_at");
CREATE UNIQUE INDEX "notifications_trigger_id_user_id_created_at_key" ON "notifications"("trigger_id", "user_id", "created_at");
CREATE INDEX "notifications_user_id_sort_at_id_idx" ON "notifications"("user_id", "sort_at" DESC, "id" DESC);
CREATE INDEX "notifications_expiring_idx" ON "notifications"("expires_at") WHERE "expires_at" IS NOT NULL;
-- (Within a month's partition: the admin overview's recent window.)
CREATE INDEX "notifications_created_at_idx" ON "notifications" USING BRIN ("created_at");

CREATE TABLE "notifications_default" PARTITION OF "notifications" DEFAULT WITH (fillfactor = 90);

-- Creates the partition of the month holding `month` (UTC) unless it exists; returns whether it did.
-- Rows of that month already in the default partition move into it. Attached rather than created as
-- PARTITION OF, which would lock the whole table against readers for the moment it takes.
CREATE OR REPLACE FUNCTION notify_create_notifications_partition(month timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  from_at timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  to_at timestamptz := (date_trunc('month', month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  name text := 'notifications_' || to_char(month AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
BEGIN
  -- Two maintenance runs at once take turns (the second finds the table).
  PERFORM pg_advisory_xact_lock(hashtext('notify_create_notifications_partition'));
  IF to_regclass(format('%I', name)) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE notifications INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) WITH (fillfactor = 90)', name);
  -- No insert may land in the default partition between the move and the attach (the attach would
  -- then fail); inserts that route elsewhere do not touch it.
  LOCK TABLE notifications_default IN SHARE ROW EXCLUSIVE MODE;
  EXECUTE format('WITH moved AS (DELETE FROM notifications_default WHERE created_at >= %L AND created_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', from_at, to_at, name);
  EXECUTE format('ALTER TABLE notifications ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, from_at, to_at);
  RETURN true;
END $$;

-- A partition for every month of the existing rows, up to three months ahead; then the rows.
SELECT notify_create_notifications_partition(m)
  FROM generate_series(
         date_trunc('month', least(coalesce((SELECT min("created_at") FROM "notifications_unpartitioned"), now()), now()) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
         now() + interval '3 months', interval '1 month') AS m;
INSERT INTO "notifications" SELECT * FROM "notifications_unpartitioned";
DROP TABLE "notifications_unpartitioned";
