// Builds the app once and serves ui/dist on 127.0.0.1 (random port) for the UI tests, with
// the strict CSP the app ships under, so a violation shows up as a test failure.
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { build } from "vite";

const ROOT = resolve(import.meta.dirname, "..");
const DIST = join(ROOT, "dist");
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

let server: Server | undefined;

export async function setup(project: { provide: (key: string, value: unknown) => void }) {
  if (!process.env.UI_TEST_NO_BUILD) {
    await build({ root: ROOT, configFile: join(ROOT, "vite.config.ts"), logLevel: "warn" });
  }
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = join(DIST, rel === "/" ? "index.html" : rel);
    try {
      if (!file.startsWith(DIST)) throw new Error("outside dist");
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "content-security-policy": "default-src 'self'",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server!.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("no port");
  project.provide("baseUrl", `http://127.0.0.1:${addr.port}/`);
}

export async function teardown() {
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
}

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
  }
}
