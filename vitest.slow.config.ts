// The slow tier (npm run test:slow): tests at full scale, run by hand and reported on the issue,
// outside CI's time budget. Same system harness as the system tests, one file at a time.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL(".", import.meta.url)) } },
  test: {
    include: ["tests/slow/**/*.slow.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    pool: "forks",
    maxWorkers: 1,
  },
});
