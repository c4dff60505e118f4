-- CreateTable
CREATE TABLE "notification_groups" (
    "user_id" TEXT NOT NULL,
    "group_key" TEXT NOT NULL,
    "notification_id" UUID,
    "notification_at" TIMESTAMPTZ(3),
    "window_ends_at" TIMESTAMPTZ(3),

    CONSTRAINT "notification_groups_pkey" PRIMARY KEY ("user_id","group_key")
);

-- CreateTable
CREATE TABLE "notification_group_actors" (
    "user_id" TEXT NOT NULL,
    "group_key" TEXT NOT NULL,
    "actor_id" TEXT NOT NULL,

    CONSTRAINT "notification_group_actors_pkey" PRIMARY KEY ("user_id","group_key","actor_id")
);

-- CreateIndex
CREATE INDEX "notification_groups_window_ends_at_idx" ON "notification_groups"("window_ends_at");
