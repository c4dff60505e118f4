-- AlterTable
ALTER TABLE "outbox" ADD COLUMN     "available_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- CreateIndex (hand-written: partial, most notifications never expire)
CREATE INDEX "notifications_expiring_idx" ON "notifications"("expires_at") WHERE "expires_at" IS NOT NULL;

-- Hand-written: the deferred deliveries the scheduler looks for, only those.
DROP INDEX "deliveries_deferred_idx";
CREATE INDEX "deliveries_deferred_idx" ON "deliveries"("deliver_at") WHERE "status" = 'deferred';

-- Hand-written: pending outbox rows by when they may go.
CREATE INDEX "outbox_pending_idx" ON "outbox"("available_at") WHERE "done_at" IS NULL;
