// The add-connection wizard against the fake engine, step by step, with a screenshot of each.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { defaults, FakeEngine } from "./fake-engine";
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

async function start(engine = new FakeEngine({ empty: true }), opts: { width?: number; height?: number; dark?: boolean } = {}) {
  app = await openApp(browser, engine, { hash: "#wizard", ...opts });
  return app;
}

describe("wizard", () => {
  it("walks demo -> folders -> options -> summary -> finish and sends the right form", async () => {
    const { page, engine } = await start();
    const next = page.locator(tid("wizard-next"));

    await page.locator(tid("provider-demo")).waitFor();
    expect(await next.isDisabled()).toBe(true);
    expect(await page.locator(tid("provider-dropbox")).isDisabled()).toBe(true);
    expect(await page.locator(tid("provider-dropbox")).innerText()).toContain("Dropbox needs an app key");
    // The reason wraps inside its card, even an environment variable's long name.
    const spill = await page.locator(tid("provider-dropbox")).evaluate((card) => {
      const reason = card.querySelector(".provider-blurb")?.getBoundingClientRect();
      const box = card.getBoundingClientRect();
      return { right: (reason?.right ?? Infinity) - box.right, scroll: card.scrollWidth - card.clientWidth };
    });
    expect(spill.right).toBeLessThanOrEqual(0);
    expect(spill.scroll).toBeLessThanOrEqual(0);
    await page.click(tid("provider-demo"));
    await app!.shot("wizard-1-provider");
    await next.click();

    expect(await page.locator(".wizard-body").innerText()).toContain("needs no sign-in");
    await app!.shot("wizard-2-signin-demo");
    await next.click();

    // Folders: the default name, a non-empty folder refused with its reason.
    await page.locator(tid("conn-name")).waitFor();
    expect(await page.locator(tid("conn-name")).inputValue()).toBe("Demo");
    expect(await next.isDisabled()).toBe(true);
    await page.fill(tid("local-folder-input"), "/home/me/Documents");
    await expect.poll(() => page.locator(tid("local-folder-error")).innerText()).toContain("not empty");
    expect(await next.isDisabled()).toBe(true);
    await app!.shot("wizard-3-folders-not-empty");
    await page.fill(tid("local-folder-input"), "/home/me/CloudSync");
    await page.locator(tid("local-folder-error")).waitFor({ state: "detached" });
    await expect.poll(() => next.isEnabled()).toBe(true);
    expect(engine.callsOf("check_local_folder").at(-1)).toEqual({ path: "/home/me/CloudSync" });

    // Browse the remote: into Photos, back to the top via the breadcrumb, into Documents, use it.
    const list = page.locator(tid("remote-folder-list"));
    await page.locator(tid("remote-folder-Photos")).click();
    await page.locator(tid("remote-folder-2019")).waitFor();
    await page.locator(".breadcrumb button", { hasText: "/" }).click();
    await page.locator(tid("remote-folder-Documents")).click();
    await page.locator(tid("remote-folder-Work")).waitFor();
    expect(await list.innerText()).not.toContain("Photos");
    await page.click(tid("use-remote-folder"));
    await expect.poll(() => page.locator(".remote-foot").innerText()).toContain("/Documents");
    expect(engine.callsOf("remote_folders").map((a) => a.path)).toEqual(["", "Photos", "", "Documents"]);
    expect((engine.callsOf("remote_folders")[0].form as { provider: string }).provider).toBe("demo");
    await app!.shot("wizard-3-folders");
    await next.click();

    // Options: the shared form, skip list from the chosen remote folder's subfolders.
    await page.locator(tid("opt-mode")).waitFor();
    await page.locator(tid("opt-skip-Work")).waitFor();
    await page.selectOption(tid("opt-mode"), "upload-only");
    await page.check(tid("opt-no-delete"));
    await page.selectOption(tid("opt-conflict"), "keep-both");
    await page.check(tid("opt-skip-Work"));
    await page.fill(tid("opt-exclude-ext"), ".iso, tmp");
    await page.fill(tid("opt-bw-down"), "2048");
    await page.fill(tid("opt-transfers"), "0");
    await expect.poll(() => next.isDisabled()).toBe(true);
    await app!.shot("wizard-4-options-error");
    await page.fill(tid("opt-transfers"), "3");
    await expect.poll(() => next.isEnabled()).toBe(true);
    await app!.shot("wizard-4-options");
    await next.click();

    const summary = page.locator(tid("summary"));
    await summary.waitFor();
    const text = await summary.innerText();
    for (const s of ["Demo", "Demo cloud", "/home/me/CloudSync", "/Documents", "Upload local changes only", "Keep both", "Work", ".iso, .tmp", "2048 KB/s"]) {
      expect(text).toContain(s);
    }
    expect(await page.locator(tid("wizard-next")).count()).toBe(0);
    await app!.shot("wizard-5-summary");

    await page.click(tid("wizard-finish"));
    await page.locator(tid("wizard-done")).waitFor();
    const adds = engine.callsOf("add_connection");
    expect(adds).toHaveLength(1);
    expect(adds[0].form).toEqual({
      provider: "demo",
      name: "Demo",
      local_root: "/home/me/CloudSync",
      remote_folder: "Documents",
      settings: {
        ...defaults(),
        mode: "upload-only",
        no_delete: true,
        conflict: "keep-both",
        skip_remote_folders: ["Work"],
        exclude_extensions: ["iso", "tmp"],
        bwlimit_down: 2048 * 1024,
        transfers: 3,
      },
      schedule_text: "always",
      fields: {},
    });
    expect(await page.locator(tid("wizard-done")).innerText()).toContain("Done");
    await app!.shot("wizard-6-done");
    await page.click(tid("wizard-close"));
    await expect.poll(() => engine.callsOf("close_wizard").length).toBe(1);
  });

  it("Finish shows add_connection's refusal and stays; a retry can succeed", async () => {
    const { page, engine } = await start();
    engine.failNext.add_connection = "an account can only be used by one connection (Demo uses it)";
    await page.click(tid("provider-demo"));
    await page.click(tid("wizard-next"));
    await page.click(tid("wizard-next"));
    await page.fill(tid("local-folder-input"), "/home/me/Empty");
    await page.click(tid("wizard-next"));
    await page.locator(tid("opt-mode")).waitFor();
    await page.click(tid("wizard-next"));
    await page.click(tid("wizard-finish"));
    await expect.poll(() => page.locator(tid("wizard-error")).innerText()).toContain("only be used by one connection");
    expect(await page.locator(tid("summary")).isVisible()).toBe(true);
    await app!.shot("wizard-5-summary-error");
    await page.click(tid("wizard-finish"));
    await page.locator(tid("wizard-done")).waitFor();
    expect(engine.callsOf("add_connection")).toHaveLength(2);
  });

  it("Back keeps what was entered; the name follows the provider until edited", async () => {
    const engine = new FakeEngine();
    const { page } = await start(engine);
    await page.click(tid("provider-demo"));
    await page.click(tid("wizard-next"));
    await page.click(tid("wizard-next"));
    // "Demo" exists already in this engine, so the suggestion is the next free name.
    await expect.poll(() => page.locator(tid("conn-name")).inputValue()).toBe("Demo 2");
    await page.fill(tid("local-folder-input"), "/home/me/X");
    await page.click(tid("wizard-back"));
    await page.click(tid("wizard-back"));
    await page.click(tid("provider-local"));
    await page.click(tid("wizard-next"));
    await page.fill(tid("field-path"), "/mnt/disk");
    await page.click(tid("wizard-next"));
    expect(await page.locator(tid("conn-name")).inputValue()).toBe("Local");
    expect(await page.locator(tid("local-folder-input")).inputValue()).toBe("/home/me/X");
    await page.fill(tid("conn-name"), "Backup disk");
    await page.click(tid("wizard-back"));
    await page.click(tid("wizard-back"));
    await page.click(tid("provider-demo"));
    await page.click(tid("wizard-next"));
    await page.click(tid("wizard-next"));
    expect(await page.locator(tid("conn-name")).inputValue()).toBe("Backup disk");
  });

  it("WebDAV: the form fields, Test shows the error or the account inline", async () => {
    const { page, engine } = await start();
    await page.click(tid("provider-webdav"));
    await page.click(tid("wizard-next"));
    expect(await page.locator(tid("wizard-next")).isDisabled()).toBe(true);
    expect(await page.locator(tid("test-connection")).isDisabled()).toBe(true);
    await page.fill(tid("field-url"), "https://dav.example.com/files/");
    await page.fill(tid("field-user"), "anna");
    await page.fill(tid("field-password"), "wrong");
    expect(await page.locator(tid("field-password")).getAttribute("type")).toBe("password");
    await page.click(tid("test-connection"));
    await expect.poll(() => page.locator(tid("test-result")).innerText()).toContain("refused the user name or password");
    await app!.shot("wizard-2-signin-webdav-error");
    await page.fill(tid("field-password"), "right");
    await page.locator(tid("test-result")).waitFor({ state: "detached" });
    await page.click(tid("test-connection"));
    await expect.poll(() => page.locator(tid("test-result")).innerText()).toContain("anna@dav.example.com");
    await app!.shot("wizard-2-signin-webdav");
    const form = engine.callsOf("test_connection").at(-1)!.form as { provider: string; fields: Record<string, string> };
    expect(form.provider).toBe("webdav");
    expect(form.fields).toEqual({ url: "https://dav.example.com/files/", user: "anna", password: "right" });
    expect(await page.locator(tid("wizard-next")).isEnabled()).toBe(true);
  });

  it("S3 lists its fields; browser and device providers explain their sign-in", async () => {
    const { page } = await start();
    await page.click(tid("provider-s3"));
    await page.click(tid("wizard-next"));
    for (const k of ["endpoint", "bucket", "prefix", "region", "access_key", "secret_key"]) {
      await page.locator(tid(`field-${k}`)).waitFor();
    }
    await app!.shot("wizard-2-signin-s3");
    await page.click(tid("wizard-back"));
    await page.click(tid("provider-gdrive"));
    await page.click(tid("wizard-next"));
    expect(await page.locator(".wizard-body").innerText()).toContain("in your web browser");
    await page.click(tid("wizard-back"));
    await page.click(tid("provider-baidu"));
    await page.click(tid("wizard-next"));
    expect(await page.locator(".wizard-body").innerText()).toContain("device code");
  });

  it("Choose... fills the local folder from the native picker and checks it", async () => {
    const { page, engine } = await start();
    await page.click(tid("provider-demo"));
    await page.click(tid("wizard-next"));
    await page.click(tid("wizard-next"));
    await page.click(tid("pick-folder"));
    await expect.poll(() => page.locator(tid("local-folder-input")).inputValue()).toBe("/home/me/Picked");
    await expect.poll(() => engine.callsOf("check_local_folder").at(-1)).toEqual({ path: "/home/me/Picked" });
    await expect.poll(() => page.locator(tid("wizard-next")).isEnabled()).toBe(true);
  });

  it("looks right at 900x600 and in dark mode", async () => {
    const { page } = await start(new FakeEngine({ empty: true }), { width: 900, height: 600 });
    await page.locator(tid("provider-demo")).waitFor();
    await page.click(tid("provider-demo"));
    await app!.shot("wizard-900x600-provider");
    await page.click(tid("wizard-next"));
    await page.click(tid("wizard-next"));
    await page.fill(tid("local-folder-input"), "/home/me/Documents");
    await page.locator(tid("local-folder-error")).waitFor();
    await app!.shot("wizard-900x600-folders");
    await app!.close();
    // A wizard window may well be smaller than the main one.
    const small = await start(new FakeEngine({ empty: true }), { width: 720, height: 540 });
    await small.page.click(tid("provider-webdav"));
    await small.page.click(tid("wizard-next"));
    await small.shot("wizard-720x540-signin");
    await small.close();
    const dark = await start(new FakeEngine({ empty: true }), { dark: true });
    await dark.page.click(tid("provider-demo"));
    await dark.page.click(tid("wizard-next"));
    await dark.page.click(tid("wizard-next"));
    await dark.page.fill(tid("local-folder-input"), "/home/me/New");
    await dark.page.click(tid("wizard-next"));
    await dark.page.locator(tid("opt-mode")).waitFor();
    await dark.shot("wizard-dark-options");
  });
});

describe("wizard sign-in (browser / device code)", () => {
  async function toSignIn(id: "gdrive" | "baidu") {
    const a = await start();
    await a.page.click(tid(`provider-${id}`));
    await a.page.click(tid("wizard-next"));
    await a.page.locator(tid("sign-in-start")).waitFor();
    // The window listens for progress from the start, so no push is lost.
    await a.page.waitForFunction(() => (window as any).__listenerCount("sign-in-progress") > 0);
    return a;
  }

  it("browser sign-in: the page address while waiting, then the account; the session reaches the engine", async () => {
    const { page, engine } = await toSignIn("gdrive");
    const next = page.locator(tid("wizard-next"));
    expect(await next.isDisabled()).toBe(true);
    expect(await page.locator(".wizard-foot").innerText()).toContain("Sign in with Google Drive first.");
    expect(await page.locator(tid("sign-in-start")).innerText()).toBe("Sign in with Google Drive");

    await page.click(tid("sign-in-start"));
    await expect.poll(() => engine.callsOf("sign_in")).toEqual([{ provider: "gdrive" }]);
    await page.locator(tid("sign-in-cancel")).waitFor();
    expect(await page.locator(".signin-wait").innerText()).toContain("Waiting for you to allow CloudSync in your browser...");
    expect(await page.locator(tid("wizard-back")).isDisabled()).toBe(true);
    const url = "https://accounts.google.com/o/oauth2/v2/auth?client_id=cloudsync&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2F&state=abc";
    await app!.emit("sign-in-progress", { provider: "gdrive", url, device: null });
    await expect.poll(() => page.locator(tid("sign-in-url")).innerText()).toBe(url);
    // Selectable as a whole, so it can be copied into a browser.
    expect(await page.locator(tid("sign-in-url")).evaluate((e) => getComputedStyle(e).userSelect)).toBe("all");
    expect(await next.isDisabled()).toBe(true);
    await app!.shot("wizard-2-signin-waiting");

    engine.finishSignIn({ session: "sess-42", account: "me@gmail.com" });
    await expect.poll(() => page.locator(tid("sign-in-account")).innerText()).toBe("Signed in as me@gmail.com");
    await expect.poll(() => next.isEnabled()).toBe(true);
    await app!.shot("wizard-2-signin-done");
    await next.click();

    await page.fill(tid("local-folder-input"), "/home/me/Drive");
    await page.locator(tid("remote-folder-Photos")).waitFor();
    const browse = engine.callsOf("remote_folders")[0].form as { provider: string; fields: Record<string, string> };
    expect(browse.provider).toBe("gdrive");
    expect(browse.fields).toEqual({ session: "sess-42" });
    await page.click(tid("use-remote-folder"));
    await expect.poll(() => next.isEnabled()).toBe(true);
    await next.click();
    await page.locator(tid("opt-mode")).waitFor();
    await next.click();
    expect(await page.locator(tid("summary")).innerText()).toContain("me@gmail.com");
    await page.click(tid("wizard-finish"));
    await page.locator(tid("wizard-done")).waitFor();
    const form = engine.callsOf("add_connection")[0].form as { provider: string; fields: Record<string, string> };
    expect(form.provider).toBe("gdrive");
    expect(form.fields).toEqual({ session: "sess-42" });
  });

  it("device sign-in shows the code in large letters, the address and how long it stays valid", async () => {
    const { page, engine } = await toSignIn("baidu");
    await page.click(tid("sign-in-start"));
    await expect.poll(() => engine.signInWaiting).toBe(true);
    await app!.emit("sign-in-progress", {
      provider: "baidu",
      url: null,
      device: { user_code: "WDJB-MJHT", verification_url: "https://openapi.baidu.com/device", expires_in: 1800 },
    });
    await expect.poll(() => page.locator(tid("device-code")).innerText()).toBe("WDJB-MJHT");
    expect(await page.locator(tid("device-url")).innerText()).toBe("https://openapi.baidu.com/device");
    expect(await page.locator(".signin-wait").innerText()).toContain("30 minutes");
    const size = await page.locator(tid("device-code")).evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    expect(size).toBeGreaterThanOrEqual(28);
    await app!.shot("wizard-2-signin-device");
    engine.finishSignIn({ session: "sess-b", account: "netdisk_user" });
    await expect.poll(() => page.locator(tid("sign-in-account")).innerText()).toContain("netdisk_user");
    await expect.poll(() => page.locator(tid("wizard-next")).isEnabled()).toBe(true);
  });

  it("a rejected sign-in shows the reason inline and can be retried", async () => {
    const { page, engine } = await toSignIn("gdrive");
    await page.click(tid("sign-in-start"));
    await expect.poll(() => engine.signInWaiting).toBe(true);
    engine.failSignIn("access denied: the user did not allow CloudSync");
    await expect.poll(() => page.locator(tid("sign-in-error")).innerText()).toContain("access denied");
    expect(await page.locator(tid("wizard-next")).isDisabled()).toBe(true);
    await app!.shot("wizard-2-signin-error");

    await page.click(tid("sign-in-start"));
    await expect.poll(() => engine.callsOf("sign_in").length).toBe(2);
    await page.locator(tid("sign-in-error")).waitFor({ state: "detached" });
    engine.finishSignIn({ session: "sess-2", account: "me@gmail.com" });
    await page.locator(tid("sign-in-account")).waitFor();
    await expect.poll(() => page.locator(tid("wizard-next")).isEnabled()).toBe(true);
  });

  it("Cancel calls cancel_sign_in and ends quietly; going Back to another provider drops the session", async () => {
    const { page, engine } = await toSignIn("gdrive");
    await page.click(tid("sign-in-start"));
    await expect.poll(() => engine.signInWaiting).toBe(true);
    await page.click(tid("sign-in-cancel"));
    await expect.poll(() => engine.callsOf("cancel_sign_in").length).toBe(1);
    await page.locator(tid("sign-in-start")).waitFor();
    expect(await page.locator(tid("sign-in-error")).count()).toBe(0);
    expect(await page.locator(tid("wizard-next")).isDisabled()).toBe(true);

    // Sign in, then go back and pick Baidu: not signed in there, and no session carried over.
    await page.click(tid("sign-in-start"));
    await expect.poll(() => engine.signInWaiting).toBe(true);
    engine.finishSignIn({ session: "sess-g", account: "me@gmail.com" });
    await expect.poll(() => page.locator(tid("wizard-next")).isEnabled()).toBe(true);
    await page.click(tid("wizard-back"));
    await page.click(tid("provider-baidu"));
    await page.click(tid("wizard-next"));
    await page.locator(tid("sign-in-start")).waitFor();
    expect(await page.locator(tid("sign-in-account")).count()).toBe(0);
    expect(await page.locator(tid("wizard-next")).isDisabled()).toBe(true);
    // Back to Google Drive: that session was dropped too.
    await page.click(tid("wizard-back"));
    await page.click(tid("provider-gdrive"));
    await page.click(tid("wizard-next"));
    await page.locator(tid("sign-in-start")).waitFor();
    expect(await page.locator(tid("wizard-next")).isDisabled()).toBe(true);
  });
});
