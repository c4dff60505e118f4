-- AlterTable
ALTER TABLE "service_keys" ADD COLUMN     "recipients_per_second" INTEGER,
ADD COLUMN     "requests_per_second" INTEGER;
