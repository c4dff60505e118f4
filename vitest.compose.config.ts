// The compose check (npm test runs it after the other tests, alone): docker-compose.yml and the
// Dockerfile carried out without Docker (tests/compose/docker-emulation.ts). It builds the image
// directory (npm ci and next build in it), so it runs by itself rather than beside the system tests.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/compose/**/*.test.ts"],
    reporters: ["default", "./tests/summary-reporter.ts"],
    testTimeout: 120_000,
    hookTimeout: 900_000,
    pool: "forks",
    maxWorkers: 1,
  },
});
