-- AlterTable
ALTER TABLE "triggers" ADD COLUMN     "broadcast_threshold" INTEGER;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "broadcasts_synced_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "broadcasts" (
    "trigger_id" UUID NOT NULL,
    "topic_key" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "priority" TEXT NOT NULL,
    "routing" JSONB NOT NULL,
    "texts" JSONB NOT NULL,
    "actor" JSONB,
    "target" JSONB,
    "data" JSONB NOT NULL DEFAULT '{}',
    "recipients" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "published_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "removed_at" TIMESTAMPTZ(3),

    CONSTRAINT "broadcasts_pkey" PRIMARY KEY ("trigger_id")
);

-- CreateIndex
CREATE INDEX "broadcasts_topic_key_published_at_idx" ON "broadcasts"("topic_key", "published_at");
