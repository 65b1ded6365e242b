// The wizard's "may go on" rules and the WizardForm it sends.
import { describe, expect, it } from "vitest";
import type { ProviderInfo } from "../src/api";
import { defaultSettings } from "../src/logic/settingsForm";
import {
  blockedReason,
  breadcrumb,
  buildForm,
  cleanFields,
  defaultName,
  joinRemote,
  type WizardState,
} from "../src/logic/wizardSteps";

const provider = (id: ProviderInfo["id"], extra: Partial<ProviderInfo> = {}): ProviderInfo => ({
  id,
  label: id,
  sign_in: id === "demo" ? "none" : "form",
  available: true,
  why_unavailable: null,
  ...extra,
});

const base: WizardState = {
  provider: provider("demo"),
  fields: {},
  name: "Demo",
  localRoot: "/home/me/Demo",
  localCheck: { path: "/home/me/Demo", result: { ok: true, reason: null } },
  remoteFolder: "",
  settingsOk: true,
};

describe("blockedReason", () => {
  it("provider: one must be chosen and available", () => {
    expect(blockedReason("provider", { ...base, provider: null })).toMatch(/Choose/);
    expect(
      blockedReason("provider", { ...base, provider: provider("dropbox", { available: false, why_unavailable: "no app key" }) }),
    ).toBe("no app key");
    expect(blockedReason("provider", base)).toBeNull();
  });

  it("sign-in: required fields per provider", () => {
    expect(blockedReason("signin", base)).toBeNull(); // demo has none
    const webdav = { ...base, provider: provider("webdav") };
    expect(blockedReason("signin", { ...webdav, fields: { url: "https://x", user: "me" } })).toMatch(/Password/);
    expect(blockedReason("signin", { ...webdav, fields: { url: "https://x", user: "me", password: "p" } })).toBeNull();
    const s3 = { ...base, provider: provider("s3") };
    expect(blockedReason("signin", { ...s3, fields: { endpoint: "e", bucket: "b", access_key: "a" } })).toMatch(
      /Secret access key/,
    );
  });

  it("folders: Next waits for an ok check of the current path", () => {
    expect(blockedReason("folders", base)).toBeNull();
    expect(blockedReason("folders", { ...base, name: "  " })).toMatch(/name/);
    expect(blockedReason("folders", { ...base, localRoot: "" })).toMatch(/local folder/);
    // An answer for a path the user has since changed does not count.
    expect(blockedReason("folders", { ...base, localRoot: "/home/me/Other" })).toMatch(/Checking/);
    expect(
      blockedReason("folders", {
        ...base,
        localCheck: { path: "/home/me/Demo", result: { ok: false, reason: "the folder is not empty" } },
      }),
    ).toBe("the folder is not empty");
  });

  it("options: blocked while the form has errors", () => {
    expect(blockedReason("options", { ...base, settingsOk: false })).not.toBeNull();
    expect(blockedReason("options", base)).toBeNull();
  });
});

describe("form building", () => {
  it("suggests a free default name", () => {
    expect(defaultName("demo", [])).toBe("Demo");
    expect(defaultName("demo", ["Demo", "Demo 2"])).toBe("Demo 3");
    expect(defaultName("gdrive", ["Demo"])).toBe("Google Drive");
  });

  it("sends required fields, trims, drops empty optional ones, keeps secrets verbatim", () => {
    expect(cleanFields("webdav", { url: " https://dav ", user: "me", password: " pw ", ca_file: "" })).toEqual({
      url: "https://dav",
      user: "me",
      password: " pw ",
    });
    expect(cleanFields("s3", { endpoint: "e", bucket: "b", region: "eu", access_key: "a", secret_key: "s", junk: "x" })).toEqual({
      endpoint: "e",
      bucket: "b",
      region: "eu",
      access_key: "a",
      secret_key: "s",
    });
    expect(cleanFields("demo", { anything: "x" })).toEqual({});
  });

  it("builds the WizardForm of the contract", () => {
    const form = buildForm({ ...base, name: " Demo ", remoteFolder: "Work/2026" }, defaultSettings(), "always");
    expect(form).toEqual({
      provider: "demo",
      name: "Demo",
      local_root: "/home/me/Demo",
      remote_folder: "Work/2026",
      settings: defaultSettings(),
      schedule_text: "always",
      fields: {},
    });
  });

  it("breadcrumbs and joins remote paths", () => {
    expect(breadcrumb("")).toEqual([{ path: "", label: "/" }]);
    expect(breadcrumb("a/b")).toEqual([
      { path: "", label: "/" },
      { path: "a", label: "a" },
      { path: "a/b", label: "b" },
    ]);
    expect(joinRemote("", "a")).toBe("a");
    expect(joinRemote("a", "b")).toBe("a/b");
  });
});
