// Activity filtering, which engine events trigger which refetch, per-connection transfers.
import { describe, expect, it } from "vitest";
import type { ActivityRow, EngineEvent, Transfer } from "../src/api";
import { changesActivity, changesLists, filterActivity, totalSpeed, transfersOf } from "../src/logic/filters";

const row = (id: number, action: ActivityRow["action"], path: string, detail: string | null = null): ActivityRow => ({
  id,
  connection: "Demo",
  time_ms: 1000 * id,
  action,
  path,
  bytes: 10,
  detail,
});

const rows = [
  row(1, "upload", "Docs/Report.PDF"),
  row(2, "download", "photos/cat.jpg"),
  row(3, "delete-local", "Docs/old.txt", "moved to .cloudsync-trash"),
  row(4, "conflict", "notes.md", "conflicted copy from HOST"),
];

describe("filterActivity", () => {
  it("keeps everything with no filter", () => {
    expect(filterActivity(rows, { action: "", text: "" })).toHaveLength(4);
  });
  it("narrows by action", () => {
    expect(filterActivity(rows, { action: "download", text: "" }).map((r) => r.id)).toEqual([2]);
  });
  it("matches text case-insensitively in path and detail", () => {
    expect(filterActivity(rows, { action: "", text: "docs/" }).map((r) => r.id)).toEqual([1, 3]);
    expect(filterActivity(rows, { action: "", text: "report.pdf" }).map((r) => r.id)).toEqual([1]);
    expect(filterActivity(rows, { action: "", text: "  TRASH " }).map((r) => r.id)).toEqual([3]);
  });
  it("combines both", () => {
    expect(filterActivity(rows, { action: "upload", text: "old" })).toEqual([]);
    expect(filterActivity(rows, { action: "delete-local", text: "old" }).map((r) => r.id)).toEqual([3]);
  });
});

describe("which engine events refresh what", () => {
  const ev = (type: EngineEvent["type"], connection = "Demo"): EngineEvent => ({ type, connection });
  it("activity: synced, conflict, round-finished of this connection only", () => {
    expect(changesActivity(ev("synced"), "Demo")).toBe(true);
    expect(changesActivity(ev("conflict"), "Demo")).toBe(true);
    expect(changesActivity(ev("round-finished"), "Demo")).toBe(true);
    expect(changesActivity(ev("transfer-progress"), "Demo")).toBe(false);
    expect(changesActivity(ev("synced", "Other"), "Demo")).toBe(false);
  });
  it("lists: conflict, skipped, round-finished", () => {
    expect(changesLists(ev("skipped"), "Demo")).toBe(true);
    expect(changesLists(ev("synced"), "Demo")).toBe(false);
  });
});

describe("transfers", () => {
  const t = (connection: string, bps: number): Transfer => ({
    connection,
    path: "a",
    direction: "upload",
    done: 1,
    total: 2,
    bytes_per_sec: bps,
  });
  it("picks one connection's transfers and sums their speed", () => {
    const all = [t("A", 100), t("B", 50), t("A", 25)];
    expect(transfersOf(all, "A")).toHaveLength(2);
    expect(totalSpeed(transfersOf(all, "A"))).toBe(125);
    expect(totalSpeed([t("A", -5)])).toBe(0);
  });
});
