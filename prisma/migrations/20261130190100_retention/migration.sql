-- CreateTable
CREATE TABLE "notifications_archive" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "trigger_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "priority" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "actor" JSONB,
    "actors" JSONB NOT NULL DEFAULT '[]',
    "actor_count" INTEGER NOT NULL DEFAULT 0,
    "target" JSONB,
    "actions" JSONB NOT NULL DEFAULT '[]',
    "data" JSONB NOT NULL DEFAULT '{}',
    "seq" BIGINT NOT NULL,
    "read_at" TIMESTAMPTZ(3),
    "seen_at" TIMESTAMPTZ(3),
    "archived_at" TIMESTAMPTZ(3),
    "clicked_at" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "sort_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notifications_archive_pkey" PRIMARY KEY ("id","created_at")
);

-- CreateTable
CREATE TABLE "notification_retention" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "cold_before" TIMESTAMPTZ(3),
    "last_run_at" TIMESTAMPTZ(3),
    "started_at" TIMESTAMPTZ(3),

    CONSTRAINT "notification_retention_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "notifications_archive_user_id_sort_at_id_idx" ON "notifications_archive"("user_id", "sort_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "notifications_archive_created_at_idx" ON "notifications_archive" USING BRIN ("created_at");
