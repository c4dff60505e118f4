import { withTransaction } from "@/server/db";

/** Subscribes users to a topic (creating the topic and unknown users on the fly). */
export async function addTopicSubscribers(topicKey: string, userIds: string[]): Promise<{ added: number }> {
  const ids = [...new Set(userIds)];
  return withTransaction(async (sql) => {
    await sql.query("INSERT INTO topics (key) VALUES ($1) ON CONFLICT DO NOTHING", [topicKey]);
    await sql.query("INSERT INTO users (id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING", [ids]);
    const { rowCount } = await sql.query(
      "INSERT INTO topic_subscriptions (topic_key, user_id) SELECT $1, u FROM unnest($2::text[]) u ORDER BY u ON CONFLICT DO NOTHING",
      [topicKey, ids],
    );
    return { added: rowCount ?? 0 };
  });
}

export async function removeTopicSubscribers(topicKey: string, userIds: string[]): Promise<{ removed: number }> {
  return withTransaction(async (sql) => {
    const { rowCount } = await sql.query(`DELETE FROM topic_subscriptions WHERE (topic_key, user_id) IN (
         SELECT topic_key, user_id FROM topic_subscriptions WHERE topic_key = $1 AND user_id = ANY($2::text[]) ORDER BY user_id FOR UPDATE)`, [
      topicKey,
      [...new Set(userIds)],
    ]);
    return { removed: rowCount ?? 0 };
  });
}
