import pino from "pino";
import { env } from "@/server/env";

/** Structured JSON logs. Child loggers carry `triggerId`, `userId` or `job` where they apply. */
export const logger = pino({ level: env.LOG_LEVEL, base: { pid: process.pid, service: process.env.NOTIFY_SERVICE ?? "web" } });
