// The Settings <-> form conversion shared by the wizard and the Settings tab.
import { describe, expect, it } from "vitest";
import type { Settings } from "../src/api";
import { defaultSettings, describeSettings, settingsToValues, valuesToSettings } from "../src/logic/settingsForm";

const saved: Settings = {
  mode: "upload-only",
  no_delete: true,
  conflict: "newer-wins",
  exclude: ["*.tmp", "node_modules"],
  exclude_extensions: ["iso", "part"],
  max_size: 2 * 1024 ** 3,
  skip_remote_folders: ["Photos/2019", "Archive"],
  poll_interval_secs: 120,
  schedule: { hours: [true, false] },
  bwlimit_up: 512 * 1024,
  bwlimit_down: null,
  transfers: 8,
  remote_trash: false,
};

describe("settings <-> form values", () => {
  it("fills the form from saved settings", () => {
    const v = settingsToValues(saved, "mon-fri 9-17");
    expect(v.exclude).toBe("*.tmp\nnode_modules");
    expect(v.exclude_extensions).toBe("iso, part");
    expect(v.max_size).toBe("2G");
    expect(v.bwlimit_up_kbs).toBe("512");
    expect(v.bwlimit_down_kbs).toBe("");
    expect(v.schedule_text).toBe("mon-fri 9-17");
    expect(v.poll_interval_secs).toBe("120");
  });

  it("round-trips unchanged, keeping the opaque schedule object", () => {
    const r = valuesToSettings(settingsToValues(saved, "mon-fri 9-17"), saved);
    expect(r).toEqual({ ok: true, settings: saved, scheduleText: "mon-fri 9-17" });
  });

  it("converts what the user typed", () => {
    const v = settingsToValues(defaultSettings(), "always");
    const r = valuesToSettings(
      {
        ...v,
        exclude: "  *.bak \n\n~*\n",
        exclude_extensions: ".ISO, .part part",
        max_size: "500M",
        bwlimit_up_kbs: "100",
        bwlimit_down_kbs: "0",
        transfers: "2",
        schedule_text: "  ",
      },
      defaultSettings(),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.settings.exclude).toEqual(["*.bak", "~*"]);
    expect(r.settings.exclude_extensions).toEqual(["ISO", "part"]);
    expect(r.settings.max_size).toBe(500 * 1024 * 1024);
    expect(r.settings.bwlimit_up).toBe(100 * 1024);
    expect(r.settings.bwlimit_down).toBeNull(); // 0 means no limit, as in the CLI
    expect(r.settings.transfers).toBe(2);
    expect(r.scheduleText).toBe("always"); // empty schedule means always
  });

  it("names every bad field instead of saving half a form", () => {
    const v = settingsToValues(defaultSettings(), "always");
    const r = valuesToSettings(
      { ...v, max_size: "big", poll_interval_secs: "0", bwlimit_up_kbs: "1.5", transfers: "" },
      defaultSettings(),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.keys(r.errors).sort()).toEqual(["bwlimit_up_kbs", "max_size", "poll_interval_secs", "transfers"]);
  });

  it("an empty max size means no limit", () => {
    const r = valuesToSettings({ ...settingsToValues(saved, "always"), max_size: " " }, saved);
    expect(r.ok && r.settings.max_size).toBeNull();
  });

  it("describes settings in words for the summary", () => {
    const d = Object.fromEntries(describeSettings(saved, "mon-fri 9-17"));
    expect(d["Sync direction"]).toBe("Upload local changes only");
    expect(d["Skipped remote folders"]).toBe("Photos/2019, Archive");
    expect(d["Excluded extensions"]).toBe(".iso, .part");
    expect(d["Largest file"]).toBe("2.0 GiB");
    expect(d["Upload limit"]).toBe("512 KB/s");
    expect(d["Download limit"]).toBe("no limit");
    expect(d["Schedule"]).toBe("mon-fri 9-17");
    expect(d["Remote deletes"]).toBe("Are permanent");
  });
});
