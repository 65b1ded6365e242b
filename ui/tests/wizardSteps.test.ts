// The wizard's "may go on" rules and the WizardForm it sends.
import { describe, expect, it } from "vitest";
import type { ProviderInfo } from "../src/api";
import { defaultSettings } from "../src/logic/settingsForm";
import {
  defaultRemoteText,
  blockedReason,
  breadcrumb,
  buildForm,
  cleanFields,
  defaultName,
  joinRemote,
  withoutSessions,
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
  signingIn: false,
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

  it("sign-in: browser and device providers need a session, and not while one is being made", () => {
    const gdrive = { ...base, provider: provider("gdrive", { label: "Google Drive", sign_in: "browser" }) };
    expect(blockedReason("signin", gdrive)).toBe("Sign in with Google Drive first.");
    expect(blockedReason("signin", { ...gdrive, fields: { session: "" } })).toMatch(/Sign in with/);
    expect(blockedReason("signin", { ...gdrive, signingIn: true })).toMatch(/Waiting for the sign-in/);
    // Even with an old session: a new sign-in is under way and replaces it.
    expect(blockedReason("signin", { ...gdrive, signingIn: true, fields: { session: "s1" } })).toMatch(/Waiting/);
    expect(blockedReason("signin", { ...gdrive, fields: { session: "s1" } })).toBeNull();
    const baidu = { ...base, provider: provider("baidu", { label: "Baidu Netdisk", sign_in: "device" }) };
    expect(blockedReason("signin", baidu)).toBe("Sign in with Baidu Netdisk first.");
    expect(blockedReason("signin", { ...baidu, fields: { session: "s2" } })).toBeNull();
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

describe("sessions in the form", () => {
  it("cleanFields keeps the session for dropbox, gdrive and baidu only", () => {
    for (const id of ["dropbox", "gdrive", "baidu"] as const) {
      expect(cleanFields(id, { session: "sess-1", stray: "x" })).toEqual({ session: "sess-1" });
    }
    // A session never leaks into a provider that does not sign in that way.
    expect(cleanFields("demo", { session: "sess-1" })).toEqual({});
    expect(cleanFields("webdav", { session: "sess-1", url: "u", user: "me", password: "p" })).toEqual({
      url: "u",
      user: "me",
      password: "p",
    });
  });

  it("buildForm sends the session as fields.session", () => {
    const s: WizardState = {
      ...base,
      provider: provider("gdrive", { sign_in: "browser" }),
      fields: { session: "sess-9" },
      remoteFolder: "Photos",
    };
    const form = buildForm(s, defaultSettings(), "always");
    expect(form.provider).toBe("gdrive");
    expect(form.fields).toEqual({ session: "sess-9" });
    expect(form.remote_folder).toBe("Photos");
  });

  it("withoutSessions drops every provider's session and keeps typed fields", () => {
    expect(
      withoutSessions({ gdrive: { session: "a" }, baidu: { session: "b" }, webdav: { url: "u", user: "me" } }),
    ).toEqual({ gdrive: {}, baidu: {}, webdav: { url: "u", user: "me" } });
  });
});

describe("defaultRemoteText", () => {
  it("names the default folder where the provider has one, else the top", () => {
    expect(defaultRemoteText("demo")).toBe("the default folder, /CloudSync");
    expect(defaultRemoteText("gdrive")).toContain("My Drive");
    expect(defaultRemoteText("baidu")).toBe("the app's folder");
    expect(defaultRemoteText("webdav")).toBe("the top of the remote");
    expect(defaultRemoteText(undefined)).toBe("the top of the remote");
  });
});
