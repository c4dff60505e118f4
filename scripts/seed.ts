// Seeds the default notification types and, with DEMO_MODE, a few demo users and a topic.
import { env } from "@/server/env";
import { closeDb, pool } from "@/server/db";
import { seedNotificationTypes } from "@/server/types/seed-notification-types";
import { DEMO_USERS } from "@/server/users/demo-users";


const types = await seedNotificationTypes();
let users = 0;
if (env.DEMO_MODE) {
  for (const user of DEMO_USERS) {
    const { rowCount } = await pool.query(
      "INSERT INTO users (id, name, email, role) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
      [user.id, user.name, user.email, user.role],
    );
    users += rowCount ?? 0;
  }
  await pool.query("INSERT INTO topics (key) VALUES ('followers:alice') ON CONFLICT DO NOTHING");
  await pool.query("INSERT INTO topic_subscriptions (topic_key, user_id) VALUES ('followers:alice', 'bob'), ('followers:alice', 'carol') ON CONFLICT DO NOTHING");
}
console.log(`seed: ${types} notification types and ${users} demo users added`);
await closeDb();
