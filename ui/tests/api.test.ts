// api.ts against the contract: every wrapper sends the command name and argument keys of
// docs/app-ipc.md (camelCase on the JS side), and a page outside the app gets a sentence.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn(async (..._args: unknown[]) => null as unknown);
const listen = vi.fn(async (..._args: unknown[]) => () => {});
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock("@tauri-apps/api/event", () => ({ listen: (...a: unknown[]) => listen(...a) }));

const { api, events, errorText } = await import("../src/api");
const { defaultSettings } = await import("../src/logic/settingsForm");

const g = globalThis as unknown as { window?: unknown };

beforeEach(() => {
  g.window = { __TAURI_INTERNALS__: {} };
  invoke.mockClear();
  listen.mockClear();
});
afterEach(() => {
  delete g.window;
});

describe("commands", () => {
  const form = {
    provider: "demo" as const,
    name: "Demo",
    local_root: "/l",
    remote_folder: "",
    settings: defaultSettings(),
    schedule_text: "always",
    fields: {},
  };
  const cases: Array<[string, () => Promise<unknown>, string, Record<string, unknown> | undefined]> = [
    ["snapshot", () => api.snapshot(), "snapshot", undefined],
    ["connectionDetail", () => api.connectionDetail("A"), "connection_detail", { name: "A" }],
    ["pause", () => api.pause("A"), "pause", { name: "A" }],
    ["pause all", () => api.pause(null), "pause", { name: null }],
    ["resume", () => api.resume("A"), "resume", { name: "A" }],
    ["unlink", () => api.unlink("A"), "unlink", { name: "A" }],
    ["activity", () => api.activity("A", "upload", 50), "activity", { name: "A", action: "upload", limit: 50 }],
    ["skipped", () => api.skipped("A"), "skipped", { name: "A" }],
    ["why", () => api.why("A", "x/y"), "why", { name: "A", path: "x/y" }],
    ["conflicts", () => api.conflicts("A"), "conflicts", { name: "A" }],
    ["resolve", () => api.resolve("A", "p", "keep-both"), "resolve", { name: "A", path: "p", choice: "keep-both" }],
    ["approve", () => api.approve("A"), "approve", { name: "A" }],
    ["cancelPlan", () => api.cancelPlan("A"), "cancel_plan", { name: "A" }],
    [
      "saveSettings",
      () => api.saveSettings("A", defaultSettings(), "mon 9-17"),
      "save_settings",
      { name: "A", settings: defaultSettings(), scheduleText: "mon 9-17" },
    ],
    ["openFolder", () => api.openFolder("/x"), "open_folder", { path: "/x" }],
    ["openWizard", () => api.openWizard(), "open_wizard", undefined],
    ["closeWizard", () => api.closeWizard(), "close_wizard", undefined],
    ["pickFolder", () => api.pickFolder(), "pick_folder", undefined],
    ["checkLocalFolder", () => api.checkLocalFolder("/x"), "check_local_folder", { path: "/x" }],
    ["providers", () => api.providers(), "providers", undefined],
    ["signIn", () => api.signIn("gdrive"), "sign_in", { provider: "gdrive" }],
    ["cancelSignIn", () => api.cancelSignIn(), "cancel_sign_in", undefined],
    ["testConnection", () => api.testConnection(form), "test_connection", { form }],
    ["remoteFolders", () => api.remoteFolders(form, "a/b"), "remote_folders", { form, path: "a/b" }],
    ["addConnection", () => api.addConnection(form), "add_connection", { form }],
  ];
  it.each(cases)("%s", async (_label, call, cmd, args) => {
    await call();
    expect(invoke).toHaveBeenCalledTimes(1);
    expect(invoke.mock.calls[0]).toEqual(args === undefined ? [cmd, undefined] : [cmd, args]);
  });

  it("a page outside the app gets a readable rejection, not a TypeError", async () => {
    delete g.window;
    await expect(api.snapshot()).rejects.toMatch(/only works inside the CloudSync app/);
    expect(invoke).not.toHaveBeenCalled();
  });
});

describe("events", () => {
  it("listens to the contract's event names and hands over the payload", async () => {
    const seen: unknown[] = [];
    await events.snapshot((s) => seen.push(s));
    await events.engineEvent((e) => seen.push(e));
    await events.connectionsChanged(() => seen.push("changed"));
    await events.signInProgress((p) => seen.push(p));
    expect(listen.mock.calls.map((c) => c[0])).toEqual(["snapshot", "engine-event", "connections-changed", "sign-in-progress"]);
    for (const [, cb] of listen.mock.calls as unknown as Array<[string, (e: { payload: unknown }) => void]>) {
      cb({ payload: { p: 1 } });
    }
    expect(seen).toEqual([{ p: 1 }, { p: 1 }, "changed", { p: 1 }]);
  });
});

describe("errorText", () => {
  it("shows a command's plain-string rejection as is", () => {
    expect(errorText("the folder is not empty")).toBe("the folder is not empty");
    expect(errorText(new Error("boom"))).toBe("boom");
    expect(errorText({ code: 3 })).toBe('{"code":3}');
  });
});
