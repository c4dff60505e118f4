-- CreateTable
CREATE TABLE "suppressions" (
    "channel" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "suppressions_pkey" PRIMARY KEY ("channel","address")
);

-- CreateIndex
CREATE INDEX "deliveries_provider_id_idx" ON "deliveries"("provider_id");
