-- notify_create_notifications_partition took SHARE ROW EXCLUSIVE on the default partition, and the
-- ATTACH then upgraded it to ACCESS EXCLUSIVE: a transaction that had read the default partition
-- (a fan-out joining an open group, a read-state change) and then wrote to it waited for the first
-- lock while holding what the upgrade waited for, a deadlock (seen in CI). Now the locks are taken
-- once, in the order every other transaction takes them: the parent first (SHARE UPDATE EXCLUSIVE,
-- what the ATTACH needs, which reads and writes do not conflict with), then the default partition
-- in ACCESS EXCLUSIVE, held from the move to the attach, so nothing is upgraded while others wait.
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
  -- While it waits for a lock, everything that needs the default partition queues behind it: a long
  -- reader (a dump, an idle transaction) must not stall traffic. The caller tries again later (55P03).
  PERFORM set_config('lock_timeout', '2s', true);
  LOCK TABLE notifications IN SHARE UPDATE EXCLUSIVE MODE;
  -- No insert may land in the default partition between the move and the attach (the attach would
  -- then fail). Held briefly: the move is empty unless rows landed there for want of this month.
  LOCK TABLE notifications_default IN ACCESS EXCLUSIVE MODE;
  EXECUTE format('WITH moved AS (DELETE FROM notifications_default WHERE created_at >= %L AND created_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', from_at, to_at, name);
  EXECUTE format('ALTER TABLE notifications ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, from_at, to_at);
  RETURN true;
END $$;
