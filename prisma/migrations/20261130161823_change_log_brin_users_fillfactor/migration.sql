-- DropIndex
DROP INDEX "notification_changes_at_idx";

-- CreateIndex
CREATE INDEX "notification_changes_at_idx" ON "notification_changes" USING BRIN ("at");

-- Every notification rewrites its user's row (seq and counters). Leaving room on each page lets those
-- updates stay on the page (HOT: no new index entry per update). Applies to pages written from now on.
ALTER TABLE "users" SET (fillfactor = 70);
