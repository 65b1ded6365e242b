// The Settings <-> form conversion shared by the wizard's options step and the Settings tab:
// what the inputs hold (text as typed), how it becomes the engine's Settings, and why not.
import type { ConflictPolicy, Mode, Settings } from "../api";
import { formatBytes, parseSize, sizeInputText, splitList } from "../format";

/** What the form's inputs hold. Numbers stay text so a half-typed value is not lost. */
export interface SettingsValues {
  mode: Mode;
  no_delete: boolean;
  conflict: ConflictPolicy;
  exclude: string; // one glob per line
  exclude_extensions: string; // "tmp, log" or "tmp log"
  max_size: string; // "" = no limit, else "10G", "500M", ...
  skip_remote_folders: string[];
  schedule_text: string; // "always" or e.g. "mon-fri 9-17"
  poll_interval_secs: string;
  bwlimit_up_kbs: string; // KB/s, "" = unlimited
  bwlimit_down_kbs: string;
  transfers: string;
  remote_trash: boolean;
}

export type SettingsErrors = Partial<Record<keyof SettingsValues, string>>;

export type ConvertResult =
  | { ok: true; settings: Settings; scheduleText: string }
  | { ok: false; errors: SettingsErrors };

/** The engine's defaults (ConnectionSettings::default), for a new connection. */
export function defaultSettings(): Settings {
  return {
    mode: "two-way",
    no_delete: false,
    conflict: "keep-local",
    exclude: [],
    exclude_extensions: [],
    max_size: null,
    skip_remote_folders: [],
    poll_interval_secs: 30,
    schedule: null,
    bwlimit_up: null,
    bwlimit_down: null,
    transfers: 4,
    remote_trash: true,
  };
}

function kbs(bytesPerSec: number | null): string {
  if (bytesPerSec === null || bytesPerSec <= 0) return "";
  // A cap set from the CLI in bytes may not be a whole KB; round rather than show decimals.
  return String(Math.max(1, Math.round(bytesPerSec / 1024)));
}

export function settingsToValues(s: Settings, scheduleText: string): SettingsValues {
  return {
    mode: s.mode,
    no_delete: s.no_delete,
    conflict: s.conflict,
    exclude: s.exclude.join("\n"),
    exclude_extensions: s.exclude_extensions.join(", "),
    max_size: s.max_size === null ? "" : sizeInputText(s.max_size),
    skip_remote_folders: [...s.skip_remote_folders],
    schedule_text: scheduleText || "always",
    poll_interval_secs: String(s.poll_interval_secs),
    bwlimit_up_kbs: kbs(s.bwlimit_up),
    bwlimit_down_kbs: kbs(s.bwlimit_down),
    transfers: String(s.transfers),
    remote_trash: s.remote_trash,
  };
}

function wholeNumber(text: string): number | null {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/**
 * Form values -> Settings. `base` supplies what the form does not edit (the opaque schedule
 * object: the engine rebuilds it from scheduleText, which is what the user edits).
 */
export function valuesToSettings(v: SettingsValues, base: Settings): ConvertResult {
  const errors: SettingsErrors = {};

  let maxSize: number | null = null;
  if (v.max_size.trim() !== "") {
    maxSize = parseSize(v.max_size);
    if (maxSize === null || maxSize === 0) {
      errors.max_size = "Give a size such as 500M or 10G, or leave it empty for no limit.";
      maxSize = null;
    }
  }

  const poll = wholeNumber(v.poll_interval_secs);
  if (poll === null || poll < 1 || poll > 86400) {
    errors.poll_interval_secs = "Seconds between checks: a whole number from 1 to 86400.";
  }

  const caps: Array<["bwlimit_up_kbs" | "bwlimit_down_kbs", number | null]> = [];
  for (const key of ["bwlimit_up_kbs", "bwlimit_down_kbs"] as const) {
    const t = v[key].trim();
    if (t === "") {
      caps.push([key, null]);
      continue;
    }
    const n = wholeNumber(t);
    if (n === null) {
      errors[key] = "KB/s as a whole number, or empty for no limit.";
      caps.push([key, null]);
    } else {
      // 0 is how the CLI spells "no limit" too.
      caps.push([key, n === 0 ? null : n * 1024]);
    }
  }

  const transfers = wholeNumber(v.transfers);
  if (transfers === null || transfers < 1 || transfers > 64) {
    errors.transfers = "Parallel transfers: a whole number from 1 to 64.";
  }

  const scheduleText = v.schedule_text.trim() === "" ? "always" : v.schedule_text.trim();

  const exclude = splitList(v.exclude, /\n+/);
  const extensions = splitList(v.exclude_extensions).map((e) => e.replace(/^\.+/, "")).filter(Boolean);

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    scheduleText,
    settings: {
      ...base,
      mode: v.mode,
      no_delete: v.no_delete,
      conflict: v.conflict,
      exclude,
      exclude_extensions: [...new Set(extensions)],
      max_size: maxSize,
      skip_remote_folders: [...v.skip_remote_folders],
      poll_interval_secs: poll as number,
      bwlimit_up: caps[0][1],
      bwlimit_down: caps[1][1],
      transfers: transfers as number,
      remote_trash: v.remote_trash,
    },
  };
}

export const MODE_LABELS: Record<Mode, string> = {
  "two-way": "Two-way",
  "upload-only": "Upload local changes only",
  "download-only": "Download remote changes only",
};

export const CONFLICT_LABELS: Record<ConflictPolicy, string> = {
  "keep-local": "Keep the local version (remote kept as a revision or conflicted copy)",
  "keep-remote": "Keep the remote version (local one goes to the trash)",
  "keep-both": "Keep both (local one becomes a conflicted copy)",
  "newer-wins": "The newer version wins",
};

/** Readable label/value pairs of what a Settings means, for the wizard's summary. */
export function describeSettings(s: Settings, scheduleText: string): Array<[string, string]> {
  const cap = (b: number | null) => (b === null ? "no limit" : `${Math.round(b / 1024)} KB/s`);
  return [
    ["Sync direction", MODE_LABELS[s.mode]],
    ["Deletions", s.no_delete ? "Not carried over to the destination" : "Carried over (to the trash)"],
    ["Conflicts", CONFLICT_LABELS[s.conflict]],
    ["Skipped remote folders", s.skip_remote_folders.length ? s.skip_remote_folders.join(", ") : "none"],
    ["Excluded patterns", s.exclude.length ? s.exclude.join(", ") : "none"],
    ["Excluded extensions", s.exclude_extensions.length ? s.exclude_extensions.map((e) => `.${e}`).join(", ") : "none"],
    ["Largest file", s.max_size === null ? "no limit (the 10 GiB rule still applies)" : formatBytes(s.max_size)],
    ["Schedule", scheduleText === "always" ? "Always" : scheduleText],
    ["Check for changes every", `${s.poll_interval_secs} s`],
    ["Upload limit", cap(s.bwlimit_up)],
    ["Download limit", cap(s.bwlimit_down)],
    ["Parallel transfers", String(s.transfers)],
    ["Remote deletes", s.remote_trash ? "Go to the remote's .cloudsync-trash" : "Are permanent"],
  ];
}
