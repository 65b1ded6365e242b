// Config of the headless-Chromium UI tests (npm run test:ui): the built app against a fake
// engine, one file at a time (2-core machines), every test bounded.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests-ui/**/*.test.ts"],
    globalSetup: ["tests-ui/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    env: { TZ: "UTC" },
  },
});
