-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "batch_id" BIGINT;

-- CreateTable
CREATE TABLE "batch_windows" (
    "id" BIGSERIAL NOT NULL,
    "user_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "ends_at" TIMESTAMPTZ(3) NOT NULL,
    "size" INTEGER NOT NULL DEFAULT 1,
    "closed_at" TIMESTAMPTZ(3),

    CONSTRAINT "batch_windows_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "batch_windows_ends_at_idx" ON "batch_windows"("ends_at") WHERE "closed_at" IS NULL;

-- At most one open window per user, type and channel (written by hand: Prisma has no partial unique index).
CREATE UNIQUE INDEX "batch_windows_open_key" ON "batch_windows"("user_id", "type", "channel") WHERE "closed_at" IS NULL;

-- CreateIndex
CREATE INDEX "deliveries_batch_id_idx" ON "deliveries"("batch_id") WHERE "batch_id" IS NOT NULL;
