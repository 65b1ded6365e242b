// The main window against the fake engine: what it shows and what it asks the engine to do.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { FakeEngine } from "./fake-engine";
import { launch, openApp, type App } from "./harness";

let browser: Browser;
let app: App | undefined;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  const problems = app?.problems ?? [];
  await app?.close();
  app = undefined;
  expect(problems).toEqual([]);
});

const tid = (id: string) => `[data-testid="${id}"]`;

async function start(engine = new FakeEngine(), opts = {}) {
  app = await openApp(browser, engine, opts);
  return app;
}

describe("main window", () => {
  it("shows the empty state and opens the wizard", async () => {
    const { page, engine } = await start(new FakeEngine({ empty: true }));
    await page.locator(tid("empty-state")).waitFor();
    expect(await page.locator(tid("empty-state")).innerText()).toContain("No connections yet");
    await app!.shot("main-empty");
    await page.click(tid("add-connection"));
    await expect.poll(() => engine.callsOf("open_wizard").length).toBe(1);
  });

  it("lists connections and renders every tab from the engine's data", async () => {
    const { page } = await start();
    for (const name of ["Demo", "Work", "Photos"]) await page.locator(tid(`conn-item-${name}`)).waitFor();
    expect(await page.locator(tid("conn-item-Work")).innerText()).toContain("WebDAV");
    const statusText = page.locator(tid("status-text"));
    expect(await statusText.innerText()).toContain("idle");
    const overview = await page.locator(".overview").innerText();
    for (const s of ["demo@cloudsync.invalid", "/home/me/Demo", "Demo cloud /Demo", "128", "5 min ago"].slice(0, 4)) {
      expect(overview).toContain(s);
    }
    await app!.shot("main-overview");

    await page.click(tid("tab-transfers"));
    await expect.poll(() => page.locator(tid("transfer-row")).count()).toBe(2);
    const first = await page.locator(tid("transfer-row")).first().innerText();
    expect(first).toContain("Videos/holiday.mp4");
    expect(first).toContain("30 MiB / 120 MiB");
    expect(first).toContain("2.0 MiB/s");
    expect(await page.locator(tid("transfer-speed")).innerText()).toContain("2.3 MiB/s");
    expect(await page.locator(`${tid("transfer-row")} progress`).first().getAttribute("value")).toBe("25");
    await app!.shot("main-transfers");

    await page.click(tid("tab-activity"));
    await expect.poll(() => page.locator(tid("activity-row")).count()).toBe(6);
    const row = await page.locator(tid("activity-row")).first().innerText();
    expect(row).toContain("Docs/Report.pdf");
    expect(row).toContain("upload");
    await app!.shot("main-activity");

    await page.click(tid("tab-skipped"));
    await expect.poll(() => page.locator(tid("skipped-row")).count()).toBe(2);
    expect(await page.locator(tid("skipped-row")).nth(1).innerText()).toContain("larger than 10 GiB");
    await app!.shot("main-skipped");

    await page.click(tid("tab-conflicts"));
    await expect.poll(() => page.locator(tid("conflict-row")).count()).toBe(2);
    await app!.shot("main-conflicts");

    await page.click(tid("tab-settings"));
    await page.locator(tid("opt-mode")).waitFor();
    expect(await page.locator(tid("opt-mode")).inputValue()).toBe("two-way");
    expect(await page.locator(tid("opt-poll")).inputValue()).toBe("30");
    await app!.shot("main-settings");
  });

  it("selecting another connection shows its status", async () => {
    const { page } = await start();
    await page.click(tid("conn-item-Photos"));
    await expect.poll(() => page.locator(tid("status-text")).innerText()).toContain("paused");
    expect(await page.locator(tid("resume-button")).isEnabled()).toBe(true);
    expect(await page.locator(tid("pause-button")).isEnabled()).toBe(false);
  });

  it("an error state shows its reason; the tray's status line is in the sidebar", async () => {
    const engine = new FakeEngine();
    engine.connections[2] = { ...engine.connections[2], state: "error", reason: "the sync folder /home/me/Photos is missing (not mounted?)", paused: false };
    const { page } = await start(engine);
    await page.click(tid("conn-item-Photos"));
    await expect.poll(() => page.locator(tid("status-text")).innerText()).toContain("error");
    expect(await page.locator(tid("status-text")).innerText()).toContain("is missing (not mounted?)");
    expect(await page.locator(tid("status-line")).innerText()).toBe("Up to date");
    await app!.shot("main-error-state");
  });

  it("tabs follow the arrow keys", async () => {
    const { page } = await start();
    await page.focus(tid("tab-overview"));
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => page.locator(tid("tab-transfers")).getAttribute("aria-selected")).toBe("true");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    await expect.poll(() => page.locator(tid("tab-settings")).getAttribute("aria-selected")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("tab-settings");
  });

  it("Pause calls pause with the connection's name, then Resume resumes it", async () => {
    const { page, engine } = await start();
    await page.click(tid("pause-button"));
    await expect.poll(() => engine.callsOf("pause")).toEqual([{ name: "Demo" }]);
    await expect.poll(() => page.locator(tid("status-text")).innerText()).toContain("paused");
    await page.click(tid("resume-button"));
    await expect.poll(() => engine.callsOf("resume")).toEqual([{ name: "Demo" }]);
    await expect.poll(() => page.locator(tid("status-text")).innerText()).toContain("idle");
  });

  it("shows a failing command's reason inline", async () => {
    const { page, engine } = await start();
    engine.failNext.pause = "the daemon is not answering";
    await page.click(tid("pause-button"));
    await expect.poll(() => page.locator(tid("overview-error")).innerText()).toContain("the daemon is not answering");
  });

  it("Unlink asks first, and only Unlink in the dialog unlinks", async () => {
    const { page, engine } = await start();
    await page.click(tid("unlink-button"));
    const dialog = page.locator('[role="dialog"]');
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain("files stay on both sides");
    await app!.shot("main-unlink-dialog");
    expect(engine.callsOf("unlink")).toEqual([]);
    await page.click(tid("cancel-unlink"));
    await dialog.waitFor({ state: "detached" });
    expect(engine.callsOf("unlink")).toEqual([]);

    await page.click(tid("unlink-button"));
    await page.click(tid("confirm-unlink"));
    await expect.poll(() => engine.callsOf("unlink")).toEqual([{ name: "Demo" }]);
    await page.locator(tid("conn-item-Demo")).waitFor({ state: "detached" });
    // The next connection is selected instead.
    await expect.poll(() => page.locator(".conn-title").innerText()).toBe("Work");
  });

  it("the unlink dialog survives live refreshes (snapshot / connections-changed every second)", async () => {
    const { page, engine } = await start();
    await page.locator(tid("conn-item-Demo")).waitFor();
    await page.click(tid("unlink-button"));
    const dialog = page.locator('[role="dialog"]');
    await dialog.waitFor();
    for (let i = 0; i < 4; i++) {
      // What a syncing engine pushes: new counts, a new state, then a list change.
      engine.connections[0].synced_files += 1;
      engine.connections[0].state = i % 2 ? "idle" : "syncing";
      await app!.emit("snapshot", engine.snapshot());
      await app!.emit("connections-changed", null);
      await page.waitForTimeout(120);
      expect(await page.locator(tid("confirm-unlink")).count()).toBe(1);
    }
    await expect.poll(() => page.locator(".overview").innerText()).toContain("132");
    expect(await dialog.count()).toBe(1);
    await page.click(tid("confirm-unlink"));
    await expect.poll(() => engine.callsOf("unlink")).toEqual([{ name: "Demo" }]);
  });

  it("a click right after switching to Overview opens the dialog (nothing resets it after paint)", async () => {
    const { page } = await start();
    await page.locator(tid("conn-item-Demo")).waitFor();
    await page.click(tid("tab-conflicts"));
    await page.locator(tid("conflict-row")).first().waitFor();
    // Both clicks in one task, as a fast WebDriver client can land them: the Overview mounts
    // and is clicked before the browser paints, i.e. before any effect has run.
    await page.evaluate(async () => {
      (document.querySelector('[data-testid="tab-overview"]') as HTMLElement).click();
      await Promise.resolve();
      await new Promise((r) => setTimeout(r, 0));
      (document.querySelector('[data-testid="unlink-button"]') as HTMLElement).click();
    });
    await page.waitForTimeout(300);
    expect(await page.locator(tid("confirm-unlink")).count()).toBe(1);
  });

  it("a typed Settings edit and the Activity filter survive refreshes", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-activity"));
    await page.fill(tid("activity-filter-text"), "photos/");
    await app!.emit("snapshot", engine.snapshot());
    await app!.emit("connections-changed", null);
    await page.waitForTimeout(600);
    expect(await page.locator(tid("activity-filter-text")).inputValue()).toBe("photos/");
    await page.click(tid("tab-settings"));
    await page.selectOption(tid("opt-mode"), "upload-only");
    engine.connections[0].state = "syncing";
    await app!.emit("snapshot", engine.snapshot());
    await app!.emit("connections-changed", null);
    await page.waitForTimeout(300);
    expect(await page.locator(tid("opt-mode")).inputValue()).toBe("upload-only");
  });

  it("the activity filter narrows rows by text and by action", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-activity"));
    const rows = page.locator(tid("activity-row"));
    await expect.poll(() => rows.count()).toBe(6);
    await page.fill(tid("activity-filter-text"), "PHOTOS/");
    await expect.poll(() => rows.count()).toBe(3);
    await page.fill(tid("activity-filter-text"), "trash");
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain("Old/notes.txt");
    await page.fill(tid("activity-filter-text"), "");
    await page.selectOption(tid("activity-filter-action"), "upload");
    await expect.poll(() => rows.count()).toBe(2);
    // The rows narrow at once (client side); the refetch for that action follows.
    await expect.poll(() => engine.callsOf("activity").at(-1)).toEqual({ name: "Demo", action: "upload", limit: 500 });
    await page.fill(tid("activity-filter-text"), "dog");
    await expect.poll(() => rows.count()).toBe(1);
  });

  it("activity is refetched after synced / round-finished events, once per burst", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-activity"));
    await expect.poll(() => page.locator(tid("activity-row")).count()).toBe(6);
    const before = engine.callsOf("activity").length;
    engine.activityRows.unshift({ id: 200, connection: "Demo", time_ms: Date.UTC(2026, 10, 25, 10), action: "download", path: "New/arrived.txt", bytes: 5, detail: null });
    for (let i = 0; i < 5; i++) await app!.emit("engine-event", { type: "synced", connection: "Demo", path: `f${i}` });
    await app!.emit("engine-event", { type: "synced", connection: "Other" });
    await expect.poll(() => page.locator(tid("activity-row")).count()).toBe(7);
    expect(await page.locator(tid("activity-row")).first().innerText()).toContain("New/arrived.txt");
    expect(engine.callsOf("activity").length).toBe(before + 1);
  });

  it("conflict buttons call resolve with the row's path and the choice", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-conflicts"));
    const row = page.locator(tid("conflict-row"), { hasText: "budget.xlsx" });
    await row.waitFor();
    await row.locator(tid("resolve-keep-remote")).click();
    await expect.poll(() => engine.callsOf("resolve")).toEqual([{ name: "Demo", path: "budget.xlsx", choice: "keep-remote" }]);
    await expect.poll(() => row.innerText()).toContain("resolved");
    expect(await row.innerText()).toContain("kept the remote version of budget.xlsx");
    expect(await row.locator(tid("resolve-keep-local")).isDisabled()).toBe(true);

    const other = page.locator(tid("conflict-row"), { hasText: "Docs/plan.md" });
    await other.locator(tid("resolve-keep-both")).click();
    await expect.poll(() => engine.callsOf("resolve").at(-1)).toEqual({ name: "Demo", path: "Docs/plan.md", choice: "keep-both" });
    await expect.poll(() => other.locator(tid("resolve-keep-local")).isDisabled()).toBe(true);
    expect(await page.locator(".conflicts").innerText()).toContain("0 open, 2 resolved");
  });

  it("Skipped: the Why? box asks the engine about a path", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-skipped"));
    await page.fill(tid("why-input"), "~lock.docx");
    await page.click(tid("why-button"));
    await expect.poll(() => page.locator(tid("why-answer")).innerText()).toContain("never sync");
    expect(engine.callsOf("why")).toEqual([{ name: "Demo", path: "~lock.docx" }]);
  });

  it("the approval panel shows the plan for waiting-for-approval and Approve approves", async () => {
    const { page, engine } = await start();
    expect(await page.locator(tid("approval-panel")).count()).toBe(0);
    await page.click(tid("conn-item-Work"));
    const panel = page.locator(tid("approval-panel"));
    await panel.waitFor();
    await expect.poll(() => panel.innerText()).toContain("40 of 60 remote files would be deleted");
    expect(await panel.innerText()).toContain("Reports/q1.xlsx");
    expect(await panel.innerText()).toContain("and 4 more");
    await panel.locator("summary").click();
    await expect.poll(() => panel.locator("ol li").count()).toBe(40);
    await app!.shot("main-approval");
    await page.click(tid("approve-button"));
    await expect.poll(() => engine.callsOf("approve")).toEqual([{ name: "Work" }]);
    await panel.waitFor({ state: "detached" });
    expect(await page.locator(tid("status-text")).innerText()).toContain("syncing");
  });

  it("Cancel on the approval panel calls cancel_plan", async () => {
    const { page, engine } = await start();
    await page.click(tid("conn-item-Work"));
    await page.click(tid("cancel-plan-button"));
    await expect.poll(() => engine.callsOf("cancel_plan")).toEqual([{ name: "Work" }]);
    await page.locator(tid("approval-panel")).waitFor({ state: "detached" });
  });

  /** The engine with its Photos connection refused by Dropbox. */
  function signedOut(): FakeEngine {
    const engine = new FakeEngine();
    Object.assign(engine.connections[2], {
      provider: "dropbox",
      state: "error",
      paused: false,
      reason: "remote refused the credentials: the Dropbox sign-in has expired or was revoked",
      account: "dropbox:dbid:AAH4f99",
      sign_in_needed: true,
    });
    return engine;
  }

  it("a refused sign-in offers Sign in again: the page address while waiting, then syncing resumes", async () => {
    const engine = signedOut();
    const { page } = await start(engine);
    expect(await page.locator(tid("relink-panel")).count()).toBe(0);
    await page.click(tid("conn-item-Photos"));
    const panel = page.locator(tid("relink-panel"));
    await panel.waitFor();
    expect(await panel.innerText()).toContain("Sign in to Dropbox again");
    expect(await panel.innerText()).toContain("dropbox:dbid:AAH4f99");
    // The status keeps to a short word; the engine's reason is there on hover.
    expect(await page.locator(tid("status-text")).innerText()).toContain("the provider refused the sign-in");
    expect(await page.locator(tid("status-text")).getAttribute("title")).toContain("expired or was revoked");
    await page.waitForFunction(() => (window as any).__listenerCount("sign-in-progress") > 0);
    await page.click(tid("relink-start"));
    await expect.poll(() => engine.callsOf("relink")).toEqual([{ name: "Photos" }]);
    const url = "https://www.dropbox.com/oauth2/authorize?client_id=k&state=s";
    // Progress for another provider is not this panel's.
    await app!.emit("sign-in-progress", { provider: "gdrive", url: "https://accounts.google.com/x", device: null });
    await app!.emit("sign-in-progress", { provider: "dropbox", url, device: null });
    await expect.poll(() => panel.locator(tid("sign-in-url")).innerText()).toBe(url);
    await app!.shot("main-relink-waiting");
    engine.finishSignIn({ session: "", account: "" });
    await panel.waitFor({ state: "detached" });
    await expect.poll(() => page.locator(tid("status-text")).innerText()).not.toContain("error");
  });

  it("a refused relink (another account) shows the reason and can be tried again; Cancel cancels", async () => {
    const engine = signedOut();
    const { page } = await start(engine);
    await page.click(tid("conn-item-Photos"));
    await page.click(tid("relink-start"));
    await expect.poll(() => engine.signInWaiting).toBe(true);
    engine.failSignIn("signed in as dbid:other, but Photos syncs the account dbid:AAH4f99; sign in with that account (nothing was changed)");
    await expect.poll(() => page.locator(tid("relink-error")).innerText()).toContain("nothing was changed");
    expect(await page.locator(tid("relink-start")).innerText()).toBe("Try again");
    await page.click(tid("relink-start"));
    await expect.poll(() => engine.signInWaiting).toBe(true);
    await page.click(tid("sign-in-cancel"));
    await expect.poll(() => engine.callsOf("cancel_sign_in").length).toBe(1);
    await page.locator(tid("relink-start")).waitFor();
    expect(await page.locator(tid("relink-error")).count()).toBe(0);
    expect(await page.locator(tid("relink-panel")).count()).toBe(1);
  });

  it("a pushed snapshot event updates Transfers and the list", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-transfers"));
    await expect.poll(() => page.locator(tid("transfer-row")).count()).toBe(2);
    const snap = engine.snapshot();
    snap.transfers = [
      { connection: "Demo", path: "Music/song.flac", direction: "download", done: 3 << 20, total: 4 << 20, bytes_per_sec: 5 << 20 },
    ];
    snap.total_bytes_per_sec = 5 << 20;
    snap.connections[0].state = "syncing";
    await app!.emit("snapshot", snap);
    await expect.poll(() => page.locator(tid("transfer-row")).count()).toBe(1);
    const row = await page.locator(tid("transfer-row")).innerText();
    expect(row).toContain("Music/song.flac");
    expect(row).toContain("↓");
    expect(await page.locator(`${tid("transfer-row")} progress`).getAttribute("value")).toBe("75");
    expect(await page.locator(tid("status-text")).innerText()).toContain("syncing");
    await app!.emit("snapshot", { ...snap, transfers: [], total_bytes_per_sec: 0 });
    await expect.poll(() => page.locator(tid("transfer-row")).count()).toBe(0);
  });

  it("connections-changed refetches the list", async () => {
    const { page, engine } = await start();
    await page.locator(tid("conn-item-Demo")).waitFor();
    engine.connections.push({ ...engine.connections[0], name: "Later" });
    engine.settings.Later = engine.settings.Demo;
    engine.scheduleText.Later = "always";
    await app!.emit("connections-changed", null);
    await page.locator(tid("conn-item-Later")).waitFor();
  });

  it("Settings saves the edited form and shows the engine's refusal inline", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-settings"));
    await page.selectOption(tid("opt-mode"), "download-only");
    await page.check(tid("opt-no-delete"));
    await page.fill(tid("opt-bw-up"), "250");
    await page.fill(tid("opt-max-size"), "2G");
    await page.fill(tid("opt-schedule"), "weekdays");
    await page.click(tid("settings-save"));
    await expect.poll(() => page.locator(tid("settings-error")).innerText()).toContain("needs days and hours");
    await app!.shot("main-settings-error");

    await page.fill(tid("opt-schedule"), "mon-fri 9-17");
    await page.click(tid("settings-save"));
    await page.locator(tid("settings-saved")).waitFor();
    const saved = engine.callsOf("save_settings").at(-1)!;
    expect(saved.name).toBe("Demo");
    expect(saved.scheduleText).toBe("mon-fri 9-17");
    expect(saved.settings).toMatchObject({ mode: "download-only", no_delete: true, bwlimit_up: 250 * 1024, bwlimit_down: null, max_size: 2 * 1024 ** 3 });
    expect(await page.locator(tid("settings-error")).count()).toBe(0);
  });

  it("Settings offers the connection's remote folders for selective sync", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-settings"));
    await page.locator(tid("opt-skip-Music")).waitFor();
    expect(engine.callsOf("connection_remote_folders").at(-1)).toMatchObject({ name: "Demo", path: "" });
    await page.check(tid("opt-skip-Music"));
    await page.click(tid("settings-save"));
    await page.locator(tid("settings-saved")).waitFor();
    expect(engine.callsOf("save_settings").at(-1)!.settings).toMatchObject({ skip_remote_folders: ["Music"] });
  });

  it("Start at login turns autostart on and off", async () => {
    const { page, engine } = await start();
    const box = page.locator(tid("autostart"));
    await expect.poll(() => box.isEnabled()).toBe(true);
    expect(await box.isChecked()).toBe(false);
    await box.check();
    await expect.poll(() => engine.autostartOn).toBe(true);
    await box.uncheck();
    await expect.poll(() => engine.autostartOn).toBe(false);
    expect(engine.callsOf("set_autostart").map((c) => c.enabled)).toEqual([true, false]);
  });

  it("Settings refuses an invalid field without calling the engine", async () => {
    const { page, engine } = await start();
    await page.click(tid("tab-settings"));
    await page.fill(tid("opt-transfers"), "0");
    await page.click(tid("settings-save"));
    await expect.poll(() => page.locator(tid("settings-error")).count()).toBe(1);
    expect(await page.locator("#err-transfers").innerText()).toContain("1 to 64");
    expect(engine.callsOf("save_settings")).toEqual([]);
  });

  it("looks right narrow (900x600) and dark", async () => {
    const { page } = await start(new FakeEngine(), { width: 900, height: 600 });
    await page.locator(tid("conn-item-Demo")).waitFor();
    await app!.shot("main-900x600");
    await app!.close();
    const dark = await start(new FakeEngine(), { dark: true });
    await dark.page.click(tid("conn-item-Work"));
    await dark.page.locator(tid("approval-panel")).waitFor();
    await dark.shot("main-dark");
  });
});
