-- CreateIndex
CREATE INDEX "dead_letters_user_id_idx" ON "dead_letters"("user_id");

-- CreateIndex
CREATE INDEX "local_outbox_user_id_idx" ON "local_outbox"("user_id");

-- CreateIndex
CREATE INDEX "sign_in_links_user_id_idx" ON "sign_in_links"("user_id");
