/*
  Warnings:

  - You are about to drop the column `body` on the `notification_types` table. All the data in the column will be lost.
  - You are about to drop the column `title` on the `notification_types` table. All the data in the column will be lost.

*/
-- AlterTable
ALTER TABLE "notification_types" ADD COLUMN     "aggregate" JSONB,
ADD COLUMN     "archived_at" TIMESTAMPTZ(3),
ADD COLUMN     "batch" JSONB,
ADD COLUMN     "defaults" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "limits" JSONB,
ADD COLUMN     "locales" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "opt_out" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "respect_quiet_hours" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "template_version" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "templates" JSONB NOT NULL DEFAULT '{}';

-- Hand-written: the in-app title and body templates move into `templates` (version 1) before their
-- columns go.
UPDATE "notification_types"
   SET "templates" = jsonb_build_object('in_app', jsonb_build_object('title', "title", 'body', coalesce("body", ''))),
       "template_version" = 1
 WHERE "title" IS NOT NULL;

ALTER TABLE "notification_types" DROP COLUMN "body",
DROP COLUMN "title";

-- AlterTable
ALTER TABLE "triggers" ADD COLUMN     "template_version" INTEGER;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "preferences" JSONB NOT NULL DEFAULT '{}';

-- CreateTable
CREATE TABLE "template_versions" (
    "type_key" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "templates" JSONB NOT NULL,
    "locales" JSONB NOT NULL DEFAULT '{}',
    "saved_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "template_versions_pkey" PRIMARY KEY ("type_key","version")
);

-- CreateTable
CREATE TABLE "deliveries" (
    "trigger_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "reason" TEXT,
    "deliver_at" TIMESTAMPTZ(3),
    "template_version" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deliveries_pkey" PRIMARY KEY ("trigger_id","user_id","channel")
);

-- CreateIndex
CREATE INDEX "deliveries_deferred_idx" ON "deliveries"("deliver_at");

-- CreateIndex
CREATE INDEX "deliveries_user_id_idx" ON "deliveries"("user_id");

-- AddForeignKey
ALTER TABLE "template_versions" ADD CONSTRAINT "template_versions_type_key_fkey" FOREIGN KEY ("type_key") REFERENCES "notification_types"("key") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written: the moved templates are version 1 of their types.
INSERT INTO "template_versions" ("type_key", "version", "templates", "saved_by")
SELECT "key", 1, "templates", 'migration' FROM "notification_types" WHERE "template_version" = 1;
