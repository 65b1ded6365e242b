// Build config: one bundle in dist/ that Tauri embeds; both windows load it.
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Preact's automatic JSX runtime without a framework plugin: Vite's own transform does it.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: "dist",
    target: "es2021",
    // WebKitGTK and the test browser both load the bundle from disk; no source maps needed
    // in the shipped app.
    sourcemap: false,
    // Keep every asset a file: inlined data: URLs would need a looser CSP.
    assetsInlineLimit: 0,
  },
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
    testTimeout: 10000,
    // Local-time formatting is asserted in UTC, whatever the machine's zone.
    env: { TZ: "UTC" },
  },
});
