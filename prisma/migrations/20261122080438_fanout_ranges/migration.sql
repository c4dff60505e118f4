-- CreateTable
CREATE TABLE "fanout_ranges" (
    "trigger_id" UUID NOT NULL,
    "idx" INTEGER NOT NULL,
    "after" TEXT NOT NULL,
    "upto" TEXT,
    "cursor" TEXT,
    "count" INTEGER NOT NULL DEFAULT 0,
    "done_at" TIMESTAMPTZ(3),

    CONSTRAINT "fanout_ranges_pkey" PRIMARY KEY ("trigger_id","idx")
);
