// Runs the retention job now, whatever the hour (the relay runs it daily at RETENTION_HOUR_UTC):
//   npm run retention                                  with RETENTION_ARCHIVE_DAYS / RETENTION_DELETE_DAYS
//   npm run retention -- --archive-days 30 --delete-days 180
// Prints what it moved, deleted and dropped as JSON.
import { parseArgs } from "node:util";
import { closeDb } from "@/server/db";
import { closeRedis } from "@/server/redis";
import { ensureNotificationPartitions } from "@/server/notifications/partitions";
import { runRetention } from "@/server/notifications/retention";

const { values } = parseArgs({ options: { "archive-days": { type: "string" }, "delete-days": { type: "string" } } });
const days = (v: string | undefined) => (v === undefined ? undefined : Number(v));
let exitCode = 0;
try {
  const options = { archiveDays: days(values["archive-days"]), deleteDays: days(values["delete-days"]) };
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) throw new Error(`--${name.replace("Days", "-days")} must be a whole number of days (0: off)`);
  }
  await ensureNotificationPartitions();
  const result = await runRetention(undefined, Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  console.log(JSON.stringify(result));
} catch (error) {
  console.error((error as Error).message);
  exitCode = 1;
}
await closeDb();
await closeRedis();
process.exit(exitCode);
