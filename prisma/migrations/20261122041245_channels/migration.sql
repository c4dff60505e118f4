-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "enqueued_at" TIMESTAMPTZ(3),
ADD COLUMN     "last_error" TEXT,
ADD COLUMN     "provider_id" TEXT,
ADD COLUMN     "sent_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "dead_letters" (
    "id" BIGSERIAL NOT NULL,
    "trigger_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "replayed_at" TIMESTAMPTZ(3),
    "discarded_at" TIMESTAMPTZ(3),

    CONSTRAINT "dead_letters_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "local_outbox" (
    "id" UUID NOT NULL DEFAULT uuid_generate_v7(),
    "trigger_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "recipient" TEXT NOT NULL,
    "subject" TEXT,
    "html" TEXT,
    "text" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "local_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "dead_letters_channel_created_at_idx" ON "dead_letters"("channel", "created_at");

-- CreateIndex
CREATE INDEX "local_outbox_created_at_idx" ON "local_outbox"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "local_outbox_trigger_id_user_id_channel_key" ON "local_outbox"("trigger_id", "user_id", "channel");

-- Hand-written: the queued deliveries the relay checks, only those.
CREATE INDEX "deliveries_queued_idx" ON "deliveries"("enqueued_at") WHERE "status" = 'queued';
