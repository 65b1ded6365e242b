// Headless Chromium around the built app: one browser per test file, a fresh context and page
// per test, the Tauri IPC replaced (as @tauri-apps/api/mocks' mockIPC does) by a bridge to a
// FakeEngine in the test process, and a log of page errors and CSP violations that tests fail on.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { inject } from "vitest";
import type { FakeEngine } from "./fake-engine";

export const SHOTS = resolve(import.meta.dirname, "..", "test-results");

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launch(): Promise<Browser> {
  // Playwright gives every launch a fresh temporary --user-data-dir of its own.
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ARGS,
    headless: true,
    timeout: 30_000,
  });
}

/** Runs in the page before the app: the IPC and event plumbing the app expects from Tauri. */
function installMock() {
  type Cb = (data: unknown) => void;
  const callbacks = new Map<number, Cb>();
  const listeners = new Map<string, number[]>();
  let nextId = 1;
  const w = window as unknown as Record<string, any>;
  w.__TAURI_INTERNALS__ = {
    metadata: {
      currentWindow: { label: location.hash === "#wizard" ? "wizard" : "main" },
      currentWebview: { windowLabel: "main", label: "main" },
    },
    transformCallback(cb: Cb, once = false) {
      const id = nextId++;
      callbacks.set(id, (data) => {
        if (once) callbacks.delete(id);
        cb?.(data);
      });
      return id;
    },
    unregisterCallback(id: number) {
      callbacks.delete(id);
    },
    runCallback(id: number, data: unknown) {
      callbacks.get(id)?.(data);
    },
    callbacks,
    async invoke(cmd: string, args: Record<string, unknown> = {}) {
      if (cmd === "plugin:event|listen") {
        const event = args.event as string;
        listeners.set(event, [...(listeners.get(event) ?? []), args.handler as number]);
        return args.handler;
      }
      if (cmd === "plugin:event|unlisten") {
        const event = args.event as string;
        listeners.set(event, (listeners.get(event) ?? []).filter((id) => id !== args.eventId));
        return null;
      }
      const answer = await w.__fakeInvoke(cmd, args);
      if ("err" in answer) throw answer.err;
      return answer.ok;
    },
  };
  w.__TAURI_EVENT_PLUGIN_INTERNALS__ = {
    unregisterListener(_event: string, id: number) {
      callbacks.delete(id);
    },
  };
  w.__emit = (event: string, payload: unknown) => {
    for (const id of listeners.get(event) ?? []) callbacks.get(id)?.({ event, id, payload });
  };
  w.__listenerCount = (event: string) => (listeners.get(event) ?? []).length;
}

export interface App {
  page: Page;
  engine: FakeEngine;
  /** Page errors and CSP violations seen so far; tests assert it stays empty. */
  problems: string[];
  emit: (event: string, payload: unknown) => Promise<void>;
  shot: (name: string) => Promise<string>;
  close: () => Promise<void>;
}

export async function openApp(
  browser: Browser,
  engine: FakeEngine,
  opts: { hash?: string; width?: number; height?: number; dark?: boolean } = {},
): Promise<App> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    colorScheme: opts.dark ? "dark" : "light",
    reducedMotion: "reduce",
  });
  context.setDefaultTimeout(5_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  // Async: a long-running command (sign_in) answers when the test lets it.
  await page.exposeFunction("__fakeInvoke", async (cmd: string, args: Record<string, unknown>) => {
    try {
      const ok = await engine.handle(cmd, args);
      return { ok: ok === undefined ? null : ok };
    } catch (err) {
      return { err: typeof err === "string" ? err : String(err) };
    }
  });
  await page.addInitScript(installMock);
  await page.goto(inject("baseUrl") + (opts.hash ?? ""));
  // The app subscribes to its events right after start; wait so an emit is never lost.
  if (!opts.hash) await page.waitForFunction(() => (window as any).__listenerCount("snapshot") > 0);
  mkdirSync(SHOTS, { recursive: true });
  return {
    page,
    engine,
    problems,
    emit: async (event, payload) => {
      await page.evaluate(([e, p]) => (window as any).__emit(e, p), [event, payload] as const);
    },
    shot: async (name) => {
      const file = join(SHOTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      return file;
    },
    close: () => context.close(),
  };
}
