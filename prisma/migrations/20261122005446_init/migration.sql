-- uuid_generate_v7(): time-ordered UUIDv7 (RFC 9562) for column defaults. Hand-written: Prisma
-- does not manage functions. PostgreSQL 15 has gen_random_uuid() (v4) but no uuidv7(), so take a
-- random v4 uuid, overwrite its first 48 bits with the unix time in milliseconds and set the
-- version nibble to 7 (0100 -> 0111: bits 52 and 53 of the bytea), the variant bits stay 10.
CREATE OR REPLACE FUNCTION uuid_generate_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT encode(
    set_bit(
      set_bit(
        overlay(uuid_send(gen_random_uuid())
                PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                FROM 1 FOR 6),
        52, 1),
      53, 1),
    'hex')::uuid
$$;

-- CreateTable
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "name" TEXT,
    "email" TEXT,
    "phone" TEXT,
    "avatar_url" TEXT,
    "timezone" TEXT,
    "locale" TEXT,
    "role" TEXT NOT NULL DEFAULT 'user',
    "last_seq" BIGINT NOT NULL DEFAULT 0,
    "unread_count" INTEGER NOT NULL DEFAULT 0,
    "unseen_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "service_keys" (
    "id" UUID NOT NULL DEFAULT uuid_generate_v7(),
    "name" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "scopes" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "service_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_types" (
    "key" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "priority" TEXT NOT NULL DEFAULT 'normal',
    "channels" TEXT[] DEFAULT ARRAY['in_app']::TEXT[],
    "title" TEXT,
    "body" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notification_types_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "topics" (
    "key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "topics_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "topic_subscriptions" (
    "topic_key" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "topic_subscriptions_pkey" PRIMARY KEY ("topic_key","user_id")
);

-- CreateTable
CREATE TABLE "triggers" (
    "id" UUID NOT NULL,
    "service_key_id" TEXT,
    "type" TEXT NOT NULL,
    "recipient_ids" TEXT[],
    "topic_key" TEXT,
    "recipients" INTEGER NOT NULL,
    "actor" JSONB,
    "target" JSONB,
    "data" JSONB NOT NULL DEFAULT '{}',
    "title" TEXT,
    "body" TEXT,
    "actions" JSONB NOT NULL DEFAULT '[]',
    "priority" TEXT NOT NULL,
    "channels" TEXT[],
    "send_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),
    "status" TEXT NOT NULL DEFAULT 'accepted',
    "fanout_cursor" TEXT,
    "fanout_count" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "triggers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox" (
    "id" BIGSERIAL NOT NULL,
    "trigger_id" UUID NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'fanout',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "enqueued_at" TIMESTAMPTZ(3),
    "done_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "response_status" INTEGER,
    "response_body" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "notifications" (
    "id" UUID NOT NULL DEFAULT uuid_generate_v7(),
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

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id","created_at")
);

-- CreateTable
CREATE TABLE "notification_changes" (
    "user_id" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "notification_id" UUID,
    "notification_at" TIMESTAMPTZ(3),
    "ids" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notification_changes_pkey" PRIMARY KEY ("user_id","seq")
);

-- CreateIndex
CREATE UNIQUE INDEX "service_keys_key_hash_key" ON "service_keys"("key_hash");

-- CreateIndex
CREATE INDEX "topic_subscriptions_user_id_idx" ON "topic_subscriptions"("user_id");

-- CreateIndex
CREATE INDEX "triggers_created_at_idx" ON "triggers"("created_at");

-- CreateIndex
CREATE INDEX "outbox_trigger_id_idx" ON "outbox"("trigger_id");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- CreateIndex
CREATE INDEX "notifications_user_id_sort_at_id_idx" ON "notifications"("user_id", "sort_at" DESC, "id" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "notifications_trigger_id_user_id_created_at_key" ON "notifications"("trigger_id", "user_id", "created_at");

-- CreateIndex
CREATE INDEX "notification_changes_at_idx" ON "notification_changes"("at");

-- AddForeignKey
ALTER TABLE "topic_subscriptions" ADD CONSTRAINT "topic_subscriptions_topic_key_fkey" FOREIGN KEY ("topic_key") REFERENCES "topics"("key") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "topic_subscriptions" ADD CONSTRAINT "topic_subscriptions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
