// Pure text formatting and parsing of numbers the user sees or types: byte sizes, speeds,
// times, counts. Units are binary (K = 1024) everywhere, as in the engine and CLI, so a value
// typed here means what `cloudsync --max-size` would make of it.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/** "0 B", "512 B", "1.5 KiB", "10 MiB": one decimal only while it carries information. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "?";
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  // 1023.96 would print as "1024 KiB" after rounding; carry into the next unit instead.
  if (Math.round(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const text = v < 10 ? v.toFixed(1) : String(Math.round(v));
  return `${text} ${UNITS[i]}`;
}

export function formatSpeed(bytesPerSec: number): string {
  return `${formatBytes(bytesPerSec)}/s`;
}

/** "40%", clamped; a transfer of unknown or zero size shows as done once anything is done. */
export function percent(done: number, total: number): number {
  if (total <= 0) return done > 0 ? 100 : 0;
  return Math.max(0, Math.min(100, Math.floor((done * 100) / total)));
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Local time as "2026-11-25 14:03:09"; sortable and unambiguous across locales. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

/** "just now", "5 min ago", "3 h ago", "2 days ago"; null means the connection never synced. */
export function formatRelative(ms: number | null, now: number): string {
  if (ms === null) return "never";
  const secs = Math.round((now - ms) / 1000);
  if (secs < 45) return "just now";
  const mins = Math.round(secs / 60);
  if (mins < 60) return `${mins} min ago`;
  const hours = Math.round(mins / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return days === 1 ? "1 day ago" : `${days} days ago`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const PREFIX_POWER: Record<string, number> = { "": 0, k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/**
 * Parses a size as the CLI does ("10G", "1.5 MiB", "500k", "2048"). Returns null for text
 * that is not a size, so the caller can say so next to the field.
 */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return null;
  const power = PREFIX_POWER[m[2].toLowerCase()];
  const value = Number(m[1]) * 1024 ** power;
  if (power === 0 && !Number.isInteger(value)) return null;
  return Number.isSafeInteger(Math.floor(value)) ? Math.floor(value) : null;
}

/** The shortest exact way to write a size for an input field: 10737418240 -> "10G". */
export function sizeInputText(bytes: number): string {
  const letters = ["", "K", "M", "G", "T", "P", "E"];
  let power = 0;
  let v = bytes;
  while (v >= 1024 && v % 1024 === 0 && power < letters.length - 1) {
    v /= 1024;
    power++;
  }
  return `${v}${letters[power]}`;
}

/** Splits a comma / whitespace / newline separated list, dropping empties and duplicates. */
export function splitList(text: string, separators: RegExp = /[\s,]+/): string[] {
  const out: string[] = [];
  for (const raw of text.split(separators)) {
    const item = raw.trim();
    if (item && !out.includes(item)) out.push(item);
  }
  return out;
}

const PROVIDER_LABELS: Record<string, string> = {
  demo: "Demo cloud",
  local: "Local folder",
  webdav: "WebDAV",
  s3: "S3",
  dropbox: "Dropbox",
  gdrive: "Google Drive",
  baidu: "Baidu Netdisk",
};

export function providerLabel(id: string): string {
  return PROVIDER_LABELS[id] ?? id;
}

const ACTION_LABELS: Record<string, string> = {
  upload: "Uploaded",
  download: "Downloaded",
  "delete-local": "Deleted locally",
  "delete-remote": "Deleted remotely",
  rename: "Renamed",
  conflict: "Conflict",
  "create-folder": "Created folder",
};

export function actionLabel(action: string): string {
  return ACTION_LABELS[action] ?? action;
}
