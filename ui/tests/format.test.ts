// format.ts: sizes, speeds and times as shown, sizes as typed (binary units like the CLI).
import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatDateTime,
  formatRelative,
  formatSpeed,
  parseSize,
  percent,
  plural,
  sizeInputText,
  splitList,
} from "../src/format";

describe("formatBytes", () => {
  it("keeps bytes whole below 1 KiB", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1023)).toBe("1023 B");
  });
  it("uses binary units with one decimal below 10", () => {
    expect(formatBytes(1024)).toBe("1.0 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(10 * 1024)).toBe("10 KiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
  });
  it("carries into the next unit instead of printing 1024", () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe("1.0 MiB");
  });
  it("does not pretend to know a negative or missing size", () => {
    expect(formatBytes(-1)).toBe("?");
    expect(formatBytes(Number.NaN)).toBe("?");
  });
  it("formats speeds per second", () => {
    expect(formatSpeed(2 * 1024 * 1024)).toBe("2.0 MiB/s");
    expect(formatSpeed(0)).toBe("0 B/s");
  });
});

describe("percent", () => {
  it("floors and clamps", () => {
    expect(percent(1, 3)).toBe(33);
    expect(percent(3, 3)).toBe(100);
    expect(percent(5, 3)).toBe(100);
  });
  it("treats an empty file as done once started", () => {
    expect(percent(0, 0)).toBe(0);
    expect(percent(1, 0)).toBe(100);
  });
});

describe("times", () => {
  // vite.config.ts runs the unit tests with TZ=UTC, so local time is UTC here.
  it("prints local date-time sortably", () => {
    expect(formatDateTime(Date.UTC(2026, 10, 5, 8, 3, 9))).toBe("2026-11-05 08:03:09");
  });
  it("says how long ago", () => {
    const now = Date.UTC(2026, 0, 10, 12, 0, 0);
    expect(formatRelative(null, now)).toBe("never");
    expect(formatRelative(now - 10_000, now)).toBe("just now");
    expect(formatRelative(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(formatRelative(now - 3 * 3600_000, now)).toBe("3 h ago");
    expect(formatRelative(now - 24 * 3600_000, now)).toBe("1 day ago");
    expect(formatRelative(now - 72 * 3600_000, now)).toBe("3 days ago");
  });
});

describe("sizes typed by the user", () => {
  it("parses like the CLI (binary units, any spelling)", () => {
    expect(parseSize("2048")).toBe(2048);
    expect(parseSize("10K")).toBe(10240);
    expect(parseSize("10 KiB")).toBe(10240);
    expect(parseSize("1.5m")).toBe(1572864);
    expect(parseSize("10GB")).toBe(10 * 1024 ** 3);
    expect(parseSize(" 7b ")).toBe(7);
  });
  it("refuses what is not a size", () => {
    expect(parseSize("")).toBeNull();
    expect(parseSize("ten")).toBeNull();
    expect(parseSize("-5M")).toBeNull();
    expect(parseSize("5X")).toBeNull();
    expect(parseSize("1.5")).toBeNull(); // half a byte
  });
  it("writes a size back in its shortest exact form", () => {
    expect(sizeInputText(10 * 1024 ** 3)).toBe("10G");
    expect(sizeInputText(1536)).toBe("1536");
    expect(sizeInputText(3 * 1024 * 1024)).toBe("3M");
    for (const n of [1, 1000, 4096, 1536 * 1024, 10 * 1024 ** 3]) {
      expect(parseSize(sizeInputText(n))).toBe(n);
    }
  });
});

describe("lists", () => {
  it("splits on commas and spaces, dropping empties and repeats", () => {
    expect(splitList("tmp, log  ,,iso tmp")).toEqual(["tmp", "log", "iso"]);
    expect(splitList("  ")).toEqual([]);
  });
  it("pluralises", () => {
    expect(plural(1, "file")).toBe("1 file");
    expect(plural(2, "file")).toBe("2 files");
    expect(plural(0, "entry", "entries")).toBe("0 entries");
  });
});
