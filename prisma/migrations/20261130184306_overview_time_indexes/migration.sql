-- CreateIndex
CREATE INDEX "delivery_attempts_at_idx" ON "delivery_attempts" USING BRIN ("at");

-- CreateIndex
CREATE INDEX "notifications_created_at_idx" ON "notifications" USING BRIN ("created_at");
