-- AlterTable
ALTER TABLE "users" ADD COLUMN     "last_digest_at" TIMESTAMPTZ(3);

-- Hand-written: the email deliveries waiting for a digest, by user.
CREATE INDEX "deliveries_digest_idx" ON "deliveries"("user_id") WHERE "status" = 'batched' AND "reason" = 'digest';
